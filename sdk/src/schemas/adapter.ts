// The adapter artifact's manifest.json, metrics.json and their parts.
import { z } from "zod";
import { Address, Bytes32, CidString, Sha256, schemaField, Timestamp, Uint256String } from "./common.ts";
import { JobSpec } from "./job-spec.ts";

export const FileEntry = z.object({
  path: z.string().min(1),
  sha256: Sha256,
  size: z.number().int().nonnegative(),
});

/** Everything a verifier needs to replay the training run and compare the adapter hash. */
export const AdapterManifest = z.object({
  schema: schemaField("adapter-manifest"),
  jobId: Uint256String.optional(),
  /** The job spec as trained (with defaults filled in), and where it was read from. */
  spec: JobSpec,
  specCid: CidString.optional(),
  baseModel: z.object({
    id: z.string().min(1),
    cid: CidString.optional(),
    files: z.array(FileEntry).default([]),
  }),
  /** The artifact's files (adapter_model.safetensors, adapter_config.json, metrics.json, attribution.json). */
  files: z.array(FileEntry).min(1, "must list the adapter files"),
  engine: z.object({
    name: z.string().min(1),
    version: z.string().min(1),
    /** Compute kernel (`wasm` is bit-reproducible; `ort`, `torch` are not guaranteed to be). */
    kernel: z.string().min(1),
    threads: z.number().int().positive().optional(),
  }),
  seed: z.number().int().nonnegative(),
  /** The exact training data: per Datanet version, the contributions in training order. */
  data: z.array(z.object({
    datanetId: Uint256String,
    version: z.number().int().positive(),
    contributions: z.array(z.object({
      contributionId: Uint256String,
      contentCid: CidString,
      contentHash: Sha256,
    })),
  })).min(1),
  /** Number of records held out for evaluation (the split itself follows from seed and evalSplit). */
  evalRecords: z.number().int().nonnegative().optional(),
  stats: z.object({
    steps: z.number().int().nonnegative(),
    tokens: z.number().int().nonnegative(),
    durationSeconds: z.number().nonnegative(),
  }).optional(),
  trainer: Address.optional(),
  /** The job's verification class; eval: the held-out eval loss the trainer commits (with its tolerance). */
  verification: z.object({
    class: z.enum(["replay", "eval"]),
    evalLoss: z.number().optional(),
    evalTolerance: z.number().positive().optional(),
  }).optional(),
  /**
   * The run's checkpoints for the dispute game: the checkpoint manifest (`tributary/checkpoint-manifest@1`) and the
   * tree it commits to (root and count as `DisputeGame.commitCheckpoints` got them). Replay jobs carry it.
   */
  checkpoints: z.object({
    manifestCid: CidString,
    root: Bytes32,
    count: z.number().int().min(2).max(1025),
  }).optional(),
  /**
   * The training checkpoints the attribution report was computed over (its *_cp method's evenly spaced pick, newest
   * last), for verifiers of an eval job to recompute the report with the same method: a file set holding
   * `step-NNNNNN/` folders (adapter, optimizer state, trainer_state.json), and their steps. Optional: a run whose
   * attribution reads no checkpoints, or an older trainer, publishes none (its attribution is then not recomputable).
   */
  attributionCheckpoints: z.object({
    cid: CidString,
    steps: z.array(z.number().int().positive()).min(1),
  }).optional(),
  createdAt: Timestamp,
});

export const LossPoint = z.object({
  step: z.number().int().nonnegative(),
  epoch: z.number().nonnegative(),
  loss: z.number(),
  learningRate: z.number().nonnegative().optional(),
  gradNorm: z.number().nonnegative().optional(),
});

export const Metrics = z.object({
  schema: schemaField("metrics"),
  lossCurve: z.array(LossPoint),
  eval: z.object({
    loss: z.number(),
    perplexity: z.number().positive(),
    samples: z.number().int().nonnegative(),
    /** Eval loss measured at checkpoints during training. */
    curve: z.array(z.object({ step: z.number().int().nonnegative(), loss: z.number() })).default([]),
    /** Eval loss of the base model before training, for comparison. */
    baseLoss: z.number().optional(),
  }),
  tokens: z.number().int().nonnegative(),
  durationSeconds: z.number().nonnegative(),
  tokensPerSecond: z.number().nonnegative(),
});

export type FileEntry = z.infer<typeof FileEntry>;
export type AdapterManifest = z.infer<typeof AdapterManifest>;
export type LossPoint = z.infer<typeof LossPoint>;
export type Metrics = z.infer<typeof Metrics>;
