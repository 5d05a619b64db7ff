import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadAdapter } from "../src/lora/peft.ts";
import { llamaConfig } from "../src/model/config.ts";
import { loadModel, saveModel } from "../src/model/io.ts";
import { initModel } from "../src/model/llama.ts";
import { ChatTokenizer } from "../src/model/tokenizer.ts";
import { fineTune } from "../src/train/fine-tune.ts";
import { QA_TRAIN, chatRecord } from "./helpers/qa.ts";
import { TINY_VOCAB, tinyTokenizerFiles } from "./helpers/tiny-tokenizer.ts";

test("fineTune writes a PEFT adapter (QLoRA) or a full HF model directory with metrics", async () => {
  const dir = await mkdtemp(join(tmpdir(), "engine-finetune-api-"));
  try {
    const { tokenizerJson, tokenizerConfig } = tinyTokenizerFiles();
    const cfg = llamaConfig({ vocabSize: TINY_VOCAB, hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 32, maxPositionEmbeddings: 64 });
    const modelDir = join(dir, "base");
    await saveModel(modelDir, initModel(cfg, { seed: 1 }), { extraFiles: { "tokenizer.json": JSON.stringify(tokenizerJson), "tokenizer_config.json": JSON.stringify(tokenizerConfig) } });
    const records = QA_TRAIN.map(chatRecord);

    const q = await fineTune({ modelDir, records, outDir: join(dir, "qlora"), method: "qlora", evalSplit: 0.34, config: { epochs: 2, batchSize: 2, lora: { r: 2 } } });
    assert.equal(q.metrics.trainExamples, 4);
    assert.equal(q.metrics.evalExamples, 2);
    assert.equal(q.metrics.steps, 4);
    assert.equal(q.metrics.kernel, "ts");
    assert.match(q.metrics.engineVersion, /^\d+\.\d+\.\d+/);
    assert.equal(q.metrics.sha256, createHash("sha256").update(await readFile(join(dir, "qlora", "adapter_model.safetensors"))).digest("hex"));
    const adapter = await loadAdapter(join(dir, "qlora"), cfg);
    assert.equal(adapter.config.baseModelNameOrPath, modelDir);
    assert.equal(JSON.parse(await readFile(join(dir, "qlora", "metrics.json"), "utf8")).evalHistory.length, 2);

    const f = await fineTune({ modelDir, records, evalRecords: records.slice(0, 1), outDir: join(dir, "full"), method: "full", config: { epochs: 1, batchSize: 3 } });
    assert.equal(f.metrics.trainExamples, 6);
    assert.equal(f.metrics.evalExamples, 1);
    assert.equal(f.result.adapter, null);
    const tuned = await loadModel(join(dir, "full"));
    const base = await loadModel(modelDir);
    assert.notDeepEqual([...(tuned.embed as Float32Array).slice(0, 50)], [...(base.embed as Float32Array).slice(0, 50)]);
    assert.equal((await ChatTokenizer.fromDir(join(dir, "full"))).eosId, 257);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
