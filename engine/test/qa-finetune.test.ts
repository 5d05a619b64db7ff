/**
 * The real fine-tune: a small random-init model learns a Q&A set with LoRA (and with QLoRA on an
 * NF4 base) and then answers the trained questions exactly under greedy decoding, while the base
 * model without the adapter does not; eval loss falls; the same seed gives the same adapter bytes.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { generateChat } from "../src/generate/generate.ts";
import type { LoraAdapter } from "../src/lora/adapter.ts";
import { saveAdapter } from "../src/lora/peft.ts";
import { llamaConfig } from "../src/model/config.ts";
import { loadModel, saveModel } from "../src/model/io.ts";
import { initModel } from "../src/model/llama.ts";
import type { LlamaModel } from "../src/model/llama.ts";
import { ChatTokenizer } from "../src/model/tokenizer.ts";
import { encodeRecord } from "../src/train/data.ts";
import { train, trainConfig } from "../src/train/trainer.ts";
import { QA_EVAL, QA_TRAIN, chatRecord } from "./helpers/qa.ts";
import { TINY_VOCAB, tinyTokenizerFiles } from "./helpers/tiny-tokenizer.ts";

const { tokenizerJson, tokenizerConfig } = tinyTokenizerFiles();
const tok = new ChatTokenizer(tokenizerJson, tokenizerConfig);
const cfg = llamaConfig({ vocabSize: TINY_VOCAB, hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 64, maxPositionEmbeddings: 128, eosTokenIds: [tok.eosId!] });
const trainSet = QA_TRAIN.map((qa) => encodeRecord(tok, chatRecord(qa)));
const evalSet = QA_EVAL.map((qa) => encodeRecord(tok, chatRecord(qa)));
const config = trainConfig({ lr: 1e-2, epochs: 90, batchSize: 6, scheduler: "cosine", warmupSteps: 3, seed: 11, lora: { r: 8, alpha: 16, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] } });

async function answers(model: LlamaModel, adapter: LoraAdapter | null): Promise<string[]> {
  const out: string[] = [];
  for (const [q] of QA_TRAIN) out.push((await generateChat(model, tok, [{ role: "user", content: q }], { maxTokens: 16, adapter })).text);
  return out;
}

async function fineTune(dir: string, quantize: "nf4" | null) {
  const model = await loadModel(dir, { quantize });
  const r = await train({ model, train: trainSet, eval: evalSet, config });
  return { model, r };
}

test("LoRA and QLoRA fine-tunes answer the trained questions exactly; the base does not", async () => {
  const dir = await mkdtemp(join(tmpdir(), "engine-finetune-"));
  try {
    await saveModel(join(dir, "base"), initModel(cfg, { seed: 1, std: 0.1, embedStd: 1 }));
    const want = QA_TRAIN.map(([, a]) => a);
    for (const quantize of [null, "nf4"] as const) {
      const { model, r } = await fineTune(join(dir, "base"), quantize);
      const label = quantize ?? "dense";
      assert.deepEqual(await answers(model, r.adapter), want, `${label}: adapter answers`);
      const base = await answers(model, null);
      assert.equal(base.filter((a, i) => a === want[i]).length, 0, `${label}: the base alone knows none: ${JSON.stringify(base)}`);
      const ev = r.evalHistory;
      assert.ok(ev[ev.length - 1].loss < ev[0].loss - 1, `${label}: eval loss falls ${JSON.stringify(ev)}`);
      assert.ok(r.lossHistory[r.lossHistory.length - 1].loss < 0.05, `${label}: train loss ${r.lossHistory.at(-1)!.loss}`);
      if (!quantize) {
        // same seed, fresh process state -> identical adapter bytes
        await saveAdapter(join(dir, "a1"), r.adapter!);
        const again = await fineTune(join(dir, "base"), null);
        await saveAdapter(join(dir, "a2"), again.r.adapter!);
        const sha = async (d: string) => createHash("sha256").update(await readFile(join(dir, d, "adapter_model.safetensors"))).digest("hex");
        assert.equal(await sha("a1"), await sha("a2"));
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
