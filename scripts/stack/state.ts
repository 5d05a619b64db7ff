// What the stack remembers between runs, in `<home>/stack.json`, and the demo seed's marker in
// `<home>/seed.json`. Both are tied to the chain's instance id (chain.ts): a chain with another id than
// the recorded one is a different chain, and everything derived from the old one is reset.
import fs from "node:fs";
import path from "node:path";
import { layout, type StackConfig } from "./config.ts";

export interface StackRecord {
  readonly version: 1;
  readonly chainId: number;
  readonly chainInstance: string;
  readonly startedAt: string;
}

export interface SeedRecord {
  readonly version: 1;
  readonly chainInstance: string;
  readonly seededAt: string;
  readonly datanets: {
    readonly id: string;
    readonly name: string;
    readonly contributions: number;
    readonly approved: number;
  }[];
  readonly contributionCids: string[];
  readonly baseModelId?: string;
}

export function seedFile(config: StackConfig): string {
  return path.join(config.home, "seed.json");
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as T;
  } catch {
    return undefined;
  }
}

export function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + "\n");
  fs.renameSync(tmp, file);
}

export function readStackRecord(config: StackConfig): StackRecord | undefined {
  return readJson<StackRecord>(layout(config).stackFile);
}

export function readSeedRecord(config: StackConfig): SeedRecord | undefined {
  return readJson<SeedRecord>(seedFile(config));
}

/** Deletes the whole state folder (`--fresh`). Refuses a folder that does not look like one. */
export function wipeHome(config: StackConfig): void {
  const home = config.home;
  if (!fs.existsSync(home)) return;
  const root = path.parse(home).root;
  if (home === root || home === process.env.HOME) throw new Error(`refusing to wipe ${home}`);
  fs.rmSync(home, { recursive: true, force: true });
}
