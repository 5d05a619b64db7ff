// Makes the project's own small base model, deterministically from a seed (engine/docs/base-model.md):
//
//   corpus (Austen, Debian r-cran-janeaustenr) -> byte-level BPE tokenizer (4096) -> Llama config
//   (~3.8M parameters, tied embeddings, GQA) -> pretraining with the engine's full fine-tuning mode
//   -> eval loss -> bf16 safetensors + tokenizer + chat template (+ f16 GGUF) in HF layout.
//
//   node engine/scripts/make-base-model.ts [--prepare-only | --smoke] [--epochs N] [--kernel wasm|ort|ts]
//                                         [--threads N] [--cache DIR] [--no-gguf]
//                                         [--trainer engine|torch] [--steps N | --time-budget S] [--install]
//
// `--trainer engine` (the default) pretrains with the engine's wasm kernel: bit-identical on any machine,
// but slow on a CPU (hours). `--trainer torch` is the fast path: the same corpus, tokenizer, records and
// config, trained by PyTorch (scripts/pretrain_torch.py in the venv of scripts/python-venv.sh) for
// `--steps N` steps or as many as fit in `--time-budget S` seconds; the best-eval weights are kept.
// `--install` (torch path) copies the result, without GGUF, into engine/models/<name>/ to be committed.
//
// Output: <cache>/base-model/<name>/ (default cache: <repo>/.tributary/cache). Training checkpoints go
// to <cache>/base-model/<name>.work/checkpoints and an interrupted run resumes from the newest one.
// `--prepare-only` runs every step up to training (corpus, tokenizer, records, config) and stops;
// `--smoke` runs all steps on a tiny model and a slice of the data (into <name>-smoke/), in minutes.
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "@huggingface/tokenizers";
import { buildCorpus, defaultCacheDir, type CorpusManifest } from "./corpus.ts";
import { chunkDocument } from "./base-model/chunk.ts";
import { BOS, EOS, PAD, trainBaseTokenizer, writeTokenizerFiles } from "./tokenizer/base-tokenizer.ts";
import { llamaToGguf, type HfTokenizerFiles, type LlamaHfConfig } from "../src/export/gguf-llama.ts";

export type BaseModelRecipe = {
  name: string;
  seed: number;
  tokenizer: { vocabSize: number };
  model: {
    vocabSize: number;
    hiddenSize: number;
    intermediateSize: number;
    numLayers: number;
    numHeads: number;
    numKvHeads: number;
    headDim: number;
    rmsNormEps: number;
    ropeTheta: number;
    tieWordEmbeddings: boolean;
    maxPositionEmbeddings: number;
  };
  init: { std: number };
  data: { seqLen: number; maxRecords?: number };
  training: {
    method: "full";
    lr: number;
    epochs: number;
    batchSize: number;
    gradAccum: number;
    scheduler: "cosine" | "linear" | "constant";
    warmupSteps: number;
    warmupRatio: number;
    weightDecay: number;
    maxGradNorm: number;
    pack: boolean;
    evalEvery: number;
    checkpointEvery: number;
  };
  /** The engine kernel that trains: "wasm" is bit-identical on every machine and thread count. */
  kernel: { name: "wasm" | "ort" | "ts"; threads: number };
  output: { dtype: "BF16" | "F32" };
  samplePrompts: string[];
};

/** Everything that determines the model. Changing any value changes the artifact. */
export const BASE_MODEL_RECIPE: BaseModelRecipe = {
  name: "tributary-austen-4m",
  seed: 1234,
  tokenizer: { vocabSize: 4096 },
  model: {
    vocabSize: 4096,
    hiddenSize: 256,
    intermediateSize: 640,
    numLayers: 4,
    numHeads: 8,
    numKvHeads: 4,
    headDim: 32,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    tieWordEmbeddings: true,
    maxPositionEmbeddings: 512,
  },
  init: { std: 0.02 },
  /** records of at most seqLen - 2 tokens (room for BOS and EOS), packed into rows of seqLen */
  data: { seqLen: 256 },
  training: {
    method: "full",
    lr: 2e-3,
    epochs: 3,
    batchSize: 16,
    gradAccum: 1,
    scheduler: "cosine",
    warmupSteps: 100,
    warmupRatio: 0,
    weightDecay: 0.1,
    maxGradNorm: 1,
    pack: true,
    evalEvery: 100,
    checkpointEvery: 100,
  },
  kernel: { name: "wasm", threads: 2 },
  output: { dtype: "BF16" },
  samplePrompts: ["It was a fine morning, and", "\"My dear sister,\" said she,", "Mr. Darcy"],
};

/** Where the built model is committed (bf16, under 8 MB): engine/models/<name>/. */
export const COMMITTED_BASE_MODEL_DIR = fileURLToPath(new URL(`../models/${BASE_MODEL_RECIPE.name}/`, import.meta.url));

/** The files `--install` copies into COMMITTED_BASE_MODEL_DIR (README.md there is the hand-written model card). */
export const INSTALLED_FILES = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "recipe.json"];

/**
 * A minutes-not-hours variant that runs every step of the recipe end to end on a tiny model and a
 * slice of the data (`--smoke`): a check of the pipeline, not a usable model.
 */
export function smokeRecipe(r: BaseModelRecipe = BASE_MODEL_RECIPE): BaseModelRecipe {
  return {
    ...r,
    name: `${r.name}-smoke`,
    model: { ...r.model, hiddenSize: 64, intermediateSize: 160, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16 },
    data: { seqLen: 64, maxRecords: 48 },
    training: { ...r.training, epochs: 1, batchSize: 4, warmupSteps: 2, evalEvery: 0, checkpointEvery: 0 },
    samplePrompts: r.samplePrompts.slice(0, 1),
  };
}

export class BaseModelError extends Error {
  constructor(message: string, details: string, next: string) {
    super(`${message}: ${details}. ${next}`);
    this.name = "BaseModelError";
  }
}

const sha256 = (b: string | Uint8Array) => createHash("sha256").update(b).digest("hex");

/** The engine functions this recipe trains with (engine/src/index.ts, written by the engine core). */
const ENGINE_EXPORTS = ["llamaConfig", "initModel", "train", "trainConfig", "evaluate", "saveModel", "ChatTokenizer", "encodeRecord"] as const;
type EngineApi = Record<(typeof ENGINE_EXPORTS)[number], any> & Record<string, any>;

/** Loads the engine's trainer, or says plainly which of its exports are not there yet. */
export async function loadEngineTrainer(): Promise<{ engine: EngineApi } | { missing: string[] }> {
  const engine = (await import("../src/index.ts")) as Record<string, unknown>;
  const missing = ENGINE_EXPORTS.filter((name) => typeof engine[name] !== "function");
  return missing.length ? { missing } : { engine: engine as EngineApi };
}

export type Prepared = {
  recipe: BaseModelRecipe;
  dir: string;
  workDir: string;
  corpus: CorpusManifest;
  tokenizerFiles: HfTokenizerFiles;
  hfConfig: LlamaHfConfig & Record<string, unknown>;
  trainRecords: { text: string }[];
  evalRecords: { text: string }[];
  params: number;
};

function parameterCount(m: BaseModelRecipe["model"]): number {
  const d = m.hiddenSize, q = m.numHeads * m.headDim, kv = m.numKvHeads * m.headDim;
  const perLayer = d * q * 2 + d * kv * 2 + 3 * d * m.intermediateSize + 2 * d;
  return m.vocabSize * d * (m.tieWordEmbeddings ? 1 : 2) + m.numLayers * perLayer + d;
}

/** Steps 1-3: corpus, tokenizer, pretraining records and config. Cheap (seconds). */
export function prepareBaseModel(options: { recipe?: BaseModelRecipe; cacheDir?: string; log?: (s: string) => void } = {}): Prepared {
  const log = options.log ?? (() => {});
  const r = options.recipe ?? BASE_MODEL_RECIPE;
  const cacheDir = options.cacheDir ?? defaultCacheDir;
  const dir = join(cacheDir, "base-model", r.name);
  const workDir = join(cacheDir, "base-model", `${r.name}.work`);
  mkdirSync(workDir, { recursive: true });

  const corpus = buildCorpus({ cacheDir });
  log(`corpus: ${corpus.manifest.train.chars} train chars, ${corpus.manifest.eval.chars} eval chars (sha256 ${corpus.manifest.train.sha256.slice(0, 12)})`);

  const trainText = readFileSync(corpus.trainTxt, "utf8");
  const trained = trainBaseTokenizer(trainText.split(/\n\n+/), { vocabSize: r.tokenizer.vocabSize, modelMaxLength: r.model.maxPositionEmbeddings });
  if (trained.model.vocab.size !== r.model.vocabSize) {
    throw new BaseModelError("tokenizer has the wrong size", `${trained.model.vocab.size} tokens, recipe says ${r.model.vocabSize}`, "The corpus is too small for this vocabulary");
  }
  const tokDir = join(workDir, "tokenizer");
  writeTokenizerFiles(tokDir, trained);
  const tokenizerFiles = JSON.parse(JSON.stringify({ tokenizerJson: trained.tokenizerJson, tokenizerConfig: trained.tokenizerConfig })) as HfTokenizerFiles;
  log(`tokenizer: ${trained.model.vocab.size} tokens, ${trained.model.merges.length} merges, sha256 ${sha256(readFileSync(join(tokDir, "tokenizer.json"))).slice(0, 12)}`);

  const tok = new Tokenizer(tokenizerFiles.tokenizerJson as object, tokenizerFiles.tokenizerConfig as object);
  const count = (s: string) => tok.encode(s, { add_special_tokens: false }).ids.length;
  const budget = r.data.seqLen - 2;
  const records = (txt: string, limit: number) => {
    const out: { text: string }[] = [];
    for (const chapter of txt.split(/\n\n\n+/)) {
      if (out.length >= limit) break;
      for (const text of chunkDocument(chapter, budget, count)) out.push({ text });
    }
    return out.slice(0, limit);
  };
  const limit = r.data.maxRecords ?? Infinity;
  const trainRecords = records(trainText, limit);
  const evalRecords = records(readFileSync(corpus.evalTxt, "utf8"), Math.max(4, Math.floor(limit / 4)));
  writeFileSync(join(workDir, "train.jsonl"), trainRecords.map((x) => JSON.stringify(x)).join("\n") + "\n");
  writeFileSync(join(workDir, "eval.jsonl"), evalRecords.map((x) => JSON.stringify(x)).join("\n") + "\n");
  log(`records: ${trainRecords.length} train, ${evalRecords.length} eval (at most ${budget} tokens each)`);

  const m = r.model;
  const hfConfig = {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    vocab_size: m.vocabSize,
    hidden_size: m.hiddenSize,
    intermediate_size: m.intermediateSize,
    num_hidden_layers: m.numLayers,
    num_attention_heads: m.numHeads,
    num_key_value_heads: m.numKvHeads,
    head_dim: m.headDim,
    hidden_act: "silu",
    rms_norm_eps: m.rmsNormEps,
    rope_theta: m.ropeTheta,
    tie_word_embeddings: m.tieWordEmbeddings,
    max_position_embeddings: m.maxPositionEmbeddings,
    bos_token_id: trained.model.vocab.get(BOS)!,
    eos_token_id: trained.model.vocab.get(EOS)!,
    pad_token_id: trained.model.vocab.get(PAD)!,
    attention_bias: false,
    mlp_bias: false,
  };
  writeFileSync(join(workDir, "config.json"), JSON.stringify(hfConfig, null, 2) + "\n");
  const params = parameterCount(m);
  log(`model: ${(params / 1e6).toFixed(2)}M parameters (${m.numLayers} layers, hidden ${m.hiddenSize}, ${m.numHeads} heads / ${m.numKvHeads} KV, ffn ${m.intermediateSize}, tied)`);
  return { recipe: r, dir, workDir, corpus: corpus.manifest, tokenizerFiles, hfConfig, trainRecords, evalRecords, params };
}

/** Steps 4-6: pretrain with the engine's full fine-tuning, evaluate, save bf16 (and GGUF). */
export async function trainBaseModel(p: Prepared, engine: EngineApi, options: { epochs?: number; gguf?: boolean; log?: (s: string) => void } = {}): Promise<Record<string, unknown>> {
  const log = options.log ?? (() => {});
  const r = p.recipe;
  const tokenizer = new engine.ChatTokenizer(p.tokenizerFiles.tokenizerJson, p.tokenizerFiles.tokenizerConfig);
  const config = engine.llamaConfig({ ...r.model, bosTokenId: p.hfConfig.bos_token_id, eosTokenIds: [p.hfConfig.eos_token_id] });
  let kernel: { dispose?: () => Promise<void> } | undefined;
  if (r.kernel.name !== "ts") {
    if (typeof engine.selectKernel !== "function") {
      throw new BaseModelError("the engine cannot select kernels", `kernel ${r.kernel.name} requested`, "Merge the engine kernels, or pass --kernel ts (slow)");
    }
    kernel = await engine.selectKernel(r.kernel.name, r.kernel.threads);
  }
  log(`kernel: ${r.kernel.name} x ${r.kernel.threads} thread(s)`);
  try {
    return await pretrain(p, engine, tokenizer, config, kernel, options, log);
  } finally {
    await kernel?.dispose?.();
  }
}

async function pretrain(p: Prepared, engine: EngineApi, tokenizer: any, config: unknown, kernel: unknown, options: { epochs?: number; gguf?: boolean }, log: (s: string) => void): Promise<Record<string, unknown>> {
  const r = p.recipe;
  const model = engine.initModel(config, { seed: r.seed, std: r.init.std, ...(kernel ? { kernel } : {}) });
  const train = p.trainRecords.map((x) => engine.encodeRecord(tokenizer, x));
  const evalSet = p.evalRecords.map((x) => engine.encodeRecord(tokenizer, x));
  const tokens = train.reduce((s: number, e: { ids: number[] }) => s + e.ids.length, 0);
  log(`pretraining on ${tokens} tokens x ${options.epochs ?? r.training.epochs} epochs`);
  const evalBefore = await engine.evaluate(model, evalSet, { maxSeqLen: r.data.seqLen });
  const started = performance.now();
  const result = await engine.train({
    model,
    train,
    eval: evalSet,
    config: engine.trainConfig({ ...r.training, maxSeqLen: r.data.seqLen, seed: r.seed, epochs: options.epochs ?? r.training.epochs }),
    checkpointDir: join(p.workDir, "checkpoints"),
    resume: true,
    onProgress: (s: { step: number; totalSteps: number; loss: number; lr: number; tokensPerSec: number; etaSec: number; evalLoss?: number }) =>
      log(`step ${s.step}/${s.totalSteps} loss ${s.loss.toFixed(4)} lr ${s.lr.toExponential(2)} ${Math.round(s.tokensPerSec)} tok/s eta ${Math.round(s.etaSec)} s${s.evalLoss === undefined ? "" : ` eval ${s.evalLoss.toFixed(4)}`}`),
  });
  const seconds = (performance.now() - started) / 1000;
  const evalLoss = await engine.evaluate(model, evalSet, { maxSeqLen: r.data.seqLen });
  log(`eval loss ${evalBefore.toFixed(4)} -> ${evalLoss.toFixed(4)} (perplexity ${Math.exp(evalLoss).toFixed(1)}) in ${seconds.toFixed(0)} s`);

  const samples: Record<string, string> = {};
  if (typeof engine.generate === "function") {
    for (const prompt of r.samplePrompts) {
      const g = await engine.generate(model, tokenizer, prompt, { maxTokens: 60, temperature: 0 });
      samples[prompt] = g.text;
      log(`sample: ${prompt}${g.text}`);
    }
  }

  rmSync(p.dir, { recursive: true, force: true });
  const tokDir = join(p.workDir, "tokenizer");
  const extraFiles: Record<string, string> = {
    "tokenizer.json": readFileSync(join(tokDir, "tokenizer.json"), "utf8"),
    "tokenizer_config.json": readFileSync(join(tokDir, "tokenizer_config.json"), "utf8"),
    "special_tokens_map.json": readFileSync(join(tokDir, "special_tokens_map.json"), "utf8"),
    "generation_config.json": JSON.stringify({ bos_token_id: p.hfConfig.bos_token_id, eos_token_id: p.hfConfig.eos_token_id, pad_token_id: p.hfConfig.pad_token_id }, null, 2) + "\n",
  };
  await engine.saveModel(p.dir, model, { dtype: r.output.dtype, extraFiles });
  let ggufFile: string | null = null;
  if (options.gguf !== false && typeof engine.modelTensors === "function") {
    const tensors = [...(engine.modelTensors(model) as Map<string, { shape: number[]; data: Float32Array }>)].map(([name, t]) => ({ name, ...t }));
    ggufFile = join(p.dir, "model-f16.gguf");
    writeFileSync(ggufFile, llamaToGguf({ config: p.hfConfig, tensors, tokenizer: p.tokenizerFiles, dtype: "f16", name: r.name }));
  }
  const report = {
    name: r.name,
    recipe: r,
    corpus: { name: p.corpus.name, source: p.corpus.source, licence: p.corpus.licence, debianVersion: p.corpus.debianVersion, trainSha256: p.corpus.train.sha256, evalSha256: p.corpus.eval.sha256 },
    parameters: p.params,
    trainTokensPerEpoch: tokens,
    steps: result.steps,
    trainSeconds: Math.round(seconds),
    evalLossBefore: evalBefore,
    evalLoss,
    evalPerplexity: Math.exp(evalLoss),
    samples,
    files: { "model.safetensors": sha256(readFileSync(join(p.dir, "model.safetensors"))), ...(ggufFile ? { "model-f16.gguf": sha256(readFileSync(ggufFile)) } : {}) },
  };
  writeFileSync(join(p.dir, "recipe.json"), JSON.stringify(report, null, 2) + "\n");
  return report;
}

/** The records tokenized by the engine's tokenizer, as pretrain_torch.py reads them (one {"ids"} per line). */
export async function writeTokenizedRecords(p: Prepared): Promise<void> {
  const { ChatTokenizer, encodeRecord } = await import("../src/index.ts");
  const tokenizer = new ChatTokenizer(p.tokenizerFiles.tokenizerJson as any, p.tokenizerFiles.tokenizerConfig as any);
  for (const [name, recs] of [["train", p.trainRecords], ["eval", p.evalRecords]] as const) {
    const lines = recs.map((r) => JSON.stringify({ ids: encodeRecord(tokenizer, r).ids }));
    writeFileSync(join(p.workDir, `${name}.tokens.jsonl`), lines.join("\n") + "\n");
  }
}

/** Fast path: pretrain with PyTorch (scripts/pretrain_torch.py), then write recipe.json next to the model. */
export async function trainBaseModelTorch(p: Prepared, options: { steps?: number; timeBudget?: number; log?: (s: string) => void } = {}): Promise<Record<string, unknown>> {
  const log = options.log ?? (() => {});
  const r = p.recipe;
  const here = fileURLToPath(new URL(".", import.meta.url));
  const venv = spawnSync("sh", [join(here, "python-venv.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const python = venv.stdout.trim().split("\n").pop() ?? "";
  if (venv.status !== 0 || !existsSync(python)) {
    throw new BaseModelError("no Python venv with torch", `scripts/python-venv.sh exited ${venv.status}`, "Check that pip can reach torch and transformers, or use --trainer engine");
  }
  await writeTokenizedRecords(p);
  const t = r.training;
  const args = [join(here, "pretrain_torch.py"), "--work", p.workDir, "--out", p.dir, "--seed", String(r.seed), "--seq-len", String(r.data.seqLen),
    "--batch-size", String(t.batchSize), "--lr", String(t.lr), "--weight-decay", String(t.weightDecay), "--warmup-steps", String(t.warmupSteps),
    "--max-grad-norm", String(t.maxGradNorm), "--init-std", String(r.init.std), "--eval-every", String(t.evalEvery || 100),
    ...(options.steps ? ["--steps", String(options.steps)] : ["--time-budget", String(options.timeBudget ?? 1800)])];
  log(`${python} ${args.join(" ")}`);
  const run = spawnSync(python, args, { stdio: "inherit" });
  if (run.status !== 0) throw new BaseModelError("PyTorch pretraining failed", `pretrain_torch.py exited ${run.status}`, "Read its output above; rerun to resume from the last checkpoint");
  const trainReport = JSON.parse(readFileSync(join(p.dir, "train-report.json"), "utf8"));
  rmSync(join(p.dir, "train-report.json"));
  const report = {
    name: r.name,
    trainer: "torch",
    recipe: r,
    corpus: {
      name: p.corpus.name,
      source: p.corpus.source,
      licence: p.corpus.licence,
      debianPackage: p.corpus.debianPackage,
      debianVersion: p.corpus.debianVersion,
      debSha256: p.corpus.debSha256,
      train: p.corpus.train,
      eval: p.corpus.eval,
      records: { train: p.trainRecords.length, eval: p.evalRecords.length, maxTokens: r.data.seqLen - 2 },
    },
    tokenizer: { type: "byte-level BPE (engine/scripts/tokenizer)", vocabSize: r.tokenizer.vocabSize, sha256: sha256(readFileSync(join(p.dir, "tokenizer.json"))) },
    config: p.hfConfig,
    parameters: p.params,
    training: trainReport,
    files: { "model.safetensors": sha256(readFileSync(join(p.dir, "model.safetensors"))) },
  };
  writeFileSync(join(p.dir, "recipe.json"), JSON.stringify(report, null, 2) + "\n");
  return report;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const opt = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const log = (s: string) => console.log(s);
  const cache = opt("--cache");
  let recipe = args.includes("--smoke") ? smokeRecipe() : BASE_MODEL_RECIPE;
  const kernelName = opt("--kernel");
  const threads = opt("--threads");
  if (kernelName || threads) {
    if (kernelName && !["ts", "wasm", "ort"].includes(kernelName)) throw new BaseModelError("unknown kernel", kernelName, "Use ts, wasm or ort");
    recipe = { ...recipe, kernel: { name: (kernelName ?? recipe.kernel.name) as BaseModelRecipe["kernel"]["name"], threads: threads ? Number(threads) : recipe.kernel.threads } };
    if (recipe.kernel.name !== "wasm") process.stderr.write(`note: only the wasm kernel reproduces the recipe bit for bit; ${recipe.kernel.name} gives a similar but not identical model\n`);
  }
  const prepared = prepareBaseModel({ recipe, cacheDir: cache ? resolve(cache) : undefined, log });
  if (args.includes("--prepare-only")) {
    console.log(`prepared in ${prepared.workDir}; run without --prepare-only to pretrain`);
    process.exit(0);
  }
  const trainer = opt("--trainer") ?? "engine";
  if (trainer === "torch") {
    const steps = opt("--steps");
    const budget = opt("--time-budget");
    const report = await trainBaseModelTorch(prepared, { steps: steps ? Number(steps) : undefined, timeBudget: budget ? Number(budget) : undefined, log });
    console.log(`base model written to ${prepared.dir} (eval loss ${((report.training as { eval_loss: number }).eval_loss).toFixed(4)})`);
    if (args.includes("--install")) {
      // the committed copy: everything but GGUF (made on demand by the exporter); the model card stays
      mkdirSync(COMMITTED_BASE_MODEL_DIR, { recursive: true });
      for (const f of INSTALLED_FILES) copyFileSync(join(prepared.dir, f), join(COMMITTED_BASE_MODEL_DIR, f));
      console.log(`installed into ${COMMITTED_BASE_MODEL_DIR}`);
    }
    process.exit(0);
  }
  if (trainer !== "engine") throw new BaseModelError("unknown trainer", trainer, "Use --trainer engine or --trainer torch");
  const loaded = await loadEngineTrainer();
  if ("missing" in loaded) {
    process.stderr.write(
      `The engine's trainer is not available yet: engine/src/index.ts does not export ${loaded.missing.join(", ")}.\n` +
        `Corpus, tokenizer, records and config are ready in ${prepared.workDir}; run this script again once the engine core has landed.\n`,
    );
    process.exit(3);
  }
  const epochs = opt("--epochs");
  const report = await trainBaseModel(prepared, loaded.engine, { epochs: epochs ? Number(epochs) : undefined, gguf: !args.includes("--no-gguf"), log });
  console.log(`base model written to ${prepared.dir} (eval loss ${(report.evalLoss as number).toFixed(4)})`);
  if (!existsSync(join(prepared.dir, "model.safetensors"))) process.exit(1);
}
