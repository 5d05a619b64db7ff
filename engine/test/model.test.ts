import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { adapterParams, createLoraAdapter, loraConfig } from "../src/lora/adapter.ts";
import { llamaConfig } from "../src/model/config.ts";
import { loadModel, saveModel } from "../src/model/io.ts";
import { backward, createKvCache, forward, forwardCached, initModel, trainableBaseParams } from "../src/model/llama.ts";
import type { Batch } from "../src/model/llama.ts";
import { crossEntropyBackward, crossEntropyForward } from "../src/nn/cross-entropy.ts";
import { createWasmKernel } from "../src/kernels/wasm.ts";
import { Nf4Tensor } from "../src/quant/nf4.ts";
import { Rng } from "../src/random/prng.ts";
import { checkGrad } from "./helpers/gradcheck.ts";

const cfg = llamaConfig({ vocabSize: 11, hiddenSize: 8, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 12, tieWordEmbeddings: true });

function batch(): Batch {
  const tokens = new Int32Array([1, 5, 7, 2, 9, 3, 3, 4, 10, 0]);
  return {
    B: 2,
    T: 5,
    tokens,
    positions: new Int32Array([0, 1, 2, 0, 1, 0, 1, 2, 3, 4]),
    segments: new Int32Array([0, 0, 0, 1, 1, 0, 0, 0, 0, 0]),
    targets: new Int32Array([5, 7, -100, 9, -100, 3, 4, 10, 0, -100]),
  };
}

async function lossOf(model: ReturnType<typeof initModel>, b: Batch, adapter: ReturnType<typeof createLoraAdapter> | null) {
  const { logits } = await forward(model, b, { adapter });
  return crossEntropyForward(logits, b.targets, cfg.vocabSize).lossSum;
}

test("whole-model gradients (full fine-tuning, tied head) match finite differences", async () => {
  const model = initModel(cfg, { seed: 1 });
  // larger weights than the 0.02 init so every path carries signal
  for (const p of trainableBaseParams(model).values()) for (let i = 0; i < p.length; i++) p[i] *= p.length > 8 ? 15 : 1;
  const b = batch();
  const params = trainableBaseParams(model);
  const grads = new Map([...params].map(([k, v]) => [k, new Float32Array(v.length)]));
  const { logits, cache } = await forward(model, b);
  const { dlogits } = crossEntropyBackward(logits, b.targets, cfg.vocabSize, 1);
  await backward(model, cache, dlogits, grads);
  for (const name of ["model.embed_tokens.weight", "model.layers.0.self_attn.k_proj.weight", "model.layers.1.mlp.down_proj.weight", "model.layers.0.input_layernorm.weight", "model.norm.weight"]) {
    await checkGrad(name, params.get(name)!, grads.get(name)!, () => lossOf(model, b, null), { eps: 3e-3, coords: 2, dirs: 1 });
  }
});

test("whole-model LoRA gradients (all projections, untied head) match finite differences", async () => {
  const c = { ...cfg, tieWordEmbeddings: false };
  const model = initModel(c, { seed: 2 });
  for (const p of trainableBaseParams(model).values()) for (let i = 0; i < p.length; i++) p[i] *= p.length > 8 ? 15 : 1;
  const adapter = createLoraAdapter(c, loraConfig({ r: 2, alpha: 4, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] }), 3);
  const rng = new Rng(4);
  for (const m of adapter.modules.values()) for (let i = 0; i < m.B.length; i++) m.B[i] = rng.normal() * 0.5;
  const params = adapterParams(adapter);
  const grads = new Map([...params].map(([k, v]) => [k, new Float32Array(v.length)]));
  const b = batch();
  const { logits, cache } = await forward(model, b, { adapter });
  await backward(model, cache, crossEntropyBackward(logits, b.targets, c.vocabSize, 1).dlogits, grads);
  for (const name of ["model.layers.0.self_attn.q_proj.lora_A.weight", "model.layers.0.self_attn.v_proj.lora_B.weight", "model.layers.1.mlp.gate_proj.lora_A.weight", "model.layers.1.self_attn.o_proj.lora_B.weight"]) {
    await checkGrad(name, params.get(name)!, grads.get(name)!, () => lossOf(model, b, adapter), { eps: 3e-3, coords: 2, dirs: 1 });
  }
});

test("the KV-cache path gives the same logits as the full forward", async () => {
  const model = initModel(cfg, { seed: 5 });
  const adapter = createLoraAdapter(cfg, loraConfig({ r: 2 }), 6);
  for (const m of adapter.modules.values()) m.B.fill(0.3);
  const tokens = [3, 1, 4, 1, 5, 9];
  const b: Batch = { B: 1, T: 6, tokens: Int32Array.from(tokens), positions: Int32Array.from([0, 1, 2, 3, 4, 5]), segments: null, targets: new Int32Array(6) };
  const { logits } = await forward(model, b, { adapter });
  const kv = createKvCache(cfg, 16);
  await forwardCached(model, tokens.slice(0, 3), kv, adapter);
  await forwardCached(model, tokens.slice(3, 5), kv, adapter);
  const last = await forwardCached(model, tokens.slice(5), kv, adapter);
  for (let j = 0; j < cfg.vocabSize; j++) assert.ok(Math.abs(last[j] - logits[5 * cfg.vocabSize + j]) < 1e-5);
});

test("decoding with fused q/k/v and gate/up products (non-ts kernels) matches the full forward, also after the weights change", async () => {
  const kernel = await createWasmKernel({ threads: 1 });
  try {
    const model = initModel(cfg, { seed: 8, kernel });
    const all = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] as const;
    const adapter = createLoraAdapter(cfg, loraConfig({ r: 2, targetModules: [...all] }), 9);
    for (const m of adapter.modules.values()) m.B.fill(0.2);
    const tokens = [2, 7, 1, 8, 2];
    const b: Batch = { B: 1, T: 5, tokens: Int32Array.from(tokens), positions: Int32Array.from([0, 1, 2, 3, 4]), segments: null, targets: new Int32Array(5) };
    const check = async () => {
      const { logits } = await forward(model, b, { adapter });
      const kv = createKvCache(cfg, 8);
      await forwardCached(model, tokens.slice(0, 3), kv, adapter);
      await forwardCached(model, tokens.slice(3, 4), kv, adapter);
      const last = await forwardCached(model, tokens.slice(4), kv, adapter);
      for (let j = 0; j < cfg.vocabSize; j++) assert.ok(Math.abs(last[j] - logits[4 * cfg.vocabSize + j]) < 1e-5, `logit ${j}: ${last[j]} vs ${logits[4 * cfg.vocabSize + j]}`);
    };
    await check();
    // changing base weights in place (as full fine-tuning does) must not leave stale fused weights
    const params = trainableBaseParams(model);
    for (const name of ["model.layers.0.self_attn.k_proj.weight", "model.layers.1.mlp.up_proj.weight"]) {
      const w = params.get(name)!;
      for (let i = 0; i < w.length; i++) w[i] = -3 * w[i] + 0.01;
    }
    await check();
  } finally {
    await kernel.dispose();
  }
});

test("save and load a model directory; NF4 loading stays close to the dense model", async () => {
  const dir = await mkdtemp(join(tmpdir(), "engine-model-"));
  try {
    const c = { ...cfg, hiddenSize: 64, numHeads: 4, numKvHeads: 2, headDim: 16, intermediateSize: 128, vocabSize: 32 };
    const model = initModel(c, { seed: 7 });
    await saveModel(dir, model);
    const back = await loadModel(dir);
    assert.deepEqual(back.config, c);
    assert.deepEqual([...back.layers[1].proj.up_proj as Float32Array], [...model.layers[1].proj.up_proj as Float32Array]);
    const b: Batch = { B: 1, T: 4, tokens: Int32Array.from([1, 2, 3, 4]), positions: Int32Array.from([0, 1, 2, 3]), segments: null, targets: new Int32Array(4) };
    const ref = (await forward(model, b)).logits;
    assert.deepEqual([...(await forward(back, b)).logits], [...ref]);
    const q = await loadModel(dir, { quantize: "nf4" });
    assert.ok(q.layers[0].proj.q_proj instanceof Nf4Tensor);
    assert.ok(q.embed instanceof Nf4Tensor);
    await assert.rejects(async () => trainableBaseParams(q), /quantized/);
    const ql = (await forward(q, b)).logits;
    let err = 0;
    let norm = 0;
    for (let i = 0; i < ref.length; i++) {
      err += (ql[i] - ref[i]) ** 2;
      norm += ref[i] ** 2;
    }
    assert.ok(Math.sqrt(err / norm) < 0.2, `NF4 logits relative error ${Math.sqrt(err / norm)}`);
    assert.ok(err > 0, "quantization changes something");
    await saveModel(join(dir, "bf16"), model, { dtype: "BF16" });
    const b16 = await loadModel(join(dir, "bf16"));
    const e = b16.embed as Float32Array;
    const e0 = model.embed as Float32Array;
    for (let i = 0; i < e.length; i++) assert.ok(Math.abs(e[i] - e0[i]) <= Math.abs(e0[i]) * 2 ** -8);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
