// IPFS content benchmark: add+pin and read throughput through the Kubo RPC API of the embedded node
// (run as its own process, as in the local stack), and record normalisation throughput.
// Writes bench/results/ipfs.json. MB = 10^6 bytes; files are 1 MiB and 100 MiB of random bytes.
import { spawn } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import path from "node:path";
import { KuboContentStore } from "@tributary/sdk/content";
import { normaliseFile } from "@tributary/sdk/records";

const MiB = 1024 * 1024;
const root = path.resolve(import.meta.dirname, "..");
const runs = Number(process.env.BENCH_RUNS ?? 3);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
const mbPerS = (bytes: number, ms: number) => Math.round((bytes / 1e6 / (ms / 1000)) * 10) / 10;

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await fn();
  return [r, performance.now() - t];
}

async function startNode(repo: string): Promise<{ apiUrl: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [path.join(root, "sdk/bin/tributary-ipfs.ts"), "--repo", repo, "--api-port", "0", "--gateway-port", "0", "--json"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const info = await new Promise<{ apiUrl: string }>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const line = out.split("\n")[0];
      if (out.includes("\n")) resolve(JSON.parse(line));
    });
    child.once("exit", (code) => reject(new Error(`tributary-ipfs exited with ${code}`)));
  });
  return {
    apiUrl: info.apiUrl,
    stop: () => new Promise((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    }),
  };
}

function jsonlCorpus(targetBytes: number): string {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < targetBytes; i++) {
    const line = i % 3 === 0
      ? JSON.stringify({ messages: [{ role: "system", content: "You are a careful assistant." }, { role: "user", content: `Question ${i}: how do I rotate a log file safely on a busy server?` }, { role: "assistant", content: `Answer ${i}: use copytruncate or signal the process to reopen its log after a rename. `.repeat(3) }] })
      : i % 3 === 1
        ? JSON.stringify({ prompt: `Translate to French: sentence number ${i} about rivers and tributaries.`, completion: `Phrase numéro ${i} sur les rivières et les affluents.` })
        : JSON.stringify({ text: `Record ${i}. A tributary is a stream that flows into a larger river. `.repeat(4) });
    lines.push(line);
    size += line.length + 1;
  }
  return lines.join("\n") + "\n";
}

function markdownCorpus(targetBytes: number): string {
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < targetBytes; i++) {
    const p = `## Section ${i}\n\nRivers gather water from many tributaries. Each one adds its own sediment and history. `.repeat(2) + "\n\n";
    parts.push(p);
    size += p.length;
  }
  return parts.join("");
}

function csvCorpus(targetBytes: number): string {
  const rows = ["question,answer"];
  let size = 0;
  for (let i = 0; size < targetBytes; i++) {
    const row = `"What is item ${i}, exactly?","It is the ${i}th entry, with a ""quoted"" word and a comma, here."`;
    rows.push(row);
    size += row.length + 1;
  }
  return rows.join("\n") + "\n";
}

async function main() {
  const repo = mkdtempSync(path.join(tmpdir(), "tributary-bench-ipfs-"));
  const node = await startNode(repo);
  const store = new KuboContentStore({ url: node.apiUrl });
  try {
    // Warm-up (JIT, first connections).
    const warm = await store.add(randomFillSync(new Uint8Array(MiB)));
    await store.cat(warm.cid);
    await store.catUnverified(warm.cid);

    const small: number[] = [];
    for (let r = 0; r < runs; r++) {
      const files = Array.from({ length: 20 }, () => randomFillSync(new Uint8Array(MiB)));
      const [, ms] = await timed(async () => { for (const f of files) await store.add(f); });
      small.push(mbPerS(20 * MiB, ms));
    }

    const big = Array.from({ length: runs }, () => randomFillSync(new Uint8Array(100 * MiB)));
    const addBig: number[] = [];
    const cids: string[] = [];
    for (const data of big) {
      const [res, ms] = await timed(() => store.add(data));
      addBig.push(mbPerS(data.length, ms));
      cids.push(res.cid);
    }

    const verified: number[] = [];
    const unverified: number[] = [];
    for (let r = 0; r < runs; r++) {
      // Alternate which goes first so neither always reads from a warmer page cache.
      const order = r % 2 === 0 ? ["v", "u"] : ["u", "v"];
      for (const kind of order) {
        const [bytes, ms] = await timed(() => (kind === "v" ? store.cat(cids[r]) : store.catUnverified(cids[r])));
        if (bytes.length !== 100 * MiB) throw new Error(`read ${bytes.length} bytes, expected ${100 * MiB}`);
        (kind === "v" ? verified : unverified).push(mbPerS(bytes.length, ms));
      }
    }

    const corpora = { "data.jsonl": jsonlCorpus(20e6), "notes.md": markdownCorpus(10e6), "qa.csv": csvCorpus(10e6) };
    const perFormat: Record<string, number> = {};
    let totalBytes = 0;
    let totalMs = 0;
    for (const [name, text] of Object.entries(corpora)) {
      const bytes = new TextEncoder().encode(text);
      const times: number[] = [];
      for (let r = 0; r < runs; r++) {
        const [out, ms] = await timed(async () => normaliseFile(name, bytes));
        if (out.records.length === 0) throw new Error(`no records from ${name}`);
        times.push(ms);
      }
      perFormat[name.split(".")[1]] = mbPerS(bytes.length, median(times));
      totalBytes += bytes.length;
      totalMs += median(times);
    }

    const v = median(verified);
    const u = median(unverified);
    const result = {
      add_mb_s_1mb: median(small),
      add_mb_s_100mb: median(addBig),
      verified_read_mb_s_100mb: v,
      unverified_read_mb_s_100mb: u,
      verified_read_slowdown: Math.round((u / v) * 100) / 100,
      verified_read_goal: "verified read time within 1.5x of unverified",
      verified_read_goal_met: u / v <= 1.5,
      normalise_mb_s: mbPerS(totalBytes, totalMs),
      normalise_mb_s_by_format: perFormat,
      runs: { add_mb_s_1mb: small, add_mb_s_100mb: addBig, verified_read_mb_s_100mb: verified, unverified_read_mb_s_100mb: unverified },
      notes: "MB = 10^6 bytes. add = add + pin with the unixfs-v1-2025 profile. Reads go through the Kubo RPC API of the embedded node " +
        "(tributary-ipfs in its own process): verified = block/get per block + sha2-256 check + UnixFS walk; unverified = /api/v0/cat. Medians of the runs.",
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, platform: `${process.platform}-${process.arch}` },
      date: new Date().toISOString(),
    };
    mkdirSync(path.join(root, "bench/results"), { recursive: true });
    writeFileSync(path.join(root, "bench/results/ipfs.json"), JSON.stringify(result, null, 2) + "\n");
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await node.stop();
    rmSync(repo, { recursive: true, force: true });
  }
}

await main();
