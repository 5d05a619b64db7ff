/**
 * The GGUF that `tributary-engine export --format gguf` writes runs in llama.cpp (node-llama-cpp) with
 * the same greedy tokens as the engine, for the base and with a LoRA adapter applied unmerged.
 * Skips only where node-llama-cpp has no prebuilt llama.cpp binary for this platform (allow-listed in
 * scripts/skip-allow.json).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { getLlama, LlamaLogLevel, type Llama, type Token } from "node-llama-cpp";
import { generate } from "../src/generate/generate.ts";
import { createLoraAdapter, loraConfig } from "../src/lora/adapter.ts";
import { saveAdapter } from "../src/lora/peft.ts";
import { llamaConfig } from "../src/model/config.ts";
import { saveModel } from "../src/model/io.ts";
import { initModel } from "../src/model/llama.ts";
import { ChatTokenizer } from "../src/model/tokenizer.ts";
import { Rng } from "../src/random/prng.ts";
import { TINY_VOCAB, tinyTokenizerFiles } from "./helpers/tiny-tokenizer.ts";

const bin = fileURLToPath(new URL("../bin/tributary-engine.ts", import.meta.url));
test("exported GGUF base and adapter give the engine's greedy tokens in llama.cpp", async (t) => {
  let llama: Llama;
  try {
    llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  } catch (err) {
    // node-llama-cpp ships prebuilt CPU binaries for common platforms; elsewhere there is nothing to run.
    return t.skip(`node-llama-cpp has no usable llama.cpp binary here: ${(err as Error).message}`);
  }
  const dir = await mkdtemp(join(tmpdir(), "engine-gguf-"));
  try {
    const { tokenizerJson, tokenizerConfig } = tinyTokenizerFiles();
    const tok = new ChatTokenizer(tokenizerJson, tokenizerConfig);
    const cfg = llamaConfig({ vocabSize: TINY_VOCAB, hiddenSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 96, maxPositionEmbeddings: 128, tieWordEmbeddings: false, eosTokenIds: [257], bosTokenId: 256 });
    const model = initModel(cfg, { seed: 5, std: 0.15, embedStd: 1 });
    await saveModel(join(dir, "base"), model, { extraFiles: { "tokenizer.json": JSON.stringify(tokenizerJson), "tokenizer_config.json": JSON.stringify(tokenizerConfig) } });
    const adapter = createLoraAdapter(cfg, loraConfig({ r: 4, alpha: 8, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "down_proj"] }), 6);
    const rng = new Rng(7);
    for (const m of adapter.modules.values()) for (let i = 0; i < m.B.length; i++) m.B[i] = rng.normal() * 0.3;
    await saveAdapter(join(dir, "adapter"), adapter);
    await promisify(execFile)(process.execPath, [bin, "export", "--model", join(dir, "base"), "--adapter", join(dir, "adapter"), "--out", join(dir, "gguf"), "--format", "gguf"]);

    const prompt = tok.encode("Hello there", { bos: true });
    const n = 10;
    const cut = (ids: number[]) => (ids.includes(257) ? ids.slice(0, ids.indexOf(257)) : ids);
    const llamaCpp = async (lora: string | null) => {
      const m = await llama.loadModel({ modelPath: join(dir, "gguf", "model.gguf") });
      try {
        const ctx = await m.createContext({ contextSize: 64, threads: 1, ...(lora ? { lora: { adapters: [{ filePath: lora }] } } : {}) });
        const out: number[] = [];
        for await (const token of ctx.getSequence().evaluate(prompt as Token[], { temperature: 0 })) {
          out.push(Number(token));
          if (out.length >= n) break;
        }
        await ctx.dispose();
        return cut(out);
      } finally {
        await m.dispose();
      }
    };
    const ours = cut((await generate(model, tok, prompt, { maxTokens: n, eosIds: [] })).ids);
    const oursLora = cut((await generate(model, tok, prompt, { maxTokens: n, eosIds: [], adapter })).ids);
    assert.ok(ours.length >= 5 && oursLora.length >= 5, "long enough to compare");
    assert.notDeepEqual(ours, oursLora, "the adapter changes the output");
    assert.deepEqual(await llamaCpp(null), ours);
    assert.deepEqual(await llamaCpp(join(dir, "gguf", "adapter.gguf")), oursLora);
  } finally {
    await llama.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});
