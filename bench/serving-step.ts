// Micro-benchmark of the engine's decode step (issue 13), without the HTTP API: forwardBatch over R rows
// (each its own adapter, r=8 on q/k/v/o as in bench/serving.ts, after a 6-token prompt) against
// forwardCached over one row (the former one-at-a-time path), same kernel and threads, in interleaved
// rounds. It bounds what the API's concurrent64_over_single can reach: the API adds per-token work to both
// arms (sampling, SSE events, the load generator), which the batch does not share.
// Usage: node bench/serving-step.ts [--rows 64] [--kernel ort] [--threads 2] [--steps 30] [--rounds 7]
// Writes engine_decode_step in bench/results/serving.json (other keys kept).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { createKvCache, createLoraAdapter, forwardBatch, forwardCached, loadModel, loraConfig, selectKernel } from "@tributary/engine";
import type { KvCache, LoraAdapter } from "@tributary/engine";

const { values } = parseArgs({ options: { rows: { type: "string", default: "64" }, kernel: { type: "string", default: "ort" }, threads: { type: "string", default: "2" }, steps: { type: "string", default: "30" }, rounds: { type: "string", default: "7" }, adapters: { type: "string", default: "64" } } });
const R = Number(values.rows);
const STEPS = Number(values.steps);
const kernel = await selectKernel(values.kernel!, Number(values.threads));
const model = await loadModel(fileURLToPath(new URL("../engine/models/tributary-austen-4m/", import.meta.url)), { kernel });
const c = model.config;
const adapters: LoraAdapter[] = [];
for (let i = 0; i < Number(values.adapters); i++) {
  const a = createLoraAdapter(c, loraConfig({ r: 8, alpha: 16, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj"] }), 1000 + i);
  let s = i + 1;
  for (const m of a.modules.values()) for (let j = 0; j < m.B.length; j++) m.B[j] = ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.02;
  adapters.push(a);
}
const prompt = [5, 17, 300, 42, 9, 77];
const argmax = (x: Float32Array) => { let b = 0; for (let i = 1; i < x.length; i++) if (x[i] > x[b]) b = i; return b; };

async function batched(): Promise<number> {
  const kvs: KvCache[] = Array.from({ length: R }, () => createKvCache(c, prompt.length + STEPS + 1));
  let logits = await forwardBatch(model, kvs.map((kv, i) => ({ tokens: prompt, kv, adapter: adapters[i % adapters.length] })));
  const t0 = performance.now();
  for (let s = 0; s < STEPS; s++) logits = await forwardBatch(model, kvs.map((kv, i) => ({ tokens: [argmax(logits[i])], kv, adapter: adapters[i % adapters.length] })));
  return (R * STEPS * 1000) / (performance.now() - t0);
}
async function single(): Promise<number> {
  const kv = createKvCache(c, prompt.length + STEPS + 1);
  let logits = await forwardCached(model, prompt, kv, adapters[0]);
  const t0 = performance.now();
  for (let s = 0; s < STEPS; s++) logits = await forwardCached(model, [argmax(logits)], kv, adapters[0]);
  return (STEPS * 1000) / (performance.now() - t0);
}
await batched(); await single();
const ratios: number[] = [];
const rounds: { batched_tokens_per_sec: number; batched_ms_per_step: number; single_tokens_per_sec: number; ratio: number; load1: number }[] = [];
const r1 = (x: number) => Math.round(x * 10) / 10;
const load0 = loadavg();
for (let r = 0; r < Number(values.rounds); r++) {
  const b = await batched();
  const s = await single();
  ratios.push(b / s);
  rounds.push({ batched_tokens_per_sec: r1(b), batched_ms_per_step: r1((R * 1000) / b), single_tokens_per_sec: r1(s), ratio: r1(b / s), load1: r1(loadavg()[0]) });
  console.log(`round ${r + 1}: batched ${R} rows ${b.toFixed(0)} tok/s (${((R * 1000) / b).toFixed(2)} ms/step), single ${s.toFixed(0)} tok/s (${(1000 / s).toFixed(2)} ms/token), x${(b / s).toFixed(2)}, load ${loadavg()[0].toFixed(2)}`);
}
ratios.sort((a, b) => a - b);
console.log(`median x${ratios[ratios.length >> 1].toFixed(2)} (${ratios[0].toFixed(2)}-${ratios[ratios.length - 1].toFixed(2)})`);
await kernel.dispose();
const OUT = fileURLToPath(new URL("./results/serving.json", import.meta.url));
const result = existsSync(OUT) ? (JSON.parse(readFileSync(OUT, "utf8")) as Record<string, unknown>) : {};
result.engine_decode_step = {
  started: new Date().toISOString(),
  what: "engine only, no HTTP: forwardBatch over `rows` decoding rows (each its own adapter) vs forwardCached over one row, tokens/s, interleaved rounds",
  config: { model: "tributary-austen-4m", kernel: values.kernel, threads: Number(values.threads), rows: R, adapters: Number(values.adapters), lora: "r=8 alpha=16 on q/k/v/o_proj", prompt_tokens: prompt.length, steps_per_round: STEPS },
  rows_over_single: { median: r1(ratios[ratios.length >> 1]), min: r1(ratios[0]), max: r1(ratios[ratios.length - 1]) },
  rounds,
  load_average_start: load0.map(r1),
};
writeFileSync(OUT, JSON.stringify(result, null, 2) + "\n");
console.log(`wrote ${OUT} (engine_decode_step)`);
