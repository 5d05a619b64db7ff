import assert from "node:assert/strict";
import { test } from "node:test";
import { adapterParams, createLoraAdapter, loraConfig } from "../src/lora/adapter.ts";
import { llamaConfig } from "../src/model/config.ts";
import { initModel, lossBackward } from "../src/model/llama.ts";
import { Rng } from "../src/random/prng.ts";
import { planBatches } from "../src/train/data.ts";
import { lossGradient } from "../src/train/gradient.ts";
import { ExampleGradients } from "../src/train/per-example.ts";
import { train, trainConfig } from "../src/train/trainer.ts";

const cfg = llamaConfig({ vocabSize: 40, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositionEmbeddings: 64 });
const rng = new Rng(3);
const examples = [9, 14, 6, 11, 5].map((n) => {
  const ids = Array.from({ length: n }, () => rng.int(40));
  return { ids, train: ids.map((_, i) => i >= 2) };
});

function flat(grads: Map<string, Float32Array>, keys: string[]): Float32Array {
  return Float32Array.from(keys.flatMap((k) => [...grads.get(k)!]));
}

test("ExampleGradients: each example's gradient split from a padded batch's backward equals its own backward", async () => {
  const model = initModel(cfg, { seed: 1, std: 0.1, embedStd: 1 });
  const adapter = createLoraAdapter(cfg, loraConfig({ r: 2, targetModules: ["q_proj", "v_proj", "down_proj"] }), 2);
  for (const m of adapter.modules.values()) for (let i = 0; i < m.B.length; i++) m.B[i] = 0.05 * Math.sin(i + 1);
  const keys = [...adapterParams(adapter).keys()];
  const per = new ExampleGradients(adapter);
  assert.equal(per.size, keys.reduce((s, k) => s + adapterParams(adapter).get(k)!.length, 0));
  const batches = planBatches(examples, { batchSize: 3, maxSeqLen: 64, pack: false, seed: 4, epochs: 1, masked: new Set([3]) });
  const batchSum = new Map([...adapterParams(adapter)].map(([k, v]) => [k, new Float32Array(v.length)]));
  const got = new Map<number, Float32Array>();
  for (const b of batches) {
    // normalizer 1: each example's gradient is that of its summed token loss
    await lossBackward(model, b, 1, batchSum, { adapter, loraTap: per.tap(b) });
    for (const [e, g] of per.take()) got.set(e, g);
  }
  // the masked example trains nothing, so it has no gradient; the others have theirs
  assert.deepEqual([...got.keys()].sort(), [0, 1, 2, 4]);
  const total = new Float32Array(per.size);
  for (const [e, g] of got) {
    const own = await lossGradient(model, [examples[e]], { adapter });
    const want = flat(own.grads, keys).map((x) => x * own.tokens); // summed, not mean, token loss
    let err = 0;
    let norm = 0;
    for (let i = 0; i < want.length; i++) {
      err = Math.max(err, Math.abs(g[i] - want[i]));
      norm = Math.max(norm, Math.abs(want[i]));
      total[i] += g[i];
    }
    assert.ok(norm > 1e-3, `example ${e} has a gradient`);
    assert.ok(err < 1e-5 * Math.max(1, norm), `example ${e}: max error ${err} (max ${norm})`);
  }
  // and together they are the batch's own gradient
  const sum = flat(batchSum, keys);
  for (let i = 0; i < sum.length; i++) assert.ok(Math.abs(sum[i] - total[i]) < 1e-5, `sum[${i}]`);
});

test("train inRun hooks: see every step and every example once per epoch, and leave the run bit-identical", async () => {
  const model = initModel(cfg, { seed: 1, std: 0.1, embedStd: 1 });
  const config = trainConfig({ lr: 1e-2, epochs: 2, batchSize: 2, seed: 9, lora: { r: 2, targetModules: ["q_proj", "v_proj"] } });
  const plain = await train({ model, train: examples, config });
  const adapter0 = createLoraAdapter(cfg, config.lora, 0);
  const per = new ExampleGradients(adapter0);
  const seen: number[] = [];
  const steps: number[] = [];
  const hooked = await train({
    model,
    train: examples,
    config,
    inRun: {
      tap: (b) => per.tap(b),
      afterStep: (s) => {
        steps.push(s.step);
        assert.ok(s.lr > 0 && s.normalizer > 0 && s.clip > 0 && s.clip <= 1);
        seen.push(...per.take().keys());
      },
    },
  });
  assert.deepEqual(steps, Array.from({ length: plain.steps }, (_, i) => i + 1));
  assert.deepEqual(seen.sort(), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
  for (const [name, m] of plain.adapter!.modules) {
    assert.deepEqual(hooked.adapter!.modules.get(name)!.A, m.A);
    assert.deepEqual(hooked.adapter!.modules.get(name)!.B, m.B);
  }
});
