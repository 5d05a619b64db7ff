#!/usr/bin/env node
/**
 * tributary-engine: fine-tune (LoRA / QLoRA / full), generate, chat and export from the command line.
 *   train    --model DIR --data FILE.jsonl --out DIR [--method lora|qlora|full] [--rank N] [--alpha N] ...
 *   generate --model DIR [--adapter DIR] --prompt TEXT [--max-tokens N] [--temperature T] ...
 *   chat     --model DIR [--adapter DIR ...] [--system TEXT]
 *   export   --model DIR [--adapter DIR] --out DIR --format hf|gguf
 * Every computing command takes --kernel ts|wasm|ort and --threads N.
 */
import { existsSync } from "node:fs";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import { EngineError } from "../src/errors.ts";
import { llamaToGguf, loraToGguf, type LlamaHfConfig, type LoraAdapterConfig } from "../src/export/gguf-llama.ts";
import { generate, generateChat } from "../src/generate/generate.ts";
import { selectKernel } from "../src/select-kernel.ts";
import type { LoraAdapter, Projection } from "../src/lora/adapter.ts";
import { mergeAdapter } from "../src/lora/merge.ts";
import { adapterTensors, loadAdapter, toAdapterConfigJson } from "../src/lora/peft.ts";
import { toHfConfig } from "../src/model/config.ts";
import { loadModel, saveModel } from "../src/model/io.ts";
import { modelTensors } from "../src/model/llama.ts";
import type { LlamaModel } from "../src/model/llama.ts";
import { ChatTokenizer } from "../src/model/tokenizer.ts";
import type { ChatMessage } from "../src/model/tokenizer.ts";
import { parseRecordsJsonl } from "../src/train/data.ts";
import { TOKENIZER_FILES, fineTune } from "../src/train/fine-tune.ts";
import type { SchedulerType } from "../src/train/schedule.ts";

class UsageError extends EngineError {}

const USAGE = `usage: tributary-engine <command> [options]

  train     --model DIR --data FILE.jsonl --out DIR [--method lora|qlora|full] [--rank 8] [--alpha 16]
            [--dropout 0] [--rslora] [--targets q_proj,v_proj] [--lr X] [--epochs 3] [--batch-size 4]
            [--grad-accum 1] [--max-seq-len N] [--scheduler cosine|linear|constant] [--warmup-ratio 0 | --warmup-steps N]
            [--weight-decay 0] [--eval-split 0.1 | --eval-data FILE] [--pack] [--seed 42] [--checkpoint-every N] [--resume]
            (unset: the model's recommended settings from its tributary-model.json, else the values shown)
  generate  --model DIR [--adapter DIR] --prompt TEXT [--max-tokens 128] [--temperature 0] [--top-k 0]
            [--top-p 1] [--seed 0] [--stop TEXT ...]
  chat      --model DIR [--adapter DIR ...] [--system TEXT] [--max-tokens 256] [--temperature 0]
  export    --model DIR [--adapter DIR] --out DIR --format hf|gguf [--dtype f32|bf16]
  common    --kernel ort|wasm|ts (default ort, the fastest; wasm: bit-identical results on every machine
            and thread count, for replayable jobs; ts: the plain reference) --threads N (default: all cores)
`;

const common = {
  model: { type: "string" },
  kernel: { type: "string", default: "ort" },
  threads: { type: "string", default: String(availableParallelism()) },
  help: { type: "boolean", short: "h" },
} as const;

function num(v: string | undefined, name: string, fallback?: number): number {
  if (v === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required`);
    return fallback;
  }
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number`, { value: v });
  return n;
}

function need(v: string | undefined, name: string): string {
  if (!v) throw new UsageError(`--${name} is required`, {}, "Run tributary-engine --help");
  return v;
}

/** Loads the model (dense) and tokenizer on the chosen kernel, runs fn, and releases the kernel. */
interface Recommended {
  lora?: { r?: number; alpha?: number; dropout?: number; targetModules?: string[] };
  training?: { learningRate?: number; epochs?: number; batchSize?: number; maxSeqLength?: number; warmupRatio?: number };
}

/** The recommended settings of the model folder's card (`tributary-model.json`), if it has one. */
async function recommendedSettings(modelDir: string): Promise<Recommended> {
  const file = join(modelDir, "tributary-model.json");
  if (!existsSync(file)) return {};
  try {
    return (JSON.parse(await readFile(file, "utf8")) as { recommended?: Recommended }).recommended ?? {};
  } catch (err) {
    throw new UsageError("the model's tributary-model.json is not valid JSON", { file, error: (err as Error).message }, "Fix or remove the file");
  }
}

async function withModel<T>(values: { model?: string; kernel?: string; threads?: string }, fn: (m: LlamaModel, tok: ChatTokenizer, dir: string) => Promise<T>): Promise<T> {
  const dir = need(values.model, "model");
  const kernel = await selectKernel(values.kernel ?? "ort", num(values.threads, "threads", availableParallelism()));
  try {
    const model = await loadModel(dir, { kernel });
    const tok = await ChatTokenizer.fromDir(dir);
    return await fn(model, tok, dir);
  } finally {
    await kernel.dispose();
  }
}

async function cmdTrain(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...common,
      data: { type: "string" },
      out: { type: "string" },
      method: { type: "string", default: "lora" },
      rank: { type: "string" },
      alpha: { type: "string" },
      dropout: { type: "string" },
      rslora: { type: "boolean" },
      targets: { type: "string" },
      lr: { type: "string" },
      epochs: { type: "string" },
      "batch-size": { type: "string" },
      "grad-accum": { type: "string" },
      "max-seq-len": { type: "string" },
      scheduler: { type: "string" },
      "warmup-ratio": { type: "string" },
      "warmup-steps": { type: "string" },
      "weight-decay": { type: "string" },
      "max-grad-norm": { type: "string" },
      "eval-split": { type: "string" },
      "eval-data": { type: "string" },
      pack: { type: "boolean" },
      seed: { type: "string" },
      "checkpoint-every": { type: "string" },
      resume: { type: "boolean" },
    },
  });
  const method = values.method;
  if (method !== "lora" && method !== "qlora" && method !== "full") throw new UsageError("unknown --method", { method }, "Use lora, qlora or full");
  const dataPath = need(values.data, "data");
  const out = need(values.out, "out");
  const scheduler = (values.scheduler ?? "cosine") as SchedulerType;
  if (!["cosine", "linear", "constant"].includes(scheduler)) throw new UsageError("unknown --scheduler", { scheduler });
  // Unset settings come from the base model's card (tributary-model.json: what works for this model), else
  // the engine's generic defaults.
  const rec = await recommendedSettings(need(values.model, "model"));
  const targets = (values.targets ?? rec.lora?.targetModules?.join(",") ?? "q_proj,v_proj").split(",").map((t) => t.trim()) as Projection[];
  const seed = num(values.seed, "seed", 42);
  const config = {
    lr: values.lr === undefined ? rec.training?.learningRate : num(values.lr, "lr"),
    epochs: num(values.epochs, "epochs", rec.training?.epochs ?? 3),
    batchSize: num(values["batch-size"], "batch-size", rec.training?.batchSize ?? 4),
    gradAccum: num(values["grad-accum"], "grad-accum", 1),
    maxSeqLen: values["max-seq-len"] === undefined ? (rec.training?.maxSeqLength ?? null) : num(values["max-seq-len"], "max-seq-len"),
    scheduler,
    warmupRatio: num(values["warmup-ratio"], "warmup-ratio", values["warmup-steps"] === undefined ? (rec.training?.warmupRatio ?? 0) : 0),
    warmupSteps: values["warmup-steps"] === undefined ? null : num(values["warmup-steps"], "warmup-steps"),
    weightDecay: num(values["weight-decay"], "weight-decay", 0),
    maxGradNorm: num(values["max-grad-norm"], "max-grad-norm", 1),
    seed,
    pack: !!values.pack,
    checkpointEvery: num(values["checkpoint-every"], "checkpoint-every", 0),
    lora: {
      r: num(values.rank, "rank", rec.lora?.r ?? 8),
      alpha: num(values.alpha, "alpha", rec.lora?.alpha ?? 16),
      dropout: num(values.dropout, "dropout", rec.lora?.dropout ?? 0),
      useRslora: !!values.rslora,
      targetModules: targets,
    },
  };
  const records = parseRecordsJsonl(await readFile(dataPath, "utf8"));
  const kernel = await selectKernel(values.kernel ?? "ort", num(values.threads, "threads", availableParallelism()));
  const bar = new cliProgress.SingleBar(
    { format: "train |{bar}| {value}/{total} steps | loss {loss} | lr {lr} | {tps} tok/s | ETA {eta_formatted}", stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  try {
    const { metrics } = await fineTune({
      modelDir: need(values.model, "model"),
      records,
      outDir: out,
      method,
      config,
      evalSplit: num(values["eval-split"], "eval-split", 0.1),
      evalRecords: values["eval-data"] ? parseRecordsJsonl(await readFile(values["eval-data"], "utf8")) : undefined,
      kernel,
      resume: !!values.resume,
      onProgress: (p) => {
        const payload = { loss: p.loss.toFixed(4), lr: p.lr.toExponential(2), tps: p.tokensPerSec.toFixed(0) };
        if (!started) {
          bar.start(p.totalSteps, p.step, payload);
          started = true;
        } else bar.update(p.step, payload);
      },
    });
    if (started) bar.stop();
    started = false;
    const losses = metrics.lossHistory;
    const ev = metrics.evalHistory;
    console.log(
      [
        `${method} fine-tune: ${metrics.steps} steps, ${metrics.tokens} tokens in ${metrics.seconds.toFixed(1)} s (${(metrics.tokens / Math.max(metrics.seconds, 1e-9)).toFixed(0)} tok/s)`,
        losses.length ? `train loss ${losses[0].loss.toFixed(4)} -> ${losses[losses.length - 1].loss.toFixed(4)}` : "no steps run",
        ev.length ? `eval loss ${ev[0].loss.toFixed(4)} -> ${ev[ev.length - 1].loss.toFixed(4)}` : "no eval split",
        `written to ${resolve(out)}`,
      ].join("\n"),
    );
  } finally {
    if (started) bar.stop();
    await kernel.dispose();
  }
}

async function cmdGenerate(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...common,
      adapter: { type: "string" },
      prompt: { type: "string" },
      "max-tokens": { type: "string" },
      temperature: { type: "string" },
      "top-k": { type: "string" },
      "top-p": { type: "string" },
      seed: { type: "string" },
      stop: { type: "string", multiple: true },
    },
  });
  const prompt = need(values.prompt, "prompt");
  await withModel(values, async (model, tok) => {
    const adapter = values.adapter ? await loadAdapter(values.adapter, model.config) : null;
    await generate(model, tok, prompt, {
      adapter,
      maxTokens: num(values["max-tokens"], "max-tokens", 128),
      temperature: num(values.temperature, "temperature", 0),
      topK: num(values["top-k"], "top-k", 0),
      topP: num(values["top-p"], "top-p", 1),
      seed: num(values.seed, "seed", 0),
      stop: values.stop ?? [],
      onText: (d) => process.stdout.write(d),
    });
    if (process.stdout.isTTY) process.stdout.write("\n");
  });
}

async function cmdChat(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...common,
      adapter: { type: "string", multiple: true },
      system: { type: "string" },
      "max-tokens": { type: "string" },
      temperature: { type: "string" },
      seed: { type: "string" },
    },
  });
  await withModel(values, async (model, tok) => {
    const adapters: [string, LoraAdapter | null][] = values.adapter?.length
      ? await Promise.all(values.adapter.map(async (d) => [d, await loadAdapter(d, model.config)] as [string, LoraAdapter]))
      : [["base", null]];
    const histories = adapters.map(() => (values.system ? [{ role: "system", content: values.system }] : []) as ChatMessage[]);
    const rl = createInterface({ input: process.stdin, terminal: process.stdin.isTTY });
    const ask = () => process.stdin.isTTY && process.stderr.write("you> ");
    ask();
    for await (const line of rl) {
      const text = line.trim();
      if (text === "/exit" || text === "/quit") break;
      if (!text) {
        ask();
        continue;
      }
      for (let i = 0; i < adapters.length; i++) {
        const [name, adapter] = adapters[i];
        histories[i].push({ role: "user", content: text });
        if (adapters.length > 1) process.stdout.write(`[${name}] `);
        const r = await generateChat(model, tok, histories[i], {
          adapter,
          maxTokens: num(values["max-tokens"], "max-tokens", 256),
          temperature: num(values.temperature, "temperature", 0),
          seed: num(values.seed, "seed", 0),
          onText: (d) => process.stdout.write(d),
        });
        process.stdout.write("\n");
        histories[i].push({ role: "assistant", content: r.text });
      }
      ask();
    }
    rl.close();
  });
}

async function cmdExport(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { ...common, adapter: { type: "string" }, out: { type: "string" }, format: { type: "string", default: "hf" }, dtype: { type: "string", default: "f32" } },
  });
  const out = need(values.out, "out");
  if (values.dtype !== "f32" && values.dtype !== "bf16") throw new UsageError("unknown --dtype", { dtype: values.dtype }, "Use f32 or bf16");
  await withModel(values, async (model, _tok, modelDir) => {
    const adapter = values.adapter ? await loadAdapter(values.adapter, model.config) : null;
    await mkdir(out, { recursive: true });
    if (values.format === "hf") {
      const merged = adapter ? await mergeAdapter(model, adapter) : model;
      await saveModel(out, merged, { dtype: values.dtype === "bf16" ? "BF16" : "F32" });
      for (const f of TOKENIZER_FILES) if (existsSync(join(modelDir, f))) await copyFile(join(modelDir, f), join(out, f));
      console.log(`merged Hugging Face model written to ${resolve(out)}`);
    } else if (values.format === "gguf") {
      const tokenizer = {
        tokenizerJson: JSON.parse(await readFile(join(modelDir, "tokenizer.json"), "utf8")),
        tokenizerConfig: existsSync(join(modelDir, "tokenizer_config.json")) ? JSON.parse(await readFile(join(modelDir, "tokenizer_config.json"), "utf8")) : {},
      };
      const config = toHfConfig(model.config) as LlamaHfConfig;
      const dtype = values.dtype as "f32" | "bf16";
      const tensors = [...modelTensors(model)].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
      await writeFile(join(out, "model.gguf"), llamaToGguf({ config, tensors, tokenizer, dtype }));
      if (adapter) {
        const at = [...adapterTensors(adapter, model.config)].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
        await writeFile(join(out, "adapter.gguf"), loraToGguf({ config, adapterConfig: toAdapterConfigJson(adapter.config) as LoraAdapterConfig, tensors: at, dtype }));
      }
      console.log(`GGUF written to ${resolve(out)}`);
    } else {
      throw new UsageError("unknown --format", { format: values.format }, "Use hf or gguf");
    }
  });
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  if (!cmd || cmd === "--help" || cmd === "-h" || cmd === "help" || rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(USAGE);
    return;
  }
  const commands: Record<string, (a: string[]) => Promise<void>> = { train: cmdTrain, generate: cmdGenerate, chat: cmdChat, export: cmdExport };
  const run = commands[cmd];
  if (!run) throw new UsageError(`unknown command ${cmd}`, {}, "Run tributary-engine --help");
  await run(rest);
}

main().catch((e: unknown) => {
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`tributary-engine: ${msg}\n`);
  if (process.env.DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  process.exitCode = 1;
});

