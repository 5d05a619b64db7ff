/**
 * The torch worker's messages (protocol 1, trainer-node/torch/PROTOCOL.md), validated with zod: what the
 * worker writes is checked before the node relies on it, and the types come from the schemas.
 */
import { z } from "zod";

export const TORCH_PROTOCOL = 1;

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

export const WorkerMessage = z.discriminatedUnion("type", [Hello, Started, Progress, Checkpoint, Done, Encoded, Inspected, WorkerError]);

export type Hello = z.infer<typeof Hello>;
export type Started = z.infer<typeof Started>;
export type Progress = z.infer<typeof Progress>;
export type Done = z.infer<typeof Done>;
export type Inspected = z.infer<typeof Inspected>;
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
});
export type TrainRequest = z.input<typeof TrainRequest>;
