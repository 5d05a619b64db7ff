// The random tiny models of the torch tests (torch_fixtures.py make: Llama, Qwen2 with q/k/v biases, Gemma, with a
// tokenizer's files), built once per test run. `make` is deterministic (a fixed seed per architecture, also when only
// some are made), so a copy of an earlier build has the same bytes as a fresh one; starting python with torch and
// transformers for it took 6-9 s in each of seven files. Within `node test/run.ts` (which sets
// TRIBUTARY_TORCH_FIXTURE_CACHE to a folder of its own, removed after the run) the first file to ask builds all
// three into that folder and the others copy them; a file run alone (node --test test/x.test.ts) builds its own.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, open, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { torchPython } from "../../src/backends/torch-worker.ts";

const run = promisify(execFile);
export const FIXTURES = fileURLToPath(new URL("./torch_fixtures.py", import.meta.url));
const ALL = ["llama", "qwen2", "gemma"];
const WAIT_MS = 180_000; // another file's build takes ~10 s; past this, build here instead

/** Makes the tiny models of `archs` (default: all three) under out/<arch>, with the tokenizer files of tokenizerDir. */
export async function makeTinyModels(tokenizerDir: string, out: string, archs: readonly string[] = ALL): Promise<void> {
  const cache = process.env.TRIBUTARY_TORCH_FIXTURE_CACHE;
  if (!cache) {
    await run(torchPython(), [FIXTURES, "make", tokenizerDir, out, archs.join(",")]);
    return;
  }
  const built = await cached(cache, tokenizerDir);
  await mkdir(out, { recursive: true });
  for (const arch of archs) await cp(join(built, arch), join(out, arch), { recursive: true, errorOnExist: true, force: false });
}

/** The folder with all three models for tokenizerDir in the run's cache, built by whichever file asks first. */
async function cached(cache: string, tokenizerDir: string): Promise<string> {
  const key = createHash("sha256").update(readFileSync(FIXTURES)).update(tokenizerDir).digest("hex").slice(0, 16);
  const ready = join(cache, key);
  const lock = `${ready}.lock`;
  const started = Date.now();
  await mkdir(cache, { recursive: true });
  for (;;) {
    if (existsSync(ready)) return ready;
    let held;
    try {
      held = await open(lock, "wx");
    } catch {
      if (Date.now() - started > WAIT_MS) break;
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    try {
      const tmp = await mkdtemp(join(cache, `${key}-building-`));
      await run(torchPython(), [FIXTURES, "make", tokenizerDir, tmp]);
      await rename(tmp, ready);
      return ready;
    } finally {
      await held.close();
      await rm(lock, { force: true });
    }
  }
  // the build another file started did not finish in time: a private one
  const own = await mkdtemp(join(cache, `${key}-own-`));
  await run(torchPython(), [FIXTURES, "make", tokenizerDir, own]);
  return own;
}
