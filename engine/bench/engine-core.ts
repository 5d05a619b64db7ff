/**
 * Engine-core benchmark on the reference workload: Llama vocab 8192, hidden 384, intermediate
 * 1024, 6 layers, 6 heads, tied (13.8M parameters); LoRA r=8, alpha 16 on q_proj, v_proj; AdamW;
 * batch 8 x 128 tokens. Writes bench/results/engine-core-<kernel>.json.
 *   node bench/engine-core.ts [--kernel ts|wasm|ort] [--threads N] [--steps N] [--decode N]
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createLoraAdapter, loraConfig } from "../src/lora/adapter.ts";
import { loadAdapter, saveAdapter } from "../src/lora/peft.ts";
import { llamaConfig } from "../src/model/config.ts";
import { createKvCache, countParams, forwardCached, initModel } from "../src/model/llama.ts";
import { modelFromTensors } from "../src/model/io.ts";
import { modelTensors } from "../src/model/llama.ts";
import { Nf4Tensor } from "../src/quant/nf4.ts";
import { Rng } from "../src/random/prng.ts";
import { selectKernel } from "../src/select-kernel.ts";
import { train, trainConfig } from "../src/train/trainer.ts";
import type { Example } from "../src/train/data.ts";

const { values } = parseArgs({ options: { kernel: { type: "string", default: "ts" }, threads: { type: "string", default: "2" }, steps: { type: "string", default: "1" }, decode: { type: "string", default: "32" } } });
const kernel = await selectKernel(values.kernel!, Number(values.threads));
const cfg = llamaConfig({ vocabSize: 8192, hiddenSize: 384, intermediateSize: 1024, numLayers: 6, numHeads: 6, tieWordEmbeddings: true, maxPositionEmbeddings: 512 });
const model = initModel(cfg, { seed: 1, kernel });
const params = countParams(model);
const out: Record<string, number | string> = { kernel: kernel.name, threads: kernel.threads, params };

// QLoRA storage
const q = modelFromTensors(cfg, modelTensors(model), { quantize: "nf4" });
let bytes = 0;
let projBytes = 0;
let projParams = 0;
for (const w of [q.embed, ...q.layers.flatMap((l) => Object.values(l.proj))]) {
  if (w instanceof Nf4Tensor) bytes += w.byteLength;
}
for (const l of q.layers) for (const w of Object.values(l.proj)) if (w instanceof Nf4Tensor) { projBytes += w.byteLength; projParams += w.rows * w.cols; }
bytes += (q.norm.length + q.layers.reduce((s, l) => s + l.inputNorm.length + l.postNorm.length, 0)) * 4;
out.qlora_base_bytes_per_param = +(bytes / params).toFixed(4);
out.qlora_projection_bytes_per_param = +(projBytes / projParams).toFixed(4);

// training: 8 x 128 tokens per step
const rng = new Rng(2);
const examples: Example[] = [];
const steps = Number(values.steps);
for (let i = 0; i < 8 * steps; i++) {
  const ids = Array.from({ length: 128 }, () => rng.int(cfg.vocabSize));
  examples.push({ ids, train: ids.map(() => true) });
}
const t = await train({ model, train: examples, config: trainConfig({ epochs: 1, batchSize: 8, maxSeqLen: 128, lora: { r: 8, alpha: 16, targetModules: ["q_proj", "v_proj"] } }) });
out[`train_tokens_per_s_${kernel.name}`] = +(t.tokens / t.seconds).toFixed(1);

// prefill 128 tokens, then greedy-length decode with the KV cache
const prompt = examples[0].ids;
const kv = createKvCache(cfg, 128 + Number(values.decode));
let t0 = performance.now();
let logits = await forwardCached(model, prompt, kv, t.adapter);
out.prefill_tokens_per_s = +((128 / (performance.now() - t0)) * 1000).toFixed(1);
t0 = performance.now();
for (let i = 0; i < Number(values.decode); i++) {
  let best = 0;
  for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
  logits = await forwardCached(model, [best], kv, t.adapter);
}
out.decode_tokens_per_s = +((Number(values.decode) / (performance.now() - t0)) * 1000).toFixed(1);

// adapter switch: adapters are applied unmerged, so a switch is loading one from disk (in memory: free)
const dir = await mkdtemp(join(tmpdir(), "bench-adapter-"));
await saveAdapter(dir, createLoraAdapter(cfg, loraConfig({ r: 8, alpha: 16 }), 3));
t0 = performance.now();
const reps = 20;
for (let i = 0; i < reps; i++) await loadAdapter(dir, cfg);
out.adapter_switch_ms = +((performance.now() - t0) / reps).toFixed(2);
await rm(dir, { recursive: true, force: true });
await kernel.dispose();

const resultsDir = new URL("./results/", import.meta.url);
await mkdir(resultsDir, { recursive: true });
await writeFile(new URL(`engine-core-${kernel.name}.json`, resultsDir), JSON.stringify(out, null, 2) + "\n");
console.log(JSON.stringify(out, null, 2));
