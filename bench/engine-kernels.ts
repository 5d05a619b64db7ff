// Matmul throughput of the engine's kernels: 1024^3 on 1 and 2 threads, and the products of the
// reference training workload (batch 8 x 128 tokens = 1024 rows, hidden 384, intermediate 1024,
// vocab 8192, LoRA r = 8). Writes bench/results/engine-kernels.json.
//
// Usage: node bench/engine-kernels.ts [--quick] [--runs N]
//   --runs N   timed repetitions per case (best one kept), default 7
//   --quick    only 1024^3, for a fast look
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createKernel } from "../engine/src/kernels/index.ts";
import type { Kernel, KernelName, MatmulArgs } from "../engine/src/kernels/index.ts";

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const runsAt = argv.indexOf("--runs");
const RUNS = runsAt >= 0 ? Number(argv[runsAt + 1]) : 7;
const MIN_SECONDS = 0.25; // per case, after warm-up: keep repeating (up to 5 * RUNS) until this much time was timed

export interface Shape {
  what: string;
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
}

// Reference workload: T = 8 * 128 = 1024 tokens, d = 384, ff = 1024, V = 8192, r = 8, head dim 64.
// Linear y = x W^T (W [out, in]): forward (T, out, in, transB), input grad (T, in, out), weight grad
// (out, in, T, transA). See engine/src/kernels/kernel.ts.
const T = 1024, D = 384, FF = 1024, V = 8192, R = 8, S = 128, HD = 64;
const workload: Shape[] = [
  { what: "attn q/k/v/o forward", m: T, n: D, k: D, transB: true },
  { what: "attn q/k/v/o input grad", m: T, n: D, k: D },
  { what: "attn q/k/v/o weight grad", m: D, n: D, k: T, transA: true },
  { what: "mlp gate/up forward", m: T, n: FF, k: D, transB: true },
  { what: "mlp gate/up input grad", m: T, n: D, k: FF },
  { what: "mlp down forward", m: T, n: D, k: FF, transB: true },
  { what: "mlp down input grad", m: T, n: FF, k: D },
  { what: "lm head forward (tied)", m: T, n: V, k: D, transB: true },
  { what: "lm head input grad", m: T, n: D, k: V },
  { what: "embedding grad (tied head)", m: V, n: D, k: T, transA: true },
  { what: "attention scores q k^T (one head)", m: S, n: S, k: HD, transB: true },
  { what: "attention output p v (one head)", m: S, n: HD, k: S },
  { what: "lora A forward x A^T", m: T, n: R, k: D, transB: true },
  { what: "lora B forward h B^T", m: T, n: D, k: R, transB: true },
  { what: "lora A weight grad", m: R, n: D, k: T, transA: true },
  { what: "decode q/k/v/o (1 token)", m: 1, n: D, k: D, transB: true },
  { what: "decode lm head (1 token)", m: 1, n: V, k: D, transB: true },
];
export const cube: Shape = { what: "1024^3", m: 1024, n: 1024, k: 1024 };

function random(length: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

/** Best GFLOP/s of one kernel on one shape (shared with bench/engine.ts). */
export async function measure(kernel: Kernel, shape: Shape): Promise<{ gflops: number; bestMs: number; runs: number; cpuGflops: number }> {
  const { m, n, k } = shape;
  const args: MatmulArgs = { ...shape, a: random(m * k, 1), b: random(k * n, 2), out: new Float32Array(m * n) };
  const flops = 2 * m * n * k;
  await kernel.matmul(args); // warm-up: sessions, page faults, worker wake-up
  let best = Infinity, bestCpu = Infinity, timed = 0, runs = 0;
  while (runs < RUNS || (timed < MIN_SECONDS && runs < 5 * RUNS)) {
    // Tiny products are timed in batches so the timer's resolution does not dominate.
    const batch = Math.max(1, Math.min(1000, Math.floor(2e7 / flops)));
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (let i = 0; i < batch; i++) await kernel.matmul(args);
    const cpu = process.cpuUsage(c0);
    const dt = (performance.now() - t0) / 1000;
    best = Math.min(best, dt / batch);
    bestCpu = Math.min(bestCpu, (cpu.user + cpu.system) / 1e6 / batch);
    timed += dt;
    runs++;
  }
  return { gflops: round(flops / best / 1e9), bestMs: round(best * 1000, 4), runs, cpuGflops: round(flops / bestCpu / 1e9) };
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();

async function main(): Promise<void> {
  const kernels: Array<[KernelName, number]> = [["wasm", 1], ["wasm", 2], ["ort", 1], ["ort", 2]];
  // ort on 2 threads with onnxruntime's spin-waiting threads (off by default, see OrtKernelOptions.spin).
  const ORT_SPIN_KEY = "matmul_ort_2threads_spinning_gflops";
  const results: Record<string, unknown> = {};
  const rows: Array<Record<string, unknown>> = [];
  const started = new Date();
  const load0 = loadavg()[0];

  for (const [name, threads] of kernels) {
    const kernel = await createKernel(name, { threads });
    try {
      const c = await measure(kernel, cube);
      if (threads === 1) {
        results[`matmul_${name}_gflops_per_thread`] = c.gflops;
        // Flops over the process's CPU time: less sensitive than wall time to other processes on the cores.
        results[`matmul_${name}_gflops_per_cpu_second`] = c.cpuGflops;
      } else {
        results[`matmul_${name}_${threads}threads_gflops`] = c.gflops;
        results[`matmul_${name}_${threads}threads_gflops_per_thread`] = round(c.gflops / threads);
      }
      console.log(`${name} ${threads}t ${cube.what}: ${c.gflops} GFLOP/s (${c.bestMs} ms)`);
      if (!quick) {
        for (const shape of workload) {
          const r = await measure(kernel, shape);
          rows.push({ kernel: name, threads, ...shape, gflops: r.gflops, best_ms: r.bestMs, gflops_per_cpu_second: r.cpuGflops });
          console.log(`${name} ${threads}t ${shape.what} ${shape.m}x${shape.n}x${shape.k}: ${r.gflops} GFLOP/s (${r.bestMs} ms)`);
        }
      }
    } finally {
      await kernel.dispose();
    }
  }

  {
    const kernel = await createKernel("ort", { threads: 2, spin: true });
    try {
      const c = await measure(kernel, cube);
      results[ORT_SPIN_KEY] = c.gflops;
      console.log(`ort 2t spinning ${cube.what}: ${c.gflops} GFLOP/s (${c.bestMs} ms)`);
    } finally {
      await kernel.dispose();
    }
  }

  // One training step's matmul time on the reference workload, per kernel and thread count: the sum of the
  // big products above, each counted as often as one step of the engine's trainer runs it (6 layers; LoRA
  // on q and v; frozen base; counts checked against the trainer's calls).
  if (!quick) {
    const perStep: Record<string, number> = {
      "attn q/k/v/o forward": 6 * 4, "attn q/k/v/o input grad": 6 * 4,
      "mlp gate/up forward": 6 * 2, "mlp gate/up input grad": 6 * 2, "mlp down forward": 6, "mlp down input grad": 6,
      "lm head forward (tied)": 1, "lm head input grad": 1,
      // per layer, sequence and head the trainer runs 2 products of 128x128x64 (tB) and 4 of 128x64x128
      "attention scores q k^T (one head)": 6 * 8 * 6 * 2, "attention output p v (one head)": 6 * 8 * 6 * 4,
    };
    for (const [name, threads] of kernels) {
      let ms = 0;
      for (const row of rows) {
        if (row.kernel === name && row.threads === threads) ms += (perStep[row.what as string] ?? 0) * (row.best_ms as number);
      }
      results[`step_matmul_ms_${name}_${threads}t`] = round(ms, 1);
    }
  }

  const out = {
    ...results,
    note: `Best of >= ${RUNS} runs per case (best time kept), on a machine shared with other engineers' work ` +
      `(1-min load average ${round(load0)} at start, ${round(loadavg()[0])} at end, ${availableParallelism()} cores): ` +
      "medians would be lower. wasm is the deterministic SIMD128 kernel, ort is onnxruntime-node (MLAS). " +
      "step_matmul_ms_* sums the main products of one LoRA training step of the reference workload " +
      "(forward + input grads; attention products counted forward and backward), from the shapes below. " +
      "*gflops_per_cpu_second: flops over the process CPU time (all its threads) instead of wall time.",
    machine: { cpu: cpus()[0]?.model ?? "unknown", cores: availableParallelism(), node: process.version },
    date: started.toISOString(),
    shapes: rows,
  };
  const file = join(dirname(fileURLToPath(import.meta.url)), "results", "engine-kernels.json");
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${file}`);
}
