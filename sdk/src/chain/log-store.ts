// A LogStore (see logs.ts) in a folder: one JSON file per scan, written atomically, so a long-lived
// service (the custodian) resumes its log scans where it stopped instead of re-reading the chain. Node-only.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { LogScanState, LogStore } from "./logs.ts";

const replacer = (_k: string, v: unknown) => (typeof v === "bigint" ? { $bigint: v.toString() } : v);
const reviver = (_k: string, v: unknown) =>
  v && typeof v === "object" && typeof (v as { $bigint?: unknown }).$bigint === "string"
    ? BigInt((v as { $bigint: string }).$bigint)
    : v;

/** Scans' state under `dir` (created on first write). A file that cannot be read is ignored (rescanned). */
export function fileLogStore(dir: string): LogStore {
  const file = (key: string) => path.join(dir, `${createHash("sha256").update(key).digest("hex").slice(0, 32)}.json`);
  return {
    async get(key) {
      try {
        const saved = JSON.parse(readFileSync(file(key), "utf8"), reviver) as { key: string; state: LogScanState };
        return saved.key === key && typeof saved.state.through === "bigint" ? saved.state : undefined;
      } catch {
        return undefined;
      }
    },
    async put(key, state) {
      mkdirSync(dir, { recursive: true });
      const tmp = `${file(key)}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify({ key, state }, replacer));
      renameSync(tmp, file(key));
    },
  };
}
