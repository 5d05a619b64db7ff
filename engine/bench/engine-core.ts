/**
 * Engine-core benchmark on the reference workload: Llama vocab 8192, hidden 384, intermediate
 * 1024, 6 layers, 6 heads, tied (13.8M parameters); LoRA r=8, alpha 16 on q_proj, v_proj; AdamW;
 * batch 8 x 128 tokens. As a script it writes bench/results/engine-core-<kernel>.json; the functions
 * are shared with the unified benchmark (bench/engine.ts at the repository root).
 *   node bench/engine-core.ts [--kernel ts|wasm|ort] [--threads N] [--steps N] [--decode N]
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Kernel } from "../src/kernels/kernel.ts";
import { createLoraAdapter, loraConfig } from "../src/lora/adapter.ts";
import type { Projection } from "../src/lora/adapter.ts";
import { loadAdapter, saveAdapter } from "../src/lora/peft.ts";
import { llamaConfig } from "../src/model/config.ts";
import type { LlamaConfig } from "../src/model/config.ts";
import { createKvCache, countParams, forwardCached, initModel } from "../src/model/llama.ts";
import { modelFromTensors } from "../src/model/io.ts";
import { modelTensors } from "../src/model/llama.ts";
import { Nf4Tensor } from "../src/quant/nf4.ts";
import { Rng } from "../src/random/prng.ts";
import { selectKernel } from "../src/select-kernel.ts";
import { train, trainConfig } from "../src/train/trainer.ts";
import type { Example } from "../src/train/data.ts";

export const BATCH = 8;
export const SEQ = 128;

export function referenceConfig(): LlamaConfig {
  return llamaConfig({ vocabSize: 8192, hiddenSize: 384, intermediateSize: 1024, numLayers: 6, numHeads: 6, tieWordEmbeddings: true, maxPositionEmbeddings: 512 });
}

/**
 * Matmul FLOPs of one LoRA training step per token on `cfg` with sequence length `seq`: forward
 * (projections, LM head, attention q k^T and p v) plus the backward's input gradients (same
 * projections and head, 4 attention products); the frozen base has no weight gradients. LoRA's rank-r
 * products (< 1%) are left out. The numerator of train_mfu.
 */
export function trainFlopsPerToken(cfg: LlamaConfig, seq: number): number {
  const D = cfg.hiddenSize, hd = cfg.headDim, H = cfg.numHeads, Hkv = cfg.numKvHeads, I = cfg.intermediateSize;
  const proj = D * H * hd + 2 * D * Hkv * hd + H * hd * D + 3 * D * I;
  const linear = cfg.numLayers * proj + cfg.vocabSize * D;
  const attn = cfg.numLayers * H * seq * hd; // per token: one q k^T row or one p v row per head
  return 2 * linear + 2 * 2 * attn + 2 * linear + 4 * 2 * attn;
}

function randomExamples(cfg: LlamaConfig, n: number, seed: number): Example[] {
  const rng = new Rng(seed);
  const out: Example[] = [];
  for (let i = 0; i < n; i++) {
    const ids = Array.from({ length: SEQ }, () => rng.int(cfg.vocabSize));
    out.push({ ids, train: ids.map(() => true) });
  }
  return out;
}

/** QLoRA storage of the reference model: bytes per parameter of the NF4 base (norms kept in f32). */
export function qloraBytes(): { qlora_base_bytes_per_param: number; qlora_projection_bytes_per_param: number } {
  const cfg = referenceConfig();
  const model = initModel(cfg, { seed: 1 });
  const params = countParams(model);
  const q = modelFromTensors(cfg, modelTensors(model), { quantize: "nf4" });
  let bytes = 0;
  let projBytes = 0;
  let projParams = 0;
  for (const w of [q.embed, ...q.layers.flatMap((l) => Object.values(l.proj))]) {
    if (w instanceof Nf4Tensor) bytes += w.byteLength;
  }
  for (const l of q.layers) for (const w of Object.values(l.proj)) if (w instanceof Nf4Tensor) { projBytes += w.byteLength; projParams += w.rows * w.cols; }
  bytes += (q.norm.length + q.layers.reduce((s, l) => s + l.inputNorm.length + l.postNorm.length, 0)) * 4;
  return { qlora_base_bytes_per_param: +(bytes / params).toFixed(4), qlora_projection_bytes_per_param: +(projBytes / projParams).toFixed(4) };
}

export interface CoreResult {
  params: number;
  train_tokens_per_s: number;
  train_step_ms: number;
  /** Tokens per second of process CPU time (all threads): steadier than wall time on a shared machine. */
  train_tokens_per_cpu_s: number;
  prefill_tokens_per_s: number;
  decode_tokens_per_s: number;
}

/**
 * Trains `steps` LoRA steps (after one warm-up step) and times them; then prefills 128 tokens and
 * decodes `decode` tokens greedily through the KV cache (best of `reps` runs, after a warm-up run).
 */
export async function benchKernel(kernel: Kernel, opts: { steps?: number; decode?: number; reps?: number } = {}): Promise<CoreResult> {
  const steps = opts.steps ?? 3;
  const decode = opts.decode ?? 64;
  const reps = opts.reps ?? 3;
  const cfg = referenceConfig();
  const model = initModel(cfg, { seed: 1, kernel });
  const lora = { r: 8, alpha: 16, targetModules: ["q_proj", "v_proj"] as Projection[] };
  const tc = trainConfig({ epochs: 1, batchSize: BATCH, maxSeqLen: SEQ, lora });
  await train({ model, train: randomExamples(cfg, BATCH, 7), config: tc }); // warm-up: JIT, sessions
  const examples = randomExamples(cfg, BATCH * steps, 2);
  const cpu0 = process.cpuUsage();
  const t = await train({ model, train: examples, config: tc });
  const cpu = process.cpuUsage(cpu0);

  const prompt = examples[0].ids;
  let bestPrefill = Infinity;
  let bestDecode = Infinity;
  for (let r = 0; r <= reps; r++) {
    const kv = createKvCache(cfg, SEQ + decode);
    let t0 = performance.now();
    let logits = await forwardCached(model, prompt, kv, t.adapter);
    const prefill = performance.now() - t0;
    t0 = performance.now();
    for (let i = 0; i < decode; i++) {
      let best = 0;
      for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
      logits = await forwardCached(model, [best], kv, t.adapter);
    }
    const dec = performance.now() - t0;
    if (r === 0) continue; // warm-up run
    bestPrefill = Math.min(bestPrefill, prefill);
    bestDecode = Math.min(bestDecode, dec);
  }
  return {
    params: countParams(model),
    train_tokens_per_s: +(t.tokens / t.seconds).toFixed(1),
    train_step_ms: +((t.seconds * 1000) / t.steps).toFixed(1),
    train_tokens_per_cpu_s: +(t.tokens / ((cpu.user + cpu.system) / 1e6)).toFixed(1),
    prefill_tokens_per_s: +((SEQ / bestPrefill) * 1000).toFixed(1),
    decode_tokens_per_s: +((decode / bestDecode) * 1000).toFixed(1),
  };
}

/** Adapters are applied unmerged, so switching is loading one (PEFT files) from disk: mean ms. */
export async function adapterSwitchMs(reps = 20): Promise<number> {
  const cfg = referenceConfig();
  const dir = await mkdtemp(join(tmpdir(), "bench-adapter-"));
  try {
    await saveAdapter(dir, createLoraAdapter(cfg, loraConfig({ r: 8, alpha: 16 }), 3));
    await loadAdapter(dir, cfg);
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) await loadAdapter(dir, cfg);
    return +((performance.now() - t0) / reps).toFixed(2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { kernel: { type: "string", default: "ts" }, threads: { type: "string", default: "2" }, steps: { type: "string", default: "2" }, decode: { type: "string", default: "32" } } });
  const kernel = await selectKernel(values.kernel!, Number(values.threads));
  try {
    const r = await benchKernel(kernel, { steps: Number(values.steps), decode: Number(values.decode), reps: kernel.name === "ts" ? 1 : 3 });
    const out: Record<string, number | string> = {
      kernel: kernel.name,
      threads: kernel.threads,
      params: r.params,
      ...qloraBytes(),
      [`train_tokens_per_s_${kernel.name}`]: r.train_tokens_per_s,
      train_step_ms: r.train_step_ms,
      prefill_tokens_per_s: r.prefill_tokens_per_s,
      decode_tokens_per_s: r.decode_tokens_per_s,
      adapter_switch_ms: await adapterSwitchMs(),
    };
    const resultsDir = new URL("./results/", import.meta.url);
    await mkdir(resultsDir, { recursive: true });
    await writeFile(new URL(`engine-core-${kernel.name}.json`, resultsDir), JSON.stringify(out, null, 2) + "\n");
    console.log(JSON.stringify(out, null, 2));
  } finally {
    await kernel.dispose();
  }
}
