/**
 * The torch worker's messages (protocol 2, trainer-node/torch/PROTOCOL.md), validated with zod: what the
 * worker writes is checked before the node relies on it, and the types come from the schemas.
 */
import { z } from "zod";

export const TORCH_PROTOCOL = 2;

const Device = z.object({
  type: z.enum(["cuda", "cpu"]),
  name: z.string(),
  memory: z.number().nullable(),
  index: z.number().int().optional(),
  bf16: z.boolean().optional(),
  threads: z.number().int().optional(),
});

export const Hello = z.object({
  type: z.literal("hello"),
  protocol: z.number().int(),
  worker: z.string(),
  versions: z.object({ python: z.string(), torch: z.string(), transformers: z.string(), peft: z.string() }),
  /** The commands this worker answers (protocol 2). */
  commands: z.array(z.string()).optional(),
  devices: z.array(Device),
  memory: z.number().nullable(),
  world_size: z.number().int().positive(),
});

export const Started = z.object({
  type: z.literal("started"),
  total_steps: z.number().int().nonnegative(),
  start_step: z.number().int().nonnegative(),
  resumed_from: z.string().nullable(),
  train_examples: z.number().int(),
  eval_examples: z.number().int(),
  device: z.string(),
  precision: z.enum(["fp32", "bf16", "fp16"]),
  world_size: z.number().int().positive(),
  trainable_params: z.number().int(),
});

export const Progress = z.object({
  type: z.literal("progress"),
  step: z.number().int().positive(),
  total_steps: z.number().int().positive(),
  loss: z.number(),
  lr: z.number(),
  grad_norm: z.number(),
  tokens_per_s: z.number(),
  eta_s: z.number(),
  gpu_mem: z.number().nullable(),
  eval_loss: z.number().optional(),
});

export const Checkpoint = z.object({ type: z.literal("checkpoint"), step: z.number().int(), path: z.string() });

export const Done = z.object({
  type: z.literal("done"),
  stopped: z.boolean(),
  step: z.number().int(),
  files: z.array(z.string()),
  gpu_mem: z.number().nullable().optional(),
});

export const Encoded = z.object({
  type: z.literal("encoded"),
  examples: z.array(z.object({ ids: z.array(z.number().int()), train: z.array(z.boolean()) })),
});

export const WorkerError = z.object({ type: z.literal("error"), message: z.string(), transient: z.boolean() });

export const Inspected = z.object({
  type: z.literal("inspected"),
  model_type: z.string(),
  architectures: z.array(z.string()),
  params: z.number().int().nonnegative(),
  linear_modules: z.array(z.string()),
  hidden_size: z.number().int().nullable(),
  num_layers: z.number().int().nullable(),
  context_length: z.number().int().nullable(),
});

/** Attribution methods the worker computes (influence.ts's definitions; DataInf stays engine-only). */
export const TORCH_ATTRIBUTION_METHODS = ["tracin_last", "tracin_cp", "grad_cos_cp", "adam_tracin_cp", "adam_cos_cp"] as const;

export const AttributionProgress = z.object({ type: z.literal("attribution_progress"), done: z.number().int().nonnegative(), total: z.number().int().nonnegative() });

export const Attributed = z.object({
  type: z.literal("attributed"),
  /** The method computed (an adam_* method falls back to grad_cos_cp / tracin_cp without optimizer state). */
  method: z.enum(TORCH_ATTRIBUTION_METHODS),
  /** Per contribution: its score summed over the queries. */
  totals: z.array(z.number()),
  /** Per contribution: the target tokens its gradient covers (0: nothing to attribute). */
  tokens: z.array(z.number().int().nonnegative()),
  /** The checkpoints read, oldest first (step null: the final adapter without checkpoints). */
  checkpoints: z.array(z.object({ step: z.number().int().nullable(), lr: z.number() })),
  seconds: z.number(),
  device: z.string(),
  precision: z.enum(["fp32", "bf16", "fp16"]),
  /** scores[query][contribution], when asked for (`per_query`). */
  scores: z.array(z.array(z.number())).optional(),
});

/** The answer to `evaluate`: the mean target-token loss over the held-out records and over shard `shard` of them. */
export const Evaluated = z.object({
  type: z.literal("evaluated"),
  loss: z.number(),
  shard: z.number().int().min(0),
  /** The whole set's loss when the shard holds no record with a target. */
  shard_loss: z.number(),
  examples: z.number().int().nonnegative(),
  shard_examples: z.number().int().nonnegative(),
  tokens: z.number().int().nonnegative(),
  shard_tokens: z.number().int().nonnegative(),
  seconds: z.number(),
  device: z.string(),
  precision: z.enum(["fp32", "bf16", "fp16"]),
});

/** One generated token of `generate`: its id (null: held-back text flushed at the end) and the text it completes. */
export const Token = z.object({ type: z.literal("token"), id: z.string().nullable().optional(), token_id: z.number().int().nullable(), text: z.string() });

export const Generated = z.object({
  type: z.literal("generated"),
  id: z.string().nullable().optional(),
  /** stop: an end-of-sequence token or a stop string; length: max_tokens; cancelled: a cancel line. */
  finish_reason: z.enum(["stop", "length", "cancelled"]),
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
  token_ids: z.array(z.number().int()),
  text: z.string(),
  seconds: z.number(),
});

export const WorkerMessage = z.discriminatedUnion("type", [Hello, Started, Progress, Checkpoint, Done, Encoded, Inspected, AttributionProgress, Attributed, Evaluated, Token, Generated, WorkerError]);

export type Hello = z.infer<typeof Hello>;
export type Started = z.infer<typeof Started>;
export type Progress = z.infer<typeof Progress>;
export type Done = z.infer<typeof Done>;
export type Inspected = z.infer<typeof Inspected>;
export type Attributed = z.infer<typeof Attributed>;
export type Evaluated = z.infer<typeof Evaluated>;
export type Token = z.infer<typeof Token>;
export type Generated = z.infer<typeof Generated>;
export type WorkerMessage = z.infer<typeof WorkerMessage>;

/** The job spec's objects the worker trains with (`tributary/job-spec@1` field names). */
export const TrainSpec = z.object({
  method: z.enum(["lora", "qlora"]),
  lora: z.object({
    r: z.number().int().positive(),
    alpha: z.number().positive(),
    dropout: z.number().min(0).max(1),
    targetModules: z.array(z.string().min(1)).min(1),
    rslora: z.boolean(),
  }),
  training: z.object({
    learningRate: z.number().positive(),
    epochs: z.number().positive(),
    batchSize: z.number().int().positive(),
    gradientAccumulation: z.number().int().positive(),
    maxSeqLength: z.number().int().positive(),
    scheduler: z.enum(["cosine", "linear", "constant"]),
    warmupRatio: z.number().min(0).max(1),
    weightDecay: z.number().min(0),
    maxGradNorm: z.number().positive(),
    seed: z.number().int().min(0),
  }),
  quantization: z.object({ type: z.literal("nf4"), doubleQuant: z.boolean(), blockSize: z.number().int(), computeDtype: z.enum(["fp32", "bf16", "fp16"]) }).optional(),
});
export type TrainSpec = z.infer<typeof TrainSpec>;

export const TrainRequest = z.object({
  type: z.literal("train"),
  spec: TrainSpec,
  model_dir: z.string(),
  train_file: z.string(),
  eval_file: z.string().optional(),
  out_dir: z.string(),
  resume: z.boolean().default(true),
  checkpoint_every: z.number().int().nonnegative().default(10),
  eval_every: z.number().int().nonnegative().default(0),
  precision: z.enum(["auto", "fp32", "bf16", "fp16"]).default("auto"),
  gradient_checkpointing: z.boolean().default(false),
  device: z.enum(["auto", "cpu", "cuda"]).default("auto"),
  threads: z.number().int().positive().optional(),
  /** Several processes: DDP replicas, or FSDP2 shards of the base and the adapter (protocol 2). */
  distributed: z.enum(["ddp", "fsdp"]).default("ddp"),
});
export type TrainRequest = z.input<typeof TrainRequest>;

/**
 * `attribute`: the node's attribution (influence.ts) with torch autograd. `data_file` is a JSON file
 * {"contributions": [[record, ...], ...], "queries": [record, ...]} (records as in the job's JSONL).
 */
export const AttributeRequest = z.object({
  type: z.literal("attribute"),
  model_dir: z.string(),
  adapter_dir: z.string(),
  data_file: z.string(),
  method: z.enum(TORCH_ATTRIBUTION_METHODS).default("adam_cos_cp"),
  /** The job's learning rate (stands for a run without checkpoints). */
  learning_rate: z.number().positive(),
  max_seq_len: z.number().int().positive(),
  /** The base NF4-quantized as for QLoRA. */
  quantize: z.boolean().default(false),
  checkpoints: z.number().int().positive().default(3),
  per_query: z.boolean().default(false),
  precision: z.enum(["auto", "fp32", "bf16", "fp16"]).default("auto"),
  device: z.enum(["auto", "cpu", "cuda"]).default("auto"),
  threads: z.number().int().positive().optional(),
});
export type AttributeRequest = z.input<typeof AttributeRequest>;

/**
 * `evaluate`: the held-out eval loss of a PEFT adapter as its training run measured it after its last step (train.py's
 * `eval_sums`: the same encoding, cut, batches and token mean, no dropout), over the records of `data_file` (JSONL,
 * as `train` reads them) and over shard `shard` of them (record i in shard i % 8), for a verifier of an eval job.
 */
export const EvaluateRequest = z.object({
  type: z.literal("evaluate").default("evaluate"),
  model_dir: z.string(),
  adapter_dir: z.string(),
  data_file: z.string(),
  /** The job's batch size and max sequence length (cut to the model's context), as training used them. */
  batch_size: z.number().int().positive(),
  max_seq_len: z.number().int().min(2),
  shard: z.number().int().min(0).max(7).default(0),
  /** The base NF4-quantized as a QLoRA job trained it. */
  nf4: z.boolean().default(false),
  precision: z.enum(["auto", "fp32", "bf16", "fp16"]).default("auto"),
  device: z.enum(["auto", "cpu", "cuda"]).default("auto"),
  threads: z.number().int().positive().optional(),
});
export type EvaluateRequest = z.input<typeof EvaluateRequest>;

/**
 * `generate`: streamed generation with a base (NF4 with `nf4`, as a QLoRA job trained it) and an optional PEFT
 * adapter. Exactly one of prompt_ids, messages (chat template with the generation prompt) or prompt (text).
 * temperature 0: greedy; else sampling with top_p from a generator seeded with `seed`.
 */
export const GenerateRequest = z.object({
  type: z.literal("generate").default("generate"),
  /** Echoed in the token and generated messages. */
  id: z.string().optional(),
  model_dir: z.string(),
  adapter_dir: z.string().optional(),
  nf4: z.boolean().default(false),
  prompt_ids: z.array(z.number().int().nonnegative()).optional(),
  messages: z.array(z.object({ role: z.string(), content: z.string() })).optional(),
  prompt: z.string().optional(),
  max_tokens: z.number().int().positive().default(256),
  temperature: z.number().min(0).default(0),
  top_p: z.number().gt(0).max(1).default(1),
  seed: z.number().int().nonnegative().default(0),
  stop: z.array(z.string().min(1)).max(16).default([]),
  precision: z.enum(["auto", "fp32", "bf16", "fp16"]).default("auto"),
  device: z.enum(["auto", "cpu", "cuda"]).default("auto"),
  threads: z.number().int().positive().optional(),
}).refine((r) => [r.prompt_ids, r.messages, r.prompt].filter((x) => x !== undefined).length === 1, "give exactly one of prompt_ids, messages or prompt");
export type GenerateRequest = z.input<typeof GenerateRequest>;
