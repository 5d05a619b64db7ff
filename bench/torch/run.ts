// Runs the PyTorch reference benchmark (train_step.py) in the cached venv that setup.sh makes, for
// benches that report torch's numbers side by side with the engine's. Skips, with the reason, where
// Python or the packages are not available.
//
// As a script: node bench/torch/run.ts [--threads 1,2] [--steps N]  -> writes bench/results/torch-reference.json
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

export interface TorchThreadResult {
  train_tokens_per_s: number;
  train_tokens_per_s_best_step: number;
  step_ms_mean: number;
  train_tokens_per_cpu_s: number;
  decode_tokens_per_s: number;
  prefill_tokens_per_s: number;
  /** 1024^3 fp32 matmul at this thread count (best of 5). */
  matmul_gflops: number;
  params: number;
  trainable_params: number;
}

export interface TorchReference {
  torch: string;
  transformers: string;
  peft: string;
  workload: string;
  threads: Record<string, TorchThreadResult>;
}

export type TorchRun = { ok: true; result: TorchReference } | { ok: false; skipped: string };

/** Creates the venv if needed (minutes, once) and runs train_step.py; never throws for a missing Python. */
export function runTorchReference(opts: { threads?: number[]; steps?: number; decodeTokens?: number } = {}): TorchRun {
  const setup = spawnSync("bash", [join(here, "setup.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  if (setup.status !== 0) {
    return { ok: false, skipped: (setup.stderr.trim().split("\n").pop() ?? "") || `setup.sh exited with ${setup.status}` };
  }
  const python = setup.stdout.trim().split("\n").pop()!;
  const args = [join(here, "train_step.py"), "--threads", (opts.threads ?? [1, 2]).join(",")];
  if (opts.steps) args.push("--steps", String(opts.steps));
  if (opts.decodeTokens) args.push("--decode-tokens", String(opts.decodeTokens));
  const run = spawnSync(python, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  if (run.status !== 0) return { ok: false, skipped: `train_step.py failed (exit ${run.status}): ${run.stderr.trim().slice(-500)}` };
  return { ok: true, result: JSON.parse(run.stdout.trim().split("\n").pop()!) as TorchReference };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const argv = process.argv.slice(2);
  const opt = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
  const threads = opt("--threads")?.split(",").map(Number);
  const steps = opt("--steps") ? Number(opt("--steps")) : undefined;
  const loadBefore = loadavg()[0];
  const r = runTorchReference({ threads, steps });
  if (!r.ok) {
    console.log(`torch reference skipped: ${r.skipped}`);
  } else {
    const file = join(here, "..", "results", "torch-reference.json");
    mkdirSync(dirname(file), { recursive: true });
    const note = `1-min load average ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after (machine shared with other work: ` +
      "torch's threads suffer badly from oversubscription; train_tokens_per_cpu_s is the steadier figure)";
    writeFileSync(file, `${JSON.stringify({ ...r.result, note, date: new Date().toISOString() }, null, 2)}\n`);
    console.log(JSON.stringify(r.result, null, 2));
    console.log(`wrote ${file}`);
  }
}
