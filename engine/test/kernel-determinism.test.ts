/**
 * Replayability across kernels' thread counts: the same LoRA run on the `wasm` kernel with 1 and 2
 * threads must give identical adapter bytes.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { adapterTensors } from "../src/lora/peft.ts";
import { writeSafetensors } from "../src/formats/safetensors.ts";
import { llamaConfig } from "../src/model/config.ts";
import { initModel } from "../src/model/llama.ts";
import { selectKernel } from "../src/select-kernel.ts";
import { train, trainConfig } from "../src/train/trainer.ts";
import { Rng } from "../src/random/prng.ts";

test("LoRA training on the wasm kernel gives the same adapter sha256 with 1 and 2 threads", async () => {
  const cfg = llamaConfig({ vocabSize: 96, hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 64, maxPositionEmbeddings: 64 });
  const rng = new Rng(1);
  const examples = Array.from({ length: 6 }, () => {
    const ids = Array.from({ length: 20 }, () => rng.int(96));
    return { ids, train: ids.map((_, i) => i >= 5) };
  });
  const hashes: string[] = [];
  for (const threads of [1, 2]) {
    const kernel = await selectKernel("wasm", threads);
    try {
      const r = await train({ model: initModel(cfg, { seed: 2, std: 0.1, kernel }), train: examples, config: trainConfig({ lr: 1e-2, epochs: 2, batchSize: 3, seed: 4, lora: { r: 4, dropout: 0.1, targetModules: ["q_proj", "v_proj", "up_proj"] } }) });
      hashes.push(createHash("sha256").update(writeSafetensors(adapterTensors(r.adapter!))).digest("hex"));
    } finally {
      await kernel.dispose();
    }
  }
  assert.equal(hashes[0], hashes[1]);
});
