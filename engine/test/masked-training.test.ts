// Retraining with examples masked in their own batch (the attribution benchmark's ground truth): the
// batch plan keeps every row, only the masked examples' targets go; masking nothing is the plain run;
// masking everything leaves the adapter where it started; masking one example changes the result.
import assert from "node:assert/strict";
import { test } from "node:test";
import { adapterParams } from "../src/lora/adapter.ts";
import { llamaConfig } from "../src/model/config.ts";
import { initModel } from "../src/model/llama.ts";
import { IGNORE_INDEX } from "../src/nn/cross-entropy.ts";
import { Rng } from "../src/random/prng.ts";
import { planBatches } from "../src/train/data.ts";
import { train, trainConfig } from "../src/train/trainer.ts";

const cfg = llamaConfig({ vocabSize: 40, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositionEmbeddings: 64 });
const rng = new Rng(5);
const examples = [9, 14, 6, 11, 8, 12, 7].map((n) => {
  const ids = Array.from({ length: n }, () => rng.int(40));
  return { ids, train: ids.map((_, i) => i >= 2) };
});
const config = trainConfig({ lr: 1e-2, epochs: 2, batchSize: 3, seed: 9, scheduler: "constant", lora: { r: 2, alpha: 4 } });

const flat = (a: Awaited<ReturnType<typeof train>>) => [...adapterParams(a.adapter!).values()].flatMap((x) => Array.from(x));

test("a masked example keeps its row in the batch plan, without targets", () => {
  const o = { batchSize: 3, maxSeqLen: 64, pack: false, seed: 9, epochs: 2 };
  const plain = planBatches(examples, o);
  const masked = planBatches(examples, { ...o, masked: new Set([1, 4]) });
  assert.equal(masked.length, plain.length);
  let dropped = 0;
  plain.forEach((b, k) => {
    const m = masked[k];
    assert.deepEqual([m.B, m.T], [b.B, b.T]);
    assert.deepEqual(Array.from(m.tokens), Array.from(b.tokens), "the same tokens in the same rows");
    for (let i = 0; i < b.targets.length; i++) {
      if (m.targets[i] !== b.targets[i]) {
        assert.equal(m.targets[i], IGNORE_INDEX);
        dropped++;
      }
    }
  });
  // examples 1 and 4 train 12 and 6 targets each, once per epoch
  assert.equal(dropped, 2 * (14 - 2 + 8 - 2));
});

test("masking nothing is the plain run; masking everything leaves the adapter at its start; masking one changes it", async () => {
  const model = initModel(cfg, { seed: 1, std: 0.1, embedStd: 1 });
  const plain = await train({ model, train: examples, config });
  const none = await train({ model, train: examples, config, masked: new Set() });
  assert.deepEqual(flat(none), flat(plain));
  const start = await train({ model, train: examples, config, stopAfterSteps: 0 });
  const all = await train({ model, train: examples, config, masked: new Set(examples.map((_, i) => i)) });
  assert.equal(all.steps, plain.steps);
  assert.deepEqual(flat(all), flat(start), "no target, no gradient, no step");
  const one = await train({ model, train: examples, config, masked: new Set([2]) });
  assert.equal(one.steps, plain.steps);
  assert.notDeepEqual(flat(one), flat(plain));
  const again = await train({ model, train: examples, config, masked: new Set([2]) });
  assert.deepEqual(flat(again), flat(one), "deterministic");
});
