// Hugging Face Llama checkpoints and PEFT LoRA adapters -> GGUF files that llama.cpp loads, following
// the facts of llama.cpp's convert_hf_to_gguf.py / convert_lora_to_gguf.py:
//  - tensor names: token_embd, blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm,
//    ffn_gate, ffn_up, ffn_down}, output_norm, output (absent when embeddings are tied);
//  - q_proj/k_proj rows permuted from HF's rotate-half RoPE layout to llama.cpp's interleaved pairs,
//    per head (k with the KV head count); for LoRA only B (out x r) is permuted, A is untouched;
//  - 2-D weights in the chosen dtype, 1-D norms always f32;
//  - tokenizer: model "gpt2" (byte-level BPE), pre-tokenizer "gpt-2" (GPT-2's split regex), tokens
//    in id order, token types (1 normal, 3 control for special tokens), merges, BOS/EOS/PAD ids,
//    add_bos/add_eos, chat template;
//  - adapters: general.type "adapter", adapter.type "lora", adapter.lora.alpha, tensors
//    "<base name>.lora_a" (A, r x in) and ".lora_b" (B, out x r). llama.cpp scales by alpha / r, so
//    rsLoRA (alpha / sqrt(r)) is exported as alpha * sqrt(r).
import { postProcessorFrame } from "../model/tokenizer.ts";
import { GgufError, writeGguf, type GgmlDtype, type GgufKv, type GgufTensor } from "./gguf.ts";

/** A tensor as the engine holds it: row-major float32 data. */
export type NamedTensor = { name: string; shape: readonly number[]; data: Float32Array };

/** The fields of a Hugging Face LlamaConfig (config.json) that GGUF needs. */
export type LlamaHfConfig = {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads?: number;
  head_dim?: number;
  rms_norm_eps: number;
  rope_theta?: number;
  max_position_embeddings: number;
  vocab_size: number;
  tie_word_embeddings?: boolean;
  rope_scaling?: unknown;
  attention_bias?: boolean;
  mlp_bias?: boolean;
};

/** The parts of a HF tokenizer.json / tokenizer_config.json used here. */
export type HfTokenizerFiles = {
  tokenizerJson: {
    model: { type: string; vocab: Record<string, number>; merges: (string | [string, string])[] };
    added_tokens?: { id: number; content: string; special: boolean }[];
    pre_tokenizer?: unknown;
    post_processor?: unknown;
  };
  tokenizerConfig: {
    bos_token?: string | { content: string } | null;
    eos_token?: string | { content: string } | null;
    pad_token?: string | { content: string } | null;
    add_bos_token?: boolean;
    add_eos_token?: boolean;
    chat_template?: string;
  };
};

/** PEFT adapter_config.json fields used here. */
export type LoraAdapterConfig = {
  r: number;
  lora_alpha: number;
  use_rslora?: boolean;
};

export class GgufExportError extends GgufError {
  constructor(message: string, details: string, next: string) {
    super(message, details, next);
    this.name = "GgufExportError";
  }
}

const LLAMA_TOKEN_TYPE = { normal: 1, control: 3, userDefined: 4 } as const;
// llama_ftype: ALL_F32 0, MOSTLY_F16 1, MOSTLY_BF16 32
const GGUF_FILE_TYPE: Record<GgmlDtype, number> = { f32: 0, f16: 1, bf16: 32 };

function checkDtype(dtype: string): GgmlDtype {
  if (!Object.hasOwn(GGUF_FILE_TYPE, dtype)) throw new GgufExportError("unsupported GGUF dtype", dtype, "Use f32, f16 or bf16");
  return dtype as GgmlDtype;
}

const LAYER_MAP: Record<string, string> = {
  "self_attn.q_proj": "attn_q",
  "self_attn.k_proj": "attn_k",
  "self_attn.v_proj": "attn_v",
  "self_attn.o_proj": "attn_output",
  "mlp.gate_proj": "ffn_gate",
  "mlp.up_proj": "ffn_up",
  "mlp.down_proj": "ffn_down",
  input_layernorm: "attn_norm",
  post_attention_layernorm: "ffn_norm",
};

function dims(config: LlamaHfConfig) {
  const nHead = config.num_attention_heads;
  const nKv = config.num_key_value_heads ?? nHead;
  const headDim = config.head_dim ?? config.hidden_size / nHead;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new GgufExportError("invalid head dimension", `hidden ${config.hidden_size} / heads ${nHead} = ${headDim}`, "RoPE needs an even integer head_dim");
  }
  if (nHead % nKv !== 0) throw new GgufExportError("invalid grouped-query heads", `${nHead} heads, ${nKv} KV heads`, "num_attention_heads must be a multiple of num_key_value_heads");
  return { nHead, nKv, headDim };
}

/**
 * Reorders the rows of a [nHeads * headDim, cols] projection from HF's rotate-half RoPE layout
 * (per head: first halves, then second halves) to llama.cpp's interleaved pairs:
 * new row h*hd + 2i + j  <-  old row h*hd + j*hd/2 + i.
 */
export function permuteForLlamaCppRope(data: Float32Array, rows: number, cols: number, nHeads: number): Float32Array {
  if (rows % nHeads !== 0 || (rows / nHeads) % 2 !== 0 || data.length !== rows * cols) {
    throw new GgufExportError("cannot permute for RoPE", `${rows}x${cols} with ${nHeads} heads (${data.length} values)`, "Rows must be heads x an even head dimension");
  }
  const hd = rows / nHeads;
  const half = hd / 2;
  const out = new Float32Array(data.length);
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const src = (h * hd + j * half + i) * cols;
        const dst = (h * hd + 2 * i + j) * cols;
        out.set(data.subarray(src, src + cols), dst);
      }
    }
  }
  return out;
}

/** Maps a HF Llama weight name to its GGUF name; null for names that are not exported. */
export function llamaGgufName(hfName: string): string | null {
  if (hfName === "model.embed_tokens.weight") return "token_embd.weight";
  if (hfName === "model.norm.weight") return "output_norm.weight";
  if (hfName === "lm_head.weight") return "output.weight";
  if (hfName.endsWith("rotary_emb.inv_freq")) return null;
  const m = /^model\.layers\.(\d+)\.(.+)\.weight$/.exec(hfName);
  const mapped = m ? LAYER_MAP[m[2]!] : undefined;
  if (!m || !mapped) {
    throw new GgufExportError("unknown Llama tensor", hfName, "Only Llama-architecture weights (no biases) can be exported");
  }
  return `blk.${m[1]}.${mapped}.weight`;
}

function tokenText(t: string | { content: string } | null | undefined): string | undefined {
  return t == null ? undefined : typeof t === "string" ? t : t.content;
}

/** Tokenizer metadata KVs for a byte-level BPE tokenizer.json (llama.cpp's "gpt2" tokenizer model). */
export function gpt2TokenizerKvs(tok: HfTokenizerFiles, vocabSize: number): GgufKv[] {
  const model = tok.tokenizerJson.model;
  if (model.type !== "BPE") throw new GgufExportError("unsupported tokenizer model", model.type, "Only byte-level BPE tokenizers are exported");
  const tokens = new Array<string | undefined>(vocabSize);
  for (const [t, id] of Object.entries(model.vocab)) tokens[id] = t;
  const types = new Array<number>(vocabSize).fill(LLAMA_TOKEN_TYPE.normal);
  for (const a of tok.tokenizerJson.added_tokens ?? []) {
    tokens[a.id] = a.content;
    types[a.id] = a.special ? LLAMA_TOKEN_TYPE.control : LLAMA_TOKEN_TYPE.userDefined;
  }
  const missing = tokens.findIndex((t) => t === undefined);
  if (missing >= 0 || tokens.length !== vocabSize) {
    throw new GgufExportError("tokenizer does not cover the vocabulary", `no token for id ${missing} (vocab_size ${vocabSize})`, "config.vocab_size must equal the tokenizer's size, with contiguous ids");
  }
  const idOf = (t: string | undefined, what: string): number | undefined => {
    if (t === undefined) return undefined;
    const id = tokens.indexOf(t);
    if (id < 0) throw new GgufExportError(`${what} token not in the vocabulary`, t, "Fix tokenizer_config.json");
    return id;
  };
  const cfg = tok.tokenizerConfig;
  const kvs: GgufKv[] = [
    { key: "tokenizer.ggml.model", type: "string", value: "gpt2" },
    { key: "tokenizer.ggml.pre", type: "string", value: "gpt-2" },
    { key: "tokenizer.ggml.tokens", type: "array", itemType: "string", value: tokens as string[] },
    { key: "tokenizer.ggml.token_type", type: "array", itemType: "int32", value: types },
    { key: "tokenizer.ggml.merges", type: "array", itemType: "string", value: model.merges.map((m) => (Array.isArray(m) ? m.join(" ") : m)) },
  ];
  const bos = idOf(tokenText(cfg.bos_token), "BOS");
  const eos = idOf(tokenText(cfg.eos_token), "EOS");
  const pad = idOf(tokenText(cfg.pad_token), "PAD");
  if (bos !== undefined) kvs.push({ key: "tokenizer.ggml.bos_token_id", type: "uint32", value: bos });
  if (eos !== undefined) kvs.push({ key: "tokenizer.ggml.eos_token_id", type: "uint32", value: eos });
  if (pad !== undefined) kvs.push({ key: "tokenizer.ggml.padding_token_id", type: "uint32", value: pad });
  // what tokenizer(text) adds is decided by tokenizer.json's post-processor (as transformers 5 does), not
  // by tokenizer_config's add_bos_token/add_eos_token: llama.cpp must add the same tokens as the engine
  const frame = postProcessorFrame(tok.tokenizerJson.post_processor);
  kvs.push({ key: "tokenizer.ggml.add_bos_token", type: "bool", value: bos !== undefined && frame.prefix[0] === bos });
  kvs.push({ key: "tokenizer.ggml.add_eos_token", type: "bool", value: eos !== undefined && frame.suffix.at(-1) === eos });
  if (cfg.chat_template) kvs.push({ key: "tokenizer.chat_template", type: "string", value: cfg.chat_template });
  return kvs;
}

function llamaHparamKvs(config: LlamaHfConfig): GgufKv[] {
  const { nHead, nKv, headDim } = dims(config);
  if (config.rope_scaling) throw new GgufExportError("RoPE scaling is not supported", JSON.stringify(config.rope_scaling), "Export a model without rope_scaling");
  if (config.attention_bias || config.mlp_bias) throw new GgufExportError("biases are not supported", "attention_bias/mlp_bias", "Export a Llama model without biases");
  return [
    { key: "general.architecture", type: "string", value: "llama" },
    { key: "llama.vocab_size", type: "uint32", value: config.vocab_size },
    { key: "llama.context_length", type: "uint32", value: config.max_position_embeddings },
    { key: "llama.embedding_length", type: "uint32", value: config.hidden_size },
    { key: "llama.block_count", type: "uint32", value: config.num_hidden_layers },
    { key: "llama.feed_forward_length", type: "uint32", value: config.intermediate_size },
    { key: "llama.rope.dimension_count", type: "uint32", value: headDim },
    { key: "llama.attention.head_count", type: "uint32", value: nHead },
    { key: "llama.attention.head_count_kv", type: "uint32", value: nKv },
    { key: "llama.attention.key_length", type: "uint32", value: headDim },
    { key: "llama.attention.value_length", type: "uint32", value: headDim },
    { key: "llama.attention.layer_norm_rms_epsilon", type: "float32", value: config.rms_norm_eps },
    { key: "llama.rope.freq_base", type: "float32", value: config.rope_theta ?? 10000 },
  ];
}

export type LlamaGgufOptions = {
  config: LlamaHfConfig;
  /** HF-named weights (model.embed_tokens.weight, model.layers.N..., model.norm.weight, lm_head.weight) */
  tensors: readonly NamedTensor[];
  tokenizer: HfTokenizerFiles;
  /** storage type of the 2-D weights (norms stay f32) */
  dtype?: GgmlDtype;
  name?: string;
};

/** Builds a GGUF file of a Llama base model. */
export function llamaToGguf(options: LlamaGgufOptions): Uint8Array {
  const { config, tokenizer } = options;
  const dtype = checkDtype(options.dtype ?? "f32");
  const { nHead, nKv } = dims(config);
  const tied = config.tie_word_embeddings ?? false;
  const out: GgufTensor[] = [];
  for (const t of options.tensors) {
    const name = llamaGgufName(t.name);
    if (name === null || (tied && name === "output.weight")) continue;
    let data = t.data;
    if (name.endsWith("attn_q.weight")) data = permuteForLlamaCppRope(data, t.shape[0]!, t.shape[1]!, nHead);
    else if (name.endsWith("attn_k.weight")) data = permuteForLlamaCppRope(data, t.shape[0]!, t.shape[1]!, nKv);
    out.push({ name, shape: t.shape, dtype: t.shape.length === 1 ? "f32" : dtype, data });
  }
  const have = new Set(out.map((t) => t.name));
  const required = ["token_embd.weight", "output_norm.weight", ...(tied ? [] : ["output.weight"])];
  for (let i = 0; i < config.num_hidden_layers; i++) {
    for (const n of Object.values(LAYER_MAP)) required.push(`blk.${i}.${n}.weight`);
  }
  const missing = required.filter((n) => !have.has(n));
  if (missing.length) throw new GgufExportError("model is missing tensors", missing.slice(0, 5).join(", ") + (missing.length > 5 ? ", ..." : ""), "Pass every weight of the checkpoint");
  const [arch, ...hparams] = llamaHparamKvs(config);
  const kvs: GgufKv[] = [
    arch!,
    { key: "general.type", type: "string", value: "model" },
    { key: "general.name", type: "string", value: options.name ?? "llama" },
    { key: "general.file_type", type: "uint32", value: GGUF_FILE_TYPE[dtype] },
    ...hparams,
    ...gpt2TokenizerKvs(tokenizer, config.vocab_size),
  ];
  return writeGguf(kvs, out);
}

/** Maps a PEFT LoRA tensor name to [GGUF base tensor name, "a" | "b"]. */
export function loraGgufName(peftName: string): [string, "a" | "b"] {
  const m = /^(?:base_model\.model\.)?(model\.layers\.\d+\.(?:self_attn|mlp)\.\w+)\.lora_([AB])(?:\.[\w-]+)?\.weight$/.exec(peftName);
  if (!m) throw new GgufExportError("unknown LoRA tensor", peftName, "Expected PEFT names such as base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
  const base = llamaGgufName(`${m[1]}.weight`)!;
  return [base, m[2] === "A" ? "a" : "b"];
}

export type LoraGgufOptions = {
  /** the base model's config */
  config: LlamaHfConfig;
  adapterConfig: LoraAdapterConfig;
  /** PEFT-named tensors: lora_A (r x in) and lora_B (out x r) per target module */
  tensors: readonly NamedTensor[];
  dtype?: GgmlDtype;
  name?: string;
};

/** Builds a GGUF LoRA adapter for a Llama base model (llama.cpp's --lora format). */
export function loraToGguf(options: LoraGgufOptions): Uint8Array {
  const { config, adapterConfig } = options;
  const dtype = checkDtype(options.dtype ?? "f32");
  const { nHead, nKv } = dims(config);
  const pairs = new Map<string, { a?: NamedTensor; b?: NamedTensor }>();
  for (const t of options.tensors) {
    const [base, which] = loraGgufName(t.name);
    const p = pairs.get(base) ?? {};
    if (p[which]) throw new GgufExportError("duplicate LoRA tensor", t.name, "Pass each lora_A/lora_B once");
    p[which] = t;
    pairs.set(base, p);
  }
  const out: GgufTensor[] = [];
  for (const [base, { a, b }] of pairs) {
    if (!a || !b) throw new GgufExportError("LoRA pair is incomplete", `${base} has ${a ? "A" : "B"} only`, "Pass both lora_A and lora_B of every target");
    const [r, inA] = a.shape as [number, number];
    const [outB, rB] = b.shape as [number, number];
    if (a.shape.length !== 2 || b.shape.length !== 2 || r !== rB || r !== adapterConfig.r) {
      throw new GgufExportError("LoRA shapes disagree", `${base}: A [${a.shape}], B [${b.shape}], r ${adapterConfig.r}`, "A is r x in and B is out x r");
    }
    void inA;
    let bData = b.data;
    if (base.endsWith("attn_q.weight")) bData = permuteForLlamaCppRope(bData, outB, r, nHead);
    else if (base.endsWith("attn_k.weight")) bData = permuteForLlamaCppRope(bData, outB, r, nKv);
    out.push({ name: `${base}.lora_a`, shape: a.shape, dtype, data: a.data });
    out.push({ name: `${base}.lora_b`, shape: b.shape, dtype, data: bData });
  }
  if (out.length === 0) throw new GgufExportError("adapter has no tensors", "0 LoRA pairs", "Pass the adapter's lora_A/lora_B tensors");
  const alpha = adapterConfig.use_rslora ? adapterConfig.lora_alpha * Math.sqrt(adapterConfig.r) : adapterConfig.lora_alpha;
  const kvs: GgufKv[] = [
    { key: "general.architecture", type: "string", value: "llama" },
    { key: "general.type", type: "string", value: "adapter" },
    { key: "general.name", type: "string", value: options.name ?? "lora" },
    { key: "general.file_type", type: "uint32", value: GGUF_FILE_TYPE[dtype] },
    { key: "adapter.type", type: "string", value: "lora" },
    { key: "adapter.lora.alpha", type: "float32", value: alpha },
  ];
  return writeGguf(kvs, out);
}
