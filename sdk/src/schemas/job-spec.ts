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
  /**
   * How the result is checked (`verificationOf`): `replay` — trained on the engine's `wasm` kernel, every
   * checkpoint segment replays bit for bit (the dispute game bisects to one); `eval` — any backend (GPUs
   * included): the held-out eval loss (the evalSplit records) is committed and a verifier recomputes it
   * within `evalTolerance`. Absent: replay for bases the engine loads (Llama), eval for the others.
   */
  verification: z.enum(["replay", "eval"]).optional(),
  /** eval jobs: the largest |recomputed - claimed| / claimed eval loss accepted (absent: 0.01). */
  evalTolerance: z.number().positive().max(0.5, "must be at most 0.5").optional(),
}).superRefine((s, ctx) => {
  if (s.verification === "eval" && s.evalSplit === 0) {
    ctx.addIssue({ code: "custom", path: ["evalSplit"], message: "must be above 0 for verification eval: the held-out eval loss is what a verifier recomputes" });
  }
  if (s.evalTolerance !== undefined && s.verification === "replay") {
    ctx.addIssue({ code: "custom", path: ["evalTolerance"], message: "applies to verification eval only; a replay job is checked bit for bit" });
  }
});

/** The relative eval-loss tolerance of an eval job that states none. */
export const DEFAULT_EVAL_TOLERANCE = 0.01;

export interface Verification {
  class: "replay" | "eval";
  /** eval: the relative tolerance on the eval loss; replay: null (bit for bit). */
  tolerance: number | null;
  /** false: the spec left it out and the base model decided. */
  explicit: boolean;
}

/**
 * The verification class a job gets: the spec's, else replay when the engine can load the base
 * (`engineLoadable`: a Llama-architecture model), eval otherwise.
 */
export function verificationOf(spec: Pick<JobSpec, "verification" | "evalTolerance">, engineLoadable: boolean): Verification {
  const cls = spec.verification ?? (engineLoadable ? "replay" : "eval");
  return { class: cls, tolerance: cls === "eval" ? (spec.evalTolerance ?? DEFAULT_EVAL_TOLERANCE) : null, explicit: spec.verification !== undefined };
}

/** One line for people: what a class means. */
export function describeVerification(v: Verification | null, spec?: Pick<JobSpec, "verification" | "evalTolerance">): string {
  if (!v) {
    return spec?.verification
      ? describeVerification(verificationOf(spec, spec.verification === "replay"), spec)
      : "replay on Llama bases (engine wasm kernel, bit for bit), eval on others (held-out eval loss within 1%)";
  }
  return v.class === "replay"
    ? `replay (engine wasm kernel, checkpoints replay bit for bit)${v.explicit ? "" : "; by default for this base"}`
    : `eval (any backend; the held-out eval loss is recomputed, tolerance ${+(v.tolerance! * 100).toPrecision(3)}%)${v.explicit ? "" : "; by default for this base"}`;
}

export type Quantization = z.infer<typeof Quantization>;
export type LoraConfig = z.infer<typeof LoraConfig>;
export type TrainingConfig = z.infer<typeof TrainingConfig>;
export type DataRef = z.infer<typeof DataRef>;
export type JobSpec = z.infer<typeof JobSpec>;
/** What a caller writes: every field with a default may be left out. */
export type JobSpecInput = z.input<typeof JobSpec>;
