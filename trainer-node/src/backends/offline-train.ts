/**
 * `tributary-trainer train`: trains a records file on a local model with no chain, no IPFS and no custodian,
 * on either backend, so an operator can check a machine and a model before staking. The eval split is the
 * node's (the engine's seeded splitEval), the output is what a job's training writes: the PEFT adapter and
 * metrics.json, checkpoints under <out>/checkpoints (a rerun with the same options resumes from the newest).
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fineTune, parseRecordsJsonl, selectKernel, splitEval } from "@tributary/engine";
import type { FineTuneMetrics, TrainProgress } from "@tributary/engine";
import { torchFineTune } from "./torch-fine-tune.ts";

export const TRAIN_HELP = `tributary-trainer train: fine-tune a local model on a records file, with no chain.

  --backend engine|torch   (default engine) engine: the TypeScript CPU engine (Llama models); torch: the
                           PyTorch worker (any transformers causal LM; CUDA when present)
  --model DIR              a Hugging Face model folder with its tokenizer
  --data FILE.jsonl        records: {"messages":[...]}, {"prompt","completion"} or {"text"}
  --out DIR                adapter_model.safetensors, adapter_config.json, metrics.json, checkpoints/
  --method lora|qlora      (default lora)
  --rank N --alpha X --dropout X  (defaults 8, 16, 0.05)
  --targets a,b,...        LoRA target modules (default q_proj,v_proj; torch also all-linear)
  --epochs N --lr X --batch-size N --grad-accum N --seed N
  --max-seq-len N          (default 1024, or the model's context where shorter)
  --scheduler cosine|linear|constant --warmup-ratio X (defaults cosine, 0.1)
  --eval-split X           share of records held out for the eval loss (default 0.1)
  --checkpoint-every N     optimizer steps (default 10)
  --threads N
  engine only: --kernel wasm|ort (default wasm)
  torch only:  --nproc N (torchrun processes), --distributed ddp|fsdp (default ddp; fsdp shards the base and the
               adapter between the processes, FSDP2), --precision auto|fp32|bf16|fp16,
               --gradient-checkpointing, --device auto|cpu|cuda
  --json                   one JSON line per event on stdout (started, progress, done)

Example:
  npx tributary-trainer train --backend torch --model ./my-model --data qa.jsonl --out ./adapter --targets all-linear`;

export class UsageError extends Error {}

function num(v: string | undefined, name: string, def: number, int = false): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || (int && !Number.isInteger(n)) || n < 0) throw new UsageError(`${name} must be a ${int ? "whole " : ""}non-negative number, got ${v}`);
  return n;
}

/** The job spec's default (1024 tokens), or the model's context where that is shorter. */
async function defaultMaxSeqLen(modelDir: string): Promise<number> {
  const file = join(modelDir, "config.json");
  if (!existsSync(file)) throw new UsageError(`--model ${modelDir} is not a model folder (no config.json)`);
  const c = JSON.parse(await readFile(file, "utf8")) as { max_position_embeddings?: number };
  return Math.min(1024, c.max_position_embeddings ?? 1024);
}

export async function offlineTrain(argv: string[], out: (line: string) => void = console.log, signal?: AbortSignal): Promise<FineTuneMetrics> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      backend: { type: "string" }, model: { type: "string" }, data: { type: "string" }, out: { type: "string" },
      method: { type: "string" }, rank: { type: "string" }, alpha: { type: "string" }, dropout: { type: "string" },
      targets: { type: "string" }, epochs: { type: "string" }, lr: { type: "string" }, "batch-size": { type: "string" },
      "grad-accum": { type: "string" }, "max-seq-len": { type: "string" }, seed: { type: "string" },
      scheduler: { type: "string" }, "warmup-ratio": { type: "string" }, "eval-split": { type: "string" },
      "checkpoint-every": { type: "string" }, threads: { type: "string" }, kernel: { type: "string" },
      nproc: { type: "string" }, precision: { type: "string" }, "gradient-checkpointing": { type: "boolean" },
      device: { type: "string" }, distributed: { type: "string" }, json: { type: "boolean" },
    },
  });
  const backend = v.backend ?? "engine";
  if (backend !== "engine" && backend !== "torch") throw new UsageError(`--backend must be engine or torch, got ${backend}`);
  for (const k of ["model", "data", "out"] as const) if (!v[k]) throw new UsageError(`--${k} is required`);
  const method = v.method ?? "lora";
  if (method !== "lora" && method !== "qlora") throw new UsageError(`--method must be lora or qlora, got ${method}`);
  const scheduler = v.scheduler ?? "cosine";
  if (!["cosine", "linear", "constant"].includes(scheduler)) throw new UsageError(`--scheduler must be cosine, linear or constant, got ${scheduler}`);
  const targets = (v.targets ?? "q_proj,v_proj").split(",").map((s) => s.trim()).filter(Boolean);
  const records = parseRecordsJsonl(await readFile(v.data!, "utf8"));
  const seed = num(v.seed, "--seed", 42, true);
  const { train, eval: evalRecords } = splitEval(records, num(v["eval-split"], "--eval-split", 0.1), seed);
  const threads = v.threads === undefined ? undefined : num(v.threads, "--threads", 1, true);
  const common = {
    lr: num(v.lr, "--lr", 2e-4),
    epochs: num(v.epochs, "--epochs", 3),
    batchSize: num(v["batch-size"], "--batch-size", 4, true),
    gradAccum: num(v["grad-accum"], "--grad-accum", 1, true),
    maxSeqLen: num(v["max-seq-len"], "--max-seq-len", await defaultMaxSeqLen(v.model!), true),
    scheduler: scheduler as "cosine" | "linear" | "constant",
    warmupRatio: num(v["warmup-ratio"], "--warmup-ratio", 0.1),
    maxGradNorm: 1,
    weightDecay: 0,
    seed,
  };
  const lora = { r: num(v.rank, "--rank", 8, true), alpha: num(v.alpha, "--alpha", 16), dropout: num(v.dropout, "--dropout", 0.05) };
  const checkpointEvery = num(v["checkpoint-every"], "--checkpoint-every", 10, true);
  const print = (event: Record<string, unknown>, text: string) => out(v.json ? JSON.stringify(event) : text);
  const onProgress = (p: TrainProgress & { gpuMemBytes?: number }) =>
    print({ type: "progress", ...p }, `step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(4)} lr ${p.lr.toExponential(2)} ${p.tokensPerSec.toFixed(0)} tok/s eta ${p.etaSec.toFixed(0)} s${p.evalLoss !== undefined ? ` eval ${p.evalLoss.toFixed(4)}` : ""}${p.gpuMemBytes ? ` gpu ${(p.gpuMemBytes / 2 ** 30).toFixed(2)} GiB` : ""}`);

  let metrics: FineTuneMetrics;
  if (backend === "engine") {
    if (v.nproc || v.precision || v.device || v.distributed || v["gradient-checkpointing"]) throw new UsageError("--nproc, --distributed, --precision, --device and --gradient-checkpointing are torch backend options");
    const kernel = await selectKernel((v.kernel ?? "wasm") as "wasm" | "ort", threads ?? 1);
    try {
      print({ type: "started", backend, train: train.length, eval: evalRecords.length }, `engine (${kernel.name}): ${train.length} training records, ${evalRecords.length} eval`);
      ({ metrics } = await fineTune({
        modelDir: v.model!, records: train, evalRecords, outDir: v.out!, method, kernel, resume: true, onProgress, signal,
        config: { ...common, checkpointEvery, lora: { ...lora, targetModules: targets as never } },
      }));
    } finally {
      await kernel.dispose();
    }
  } else {
    if (v.kernel) throw new UsageError("--kernel is an engine backend option");
    const precision = v.precision ?? "auto";
    if (!["auto", "fp32", "bf16", "fp16"].includes(precision)) throw new UsageError(`--precision must be auto, fp32, bf16 or fp16, got ${precision}`);
    const device = v.device ?? "auto";
    if (!["auto", "cpu", "cuda"].includes(device)) throw new UsageError(`--device must be auto, cpu or cuda, got ${device}`);
    const distributed = v.distributed ?? "ddp";
    if (distributed !== "ddp" && distributed !== "fsdp") throw new UsageError(`--distributed must be ddp or fsdp, got ${distributed}`);
    ({ metrics } = await torchFineTune({
      modelDir: v.model!, records: train, evalRecords, outDir: v.out!, method, resume: true, onProgress, signal, checkpointEvery,
      spec: {
        lora: { ...lora, targetModules: targets, rslora: false },
        training: { learningRate: common.lr, epochs: common.epochs, batchSize: common.batchSize, gradientAccumulation: common.gradAccum, maxSeqLength: common.maxSeqLen, scheduler: common.scheduler, warmupRatio: common.warmupRatio, weightDecay: 0, maxGradNorm: 1, seed },
      },
      nproc: num(v.nproc, "--nproc", 1, true),
      distributed,
      precision: precision as "auto", device: device as "auto", gradientCheckpointing: v["gradient-checkpointing"], threads,
      onHello: (h) => print(h, `torch worker: torch ${h.versions.torch}, transformers ${h.versions.transformers}, peft ${h.versions.peft}; ${h.devices.map((d) => `${d.type} ${d.name}`).join(", ")}`),
      onStarted: (s) => print({ ...s, backend }, `torch on ${s.device} (${s.precision}${s.world_size > 1 ? `, ${s.world_size} processes` : ""}): ${s.train_examples} training examples, ${s.eval_examples} eval; ${s.resumed_from ? `resuming at step ${s.start_step} from ${s.resumed_from}` : `${s.total_steps} steps`}`),
    }));
  }
  print({ type: "done", backend, steps: metrics.steps, stopped: metrics.stopped, tokens: metrics.tokens, seconds: metrics.seconds, sha256: metrics.sha256, out: v.out },
    metrics.stopped ? `stopped at step ${metrics.steps}; rerun the same command to resume` : `trained ${metrics.steps} steps, ${metrics.tokens} tokens in ${metrics.seconds.toFixed(1)} s; adapter in ${v.out} (sha256 ${metrics.sha256})`);
  return metrics;
}
