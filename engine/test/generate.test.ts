import assert from "node:assert/strict";
import { test } from "node:test";
import { generate } from "../src/generate/generate.ts";
import { argmax, sampleToken } from "../src/generate/sampling.ts";
import { createLoraAdapter, loraConfig } from "../src/lora/adapter.ts";
import { mergeAdapter } from "../src/lora/merge.ts";
import { llamaConfig } from "../src/model/config.ts";
import { forward, initModel } from "../src/model/llama.ts";
import type { LlamaModel } from "../src/model/llama.ts";
import { ChatTokenizer } from "../src/model/tokenizer.ts";
import type { LoraAdapter } from "../src/lora/adapter.ts";
import { Rng } from "../src/random/prng.ts";
import { TINY_VOCAB, tinyTokenizerFiles } from "./helpers/tiny-tokenizer.ts";

const { tokenizerJson, tokenizerConfig } = tinyTokenizerFiles();
const tok = new ChatTokenizer(tokenizerJson, tokenizerConfig);
const cfg = llamaConfig({ vocabSize: TINY_VOCAB, hiddenSize: 16, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 32, maxPositionEmbeddings: 64 });
const model = initModel(cfg, { seed: 3, std: 0.2, embedStd: 1 });
// only ASCII letters may be generated, so decoded text is plain
const letters = [...Array(26).keys()].map((i) => 97 + i);

function adapterWithB(seed: number): LoraAdapter {
  const a = createLoraAdapter(cfg, loraConfig({ r: 2, alpha: 4, targetModules: ["q_proj", "v_proj", "up_proj"] }), seed);
  const rng = new Rng(seed + 100);
  for (const m of a.modules.values()) for (let i = 0; i < m.B.length; i++) m.B[i] = rng.normal() * 0.5;
  return a;
}

/** Greedy decoding by full forwards without a cache, over letters only: an independent reference. */
async function greedyReference(m: LlamaModel, prompt: number[], n: number, adapter: LoraAdapter | null): Promise<number[]> {
  const ids = [...prompt];
  for (let s = 0; s < n; s++) {
    const T = ids.length;
    const { logits } = await forward(m, { B: 1, T, tokens: Int32Array.from(ids), positions: Int32Array.from(ids.keys()), segments: null, targets: new Int32Array(T) }, { adapter });
    const row = logits.slice((T - 1) * cfg.vocabSize, T * cfg.vocabSize);
    let best = letters[0];
    for (const l of letters) if (row[l] > row[best]) best = l;
    ids.push(best);
  }
  return ids.slice(prompt.length);
}

/** Restricts sampling to letters by giving every other id the lowest logit. */
function lettersOnly(m: LlamaModel): LlamaModel {
  const embed = m.embed;
  return { ...m, kernel: { ...m.kernel, matmul: async (args) => {
    const out = await m.kernel.matmul(args);
    if (args.b === embed && args.n === cfg.vocabSize) {
      for (let r = 0; r < args.m; r++) for (let j = 0; j < cfg.vocabSize; j++) if (j < 97 || j > 122) out[r * cfg.vocabSize + j] = -1e9;
    }
    return out;
  } } };
}

test("sampling: greedy, top-k 1, tiny top-p all pick the argmax; temperature follows the softmax", () => {
  const logits = new Float32Array([0.1, 2, -1, 1.9, 0.5]);
  const rng = new Rng(1);
  assert.equal(argmax(logits), 1);
  assert.equal(sampleToken(logits, { temperature: 0, topK: 0, topP: 1 }, rng), 1);
  for (let i = 0; i < 20; i++) assert.equal(sampleToken(logits, { temperature: 1, topK: 1, topP: 1 }, rng), 1);
  for (let i = 0; i < 20; i++) assert.equal(sampleToken(logits, { temperature: 1, topK: 0, topP: 0.01 }, rng), 1);
  for (let i = 0; i < 50; i++) assert.ok([1, 3].includes(sampleToken(logits, { temperature: 1, topK: 2, topP: 1 }, rng)));
  const two = new Float32Array([0, Math.log(3)]);
  let ones = 0;
  for (let i = 0; i < 4000; i++) ones += sampleToken(two, { temperature: 1, topK: 0, topP: 1 }, rng);
  assert.ok(Math.abs(ones / 4000 - 0.75) < 0.03, `${ones / 4000}`);
  const seq = (seed: number) => {
    const r = new Rng(seed);
    return [...Array(30)].map(() => sampleToken(logits, { temperature: 1.5, topK: 0, topP: 0.9 }, r));
  };
  assert.deepEqual(seq(7), seq(7));
  assert.notDeepEqual(seq(7), seq(8));
});

test("greedy generation with the KV cache equals decoding by full forwards, per adapter", async () => {
  const m = lettersOnly(model);
  const prompt = tok.encode("abc", { bos: true });
  const a = adapterWithB(1);
  const b = adapterWithB(2);
  const base = await generate(m, tok, prompt, { maxTokens: 8, eosIds: [] });
  assert.equal(base.finishReason, "length");
  assert.deepEqual(base.ids, await greedyReference(m, prompt, 8, null));
  const withA = await generate(m, tok, prompt, { maxTokens: 8, eosIds: [], adapter: a });
  assert.deepEqual(withA.ids, await greedyReference(m, prompt, 8, a));
  const withB = await generate(m, tok, prompt, { maxTokens: 8, eosIds: [], adapter: b });
  assert.deepEqual(withB.ids, await greedyReference(m, prompt, 8, b));
  assert.ok(new Set([base.text, withA.text, withB.text]).size >= 2, "adapters change the output");
  // the base is untouched by per-request adapters
  assert.deepEqual((await generate(m, tok, prompt, { maxTokens: 8, eosIds: [] })).ids, base.ids);
  assert.equal(withA.text, tok.decode(withA.ids));
  // a merged adapter gives the unmerged adapter's logits
  const merged = await mergeAdapter(model, a);
  const batch = { B: 1, T: prompt.length, tokens: Int32Array.from(prompt), positions: Int32Array.from(prompt.keys()), segments: null, targets: new Int32Array(prompt.length) };
  const l1 = (await forward(model, batch, { adapter: a })).logits;
  const l2 = (await forward(merged, batch)).logits;
  for (let i = 0; i < l1.length; i++) assert.ok(Math.abs(l1[i] - l2[i]) < 1e-4);
});

test("EOS and stop sequences end generation; streaming emits exactly the final text", async () => {
  const m = lettersOnly(model);
  const prompt = tok.encode("hello", { bos: true });
  const free = await generate(m, tok, prompt, { maxTokens: 12, eosIds: [] });
  const eos = await generate(m, tok, prompt, { maxTokens: 12, eosIds: [free.ids[3]] });
  assert.equal(eos.finishReason, "eos");
  assert.deepEqual(eos.ids, free.ids.slice(0, free.ids.indexOf(free.ids[3])));
  const stop = free.text.slice(5, 7);
  const pieces: string[] = [];
  const stopped = await generate(m, tok, prompt, { maxTokens: 12, eosIds: [], stop: ["zzzz-never", stop], onText: (d) => pieces.push(d) });
  assert.equal(stopped.finishReason, "stop");
  assert.equal(stopped.text, free.text.slice(0, free.text.indexOf(stop)));
  assert.equal(pieces.join(""), stopped.text);
  const streamed: string[] = [];
  const all = await generate(m, tok, prompt, { maxTokens: 12, eosIds: [], onText: (d) => streamed.push(d) });
  assert.equal(streamed.join(""), all.text);
  assert.ok(streamed.length > 1);
  const t1 = await generate(m, tok, prompt, { maxTokens: 12, eosIds: [], temperature: 1, topP: 0.9, seed: 4 });
  const t2 = await generate(m, tok, prompt, { maxTokens: 12, eosIds: [], temperature: 1, topP: 0.9, seed: 4 });
  assert.deepEqual(t1.ids, t2.ids);
});
