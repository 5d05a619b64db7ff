// The engine's unified benchmark (issue 4's keys), on the reference workload: Llama vocab 8192, hidden
// 384, intermediate 1024, 6 layers, 6 heads, tied (13.8M params); LoRA r=8 alpha 16 on q_proj, v_proj;
// batch 8 x 128; AdamW; 2 threads. Reuses engine/bench/engine-core.ts (training, prefill, decode,
// QLoRA bytes, adapter switch), bench/engine-kernels.ts (1024^3 matmul) and bench/torch (PyTorch + PEFT
// on the same step, run in the same bench run when its venv can be made). Writes bench/results/engine.json.
//
// Usage: node bench/engine.ts [--pairs N] [--steps N] [--decode N] [--threads N] [--no-torch]
// (npm run bench:engine). Every engine/torch ratio is the median of --pairs (default 5) interleaved rounds,
// with min/max in `ratios`; absolute figures are medians over the rounds and carry the load average.
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createKernel } from "../engine/src/kernels/index.ts";
import type { KernelName } from "../engine/src/kernels/index.ts";
import { SEQ, adapterSwitchMs, benchKernel, qloraBytes, referenceConfig, trainFlopsPerToken } from "../engine/bench/engine-core.ts";
import type { CoreResult } from "../engine/bench/engine-core.ts";
import { cube, measure, round } from "./engine-kernels.ts";
import { runTorchReference } from "./torch/run.ts";
import type { TorchThreadResult } from "./torch/run.ts";

const { values } = parseArgs({
  options: {
    steps: { type: "string", default: "4" },
    decode: { type: "string", default: "64" },
    threads: { type: "string", default: "2" },
    "no-torch": { type: "boolean", default: false },
    pairs: { type: "string", default: "5" },
    runs: { type: "string" }, // read by engine-kernels.ts
  },
});
const steps = Number(values.steps);
const decode = Number(values.decode);
const threads = Number(values.threads);
const notes: string[] = [];
const load0 = loadavg();
const started = new Date();

// 1. matmul peak per kernel: 1024^3 on one thread (per-thread figure) and on `threads` (the MFU denominator)
const peak: Record<string, { perThread: number; all: number }> = {};
for (const name of ["wasm", "ort"] as KernelName[]) {
  const k1 = await createKernel(name, { threads: 1 });
  const one = (await measure(k1, cube)).gflops;
  await k1.dispose();
  const kn = await createKernel(name, { threads });
  const all = (await measure(kn, cube)).gflops;
  await kn.dispose();
  peak[name] = { perThread: one, all };
  console.log(`${name} 1024^3: ${one} GFLOP/s on 1 thread, ${all} on ${threads}`);
}

// 2. training / prefill / decode: `pairs` interleaved rounds of wasm, ort and PyTorch (+ PEFT) on the same
// step and decode loop, same thread count; the order rotates each round so no side always runs first (or
// right after the other's heat). Each ratio is the median of the per-round ratios, with its spread.
const pairs = Number(values.pairs);
type Round = { wasm: CoreResult; ort: CoreResult; torch: TorchThreadResult | null; load: number };
const rounds: Round[] = [];
let torchInfo = "";
let torchSkipped = values["no-torch"] ? "--no-torch given" : "";
for (let r = 0; r < pairs; r++) {
  const order = [["wasm", "ort", "torch"], ["torch", "ort", "wasm"], ["ort", "torch", "wasm"]][r % 3];
  const got: Partial<Round> = { load: loadavg()[0], torch: null };
  for (const side of order) {
    if (side === "torch") {
      if (torchSkipped) continue;
      const t = runTorchReference({ threads: [threads], steps: Math.max(steps, 4), decodeTokens: decode });
      if (!t.ok) {
        torchSkipped = t.skipped;
        continue;
      }
      torchInfo = `torch ${t.result.torch}, transformers ${t.result.transformers}, peft ${t.result.peft}`;
      got.torch = t.result.threads[String(threads)];
    } else {
      const kernel = await createKernel(side as KernelName, { threads });
      try {
        got[side as "wasm" | "ort"] = await benchKernel(kernel, { steps, decode });
      } finally {
        await kernel.dispose();
      }
    }
  }
  rounds.push(got as Round);
  console.log(`round ${r + 1}/${pairs} (${order.join(", ")}): train tokens/s ort ${got.ort!.train_tokens_per_s}, wasm ${got.wasm!.train_tokens_per_s}, torch ${got.torch?.train_tokens_per_s ?? "-"}`);
}
const med = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** Median, min, max of a per-round figure (rounds without it left out). */
const per = (f: (x: Round) => number | null) => {
  const v = rounds.map(f).filter((x): x is number => x !== null && Number.isFinite(x));
  return v.length ? { median: round(med(v), 3), min: round(Math.min(...v), 3), max: round(Math.max(...v), 3), runs: v.length } : null;
};
const core: Record<string, CoreResult> = {};
for (const name of ["wasm", "ort"] as const) {
  const keys = Object.keys(rounds[0][name]) as (keyof CoreResult)[];
  core[name] = Object.fromEntries(keys.map((k) => [k, round(med(rounds.map((x) => x[name][k] as number)), 1)])) as unknown as CoreResult;
}
const torchRounds = rounds.filter((x) => x.torch);
const torchMed = (k: keyof TorchThreadResult) => (torchRounds.length ? round(med(torchRounds.map((x) => x.torch![k] as number)), 1) : null);
const torchTokens = torchMed("train_tokens_per_s");
const torchDecode = torchMed("decode_tokens_per_s");
const torchPerCpu = torchMed("train_tokens_per_cpu_s");
const torchMatmul = torchRounds.length ? Math.max(...torchRounds.map((x) => x.torch!.matmul_gflops)) : null;
if (torchSkipped) notes.push(`torch_*: null, PyTorch reference skipped: ${torchSkipped}`);
else notes.push(`${torchInfo} (bench/torch/train_step.py, ${threads} threads, one process per round)`);
const ratios = {
  train_ort_over_torch: per((x) => (x.torch ? x.ort.train_tokens_per_s / x.torch.train_tokens_per_s : null)),
  train_wasm_over_torch: per((x) => (x.torch ? x.wasm.train_tokens_per_s / x.torch.train_tokens_per_s : null)),
  train_ort_over_torch_per_cpu_s: per((x) => (x.torch ? x.ort.train_tokens_per_cpu_s / x.torch.train_tokens_per_cpu_s : null)),
  decode_ort_over_torch: per((x) => (x.torch ? x.ort.decode_tokens_per_s / x.torch.decode_tokens_per_s : null)),
  decode_wasm_over_torch: per((x) => (x.torch ? x.wasm.decode_tokens_per_s / x.torch.decode_tokens_per_s : null)),
};

const cfg = referenceConfig();
const flopsPerToken = trainFlopsPerToken(cfg, SEQ);
// Two utilisation figures. GEMM utilisation: model FLOP/s over the kernel's own best 1024^3 rate on one
// thread times the thread count (how much of its own matmul speed the step keeps). MFU: over the machine's
// measured peak, the best 1024^3 fp32 rate any library reached here (ort and wasm per thread x threads,
// PyTorch's on `threads`), so a slow kernel cannot look efficient by dividing by its own slowness.
const gemmUtil = (name: string) => round((core[name].train_tokens_per_s * flopsPerToken) / 1e9 / (peak[name].perThread * threads), 3);
const machinePeak = Math.max(peak.ort.perThread * threads, peak.wasm.perThread * threads, torchMatmul ?? 0);
const mfu = (tokensPerS: number) => round((tokensPerS * flopsPerToken) / 1e9 / machinePeak, 3);
const result = {
  matmul_wasm_gflops_per_thread: peak.wasm.perThread,
  matmul_ort_gflops_per_thread: peak.ort.perThread,
  train_tokens_per_s_wasm: core.wasm.train_tokens_per_s,
  train_tokens_per_s_ort: core.ort.train_tokens_per_s,
  torch_train_tokens_per_s: torchTokens,
  // the training goals as ratios: ort >= 1.0x PyTorch, wasm >= 0.3x (null without the torch run)
  train_ort_over_torch: ratios.train_ort_over_torch?.median ?? null,
  train_wasm_over_torch: ratios.train_wasm_over_torch?.median ?? null,
  decode_ort_over_torch: ratios.decode_ort_over_torch?.median ?? null,
  train_mfu: mfu(core.ort.train_tokens_per_s),
  train_mfu_wasm: mfu(core.wasm.train_tokens_per_s),
  torch_train_mfu: torchTokens ? mfu(torchTokens) : null,
  machine_peak_gflops: round(machinePeak, 1),
  train_gemm_utilisation: gemmUtil("ort"),
  train_gemm_utilisation_wasm: gemmUtil("wasm"),
  torch_matmul_gflops: torchMatmul,
  ratios,
  load_average_1m_per_round: rounds.map((x) => round(x.load)),
  ...qloraBytes(),
  decode_tokens_per_s: core.ort.decode_tokens_per_s,
  decode_tokens_per_s_wasm: core.wasm.decode_tokens_per_s,
  torch_decode_tokens_per_s: torchDecode,
  prefill_tokens_per_s: core.ort.prefill_tokens_per_s,
  prefill_tokens_per_s_wasm: core.wasm.prefill_tokens_per_s,
  adapter_switch_ms: await adapterSwitchMs(),
  matmul_wasm_gflops: peak.wasm.all,
  matmul_ort_gflops: peak.ort.all,
  train_flops_per_token: flopsPerToken,
  train_tokens_per_cpu_s_wasm: core.wasm.train_tokens_per_cpu_s,
  train_tokens_per_cpu_s_ort: core.ort.train_tokens_per_cpu_s,
  torch_train_tokens_per_cpu_s: torchPerCpu,
  train_step_ms_wasm: core.wasm.train_step_ms,
  train_step_ms_ort: core.ort.train_step_ms,
  threads,
};
notes.push(
  `train_mfu: model FLOPs (${(flopsPerToken / 1e6).toFixed(2)} MFLOP/token: forward + input-gradient matmuls of the LoRA step, frozen base) x train_tokens_per_s_ort, ` +
    `over machine_peak_gflops, the best 1024^3 fp32 rate any library reached on this machine in this run (ort/wasm per thread x ${threads}, PyTorch on ${threads} threads); ` +
    `*_wasm and torch_train_mfu likewise. train_gemm_utilisation: the same FLOP rate over the kernel's own 1024^3 peak (matmul_*_gflops_per_thread x ${threads}), ` +
    "i.e. how much of its own matmul speed the whole step keeps (this was called train_mfu before).",
  `decode_tokens_per_s / prefill_tokens_per_s: ${threads} threads, 128-token prompt then ${decode} greedy tokens through the KV cache with the LoRA adapter unmerged (best of 3); ` +
    "torch_decode_tokens_per_s runs torch's own KV-cache argmax loop on the same prompt length and adapter (no generate() overhead).",
  `train_tokens_per_s_*: ${steps} timed steps of 8 x 128 tokens after one warm-up step (forward, backward, AdamW).`,
  `ratios: per-round engine/torch ratios over ${pairs} interleaved rounds (order rotated each round); median, min, max. Absolute figures: medians over the rounds.`,
  "adapter_switch_ms: loading a PEFT adapter from disk (adapters are applied unmerged, so that is the whole switch).",
  "The machine is shared with other engineers' work: wall-clock figures depend on the load averages recorded; " +
    "*_tokens_per_cpu_s (tokens over the process's CPU time, all threads) compare engine and torch with less noise.",
);
const out = {
  ...result,
  notes,
  machine: {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: availableParallelism(),
    threads,
    node: process.version,
    load_average_start: load0.map((x) => round(x)),
    load_average_end: loadavg().map((x) => round(x)),
  },
  date: started.toISOString(),
};
const file = join(dirname(fileURLToPath(import.meta.url)), "results", "engine.json");
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
console.log(JSON.stringify(out, null, 2));
console.log(`wrote ${file}`);
