/**
 * The torch backend behind the engine's `fineTune` signature: the same records, eval records, output folder,
 * resume and progress callback, trained by the torch worker; the result is the engine's metrics.json shape.
 * So the job pipeline (and the offline `train` command) choose a backend by choosing the function.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { FineTuneMetrics, FineTuneOptions, TrainingRecord, TrainProgress } from "@tributary/engine";
import type { TrainSpec } from "./torch-protocol.ts";
import type { Hello, Started } from "./torch-protocol.ts";
import { runTorchTraining } from "./torch-worker.ts";

export interface TorchFineTuneOptions extends Omit<FineTuneOptions, "kernel" | "config" | "method"> {
  method: "lora" | "qlora";
  /** The job spec's objects; LoRA targets may be any linear module names, or ["all-linear"]. */
  spec: Omit<TrainSpec, "method">;
  checkpointEvery?: number;
  /** Processes (torchrun); 1 runs a plain worker. */
  nproc?: number;
  /** How several processes share the work: DDP (replicas) or FSDP (sharded base and adapter). */
  distributed?: "ddp" | "fsdp";
  precision?: "auto" | "fp32" | "bf16" | "fp16";
  gradientCheckpointing?: boolean;
  device?: "auto" | "cpu" | "cuda";
  threads?: number;
  python?: string;
  onHello?: (h: Hello) => void;
  onStarted?: (s: Started) => void;
  onStderr?: (line: string) => void;
}

/** The job spec's training objects from the engine's training options (what the pipeline computes). */
export function specFromEngineConfig(c: NonNullable<FineTuneOptions["config"]>, seed = 42): Omit<TrainSpec, "method"> {
  return {
    lora: { r: c.lora?.r ?? 8, alpha: c.lora?.alpha ?? 16, dropout: c.lora?.dropout ?? 0.05, targetModules: c.lora?.targetModules ?? ["q_proj", "v_proj"], rslora: c.lora?.useRslora ?? false },
    training: {
      learningRate: c.lr ?? 2e-4,
      epochs: c.epochs ?? 3,
      batchSize: c.batchSize ?? 4,
      gradientAccumulation: c.gradAccum ?? 1,
      maxSeqLength: c.maxSeqLen ?? 1024,
      scheduler: c.scheduler ?? "cosine",
      warmupRatio: c.warmupRatio ?? 0.1,
      weightDecay: c.weightDecay ?? 0,
      maxGradNorm: c.maxGradNorm ?? 1,
      seed: c.seed ?? seed,
    },
  };
}

const toJsonl = (records: TrainingRecord[]) => records.map((r) => JSON.stringify(r)).join("\n") + "\n";

export async function torchFineTune(o: TorchFineTuneOptions): Promise<{ metrics: FineTuneMetrics }> {
  if (o.evalSplit !== undefined && !o.evalRecords) throw new Error("torchFineTune takes the eval records (evalRecords), not a split: split with the engine's splitEval first");
  const dataDir = join(o.outDir, "torch-data");
  await mkdir(dataDir, { recursive: true });
  await writeFile(join(dataDir, "train.jsonl"), toJsonl(o.records), { mode: 0o600 });
  const evalFile = o.evalRecords?.length ? join(dataDir, "eval.jsonl") : undefined;
  if (evalFile) await writeFile(evalFile, toJsonl(o.evalRecords!), { mode: 0o600 });
  const done = await runTorchTraining(
    {
      type: "train",
      spec: { method: o.method, ...o.spec },
      model_dir: o.modelDir,
      train_file: join(dataDir, "train.jsonl"),
      ...(evalFile ? { eval_file: evalFile } : {}),
      out_dir: o.outDir,
      resume: o.resume ?? false,
      checkpoint_every: o.checkpointEvery ?? 10,
      precision: o.precision ?? "auto",
      gradient_checkpointing: o.gradientCheckpointing ?? false,
      device: o.device ?? "auto",
      distributed: o.distributed ?? "ddp",
      ...(o.threads ? { threads: o.threads } : {}),
    },
    {
      nproc: o.nproc,
      python: o.python,
      signal: o.signal,
      onHello: o.onHello,
      onStarted: o.onStarted,
      onStderr: o.onStderr,
      onProgress: (p) => o.onProgress?.(toTrainProgress(p)),
    },
  );
  if (done.stopped) {
    return { metrics: { stopped: true, steps: done.step } as FineTuneMetrics };
  }
  return { metrics: JSON.parse(await readFile(join(o.outDir, "metrics.json"), "utf8")) as FineTuneMetrics };
}

/** A worker progress message as the engine's progress report (what the job store and its SSE carry). */
export function toTrainProgress(p: { step: number; total_steps: number; loss: number; lr: number; grad_norm: number; tokens_per_s: number; eta_s: number; gpu_mem: number | null; eval_loss?: number }): TrainProgress & { gpuMemBytes?: number } {
  return {
    step: p.step,
    totalSteps: p.total_steps,
    loss: p.loss,
    lr: p.lr,
    gradNorm: p.grad_norm,
    tokensPerSec: p.tokens_per_s,
    etaSec: p.eta_s,
    ...(p.eval_loss !== undefined ? { evalLoss: p.eval_loss } : {}),
    ...(p.gpu_mem !== null ? { gpuMemBytes: p.gpu_mem } : {}),
  };
}

/**
 * The engine's `fineTune` call, trained by the torch worker: the job pipeline's backend hook. The engine
 * options map onto the job spec's objects; `kernel` does not apply; checkpoints every `checkpointEvery`.
 */
export function fineTuneWithTorch(o: FineTuneOptions): Promise<{ metrics: FineTuneMetrics }> {
  if (o.method === "full") throw new Error("the torch backend trains adapters (lora, qlora), not full fine-tuning");
  const { kernel: _kernel, config = {}, method, ...rest } = o;
  return torchFineTune({ ...rest, method, spec: specFromEngineConfig(config), checkpointEvery: config.checkpointEvery ?? 10 });
}
