// A base model's card (`tributary-model.json` in the model's file set): what it is (architecture, size,
// context) and the fine-tuning settings that work for it, with a one-line reason per setting. The web
// app's wizard and `tributary job post` start from `recommended`; a trainer node's fit check reads the
// size and context from it.
import { z } from "zod";
import { schemaField } from "./common.ts";
import { LoraConfig, TrainingConfig } from "./job-spec.ts";

/** File name of the card inside a base model's folder / file set. */
export const BASE_MODEL_CARD_FILE = "tributary-model.json";

export const RecommendedSettings = z.object({
  method: z.enum(["lora", "qlora"]),
  lora: LoraConfig.partial(),
  training: TrainingConfig.partial(),
  evalSplit: z.number().min(0).max(0.5).optional(),
});

export const BaseModelCard = z.object({
  schema: schemaField("base-model"),
  name: z.string().min(1, "must name the model"),
  /** `architectures[0]` of config.json, e.g. LlamaForCausalLM. */
  architecture: z.string().min(1),
  /** `model_type` of config.json, e.g. llama, qwen2, mistral. */
  modelType: z.string().min(1),
  parameters: z.number().int().positive(),
  /** Longest sequence the model was built for (max_position_embeddings). */
  contextLength: z.number().int().positive(),
  vocabSize: z.number().int().positive(),
  license: z.string().min(1).optional(),
  description: z.string().optional(),
  recommended: RecommendedSettings,
  /** Why each recommended value, keyed by the job-spec path (`training.learningRate`, `lora.r`, ...). */
  notes: z.record(z.string(), z.string()).default({}),
});

export type RecommendedSettings = z.infer<typeof RecommendedSettings>;
export type BaseModelCard = z.infer<typeof BaseModelCard>;

/** The fields of a Hugging Face `config.json` a card is derived from. */
export interface HfModelConfig {
  architectures?: string[];
  model_type?: string;
  vocab_size: number;
  hidden_size: number;
  intermediate_size?: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads?: number;
  head_dim?: number;
  max_position_embeddings?: number;
  n_positions?: number;
  seq_length?: number;
  tie_word_embeddings?: boolean;
}

/** Context length from whichever key the architecture uses. */
export function contextLengthOf(c: HfModelConfig): number | undefined {
  return c.max_position_embeddings ?? c.n_positions ?? c.seq_length;
}

/**
 * Parameters of a decoder from its config (attention with GQA + a gated MLP + embeddings; biases and
 * norms ignored): exact for Llama/Mistral/Qwen-style models, a close estimate for others.
 */
export function parameterCount(c: HfModelConfig): number {
  const D = c.hidden_size;
  const headDim = c.head_dim ?? D / c.num_attention_heads;
  const q = c.num_attention_heads * headDim;
  const kv = headDim * (c.num_key_value_heads ?? c.num_attention_heads);
  const ffn = c.intermediate_size ?? 4 * D;
  const layer = 2 * D * q + 2 * D * kv + 3 * D * ffn + 2 * D;
  return c.num_hidden_layers * layer + c.vocab_size * D * (c.tie_word_embeddings === false ? 2 : 1) + D;
}

/**
 * Fine-tuning settings for a model of this size and context, for a Datanet-sized data set (tens to
 * thousands of chat records) that the user wants the model to learn visibly:
 * - learning rate: LoRA on billion-parameter models is usually run at 1e-4..2e-4 (about 1e-4 at 7B);
 *   small models need far more: measured on the 3.8M demo model, 1e-2 learns its Q&A records and 2e-2
 *   diverges. So 2e-4 at 1B, scaled by (1B/size)^0.7 below (1e-2 at 3.8M) and (1B/size)^0.35 above
 *   (1e-4 at 7B), capped at 1e-2;
 * - rank 16 / alpha 32 on every projection (attention and MLP): adapting all linear layers is what
 *   makes a LoRA match a full fine-tune (QLoRA paper), and alpha = 2r keeps the scale at 2;
 * - epochs: small data needs several passes, small models more of them (measured on the demo model:
 *   ~20-30 passes to reproduce its records);
 * - max length: the model's whole context, at most 2,048 tokens (memory grows with it).
 */
export function recommendSettings(c: HfModelConfig): { recommended: RecommendedSettings; notes: Record<string, string> } {
  const params = parameterCount(c);
  const context = contextLengthOf(c) ?? 2048;
  const ratio = 1e9 / params;
  const lr = Number(Math.min(1e-2, 2e-4 * ratio ** (ratio > 1 ? 0.7 : 0.35)).toPrecision(2));
  const epochs = params < 1e7 ? 30 : params < 1e8 ? 10 : 3;
  const maxSeqLength = Math.min(context, 2048);
  const qlora = params >= 3e9;
  return {
    recommended: {
      method: qlora ? "qlora" : "lora",
      lora: { r: 16, alpha: 32, dropout: 0, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] },
      training: { learningRate: lr, epochs, batchSize: 4, maxSeqLength, scheduler: "cosine", warmupRatio: 0.05 },
      evalSplit: 0.1,
    },
    notes: {
      method: qlora
        ? "QLoRA: the frozen base is stored in 4 bits, so a model of this size fits in far less memory"
        : "LoRA: the model is small enough to keep its frozen weights at full precision",
      "training.learningRate": `${lr}: smaller models need larger steps than the 1e-4..2e-4 used for billion-parameter ones`,
      "training.epochs": `${epochs} passes over the data: enough for a model of this size to learn what the records say`,
      "training.maxSeqLength": `${maxSeqLength} tokens: the model's context is ${context}; longer records are cut there`,
      "lora.r": "rank 16 on every projection: adapting all linear layers learns most like a full fine-tune",
      "lora.alpha": "alpha 32 = 2 x rank, the usual scale",
      "lora.dropout": "no dropout: Datanet-sized data is learned faster without it",
      evalSplit: "10% of the records are held out to measure the fine-tune and to attribute it",
    },
  };
}

/** A card for a Hugging Face model folder's config.json: its size, context and recommended settings. */
export function cardFromConfig(name: string, c: HfModelConfig, extra: { license?: string; description?: string } = {}): BaseModelCard {
  const { recommended, notes } = recommendSettings(c);
  return BaseModelCard.parse({
    schema: "tributary/base-model@1",
    name,
    architecture: c.architectures?.[0] ?? "unknown",
    modelType: c.model_type ?? "unknown",
    parameters: parameterCount(c),
    contextLength: contextLengthOf(c) ?? 2048,
    vocabSize: c.vocab_size,
    ...extra,
    recommended,
    notes,
  });
}

/**
 * A job spec's training settings laid over the card's recommendations: whatever the poster set wins,
 * the rest comes from the card, and the max length never exceeds the model's context.
 */
export function applyRecommended<T extends { method?: string; lora?: object; training?: { maxSeqLength?: number }; evalSplit?: number }>(
  spec: T,
  card: Pick<BaseModelCard, "recommended" | "contextLength">,
): T {
  const r = card.recommended;
  const training = { ...r.training, ...(spec.training ?? {}) } as { maxSeqLength?: number };
  if (training.maxSeqLength !== undefined && training.maxSeqLength > card.contextLength) training.maxSeqLength = card.contextLength;
  return {
    ...spec,
    method: spec.method ?? r.method,
    lora: { ...r.lora, ...(spec.lora ?? {}) },
    training,
    evalSplit: spec.evalSplit ?? r.evalSplit,
  };
}
