// The fine-tuning job a builder posts: what to train, how, and on which Datanet versions.
import { z } from "zod";
import { CidString, schemaField, Uint256String } from "./common.ts";

/** NF4 quantization of the frozen base weights (QLoRA); ignored for plain LoRA. */
export const Quantization = z.object({
  type: z.literal("nf4").default("nf4"),
  /** Quantize the per-block scales too (QLoRA's double quantization). */
  doubleQuant: z.boolean().default(true),
  blockSize: z.number().int().positive().default(64),
  computeDtype: z.enum(["fp32", "bf16", "fp16"]).default("bf16"),
});

export const LoraConfig = z.object({
  r: z.number().int().min(1).max(1024).default(8),
  alpha: z.number().positive().default(16),
  dropout: z.number().min(0).max(1, "must be below 1").default(0.05),
  targetModules: z.array(z.string().min(1)).min(1, "must name at least one module").default(["q_proj", "v_proj"]),
  /** Rank-stabilised LoRA: scale by alpha/sqrt(r) instead of alpha/r. */
  rslora: z.boolean().default(false),
});

export const TrainingConfig = z.object({
  learningRate: z.number().positive().max(1, "must be at most 1").default(2e-4),
  epochs: z.number().positive().max(1000).default(3),
  batchSize: z.number().int().positive().default(4),
  gradientAccumulation: z.number().int().positive().default(1),
  maxSeqLength: z.number().int().min(8).max(1_048_576).default(1024),
  scheduler: z.enum(["cosine", "linear", "constant"]).default("cosine"),
  warmupRatio: z.number().min(0).max(1).default(0.1),
  weightDecay: z.number().min(0).default(0),
  maxGradNorm: z.number().positive().default(1),
  seed: z.number().int().min(0).max(2 ** 32 - 1).default(42),
});

export const DataRef = z.object({
  datanetId: Uint256String,
  /** Datanet version: the number of approved contributions the job trains on. */
  version: z.number().int().positive(),
});

export const JobSpec = z.object({
  schema: schemaField("job-spec"),
  /** Base model id as registered on chain (e.g. `tributary-austen-4m`). */
  baseModel: z.string().min(1, "must name a base model"),
  /** Optional CID of the base model's Hugging Face layout directory. */
  baseModelCid: CidString.optional(),
  method: z.enum(["lora", "qlora"]).default("lora"),
  quantization: Quantization.prefault({}),
  lora: LoraConfig.prefault({}),
  training: TrainingConfig.prefault({}),
  data: z.array(DataRef).min(1, "must reference at least one Datanet version").refine(
    (refs) => new Set(refs.map((r) => r.datanetId)).size === refs.length, "must not list a Datanet twice"),
  /** Fraction of records held out for evaluation (and attribution's eval gradient). */
  evalSplit: z.number().min(0).max(0.5, "must be at most 0.5").default(0.1),
  /** A Jinja chat template; absent means the base model's own tokenizer template. */
  chatTemplate: z.string().min(1).optional(),
});

export type Quantization = z.infer<typeof Quantization>;
export type LoraConfig = z.infer<typeof LoraConfig>;
export type TrainingConfig = z.infer<typeof TrainingConfig>;
export type DataRef = z.infer<typeof DataRef>;
export type JobSpec = z.infer<typeof JobSpec>;
/** What a caller writes: every field with a default may be left out. */
export type JobSpecInput = z.input<typeof JobSpec>;
