// The ort kernel's fused layer and head graphs (kernels/ort-ops.ts) against the TypeScript reference
// path of model/llama.ts: same loss, same gradients of every trained tensor, to float32 rounding.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Kernel } from "../src/kernels/kernel.ts";
import { createOrtKernel } from "../src/kernels/ort.ts";
import { createReferenceKernel } from "../src/kernels/reference.ts";
import { adapterParams, createLoraAdapter, loraConfig } from "../src/lora/adapter.ts";
import type { LoraAdapter } from "../src/lora/adapter.ts";
import { llamaConfig } from "../src/model/config.ts";
import type { LlamaConfig } from "../src/model/config.ts";
import { modelFromTensors } from "../src/model/io.ts";
import { backward, forward, initModel, lossBackward, modelTensors, trainableBaseParams } from "../src/model/llama.ts";
import type { Batch, LlamaModel } from "../src/model/llama.ts";
import { crossEntropyBackward } from "../src/nn/cross-entropy.ts";
import { Rng } from "../src/random/prng.ts";

// grouped-query heads (4 query heads on 2 kv heads), 2 layers
const cfg = llamaConfig({ vocabSize: 64, hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 48, tieWordEmbeddings: true });

/** Two rows of 12 tokens; the first packs two examples (segments), ignored targets on both. */
function batch(c: LlamaConfig, seed: number): Batch {
  const rng = new Rng(seed);
  const T = 12;
  const tokens = Int32Array.from({ length: 2 * T }, () => rng.int(c.vocabSize));
  const positions = Int32Array.from({ length: 2 * T }, (_, i) => (i < 5 ? i : i < T ? i - 5 : i - T));
  const segments = Int32Array.from({ length: 2 * T }, (_, i) => (i < 5 ? 0 : i < T ? 1 : 0));
  const targets = Int32Array.from({ length: 2 * T }, (_, i) => (i === 4 || i === 2 * T - 1 || i === 15 ? -100 : rng.int(c.vocabSize)));
  return { B: 2, T, tokens, positions, segments, targets };
}

function sameModel(c: LlamaConfig, kernel: Kernel, seed: number): LlamaModel {
  const m = initModel(c, { seed, kernel, std: 0.2 });
  for (const l of m.layers) for (let i = 0; i < l.inputNorm.length; i++) { l.inputNorm[i] = 1 + 0.1 * Math.sin(i); l.postNorm[i] = 1 - 0.1 * Math.cos(i); }
  return m;
}

function randomizeB(adapter: LoraAdapter, seed: number): void {
  const rng = new Rng(seed);
  for (const m of adapter.modules.values()) for (let i = 0; i < m.B.length; i++) m.B[i] = rng.normal() * 0.3;
}

/** max |a - b| over max |b|: the error relative to the tensor's scale. */
function relErr(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / Math.max(s, 1e-30);
}

function assertGradsClose(got: Map<string, Float32Array>, want: Map<string, Float32Array>, tol = 1e-4): void {
  assert.deepEqual([...got.keys()], [...want.keys()]);
  for (const [name, w] of want) {
    let nonzero = false;
    for (const x of w) if (x !== 0) nonzero = true;
    assert.ok(nonzero, `${name}: the reference gradient is all zero, so the comparison proves nothing`);
    const e = relErr(got.get(name)!, w);
    assert.ok(e < tol, `${name}: relative error ${e.toExponential(2)} >= ${tol}`);
  }
}

describe("ort fused layer and head graphs", () => {
  let ort: Kernel;
  const ts = createReferenceKernel();
  before(async () => {
    ort = await createOrtKernel({ threads: 2 });
  });
  after(async () => {
    await ort?.dispose();
  });

  test("the ort kernel offers the fused operations", () => {
    assert.ok(ort.ops, "ort kernel has ops");
    assert.equal(ts.ops, undefined);
  });

  test("full fine-tuning: loss and every base gradient (embedding, norms, all projections) match the reference", async () => {
    const grads = async (kernel: Kernel) => {
      const model = sameModel(cfg, kernel, 1);
      const params = trainableBaseParams(model);
      const g = new Map([...params].map(([k, v]) => [k, new Float32Array(v.length)]));
      const r = await lossBackward(model, batch(cfg, 2), 21, g);
      return { r, g };
    };
    const want = await grads(ts);
    const got = await grads(ort);
    assert.equal(got.r.count, want.r.count);
    assert.equal(got.r.count, 21);
    assert.ok(Math.abs(got.r.lossSum - want.r.lossSum) < 1e-4 * Math.abs(want.r.lossSum), `loss ${got.r.lossSum} vs ${want.r.lossSum}`);
    assertGradsClose(got.g, want.g);
  });

  test("LoRA on every projection with dropout: same masks drawn, same adapter gradients (untied head)", async () => {
    const c = { ...cfg, tieWordEmbeddings: false };
    const grads = async (kernel: Kernel) => {
      const model = sameModel(c, kernel, 3);
      const adapter = createLoraAdapter(c, loraConfig({ r: 4, alpha: 8, dropout: 0.25, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] }), 4);
      randomizeB(adapter, 5);
      const params = adapterParams(adapter);
      const g = new Map([...params].map(([k, v]) => [k, new Float32Array(v.length)]));
      const dropoutRng = new Rng(6);
      const r = await lossBackward(model, batch(c, 7), 20, g, { adapter, dropoutRng });
      return { r, g, rngAfter: dropoutRng.next() };
    };
    const want = await grads(ts);
    const got = await grads(ort);
    assert.equal(got.rngAfter, want.rngAfter, "both paths drew the same number of dropout samples");
    assert.ok(Math.abs(got.r.lossSum - want.r.lossSum) < 1e-4 * Math.abs(want.r.lossSum));
    assertGradsClose(got.g, want.g);
  });

  test("forward logits and backward through the public API (LoRA on q and v, rsLoRA scale) match the reference", async () => {
    const run = async (kernel: Kernel) => {
      const model = sameModel(cfg, kernel, 8);
      const adapter = createLoraAdapter(cfg, loraConfig({ r: 2, alpha: 16, useRslora: true, targetModules: ["q_proj", "v_proj"] }), 9);
      randomizeB(adapter, 10);
      const b = batch(cfg, 11);
      const { logits, cache } = await forward(model, b, { adapter });
      const g = new Map([...adapterParams(adapter)].map(([k, v]) => [k, new Float32Array(v.length)]));
      await backward(model, cache, crossEntropyBackward(logits.slice(), b.targets, cfg.vocabSize, 3).dlogits, g);
      return { logits, g };
    };
    const want = await run(ts);
    const got = await run(ort);
    assert.ok(relErr(got.logits, want.logits) < 1e-5, `logits relative error ${relErr(got.logits, want.logits)}`);
    assertGradsClose(got.g, want.g);
  });

  test("QLoRA (NF4 base dequantized per use): the same adapter gradients as the reference", async () => {
    const grads = async (kernel: Kernel) => {
      const dense = sameModel(cfg, kernel, 17);
      const model = modelFromTensors(cfg, modelTensors(dense), { quantize: "nf4", kernel });
      const adapter = createLoraAdapter(cfg, loraConfig({ r: 4, alpha: 8, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] }), 18);
      randomizeB(adapter, 19);
      const g = new Map([...adapterParams(adapter)].map(([k, v]) => [k, new Float32Array(v.length)]));
      await lossBackward(model, batch(cfg, 20), 21, g, { adapter });
      return g;
    };
    assertGradsClose(await grads(ort), await grads(ts));
  });

  test("a training step with the fused graphs lowers the loss on its batch", async () => {
    const model = sameModel(cfg, ort, 12);
    const adapter = createLoraAdapter(cfg, loraConfig({ r: 4, alpha: 8 }), 13);
    const params = adapterParams(adapter);
    const b = batch(cfg, 14);
    const losses: number[] = [];
    for (let step = 0; step < 4; step++) {
      const g = new Map([...params].map(([k, v]) => [k, new Float32Array(v.length)]));
      const r = await lossBackward(model, b, 21, g, { adapter });
      losses.push(r.lossSum / r.count);
      for (const [k, p] of params) {
        const d = g.get(k)!;
        for (let i = 0; i < p.length; i++) p[i] -= 0.5 * d[i];
      }
    }
    assert.ok(losses[3] < losses[2] && losses[2] < losses[1] && losses[1] < losses[0], `loss did not fall: ${losses.join(", ")}`);
  });

  test("a target outside the vocabulary is refused with the offending id", async () => {
    const model = sameModel(cfg, ort, 15);
    const b = batch(cfg, 16);
    b.targets[3] = cfg.vocabSize + 5;
    const g = new Map<string, Float32Array>();
    await assert.rejects(lossBackward(model, b, 1, g), /target 69 outside the vocabulary \[0, 64\)/);
  });
});
