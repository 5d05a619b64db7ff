import assert from "node:assert/strict";
import { test } from "node:test";
import { createLoraAdapter, loraConfig } from "../src/lora/adapter.ts";
import { llamaConfig } from "../src/model/config.ts";
import { initModel } from "../src/model/llama.ts";
import { Rng } from "../src/random/prng.ts";
import { lossGradient } from "../src/train/gradient.ts";
import { evaluate } from "../src/train/trainer.ts";

const cfg = llamaConfig({ vocabSize: 40, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositionEmbeddings: 64 });
const rng = new Rng(3);
const examples = [9, 14, 6].map((n) => {
  const ids = Array.from({ length: n }, () => rng.int(40));
  return { ids, train: ids.map((_, i) => i >= 2) };
});

test("lossGradient: token-weighted over examples, a descent direction, and its loss is evaluate's", async () => {
  const model = initModel(cfg, { seed: 1, std: 0.1, embedStd: 1 });
  const adapter = createLoraAdapter(cfg, loraConfig({ r: 2, targetModules: ["q_proj", "up_proj"] }), 2);
  for (const m of adapter.modules.values()) m.B.fill(0.05);
  const all = await lossGradient(model, examples, { adapter, batchSize: 2 });
  assert.ok(Math.abs(all.loss - (await evaluate(model, examples, { adapter }))) < 1e-6);
  const parts = await Promise.all(examples.map((e) => lossGradient(model, [e], { adapter })));
  assert.equal(all.tokens, parts.reduce((s, p) => s + p.tokens, 0));
  for (const [name, g] of all.grads) {
    for (let i = 0; i < g.length; i += 7) {
      const want = parts.reduce((s, p) => s + (p.grads.get(name)![i] * p.tokens) / all.tokens, 0);
      assert.ok(Math.abs(g[i] - want) < 1e-5, `${name}[${i}]`);
    }
  }
  // a small step against the gradient lowers the loss
  for (const [name, m] of adapter.modules) {
    const gA = all.grads.get(`${name}.lora_A.weight`)!;
    const gB = all.grads.get(`${name}.lora_B.weight`)!;
    for (let i = 0; i < m.A.length; i++) m.A[i] -= 0.05 * gA[i];
    for (let i = 0; i < m.B.length; i++) m.B[i] -= 0.05 * gB[i];
  }
  assert.ok((await evaluate(model, examples, { adapter })) < all.loss);
});
