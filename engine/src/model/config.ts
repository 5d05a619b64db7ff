/** Llama-architecture configuration, read from and written to a Hugging Face `config.json`. */
import { ConfigError } from "../errors.ts";

export interface LlamaConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  tieWordEmbeddings: boolean;
  maxPositionEmbeddings: number;
  bosTokenId: number | null;
  /** One or more ids that end generation. */
  eosTokenIds: number[];
}

export function parseLlamaConfig(json: Record<string, any>): LlamaConfig {
  const need = (key: string): number => {
    const v = json[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
      throw new ConfigError(`config.json: ${key} must be a positive integer`, { [key]: v }, "Fix config.json");
    }
    return v;
  };
  const arch = json.architectures?.[0];
  if (arch !== undefined && arch !== "LlamaForCausalLM") {
    throw new ConfigError("config.json: unsupported architecture", { arch }, "Use a LlamaForCausalLM checkpoint");
  }
  if (json.rope_scaling) {
    throw new ConfigError("config.json: rope_scaling is not supported", { rope_scaling: json.rope_scaling });
  }
  if (json.hidden_act !== undefined && json.hidden_act !== "silu") {
    throw new ConfigError("config.json: only hidden_act silu is supported", { hidden_act: json.hidden_act });
  }
  const hiddenSize = need("hidden_size");
  const numHeads = need("num_attention_heads");
  const numKvHeads = json.num_key_value_heads === undefined ? numHeads : need("num_key_value_heads");
  const headDim = json.head_dim ?? hiddenSize / numHeads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new ConfigError("config.json: head dimension must be an even integer", { hiddenSize, numHeads, headDim });
  }
  if (numHeads % numKvHeads !== 0) {
    throw new ConfigError("config.json: num_attention_heads must be a multiple of num_key_value_heads", { numHeads, numKvHeads });
  }
  const eos = json.eos_token_id;
  return {
    vocabSize: need("vocab_size"),
    hiddenSize,
    intermediateSize: need("intermediate_size"),
    numLayers: need("num_hidden_layers"),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: json.rms_norm_eps ?? 1e-6,
    ropeTheta: json.rope_theta ?? 10000,
    tieWordEmbeddings: json.tie_word_embeddings ?? false,
    maxPositionEmbeddings: json.max_position_embeddings ?? 2048,
    bosTokenId: json.bos_token_id ?? null,
    eosTokenIds: eos === undefined || eos === null ? [] : Array.isArray(eos) ? eos : [eos],
  };
}

export function toHfConfig(c: LlamaConfig): Record<string, unknown> {
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    hidden_act: "silu",
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    tie_word_embeddings: c.tieWordEmbeddings,
    max_position_embeddings: c.maxPositionEmbeddings,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenIds.length === 1 ? c.eosTokenIds[0] : c.eosTokenIds,
    attention_bias: false,
    mlp_bias: false,
    torch_dtype: "float32",
  };
}

/** Convenience for tests and scripts: a full config from the few numbers that matter. */
export function llamaConfig(p: Partial<LlamaConfig> & Pick<LlamaConfig, "vocabSize" | "hiddenSize" | "numLayers" | "numHeads">): LlamaConfig {
  const numKvHeads = p.numKvHeads ?? p.numHeads;
  return {
    intermediateSize: p.intermediateSize ?? p.hiddenSize * 2,
    numKvHeads,
    headDim: p.headDim ?? p.hiddenSize / p.numHeads,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    tieWordEmbeddings: true,
    maxPositionEmbeddings: 512,
    bosTokenId: null,
    eosTokenIds: [],
    ...p,
  };
}
