// The engine's greedy output equals llama.cpp's (node-llama-cpp) on the engine's GGUF export, for a
// base model and for a LoRA adapter applied unmerged, and for the project's base model once it is
// built. Uses the engine's public API (engine/src/index.ts). Skips only where node-llama-cpp has no
// prebuilt llama.cpp binary for this platform (allow-listed in scripts/skip-allow.json).
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { getLlama, LlamaLogLevel, type Llama, type Token } from "node-llama-cpp";
import { llamaToGguf, loraToGguf, type HfTokenizerFiles, type LlamaHfConfig } from "../src/export/gguf-llama.ts";
import { trainBaseTokenizer } from "../scripts/tokenizer/base-tokenizer.ts";
import { BASE_MODEL_RECIPE, COMMITTED_BASE_MODEL_DIR } from "../scripts/make-base-model.ts";
import { defaultCacheDir } from "../scripts/corpus.ts";
import * as engineApi from "../src/index.ts";

const NEEDED = ["llamaConfig", "initModel", "modelTensors", "toHfConfig", "ChatTokenizer", "generate", "createLoraAdapter", "loraConfig", "adapterTensors", "toAdapterConfigJson", "loadModel"];
const engine = engineApi as Record<string, any>;

const TEXT = [
  "The garden was green and the morning was warm. Jane walked slowly along the path to the gate.",
  "\"I shall write to my brother today,\" said she, \"for he has not heard from us in a month.\"",
  "The letter was long and cheerful, and it was sent before dinner with the evening post.",
].flatMap((p) => [p, p.toUpperCase(), p.toLowerCase()]);

const STEPS = 16;

describe("engine greedy output equals llama.cpp's on the exported GGUF", () => {
  it("the engine's public API exports what this test uses", () => {
    assert.deepEqual(NEEDED.filter((n) => typeof engine[n] !== "function"), [], "missing from engine/src/index.ts");
  });

  let llama: Llama | undefined;
  let unavailable: string | undefined;
  let dir: string;
  let tokFiles: HfTokenizerFiles;

  before(async () => {
    const t = trainBaseTokenizer(TEXT, { vocabSize: 420, modelMaxLength: 256 });
    tokFiles = JSON.parse(JSON.stringify({ tokenizerJson: t.tokenizerJson, tokenizerConfig: t.tokenizerConfig }));
    dir = mkdtempSync(join(tmpdir(), "gguf-engine-"));
    try {
      llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    } catch (err) {
      unavailable = `node-llama-cpp has no usable llama.cpp binary here: ${(err as Error).message}`;
    }
  });
  after(async () => {
    await llama?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function llamaCppGreedy(modelFile: string, prompt: number[], n: number, loraFile?: string): Promise<number[]> {
    const model = await llama!.loadModel({ modelPath: modelFile });
    try {
      const context = await model.createContext({ contextSize: 256, threads: 1, ...(loraFile ? { lora: { adapters: [{ filePath: loraFile }] } } : {}) });
      const out: number[] = [];
      for await (const t of context.getSequence().evaluate(prompt as Token[], { temperature: 0 })) {
        out.push(t as number);
        if (out.length >= n) break;
      }
      await context.dispose();
      return out;
    } finally {
      await model.dispose();
    }
  }

  function tinyModel(seed: number) {
    const vocab = Object.keys(tokFiles.tokenizerJson.model.vocab).length; // specials included
    const config = engine.llamaConfig({ vocabSize: vocab, hiddenSize: 64, intermediateSize: 160, numLayers: 2, numHeads: 4, numKvHeads: 2, tieWordEmbeddings: false, maxPositionEmbeddings: 256, bosTokenId: 0, eosTokenIds: [1] });
    // Larger-than-usual weights so that greedy choices are clear-cut (no near-ties between tokens).
    return engine.initModel(config, { seed, std: 0.25, embedStd: 1 });
  }

  const ggufTensors = (model: any) => [...(engine.modelTensors(model) as Map<string, { shape: number[]; data: Float32Array }>)].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
  const prompt = "Jane walked to the gate and said";

  it("base model, f32", async (t) => {
    if (unavailable) return t.skip(unavailable);
    const model = tinyModel(11);
    const tok = new engine.ChatTokenizer(tokFiles.tokenizerJson, tokFiles.tokenizerConfig);
    const ids: number[] = tok.encode(prompt, { bos: true });
    const ours = await engine.generate(model, tok, ids, { maxTokens: STEPS, temperature: 0, eosIds: [] });
    const file = join(dir, "base.gguf");
    writeFileSync(file, llamaToGguf({ config: engine.toHfConfig(model.config) as LlamaHfConfig, tensors: ggufTensors(model), tokenizer: tokFiles }));
    assert.equal(ours.ids.length, STEPS);
    assert.deepEqual(await llamaCppGreedy(file, ids, STEPS), ours.ids);
  });

  it("LoRA adapter on q, k, v, o, up (unmerged in both)", async (t) => {
    if (unavailable) return t.skip(unavailable);
    const model = tinyModel(12);
    const tok = new engine.ChatTokenizer(tokFiles.tokenizerJson, tokFiles.tokenizerConfig);
    const adapter = engine.createLoraAdapter(model.config, engine.loraConfig({ r: 4, alpha: 8, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "up_proj"] }), 13);
    let s = 1;
    for (const m of adapter.modules.values()) for (let i = 0; i < m.B.length; i++) m.B[i] = Math.sin(s++ * 12.9898) * 0.5; // B starts at zero: give it values
    const ids: number[] = tok.encode(prompt, { bos: true });
    const base = await engine.generate(model, tok, ids, { maxTokens: STEPS, temperature: 0, eosIds: [] });
    const ours = await engine.generate(model, tok, ids, { maxTokens: STEPS, temperature: 0, eosIds: [], adapter });
    assert.notDeepEqual(ours.ids, base.ids, "the adapter must change the output for this check to mean anything");
    const config = engine.toHfConfig(model.config) as LlamaHfConfig;
    const baseFile = join(dir, "lora-base.gguf");
    const loraFile = join(dir, "lora.gguf");
    writeFileSync(baseFile, llamaToGguf({ config, tensors: ggufTensors(model), tokenizer: tokFiles }));
    const at = [...(engine.adapterTensors(adapter, model.config) as Map<string, { shape: number[]; data: Float32Array }>)].map(([name, x]) => ({ name, shape: x.shape, data: x.data }));
    writeFileSync(loraFile, loraToGguf({ config, adapterConfig: engine.toAdapterConfigJson(adapter.config), tensors: at }));
    assert.deepEqual(await llamaCppGreedy(baseFile, ids, STEPS, loraFile), ours.ids);
  });

  // the committed model (engine/models/<name>/), else a local rebuild in the cache
  const baseDir = [COMMITTED_BASE_MODEL_DIR, join(defaultCacheDir, "base-model", BASE_MODEL_RECIPE.name)].find((d) => existsSync(join(d, "model.safetensors"))) ?? COMMITTED_BASE_MODEL_DIR;
  it("the project's base model (bf16 weights, exported as bf16)", async (t) => {
    if (unavailable) return t.skip(unavailable);
    const model = await engine.loadModel(baseDir);
    const tok = await engine.ChatTokenizer.fromDir(baseDir);
    const ids: number[] = tok.encode("It was a fine morning, and", { bos: true });
    const ours = await engine.generate(model, tok, ids, { maxTokens: 24, temperature: 0, eosIds: [] });
    const file = join(dir, "austen.gguf");
    const tokenizer = { tokenizerJson: JSON.parse(readFileSync(join(baseDir, "tokenizer.json"), "utf8")), tokenizerConfig: JSON.parse(readFileSync(join(baseDir, "tokenizer_config.json"), "utf8")) };
    writeFileSync(file, llamaToGguf({ config: engine.toHfConfig(model.config) as LlamaHfConfig, tensors: ggufTensors(model), tokenizer, dtype: "bf16" }));
    assert.deepEqual(await llamaCppGreedy(file, ids, 24), ours.ids);
  });
});
