// forwardBatch (continuous batching): several sequences in one pass, each with its own KV cache, position
// and adapter, prompts and single decoding tokens mixed. On the wasm kernel every segment's logits must
// equal forwardCached()'s bit for bit; on ort (batched per-row LoRA products) within float tolerance.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createLoraAdapter, loraConfig } from "../src/lora/adapter.ts";
import type { LoraAdapter } from "../src/lora/adapter.ts";
import { llamaConfig } from "../src/model/config.ts";
import { createKvCache, forwardBatch, forwardCached, initModel } from "../src/model/llama.ts";
import type { KvCache } from "../src/model/llama.ts";
import { createKernel } from "../src/kernels/index.ts";
import type { KernelName } from "../src/kernels/index.ts";

const cfg16 = llamaConfig({ vocabSize: 37, hiddenSize: 16, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 24, tieWordEmbeddings: false });
// an MLP width that is not a multiple of 4: on ort, the gate/up LoRA takes the batched-product path
// (stacks) instead of the wasm per-row products
const cfg22 = llamaConfig({ vocabSize: 37, hiddenSize: 16, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 22, tieWordEmbeddings: false });

/** 5 adapters (ranks 2 and 4, different targets) so that the many-adapter path runs on ort too. */
function makeAdapters(cfg = cfg16): LoraAdapter[] {
  const all = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] as const;
  return [0, 1, 2, 3, 4].map((i) => {
    const a = createLoraAdapter(cfg, loraConfig({ r: i % 2 ? 4 : 2, targetModules: i === 2 ? ["q_proj", "down_proj"] : [...all] }), 10 + i);
    for (const m of a.modules.values()) m.B.forEach((_, j) => (m.B[j] = Math.sin(7 * j + i) * 0.3));
    return a;
  });
}

async function compare(kernelName: KernelName, exact: boolean, cfg = cfg16) {
  const kernel = await createKernel(kernelName, { threads: 1 });
  try {
    const model = initModel(cfg, { seed: 3, kernel });
    const adapters = makeAdapters(cfg);
    // [history prefilled before the step, tokens of this step, adapter]
    const rows: [number[], number[], LoraAdapter | null][] = [
      [[1, 2, 3], [4], adapters[0]],
      [[], [5, 6, 7, 8], adapters[1]], // a fresh prompt in the same pass as the decodes
      [[9, 10], [11], null],
      [[12, 13, 14, 15], [16], adapters[0]],
      [[], [17, 18], adapters[2]],
      [[19], [20], adapters[3]],
      [[21, 22, 23], [24], adapters[4]],
      [[], [25], null],
      [[], [26, 27, 28, 29], adapters[3]], // a second fresh prompt of 4 tokens: one attention call with row 1's
      [[], [30, 31], null],
    ];
    const caches = async () => {
      const kvs: KvCache[] = [];
      for (const [past, , a] of rows) {
        const kv = createKvCache(cfg, 16);
        if (past.length) await forwardCached(model, past, kv, a);
        kvs.push(kv);
      }
      return kvs;
    };
    const alone: Float32Array[] = [];
    const kv1 = await caches();
    for (const [i, [, now, a]] of rows.entries()) alone.push(await forwardCached(model, now, kv1[i], a));
    const kv2 = await caches();
    const together = await forwardBatch(model, rows.map(([, now, a], i) => ({ tokens: now, kv: kv2[i], adapter: a })));
    for (let i = 0; i < rows.length; i++) {
      assert.equal(kv2[i].length, kv1[i].length, `row ${i}: cache length`);
      if (exact) {
        assert.deepEqual(together[i], alone[i], `row ${i}: batched logits equal forwardCached bit for bit`);
        assert.deepEqual(kv2[i].k[1].subarray(0, kv2[i].length * 8), kv1[i].k[1].subarray(0, kv1[i].length * 8), `row ${i}: same keys cached`);
      } else {
        for (let j = 0; j < cfg.vocabSize; j++) assert.ok(Math.abs(together[i][j] - alone[i][j]) < 1e-4, `row ${i} logit ${j}: ${together[i][j]} vs ${alone[i][j]}`);
      }
    }
    // a row's result does not depend on the other rows: the same batch with row 0 alone
    const kv3 = await caches();
    const [first] = await forwardBatch(model, [{ tokens: rows[0][1], kv: kv3[0], adapter: rows[0][2] }]);
    if (exact) assert.deepEqual(first, together[0]);
    await assert.rejects(forwardBatch(model, [{ tokens: [1], kv: kv3[1], adapter: null }, { tokens: [2], kv: kv3[1], adapter: null }]), /own KV cache/);
  } finally {
    await kernel.dispose();
  }
}

test("forwardBatch on wasm: mixed prompts, decodes and adapters give forwardCached's logits bit for bit", () => compare("wasm", true));

test("forwardBatch on ort (per-row batched LoRA products): forwardCached's logits within 1e-4", () => compare("ort", false));

test("forwardBatch on ort with an MLP width not a multiple of 4 (batched-product LoRA path): within 1e-4", () => compare("ort", false, cfg22));

test("forwardBatch on wasm with an MLP width not a multiple of 4: bit for bit", () => compare("wasm", true, cfg22));

test("forwardBatch on ort: the rows' stacked adapter weights are reused while the rows stay and rebuilt when they change", async () => {
  const cfg = cfg22; // gate/up through the stacks, the other groups through the wasm per-row products
  const kernel = await createKernel("ort", { threads: 1 });
  try {
    const model = initModel(cfg, { seed: 3, kernel });
    const adapters = makeAdapters(cfg);
    // steps of one decode token per row: the same rows twice, then reversed, then with rows gone and a repeat
    const steps = [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [4, 0, 0, 3], [4, 0, 0, 3]];
    for (const [s, order] of steps.entries()) {
      const kvs = order.map(() => createKvCache(cfg, 16));
      const kvAlone = order.map(() => createKvCache(cfg, 16));
      for (const [i, a] of order.entries()) {
        await forwardCached(model, [1, 2, 3 + i], kvs[i], adapters[a]);
        await forwardCached(model, [1, 2, 3 + i], kvAlone[i], adapters[a]);
      }
      const together = await forwardBatch(model, order.map((a, i) => ({ tokens: [10 + i], kv: kvs[i], adapter: adapters[a] })));
      for (const [i, a] of order.entries()) {
        const alone = await forwardCached(model, [10 + i], kvAlone[i], adapters[a]);
        for (let j = 0; j < cfg.vocabSize; j++) assert.ok(Math.abs(together[i][j] - alone[j]) < 1e-4, `step ${s} row ${i} (adapter ${a}) logit ${j}: ${together[i][j]} vs ${alone[j]}`);
      }
    }
  } finally {
    await kernel.dispose();
  }
});
