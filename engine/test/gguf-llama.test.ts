// GGUF export checked against llama.cpp itself (node-llama-cpp, CPU): a small random Llama in HF layout
// plus a tokenizer trained here -> GGUF -> llama.cpp loads it, tokenizes like @huggingface/tokenizers,
// and its greedy tokens equal those of a plain TypeScript forward pass with HF semantics (rotate-half
// RoPE, GQA, RMSNorm, SwiGLU). A LoRA adapter on q/k/v/o/gate GGUF changes llama.cpp's output to the
// reference's output for the merged weights W + (alpha/r) B A.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Tokenizer } from "@huggingface/tokenizers";
import { Template } from "@huggingface/jinja";
import { getLlama, LlamaLogLevel, resolveChatWrapper, type Llama, type Token } from "node-llama-cpp";
import { readGguf, roundToBfloat16, roundToFloat16 } from "../src/export/gguf.ts";
import { llamaToGguf, loraToGguf, permuteForLlamaCppRope, type HfTokenizerFiles, type LlamaHfConfig, type NamedTensor } from "../src/export/gguf-llama.ts";
import { trainBaseTokenizer } from "../scripts/tokenizer/base-tokenizer.ts";

const TEXT = [
  "It was a bright cold morning, and the house was quiet. Mary sat by the window and read her letters.",
  "Her sister came in with a basket of apples. \"Shall we walk to the village?\" she asked. Mary smiled.",
  "They walked along the lane, past the old church and the little school, talking of their friends.",
  "In the evening they returned home, tired and happy, and their mother gave them tea by the fire.",
].flatMap((p) => [p, p.toLowerCase()]);

// ---- deterministic random weights ----
function rng(seed: number) {
  let s = seed >>> 0;
  const u = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return (n: number, std: number) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(u() + 1e-12)) * Math.cos(2 * Math.PI * u()) * std;
    return out;
  };
}

function randomLlama(config: LlamaHfConfig, seed: number): NamedTensor[] {
  const randn = rng(seed);
  const { hidden_size: d, intermediate_size: ff, vocab_size: V } = config;
  const hd = config.head_dim ?? d / config.num_attention_heads;
  const qOut = config.num_attention_heads * hd;
  const kvOut = (config.num_key_value_heads ?? config.num_attention_heads) * hd;
  const t = (name: string, shape: number[], std: number, mean = 0): NamedTensor => {
    const data = randn(shape.reduce((a, b) => a * b, 1), std);
    if (mean) for (let i = 0; i < data.length; i++) data[i]! += mean;
    return { name, shape, data };
  };
  const out = [t("model.embed_tokens.weight", [V, d], 1)];
  for (let l = 0; l < config.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    out.push(
      t(p + "input_layernorm.weight", [d], 0.1, 1),
      t(p + "self_attn.q_proj.weight", [qOut, d], 1 / Math.sqrt(d) * 2),
      t(p + "self_attn.k_proj.weight", [kvOut, d], 1 / Math.sqrt(d) * 2),
      t(p + "self_attn.v_proj.weight", [kvOut, d], 1 / Math.sqrt(d)),
      t(p + "self_attn.o_proj.weight", [d, qOut], 1 / Math.sqrt(qOut)),
      t(p + "post_attention_layernorm.weight", [d], 0.1, 1),
      t(p + "mlp.gate_proj.weight", [ff, d], 1 / Math.sqrt(d)),
      t(p + "mlp.up_proj.weight", [ff, d], 1 / Math.sqrt(d)),
      t(p + "mlp.down_proj.weight", [d, ff], 1 / Math.sqrt(ff)),
    );
  }
  out.push(t("model.norm.weight", [d], 0.1, 1));
  if (!config.tie_word_embeddings) out.push(t("lm_head.weight", [V, d], 1 / Math.sqrt(d) * 3));
  return out;
}

// ---- reference forward pass, Hugging Face Llama semantics, float64 accumulation ----
function matvec(w: Float32Array, rows: number, cols: number, x: Float64Array): Float64Array {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += w[r * cols + c]! * x[c]!;
    y[r] = s;
  }
  return y;
}
function rmsnorm(x: Float64Array, w: Float32Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * inv * w[i]!);
}
function ropeRotateHalf(v: Float64Array, nHeads: number, hd: number, pos: number, theta: number): Float64Array {
  const out = new Float64Array(v.length);
  const half = hd / 2;
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < half; i++) {
      const ang = pos * theta ** (-(2 * i) / hd);
      const c = Math.cos(ang), s = Math.sin(ang);
      const x1 = v[h * hd + i]!, x2 = v[h * hd + half + i]!;
      out[h * hd + i] = x1 * c - x2 * s;
      out[h * hd + half + i] = x2 * c + x1 * s;
    }
  }
  return out;
}

function referenceLogits(config: LlamaHfConfig, weights: Map<string, Float32Array>, tokens: number[]): Float64Array {
  const d = config.hidden_size, ff = config.intermediate_size, V = config.vocab_size;
  const nH = config.num_attention_heads, nKv = config.num_key_value_heads ?? nH, hd = config.head_dim ?? d / nH;
  const theta = config.rope_theta ?? 10000, eps = config.rms_norm_eps;
  const W = (n: string) => weights.get(n)!;
  const emb = W("model.embed_tokens.weight");
  let xs = tokens.map((t) => Float64Array.from(emb.subarray(t * d, (t + 1) * d)));
  for (let l = 0; l < config.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    const hs = xs.map((x) => rmsnorm(x, W(p + "input_layernorm.weight"), eps));
    const qs = hs.map((h, pos) => ropeRotateHalf(matvec(W(p + "self_attn.q_proj.weight"), nH * hd, d, h), nH, hd, pos, theta));
    const ks = hs.map((h, pos) => ropeRotateHalf(matvec(W(p + "self_attn.k_proj.weight"), nKv * hd, d, h), nKv, hd, pos, theta));
    const vs = hs.map((h) => matvec(W(p + "self_attn.v_proj.weight"), nKv * hd, d, h));
    xs = xs.map((x, pos) => {
      const attn = new Float64Array(nH * hd);
      for (let h = 0; h < nH; h++) {
        const kh = Math.floor(h / (nH / nKv));
        const scores = [];
        for (let j = 0; j <= pos; j++) {
          let s = 0;
          for (let i = 0; i < hd; i++) s += qs[pos]![h * hd + i]! * ks[j]![kh * hd + i]!;
          scores.push(s / Math.sqrt(hd));
        }
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j <= pos; j++) for (let i = 0; i < hd; i++) attn[h * hd + i]! += (e[j]! / z) * vs[j]![kh * hd + i]!;
      }
      const o = matvec(W(p + "self_attn.o_proj.weight"), d, nH * hd, attn);
      const x1 = x.map((v, i) => v + o[i]!);
      const h2 = rmsnorm(x1, W(p + "post_attention_layernorm.weight"), eps);
      const g = matvec(W(p + "mlp.gate_proj.weight"), ff, d, h2);
      const u = matvec(W(p + "mlp.up_proj.weight"), ff, d, h2);
      const act = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]!);
      const down = matvec(W(p + "mlp.down_proj.weight"), d, ff, act);
      return x1.map((v, i) => v + down[i]!);
    });
  }
  const last = rmsnorm(xs.at(-1)!, W("model.norm.weight"), eps);
  return matvec(config.tie_word_embeddings ? emb : W("lm_head.weight"), V, d, last);
}

/** Greedy continuation; also returns the smallest top-1/top-2 logit gap seen (how robust argmax is). */
function referenceGreedy(config: LlamaHfConfig, tensors: readonly NamedTensor[], prompt: number[], n: number): { tokens: number[]; minGap: number } {
  const weights = new Map(tensors.map((t) => [t.name, t.data]));
  const seq = [...prompt];
  const out: number[] = [];
  let minGap = Infinity;
  for (let step = 0; step < n; step++) {
    const logits = referenceLogits(config, weights, seq);
    let best = 0, second = -Infinity;
    for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
    for (let i = 0; i < logits.length; i++) if (i !== best && logits[i]! > second) second = logits[i]!;
    minGap = Math.min(minGap, logits[best]! - second);
    out.push(best);
    seq.push(best);
  }
  return { tokens: out, minGap };
}

function mergeLora(tensors: readonly NamedTensor[], lora: readonly NamedTensor[], scale: number): NamedTensor[] {
  const byName = new Map(lora.map((t) => [t.name, t]));
  return tensors.map((t) => {
    const m = /^(model\.layers\.\d+\.\w+\.\w+)\.weight$/.exec(t.name);
    const a = m && byName.get(`base_model.model.${m[1]}.lora_A.weight`);
    const b = m && byName.get(`base_model.model.${m[1]}.lora_B.weight`);
    if (!a || !b) return t;
    const [rows, cols] = t.shape as [number, number];
    const r = a.shape[0]!;
    const data = Float32Array.from(t.data);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += b.data[i * r + k]! * a.data[k * cols + j]!;
      data[i * cols + j]! += scale * s;
    }
    return { ...t, data };
  });
}

function randomLora(config: LlamaHfConfig, r: number, seed: number, targets: string[]): NamedTensor[] {
  const randn = rng(seed);
  const d = config.hidden_size, hd = config.head_dim ?? d / config.num_attention_heads;
  const outDim: Record<string, [number, number]> = {
    "self_attn.q_proj": [config.num_attention_heads * hd, d],
    "self_attn.k_proj": [(config.num_key_value_heads ?? config.num_attention_heads) * hd, d],
    "self_attn.v_proj": [(config.num_key_value_heads ?? config.num_attention_heads) * hd, d],
    "self_attn.o_proj": [d, config.num_attention_heads * hd],
    "mlp.gate_proj": [config.intermediate_size, d],
  };
  const out: NamedTensor[] = [];
  for (let l = 0; l < config.num_hidden_layers; l++) {
    for (const m of targets) {
      const [o, i] = outDim[m]!;
      const p = `base_model.model.model.layers.${l}.${m}`;
      out.push({ name: `${p}.lora_A.weight`, shape: [r, i], data: randn(r * i, 1 / Math.sqrt(i)) });
      out.push({ name: `${p}.lora_B.weight`, shape: [o, r], data: randn(o * r, 0.5) });
    }
  }
  return out;
}

// ---- the tests ----
const config: LlamaHfConfig = {
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  max_position_embeddings: 256,
  vocab_size: 0, // set from the tokenizer
  tie_word_embeddings: false,
};
const GREEDY_TOKENS = 12;

describe("GGUF export loads and runs in llama.cpp (node-llama-cpp)", () => {
  let llama: Llama | undefined;
  let unavailable: string | undefined;
  let dir: string;
  let hf: Tokenizer;
  let tokFiles: HfTokenizerFiles;

  before(async () => {
    const trained = trainBaseTokenizer(TEXT, { vocabSize: 400, modelMaxLength: 256 });
    tokFiles = JSON.parse(JSON.stringify({ tokenizerJson: trained.tokenizerJson, tokenizerConfig: trained.tokenizerConfig }));
    config.vocab_size = trained.model.vocab.size;
    hf = new Tokenizer(tokFiles.tokenizerJson as object, tokFiles.tokenizerConfig as object);
    dir = mkdtempSync(join(tmpdir(), "gguf-llama-"));
    try {
      llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    } catch (err) {
      // node-llama-cpp ships prebuilt CPU binaries for common platforms; elsewhere there is nothing to run.
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
      // One thread: llama.cpp's spinning worker threads crawl on a busy 2-core machine.
      const context = await model.createContext({ contextSize: 128, threads: 1, ...(loraFile ? { lora: { adapters: [{ filePath: loraFile }] } } : {}) });
      const seq = context.getSequence();
      const out: number[] = [];
      for await (const t of seq.evaluate(prompt as Token[], { temperature: 0 })) {
        out.push(t as number);
        if (out.length >= n) break;
      }
      await context.dispose();
      return out;
    } finally {
      await model.dispose();
    }
  }

  const promptText = "Mary walked to the village with her sister";

  it("f32 export: llama.cpp tokenizes like @huggingface/tokenizers and its greedy tokens equal the TypeScript reference", async (t) => {
    if (unavailable) return t.skip(unavailable);
    const tensors = randomLlama(config, 1);
    const file = join(dir, "model-f32.gguf");
    writeFileSync(file, llamaToGguf({ config, tensors, tokenizer: tokFiles, dtype: "f32", name: "test" }));
    const model = await llama!.loadModel({ modelPath: file });
    const unseen = "Mary's sister didn't walk -- she ran 3 miles!\n\nThen tea.  Ünïcödé 🙂";
    const hfIds = hf.encode(unseen, { add_special_tokens: false }).ids;
    assert.deepEqual(model.tokenize(unseen, false), hfIds);
    assert.equal(model.detokenize(hfIds), unseen);
    assert.deepEqual(model.tokenize("<|user|>\nHi<|eos|>", true), hf.encode("<|user|>\nHi<|eos|>", { add_special_tokens: false }).ids);
    assert.equal(model.tokens.bos, 0);
    assert.equal(model.tokens.eos, 1);
    await model.dispose();

    const prompt = hf.encode(promptText).ids; // starts with <|bos|>
    assert.equal(prompt[0], 0);
    const ref = referenceGreedy(config, tensors, prompt, GREEDY_TOKENS);
    assert.ok(ref.minGap > 1e-3, `reference argmax margin too small to compare (${ref.minGap})`);
    const got = await llamaCppGreedy(file, prompt, GREEDY_TOKENS);
    assert.deepEqual(got, ref.tokens);
  });

  it("node-llama-cpp picks up the chat template from the GGUF and renders chats to the same tokens", async (t) => {
    if (unavailable) return t.skip(unavailable);
    const file = join(dir, "chat.gguf");
    writeFileSync(file, llamaToGguf({ config, tensors: randomLlama(config, 6), tokenizer: tokFiles }));
    const model = await llama!.loadModel({ modelPath: file });
    try {
      const wrapper = resolveChatWrapper(model);
      const state = wrapper.generateContextState({
        chatHistory: [
          { type: "system", text: "Be brief." },
          { type: "user", text: "Where is Mary?" },
          { type: "model", response: ["In the lane."] },
          { type: "user", text: "And her sister?" },
          { type: "model", response: [] },
        ],
      });
      const ours = new Template(tokFiles.tokenizerConfig.chat_template!).render({
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "Where is Mary?" },
          { role: "assistant", content: "In the lane." },
          { role: "user", content: "And her sister?" },
        ],
        bos_token: "<|bos|>",
        eos_token: "<|eos|>",
        add_generation_prompt: true,
      });
      assert.deepEqual(state.contextText.tokenize(model.tokenizer), hf.encode(ours, { add_special_tokens: false }).ids);
    } finally {
      await model.dispose();
    }
  });

  it("f16 export with tied embeddings matches the reference run on f16-rounded weights", async (t) => {
    if (unavailable) return t.skip(unavailable);
    const tiedConfig = { ...config, tie_word_embeddings: true };
    const tensors = randomLlama(tiedConfig, 2);
    const file = join(dir, "model-f16.gguf");
    writeFileSync(file, llamaToGguf({ config: tiedConfig, tensors, tokenizer: tokFiles, dtype: "f16" }));
    const parsed = readGguf(readFileSync(file));
    assert.equal(parsed.tensors.find((t) => t.name === "blk.0.attn_q.weight")?.dtype, "f16");
    assert.equal(parsed.tensors.find((t) => t.name === "blk.0.attn_norm.weight")?.dtype, "f32");
    assert.equal(parsed.tensors.some((t) => t.name === "output.weight"), false);
    const rounded = tensors.map((t) => (t.shape.length === 2 ? { ...t, data: roundToFloat16(t.data) } : t));
    const prompt = hf.encode(promptText).ids;
    const ref = referenceGreedy(tiedConfig, rounded, prompt, GREEDY_TOKENS);
    assert.ok(ref.minGap > 1e-3, `reference argmax margin too small (${ref.minGap})`);
    assert.deepEqual(await llamaCppGreedy(file, prompt, GREEDY_TOKENS), ref.tokens);
  });

  it("bf16 export loads and matches the reference run on bf16-rounded weights", async (t) => {
    if (unavailable) return t.skip(unavailable);
    const tensors = randomLlama(config, 5);
    const file = join(dir, "model-bf16.gguf");
    writeFileSync(file, llamaToGguf({ config, tensors, tokenizer: tokFiles, dtype: "bf16" }));
    assert.equal(readGguf(readFileSync(file)).metadata.get("general.file_type"), 32);
    const rounded = tensors.map((x) => (x.shape.length === 2 ? { ...x, data: roundToBfloat16(x.data) } : x));
    const prompt = hf.encode(promptText).ids;
    const ref = referenceGreedy(config, rounded, prompt, GREEDY_TOKENS);
    assert.deepEqual(await llamaCppGreedy(file, prompt, GREEDY_TOKENS), ref.tokens);
  });

  it("a LoRA GGUF (q, k, v, o, gate; rsLoRA) loads as an adapter and gives the merged model's greedy output", async (t) => {
    if (unavailable) return t.skip(unavailable);
    const tensors = randomLlama(config, 3);
    const base = join(dir, "base.gguf");
    writeFileSync(base, llamaToGguf({ config, tensors, tokenizer: tokFiles }));
    const r = 4, alpha = 8;
    const lora = randomLora(config, r, 4, ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj"]);
    const adapter = join(dir, "adapter.gguf");
    writeFileSync(adapter, loraToGguf({ config, adapterConfig: { r, lora_alpha: alpha, use_rslora: true }, tensors: lora }));
    const prompt = hf.encode(promptText).ids;
    const baseRef = referenceGreedy(config, tensors, prompt, GREEDY_TOKENS);
    const mergedRef = referenceGreedy(config, mergeLora(tensors, lora, alpha / Math.sqrt(r)), prompt, GREEDY_TOKENS);
    assert.notDeepEqual(mergedRef.tokens, baseRef.tokens, "the adapter must matter for this check to mean anything");
    assert.ok(mergedRef.minGap > 1e-3 && baseRef.minGap > 1e-3, "reference margins");
    const withoutAdapter = await llamaCppGreedy(base, prompt, GREEDY_TOKENS);
    const withAdapter = await llamaCppGreedy(base, prompt, GREEDY_TOKENS, adapter);
    assert.deepEqual(withoutAdapter, baseRef.tokens);
    assert.deepEqual(withAdapter, mergedRef.tokens);
  });

  it("the q/k permutation is what makes llama.cpp agree (exporting without it diverges)", async (t) => {
    if (unavailable) return t.skip(unavailable);
    const tensors = randomLlama(config, 1);
    // Pre-apply the inverse of the exporter's permutation, so the file holds q/k rows in HF order.
    // The permutation is a perfect shuffle of each head's rows; for head_dim 2^k it has order k,
    // so applying it k-1 times inverts it.
    const unpermuted = tensors.map((t) => {
      if (!/q_proj|k_proj/.test(t.name)) return t;
      const heads = t.name.includes("q_proj") ? config.num_attention_heads : config.num_key_value_heads!;
      let data = t.data;
      const hd = t.shape[0]! / heads;
      const order = Math.log2(hd);
      for (let i = 0; i < order - 1; i++) data = permuteForLlamaCppRope(data, t.shape[0]!, t.shape[1]!, heads);
      return { ...t, data };
    });
    const file = join(dir, "wrong.gguf");
    writeFileSync(file, llamaToGguf({ config, tensors: unpermuted, tokenizer: tokFiles }));
    const prompt = hf.encode(promptText).ids;
    const ref = referenceGreedy(config, tensors, prompt, GREEDY_TOKENS);
    assert.notDeepEqual(await llamaCppGreedy(file, prompt, GREEDY_TOKENS), ref.tokens);
  });
});
