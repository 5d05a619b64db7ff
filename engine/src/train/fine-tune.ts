/**
 * One call from a Hugging Face model directory and records to a written artifact: load (NF4 for
 * QLoRA), tokenize with the chat template, split off eval, train, then write the PEFT adapter (or
 * the full model with its tokenizer files) and `metrics.json` into `outDir`. Checkpoints go to
 * `outDir/checkpoints` when `config.checkpointEvery` > 0; `resume` continues from the newest one.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import type { Kernel } from "../kernels/kernel.ts";
import type { LoraConfig } from "../lora/adapter.ts";
import { saveAdapter } from "../lora/peft.ts";
import { loadModel, saveModel } from "../model/io.ts";
import { ChatTokenizer } from "../model/tokenizer.ts";
import { encodeRecord, splitEval } from "./data.ts";
import type { TrainingRecord } from "./data.ts";
import { train, trainConfig } from "./trainer.ts";
import type { InRunHooks, TrainConfig, TrainOptions, TrainProgress, TrainResult } from "./trainer.ts";

export const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json", "generation_config.json"];

export interface FineTuneOptions {
  modelDir: string;
  records: TrainingRecord[];
  outDir: string;
  method: "lora" | "qlora" | "full";
  config?: Partial<Omit<TrainConfig, "lora" | "method">> & { lora?: Partial<LoraConfig> };
  /** Fraction of the records held out for eval loss (default 0.1; 0 for none). Ignored with evalRecords. */
  evalSplit?: number;
  /** A separate eval set instead of a split. */
  evalRecords?: TrainingRecord[];
  kernel?: Kernel;
  resume?: boolean;
  onProgress?: (p: TrainProgress) => void;
  signal?: AbortSignal;
  /** In-run hooks (training-time attribution), passed to `train`. */
  inRun?: InRunHooks;
  /** Passed to `train` (called after every optimizer step; see TrainOptions.afterStep). */
  afterStep?: TrainOptions["afterStep"];
}

export interface FineTuneMetrics {
  method: FineTuneOptions["method"];
  steps: number;
  totalSteps: number;
  stopped: boolean;
  tokens: number;
  seconds: number;
  trainExamples: number;
  evalExamples: number;
  lossHistory: TrainResult["lossHistory"];
  evalHistory: TrainResult["evalHistory"];
  config: TrainConfig;
  /** What a replay needs to reproduce the bytes: engine version, kernel, and the artifact's hash. */
  engineVersion: string;
  kernel: string;
  /** sha256 of adapter_model.safetensors (LoRA) or model.safetensors (full). */
  sha256: string;
}

/** The training configuration `fineTune` runs for these options (a replay builds the same one). */
export function fineTuneConfig(o: Pick<FineTuneOptions, "config" | "method" | "modelDir">): TrainConfig {
  return trainConfig({
    ...o.config,
    method: o.method === "full" ? "full" : "lora",
    lora: { baseModelNameOrPath: o.modelDir, ...o.config?.lora },
  });
}

export async function fineTune(o: FineTuneOptions): Promise<{ result: TrainResult; metrics: FineTuneMetrics }> {
  const model = await loadModel(o.modelDir, { kernel: o.kernel, quantize: o.method === "qlora" ? "nf4" : null });
  const tok = await ChatTokenizer.fromDir(o.modelDir);
  const config = fineTuneConfig(o);
  const encoded = o.records.map((r) => encodeRecord(tok, r));
  const split = o.evalRecords ? { train: encoded, eval: o.evalRecords.map((r) => encodeRecord(tok, r)) } : splitEval(encoded, o.evalSplit ?? 0.1, config.seed);
  const result = await train({
    model,
    train: split.train,
    eval: split.eval,
    config,
    checkpointDir: join(o.outDir, "checkpoints"),
    resume: o.resume,
    onProgress: o.onProgress,
    signal: o.signal,
    inRun: o.inRun,
    afterStep: o.afterStep,
  });
  await mkdir(o.outDir, { recursive: true });
  let weightsFile = "model.safetensors";
  if (result.adapter) {
    await saveAdapter(o.outDir, result.adapter, { model: model.config });
    weightsFile = "adapter_model.safetensors";
  } else {
    await saveModel(o.outDir, model);
    for (const f of TOKENIZER_FILES) if (existsSync(join(o.modelDir, f))) await copyFile(join(o.modelDir, f), join(o.outDir, f));
  }
  const metrics: FineTuneMetrics = {
    method: o.method,
    steps: result.steps,
    totalSteps: result.totalSteps,
    stopped: result.stopped,
    tokens: result.tokens,
    seconds: result.seconds,
    trainExamples: split.train.length,
    evalExamples: split.eval.length,
    lossHistory: result.lossHistory,
    evalHistory: result.evalHistory,
    config,
    engineVersion: pkg.version,
    kernel: model.kernel.name,
    sha256: createHash("sha256").update(await readFile(join(o.outDir, weightsFile))).digest("hex"),
  };
  await writeFile(join(o.outDir, "metrics.json"), JSON.stringify(metrics, null, 1) + "\n");
  return { result, metrics };
}
