/**
 * One job through the node, stage by stage (see JobStage): each stage's outcome is persisted before the
 * next starts, so a node killed at any point resumes where it stopped — training itself resumes from its
 * newest checkpoint — and never claims or submits twice (the chain state is read back first).
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { claimJob, commitEvalClaim, evalClaimOf, finalizeJob, getJob, jobMarketWithdrawable, listBaseModels, listContributions, lossToFixed, releaseJob, submitResult, toleranceToBps, withdrawFromJobMarket } from "@tributary/sdk/chain";
import type { ChainConnection } from "@tributary/sdk/chain";
import { addJson, catJson } from "@tributary/sdk/chain";
import type { ContentStore } from "@tributary/sdk/content";
import { addFileSet, fetchFileSet } from "@tributary/sdk/files";
import { buildAttributionReport } from "@tributary/sdk/merkle";
import { parseAdapterManifest, parseJobSpec, parseMetrics } from "@tributary/sdk/schemas";
import type { JobSpec } from "@tributary/sdk/schemas";
import { fineTune, splitEval } from "@tributary/engine";
import type { Kernel, TrainingRecord } from "@tributary/engine";
import type { JobRecord } from "../types.ts";
import { fineTuneWithTorch } from "../backends/torch-fine-tune.ts";
import { ATTRIBUTION_CHECKPOINTS, attribute, contributionKey, dedupContributions, inRunAttributionFor, inRunVectorsByRerun, pickCheckpoints } from "./attribution.ts";
import { fetchJobData } from "./data.ts";
import type { JobContribution } from "./data.ts";
import { classify, SkipJob } from "./faults.ts";
import { defendDisputes, ensureCommitted, jobCheckpointTree, publishCheckpoints, readCheckpointTree, runStates } from "./disputes.ts";
import { checkFit, checkVerification, engineCapacity, engineModelFacts, torchCapacity, torchModelFacts } from "./fit.ts";
import type { Capacity, Fit, ModelFacts } from "./fit.ts";
import { TorchWorker, TorchWorkerError } from "../backends/torch-worker.ts";
import type { ReleaseCause } from "./faults.ts";
import { publishThroughput } from "./profile.ts";
import type { JobStore } from "./store.ts";
import { TERMINAL_STAGES } from "./store.ts";

export interface PipelineContext {
  conn: ChainConnection;
  store: ContentStore;
  custodianUrl: string;
  dataDir: string;
  jobs: JobStore;
  /** The kernel training runs on: `wasm` makes jobs replayable bit for bit (the default), `ort` is faster. */
  kernel: Kernel;
  /** Training backend: the TypeScript engine (default) or the torch worker (src/backends). */
  backend?: "engine" | "torch";
  /** Base model names this node trains (empty: every registered base model it can fetch). */
  baseModels?: readonly string[];
  /**
   * Training FLOP/s this node sustains (6 x parameters x tokens per second), for the deadline check
   * before claiming. Default: what the node measured on its last job (throughput.json), else a
   * conservative figure for the kernel (wasm 2e9, ort 8e9 on 2 CPU cores).
   */
  trainFlops?: number;
  /**
   * Optimizer steps between the checkpoints the dispute game's tree commits to (default 10; at least 2, so that
   * each segment holds a state that is never published: the verifiers' witness).
   */
  checkpointEvery?: number;
  /**
   * Tests only: a cheating trainer. After optimizer step `tamperAfterStep` the adapter is changed by `by`;
   * `epochs` trains that many epochs instead of the spec's (fewer: the run stops short of the job's end; more:
   * its checkpoint manifest claims steps past the end of the job's run);
   * `inflateAttribution` submits an attribution giving the contribution the run weighs least all the weight;
   * `corruptCheckpointLeaf` publishes another checkpoint's folder for that leaf (its own is withheld);
   * `evalLossFactor` (eval jobs) commits and publishes the held-out eval loss times that factor;
   * `forgeAttributionCheckpoint` (torch) publishes a last attribution checkpoint whose weights are not the adapter's.
   */
  faults?: { tamperAfterStep?: number; by?: number; epochs?: number; inflateAttribution?: boolean; corruptCheckpointLeaf?: number; evalLossFactor?: number; forgeAttributionCheckpoint?: boolean };
  log: (line: string) => void;
  signal?: AbortSignal;
}

export { SkipJob };

/** Optimizer steps between committed checkpoints unless the node is configured otherwise. */
export const DEFAULT_CHECKPOINT_EVERY = 10;

/** Errors that retrying cannot fix (see `classify` in faults.ts). */
export function isPermanent(err: unknown): boolean {
  return classify(err).kind === "deterministic";
}

const jobDirOf = (ctx: PipelineContext, jobId: string) => join(ctx.dataDir, "jobs", jobId);

async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, "utf8")) as T;
}

/**
 * The engine's training options for a job spec; refuses what the engine cannot do. A max length above
 * the model's context (`contextLength`) is cut to the context: sequences can never be longer than the
 * model's positions, so the job trains exactly what a poster asking for more gets from the model.
 */
export function engineConfig(spec: JobSpec, contextLength = Infinity, checkpointEvery = DEFAULT_CHECKPOINT_EVERY) {
  if (!Number.isInteger(checkpointEvery) || checkpointEvery < 2) throw new Error(`checkpointEvery must be a whole number of at least 2 steps, got ${checkpointEvery}`);
  const t = spec.training;
  if (!Number.isInteger(t.epochs)) throw new SkipJob(`epochs ${t.epochs} is not a whole number; this node trains whole epochs`);
  if (spec.chatTemplate) throw new SkipJob("a custom chat template is not supported by this node yet; post the job without chatTemplate");
  return {
    lr: t.learningRate,
    epochs: t.epochs,
    batchSize: t.batchSize,
    gradAccum: t.gradientAccumulation,
    maxSeqLen: Math.min(t.maxSeqLength, contextLength),
    scheduler: t.scheduler,
    warmupRatio: t.warmupRatio,
    weightDecay: t.weightDecay,
    maxGradNorm: t.maxGradNorm,
    seed: t.seed,
    checkpointEvery,
    lora: { r: spec.lora.r, alpha: spec.lora.alpha, dropout: spec.lora.dropout, targetModules: spec.lora.targetModules as never, useRslora: spec.lora.rslora },
  };
}

/** Bytes of JSONL per token, roughly, for English BPE: a low guess makes the estimate err long. */
const BYTES_PER_TOKEN = 3;
/** Share of the job's duration the estimated work may fill (the rest: data, attribution, pinning, slack). */
const DEADLINE_SHARE = 0.6;

async function trainFlops(ctx: PipelineContext): Promise<number> {
  if (ctx.trainFlops) return ctx.trainFlops;
  const file = join(ctx.dataDir, "throughput.json");
  if (existsSync(file)) {
    const t = await readJson<{ flops?: number; kernel?: string }>(file);
    if (t.kernel === (ctx.backend === "torch" ? "torch" : ctx.kernel.name) && t.flops && t.flops > 0) return t.flops;
  }
  return ctx.kernel.name === "ort" || ctx.backend === "torch" ? 8e9 : 2e9;
}

/** The torch worker's hello and its inspections, per model folder (a worker start costs seconds). */
const torchFacts = new Map<string, Promise<ModelFacts>>();
let torchHello: Promise<Capacity> | null = null;

async function withTorchWorker<T>(fn: (w: TorchWorker) => Promise<T>): Promise<T> {
  const w = await TorchWorker.start();
  try {
    return await fn(w);
  } finally {
    await w.close();
  }
}

/** What this node's backend knows about the model (refuses an architecture the backend cannot train). */
async function modelFacts(ctx: PipelineContext, modelDir: string): Promise<ModelFacts> {
  const config = await readJson<Parameters<typeof engineModelFacts>[0]>(join(modelDir, "config.json"));
  if (ctx.backend !== "torch") return engineModelFacts(config);
  let p = torchFacts.get(modelDir);
  if (!p) {
    p = withTorchWorker(async (w) => {
      torchHello ??= Promise.resolve(torchCapacity(w.hello));
      return torchModelFacts(await w.inspect(modelDir), config);
    });
    torchFacts.set(modelDir, p);
    p.catch(() => torchFacts.delete(modelDir));
  }
  return p;
}

async function capacity(ctx: PipelineContext): Promise<Capacity> {
  if (ctx.backend !== "torch") return engineCapacity();
  torchHello ??= withTorchWorker(async (w) => torchCapacity(w.hello));
  return torchHello;
}

/** The model's context length (max_position_embeddings). */
async function contextLengthOf(modelDir: string): Promise<number> {
  const c = await readJson<{ max_position_embeddings?: number }>(join(modelDir, "config.json"));
  return c.max_position_embeddings ?? Infinity;
}

/** Refuses (skips) a job whose training would not fit well inside its duration on this node. */
async function checkDeadline(ctx: PipelineContext, job: { duration: number; datanets: Array<{ datanetId: bigint; version: number }> }, spec: JobSpec, params: number): Promise<{ trainSeconds: number; attributeSeconds: number }> {
  let bytes = 0;
  for (const ref of job.datanets) {
    for (const c of await listContributions(ctx.conn, ref.datanetId)) {
      if (c.status === "approved" && c.approvedInVersion !== undefined && c.approvedInVersion <= ref.version) bytes += c.byteSize;
    }
  }
  const dataTokens = bytes / BYTES_PER_TOKEN;
  const flops = await trainFlops(ctx);
  const tokens = dataTokens * spec.training.epochs * 1.1; // + the eval passes
  const trainSeconds = (6 * params * tokens) / flops;
  // attribution: one gradient per record at each of ATTRIBUTION_CHECKPOINTS checkpoints (batch-1 gradients,
  // counted at 1.5x the training rate), plus the eval gradients; each backend attributes on its own device (a
  // torch node with its worker), so the backend's training rate above is the rate of its attribution too
  const attributeSeconds = (6 * params * dataTokens * ATTRIBUTION_CHECKPOINTS * 1.5) / flops;
  const seconds = trainSeconds + attributeSeconds;
  if (seconds > DEADLINE_SHARE * job.duration) {
    throw new SkipJob(`training and attribution would take about ${Math.ceil(seconds)} s on this node (${Math.round(tokens)} training tokens, attribution ${Math.ceil(attributeSeconds)} s), more than ${Math.round(DEADLINE_SHARE * 100)}% of the job's ${job.duration} s deadline; claiming it would risk the stake`);
  }
  return { trainSeconds, attributeSeconds };
}

/** Reads the job and its spec; checks the node can run it; claims it. */
async function claimStage(ctx: PipelineContext, rec: JobRecord): Promise<void> {
  const jobId = BigInt(rec.jobId);
  const job = await getJob(ctx.conn, jobId);
  const me = ctx.conn.account!.address.toLowerCase();
  if (job.status !== "open") {
    if (job.trainer?.toLowerCase() === me) {
      // this operator's job from before a crash or from another data folder: pick up at the chain's state
      const base = { specCid: job.specCid, datanets: job.datanets.map((d) => ({ datanetId: d.datanetId.toString(), version: d.version })) };
      if (job.status === "claimed") await ctx.jobs.update(rec.jobId, { ...base, stage: "claimed", dueAt: job.dueAt?.toString() });
      else if (job.status === "submitted" || job.status === "disputed") await ctx.jobs.update(rec.jobId, { ...base, stage: "submitted", challengeEndsAt: job.challengeEndsAt?.toString() });
      else if (job.status === "finalized") await ctx.jobs.update(rec.jobId, { ...base, stage: "finalized", modelId: job.modelId?.toString() });
      else throw new SkipJob(`job is ${job.status}`);
      return;
    }
    throw new SkipJob(`job is ${job.status}${job.trainer ? ` (trainer ${job.trainer})` : ""}`);
  }
  const spec = parseJobSpec(await catJson(ctx.store, job.specCid, "job spec"));
  if (ctx.backend !== "torch") engineConfig(spec);
  const base = (await listBaseModels(ctx.conn)).find((b) => b.baseModelId === job.baseModelId);
  if (!base) throw new SkipJob(`base model #${job.baseModelId} is not registered`);
  if (ctx.baseModels?.length && !ctx.baseModels.includes(base.name)) throw new SkipJob(`base model ${base.name} is not one this node trains (${ctx.baseModels.join(", ")})`);
  const modelDir = join(ctx.dataDir, "models", base.cid);
  try {
    await fetchFileSet(ctx.store, base.cid, modelDir, { signal: ctx.signal });
  } catch (err) {
    throw new SkipJob(`base model ${base.name} (${base.cid}) cannot be fetched as a model folder: ${(err as Error).message}`);
  }
  // the verification class: replay needs the engine's wasm kernel (a node on another kernel refuses it here,
  // before the claim), eval needs held-out records
  try {
    checkVerification(spec, await readJson(join(modelDir, "config.json")), ctx.backend ?? "engine", ctx.kernel.name);
  } catch (err) {
    if (err instanceof SkipJob) throw err;
    throw new SkipJob(`base model ${base.name} has no readable config.json: ${(err as Error).message}`);
  }
  // the fit check: architecture and LoRA targets for this backend, memory on this node's devices, time
  let facts: ModelFacts;
  try {
    facts = await modelFacts(ctx, modelDir);
  } catch (err) {
    if (err instanceof SkipJob || (err instanceof TorchWorkerError && !err.transient)) throw new SkipJob((err as Error).message);
    throw err;
  }
  const context = await contextLengthOf(modelDir);
  let fit: Fit;
  try {
    fit = checkFit(spec, facts, await capacity(ctx), context);
  } catch (err) {
    if (err instanceof SkipJob) throw err;
    throw new SkipJob(`the fit check could not read base model ${base.name}: ${(err as Error).message}`);
  }
  const { trainSeconds, attributeSeconds } = await checkDeadline(ctx, job, spec, facts.params);
  await ctx.jobs.update(rec.jobId, {
    estimate: { trainSeconds, attributeSeconds, device: fit.device, memoryBytes: fit.estimatedBytes },
    specCid: job.specCid,
    baseModel: base.name,
    datanets: job.datanets.map((d) => ({ datanetId: d.datanetId.toString(), version: d.version })),
  });
  const tx = await claimJob(ctx.conn, jobId);
  ctx.log(`job ${jobId}: claimed (due ${new Date(Number(tx.dueAt) * 1000).toISOString()})`);
  await ctx.jobs.update(rec.jobId, { stage: "claimed", dueAt: tx.dueAt.toString(), txs: { claim: tx.hash } });
}

interface JobFiles {
  spec: JobSpec;
  baseCid: string;
  modelDir: string;
}

async function jobFiles(ctx: PipelineContext, rec: JobRecord): Promise<JobFiles> {
  const job = await getJob(ctx.conn, BigInt(rec.jobId));
  const spec = parseJobSpec(await catJson(ctx.store, job.specCid, "job spec"));
  const base = (await listBaseModels(ctx.conn)).find((b) => b.baseModelId === job.baseModelId)!;
  const modelDir = join(ctx.dataDir, "models", base.cid);
  await fetchFileSet(ctx.store, base.cid, modelDir, { signal: ctx.signal });
  return { spec, baseCid: base.cid, modelDir };
}

/** The eval split over (contribution, record) pairs, so every record keeps its contribution. */
export function splitJobRecords(contributions: JobContribution[], spec: JobSpec) {
  const tagged = contributions.flatMap((c, ci) => c.records.map((r) => ({ ci, r })));
  const { train, eval: ev } = splitEval(tagged, spec.evalSplit, spec.training.seed);
  const perContribution: TrainingRecord[][] = contributions.map(() => []);
  for (const t of train) perContribution[t.ci].push(t.r);
  // trainOwner[i]: the contribution of train[i] (in-run attribution maps trained examples to contributions)
  return { train: train.map((t) => t.r), trainOwner: train.map((t) => t.ci), evalRecords: ev.map((t) => t.r), perContribution };
}

function sha256File(bytes: Uint8Array): string {
  return `0x${createHash("sha256").update(bytes).digest("hex")}`;
}

/** Fetch -> train -> attribute -> pin; each step's output is in the job folder, so resumes skip it. */
async function trainStages(ctx: PipelineContext, rec0: JobRecord): Promise<void> {
  let rec = rec0;
  const dir = jobDirOf(ctx, rec.jobId);
  await mkdir(dir, { recursive: true });
  const files = await jobFiles(ctx, rec);
  const { spec } = files;
  // a replay job is trained and attributed on wasm only (checkVerification): a node restarted on another kernel
  // while it holds one releases it rather than submit a run the verifiers' wasm replay does not reproduce
  const baseConfig = await readJson<Parameters<typeof checkVerification>[1]>(join(files.modelDir, "config.json"));
  const verificationOn = (kernel: string) => checkVerification(spec, baseConfig, ctx.backend ?? "engine", kernel).verification;
  const dataFile = join(dir, "data.json");
  if (!existsSync(dataFile)) {
    rec = await ctx.jobs.update(rec.jobId, { stage: "fetching" });
    const contributions = await fetchJobData({
      conn: ctx.conn,
      store: ctx.store,
      custodianUrl: ctx.custodianUrl,
      jobId: BigInt(rec.jobId),
      datanets: (rec.datanets ?? []).map((d) => ({ datanetId: BigInt(d.datanetId), version: d.version })),
      jobDir: dir,
      signal: ctx.signal,
    });
    await writeFile(`${dataFile}.tmp`, JSON.stringify(contributions), { mode: 0o600 });
    await copyFile(`${dataFile}.tmp`, dataFile);
    await rm(`${dataFile}.tmp`);
  }
  const contributions = await readJson<JobContribution[]>(dataFile);
  // the model's context, read once: training and attribution cut the max length to it alike
  const context = await contextLengthOf(files.modelDir);
  // duplicates (exact or near copies of an earlier contribution) are neither trained nor attributed
  const duplicates = dedupContributions(contributions);
  if (duplicates.size) ctx.log(`job ${rec.jobId}: ${duplicates.size} duplicate contribution(s) share an earlier one's credit: ${[...duplicates].map(([i, d]) => `${contributions[i].datanetId}/${contributions[i].contributionId} of ${d.datanetId}/${d.contributionId} (${d.kind})`).join(", ")}`);
  const parts = splitJobRecords(
    contributions.map((c, i) => (duplicates.has(i) ? { ...c, records: [] } : c)),
    spec,
  );
  const records = contributions.reduce((n, c) => n + c.records.length, 0);
  if (parts.train.length === 0) throw new Error("the job's data has no training records left after the eval split; it cannot be trained as posted");
  const adapterDir = join(dir, "adapter");
  const method = spec.method;
  if (!existsSync(join(adapterDir, "adapter_model.safetensors"))) {
    verificationOn(ctx.kernel.name);
    rec = await ctx.jobs.update(rec.jobId, { stage: "training", records, contributions: contributions.length });
    const cfg = engineConfig(spec, context, ctx.checkpointEvery);
    if (ctx.faults?.epochs !== undefined) {
      ctx.log(`job ${rec.jobId}: FAULT INJECTED: training ${ctx.faults.epochs} of the spec's ${cfg.epochs} epochs`);
      cfg.epochs = ctx.faults.epochs;
    }
    const tamper = ctx.faults?.tamperAfterStep;
    // in-run attribution (the default method): the engine's unfused LoRA training keeps each contribution's
    // vector as it trains; elsewhere (torch, fused kernels) attribution reads checkpoints
    const inRun = ctx.backend !== "torch" && !ctx.kernel.ops ? inRunAttributionFor(parts.trainOwner, contributions.length) : null;
    const { metrics } = await (ctx.backend === "torch" ? fineTuneWithTorch : fineTune)({
      modelDir: files.modelDir,
      records: parts.train,
      evalRecords: parts.evalRecords,
      outDir: adapterDir,
      method,
      config: cfg,
      kernel: ctx.kernel,
      resume: true,
      signal: ctx.signal,
      onProgress: (p) => ctx.jobs.progress(rec.jobId, p),
      ...(inRun ? { inRun: inRun.hooks() } : {}),
      ...(tamper !== undefined && ctx.backend !== "torch"
        ? {
            afterStep: ({ params, state }: { params: Map<string, Float32Array>; state: { step: number } }) => {
              if (state.step !== tamper) return;
              for (const t of params.values()) t[0] += ctx.faults?.by ?? 1e-3;
              ctx.log(`job ${rec.jobId}: FAULT INJECTED: the adapter was changed after step ${tamper}`);
            },
          }
        : {}),
    });
    if (inRun && !metrics.stopped) {
      if (inRun.complete) await inRun.save(adapterDir, contributions.map(contributionKey));
      // a run resumed from a checkpoint missed the steps before it: its vectors come from training again from the
      // start (deterministic), so its attribution is the uninterrupted run's, as a verifier recomputes it
      else if (await inRunVectorsByRerun({ modelDir: files.modelDir, records: parts.train, trainOwner: parts.trainOwner, evalRecords: parts.evalRecords, contributions, method, config: cfg, kernel: ctx.kernel, adapterDir, scratchDir: join(dir, "inrun-rerun"), signal: ctx.signal })) {
        ctx.log(`job ${rec.jobId}: the run was resumed: in-run attribution vectors recomputed by training again from the start`);
      }
    }
    if (metrics.stopped) {
      // the engine wrote the partial adapter: remove it so the resume trains on from the checkpoint
      for (const f of ["adapter_model.safetensors", "adapter_config.json", "metrics.json"]) await rm(join(adapterDir, f), { force: true });
      throw new Error("training was interrupted; it resumes from its newest checkpoint");
    }
    ctx.log(`job ${rec.jobId}: trained ${metrics.steps} steps, ${metrics.tokens} tokens in ${metrics.seconds.toFixed(1)} s`);
    if (metrics.seconds > 0.1 && metrics.tokens > 0) {
      // what this node sustains, for the next jobs' deadline checks
      const flops = (6 * (await modelFacts(ctx, files.modelDir)).params * metrics.tokens) / metrics.seconds;
      const kernel = ctx.backend === "torch" ? "torch" : ctx.kernel.name;
      const measured = { kernel, flops, measuredAt: new Date().toISOString() };
      await writeFile(join(ctx.dataDir, "throughput.json"), JSON.stringify(measured));
      // and in the trainer profile on chain, for posters' time estimates; a failure here never fails the job
      await publishThroughput(ctx.conn, ctx.store, measured)
        .then((r) => ctx.log(`job ${rec.jobId}: trainer profile: ${r.reason}${r.profileCid ? ` (${r.profileCid})` : ""}`))
        .catch((e: unknown) => ctx.log(`job ${rec.jobId}: publishing the throughput in the trainer profile failed: ${(e as Error).message}`));
    }
  }
  const reportFile = join(dir, "attribution.json");
  if (!existsSync(reportFile)) {
    verificationOn(ctx.kernel.name);
    rec = await ctx.jobs.update(rec.jobId, { stage: "attributing" });
    let { report } = await attribute({
      modelDir: files.modelDir,
      adapterDir,
      quantize: method === "qlora",
      kernel: ctx.kernel,
      learningRate: spec.training.learningRate,
      maxSeqLen: Math.min(spec.training.maxSeqLength, context),
      trainRecords: parts.perContribution,
      evalRecords: parts.evalRecords,
      contributions,
      duplicates,
      // a torch node attributes with its worker: any base it trains (Qwen2, Gemma, ...), its checkpoints
      backend: ctx.backend ?? "engine",
    });
    if (ctx.faults?.inflateAttribution) {
      // the contribution the honest attribution weighs least gets all the weight
      const weightOf = (c: JobContribution) => BigInt(report.contributions.find((e) => e.datanetId === c.datanetId && e.contributionId === c.contributionId)?.weight ?? "0");
      const least = contributions.reduce((m, c, k) => (weightOf(c) < weightOf(contributions[m]) ? k : m), 0);
      report = buildAttributionReport(contributions.map((c, k) => ({ datanetId: c.datanetId, contributionId: c.contributionId, contributor: c.contributor, contentHash: c.contentHash, score: k === least ? 1 : 0 })), { method: report.method }).report;
      ctx.log(`job ${rec.jobId}: FAULT INJECTED: the attribution gives contribution ${contributions[least].contributionId} all the weight`);
    }
    await writeFile(reportFile, `${JSON.stringify(report, null, 2)}\n`);
  }
  rec = await ctx.jobs.update(rec.jobId, { stage: "pinning" });
  const report = await readJson<{ merkleRoot: string; totalWeight: string }>(reportFile);
  const engineMetrics = await readJson<{ lossHistory: Array<{ step: number; loss: number; lr: number; gradNorm: number }>; evalHistory: Array<{ step: number; loss: number }>; tokens: number; seconds: number; steps: number; kernel: string; engineVersion: string }>(join(adapterDir, "metrics.json"));
  const evalCurve = engineMetrics.evalHistory;
  const last = evalCurve.at(-1);
  const stepsPerEpoch = Math.max(1, engineMetrics.steps / spec.training.epochs);
  const metrics = parseMetrics({
    schema: "tributary/metrics@1",
    lossCurve: engineMetrics.lossHistory.map((p) => ({ step: p.step, epoch: p.step / stepsPerEpoch, loss: p.loss, learningRate: p.lr, gradNorm: p.gradNorm })),
    eval: {
      loss: last?.loss ?? engineMetrics.lossHistory.at(-1)?.loss ?? 0,
      perplexity: Math.exp(last?.loss ?? engineMetrics.lossHistory.at(-1)?.loss ?? 0),
      samples: parts.evalRecords.length,
      curve: evalCurve,
      ...(evalCurve.length > 1 && evalCurve[0].step === 0 ? { baseLoss: evalCurve[0].loss } : {}),
    },
    tokens: engineMetrics.tokens,
    durationSeconds: engineMetrics.seconds,
    tokensPerSecond: engineMetrics.tokens / Math.max(engineMetrics.seconds, 1e-9),
  });
  await writeFile(join(adapterDir, "training-metrics.json"), `${JSON.stringify(metrics, null, 2)}\n`);
  // eval jobs commit the held-out eval loss after the last step (the manifest, and the last checkpoint state)
  // (and the kernel that counts for a replay job is the one the run trained on, as its metrics say)
  const verification = verificationOn(ctx.backend === "torch" ? ctx.kernel.name : engineMetrics.kernel);
  if (verification.class === "eval" && (!last || last.step !== engineMetrics.steps)) {
    throw new Error(`the job is verified by its eval loss, but training reported none after its last step (${engineMetrics.steps}); it cannot be submitted`);
  }
  await copyFile(reportFile, join(adapterDir, "attribution.json"));
  const weights = await readFile(join(adapterDir, "adapter_model.safetensors"));
  // a replay job publishes its checkpoints and the manifest of the tree it commits to, for verifiers
  let checkpoints: { manifestCid: string; root: string; count: number } | undefined;
  if (verification.class === "replay" && (ctx.backend ?? "engine") === "engine") {
    const final = { adapterHash: sha256File(weights) as `0x${string}`, attributionRoot: report.merkleRoot as `0x${string}`, attributionTotalWeight: BigInt(report.totalWeight) };
    const tree = await jobCheckpointTree(dir, () => runStates({ adapterDir, backend: "engine", jobId: rec.jobId, specCid: rec.specCid ?? "" }), rec.jobId, final);
    const states = [...tree.states.slice(0, -1), tree.finalRunState!];
    const manifestCid = await publishCheckpoints({ store: ctx.store, adapterDir, jobId: rec.jobId, tree, runStates: states, final, checkpointEvery: ctx.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY, corruptLeaf: ctx.faults?.corruptCheckpointLeaf, signal: ctx.signal });
    checkpoints = { manifestCid, root: tree.root, count: tree.count };
    ctx.log(`job ${rec.jobId}: published its ${tree.count} checkpoints for verifiers (manifest ${manifestCid})`);
  }
  // a torch run's attribution read its checkpoints: published with the adapter (for an eval job's verifiers to
  // recompute the report with its own method), the ones its *_cp method picked
  const attributionCheckpoints = ctx.backend === "torch" ? await publishAttributionCheckpoints(ctx, adapterDir, (await readJson<{ method: string }>(reportFile)).method) : undefined;
  if (attributionCheckpoints) ctx.log(`job ${rec.jobId}: published the ${attributionCheckpoints.steps.length} checkpoints its attribution read (steps ${attributionCheckpoints.steps.join(", ")}: ${attributionCheckpoints.cid})`);
  const artifact = ["adapter_model.safetensors", "adapter_config.json", "metrics.json", "training-metrics.json", "attribution.json"];
  const fileEntries = await Promise.all(artifact.map(async (p) => {
    const b = await readFile(join(adapterDir, p));
    return { path: p, sha256: sha256File(b), size: b.length };
  }));
  const manifest = parseAdapterManifest({
    schema: "tributary/adapter-manifest@1",
    jobId: rec.jobId,
    spec,
    specCid: rec.specCid,
    baseModel: { id: rec.baseModel ?? "", cid: files.baseCid },
    files: fileEntries,
    engine: { name: "@tributary/engine", version: engineMetrics.engineVersion, kernel: engineMetrics.kernel, threads: ctx.kernel.threads },
    seed: spec.training.seed,
    data: (rec.datanets ?? []).map((d) => ({
      datanetId: d.datanetId,
      version: d.version,
      contributions: contributions.filter((c) => c.datanetId === d.datanetId).map((c) => ({ contributionId: c.contributionId, contentCid: c.contentCid, contentHash: c.contentHash })),
    })),
    evalRecords: parts.evalRecords.length,
    stats: { steps: engineMetrics.steps, tokens: engineMetrics.tokens, durationSeconds: engineMetrics.seconds },
    trainer: ctx.conn.account!.address,
    verification: verification.class === "eval" ? { class: "eval", evalLoss: claimedEvalLoss(ctx, rec.jobId, last!.loss), evalTolerance: verification.tolerance! } : { class: "replay" },
    ...(checkpoints ? { checkpoints } : {}),
    ...(attributionCheckpoints ? { attributionCheckpoints } : {}),
    createdAt: new Date().toISOString(),
  });
  await writeFile(join(adapterDir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  const { cid: adapterCid } = await addFileSet(ctx.store, adapterDir, { files: [...artifact, "manifest.json"], signal: ctx.signal });
  const metricsCid = await addJson(ctx.store, metrics);
  const reportCid = await addJson(ctx.store, JSON.parse(await readFile(reportFile, "utf8")));
  await ctx.jobs.update(rec.jobId, {
    result: {
      adapterCid,
      adapterHash: sha256File(weights),
      metricsCid,
      reportCid,
      attributionRoot: report.merkleRoot,
      attributionTotalWeight: report.totalWeight,
    },
  });
}

/** The files of a checkpoint folder that attribution reads (the torch worker's layout, or the engine's). */
const ATTRIBUTION_CHECKPOINT_FILES = ["adapter.safetensors", "optimizer.pt", "params.safetensors", "optimizer.safetensors", "trainer_state.json"];

/**
 * Pins the checkpoint folders a *_cp attribution read (`pickCheckpoints`, the worker's choice) as one file set of
 * `step-NNNNNN/` folders; undefined when the report's method reads none.
 */
async function publishAttributionCheckpoints(ctx: PipelineContext, adapterDir: string, method: string): Promise<{ cid: string; steps: number[] } | undefined> {
  if (!method.endsWith("_cp")) return undefined;
  const picked = await pickCheckpoints(adapterDir);
  if (!picked.length) return undefined;
  const dir = join(adapterDir, "checkpoints");
  if (ctx.faults?.forgeAttributionCheckpoint) {
    // tests only: one byte of the last checkpoint's first tensor changed (the file still parses)
    const file = join(dir, picked[picked.length - 1], "adapter.safetensors");
    const bytes = await readFile(file);
    bytes[8 + Number(bytes.readBigUInt64LE(0)) + 1] ^= 0x40;
    await writeFile(file, bytes);
  }
  const files = picked.flatMap((n) => ATTRIBUTION_CHECKPOINT_FILES.filter((f) => existsSync(join(dir, n, f))).map((f) => `${n}/${f}`));
  const { cid } = await addFileSet(ctx.store, dir, { files, signal: ctx.signal });
  return { cid, steps: picked.map((n) => Number(n.slice("step-".length))) };
}

async function submitStage(ctx: PipelineContext, rec0: JobRecord): Promise<void> {
  const rec = await reconcileWithChain(ctx, rec0);
  if (rec.stage === "failed") return;
  const r = rec.result!;
  const job = await getJob(ctx.conn, BigInt(rec.jobId));
  if (job.status === "submitted" || job.status === "finalized" || job.status === "disputed") {
    // submitted before a crash wrote it down
    await ctx.jobs.update(rec.jobId, { stage: "submitted", challengeEndsAt: job.challengeEndsAt?.toString() });
    return;
  }
  // the dispute game's commitment: the run's checkpoint tree, before the result it backs; an eval job's last
  // state also covers its eval loss (`evalLossCommitment`)
  const manifest = await readJson<{ verification?: { class: string; evalLoss?: number; evalTolerance?: number } }>(join(jobDirOf(ctx, rec.jobId), "adapter", "manifest.json"));
  const evalExtra = manifest.verification?.class === "eval" && manifest.verification.evalLoss !== undefined ? [evalLossCommitment(manifest.verification.evalLoss)] : [];
  const tree = await jobCheckpointTree(
    jobDirOf(ctx, rec.jobId),
    () => runStates({ adapterDir: join(jobDirOf(ctx, rec.jobId), "adapter"), backend: ctx.backend ?? "engine", jobId: rec.jobId, specCid: job.specCid, extra: evalExtra }),
    rec.jobId,
    { adapterHash: r.adapterHash as `0x${string}`, attributionRoot: r.attributionRoot as `0x${string}`, attributionTotalWeight: BigInt(r.attributionTotalWeight) },
  );
  if (await ensureCommitted(ctx.conn, tree)) ctx.log(`job ${rec.jobId}: committed its ${tree.count} checkpoint states (root ${tree.root})`);
  // an eval job is checked on its outcome: the claim a challenge is settled on (DisputeGame.commitEvalClaim)
  const v = manifest.verification;
  if (v?.class === "eval" && v.evalLoss !== undefined && v.evalTolerance !== undefined) {
    const claim = await evalClaimOf(ctx.conn, BigInt(rec.jobId));
    const same = claim.trainer.toLowerCase() === ctx.conn.account!.address.toLowerCase() && lossToFixed(claim.loss) === lossToFixed(v.evalLoss) && toleranceToBps(claim.tolerance) === toleranceToBps(v.evalTolerance);
    if (!same) {
      await commitEvalClaim(ctx.conn, BigInt(rec.jobId), v.evalLoss, v.evalTolerance);
      ctx.log(`job ${rec.jobId}: committed its eval claim (held-out loss ${v.evalLoss.toFixed(4)}, tolerance ${v.evalTolerance * 100}%)`);
    }
  }
  const tx = await submitResult(ctx.conn, BigInt(rec.jobId), {
    adapterCid: r.adapterCid,
    adapterHash: r.adapterHash as `0x${string}`,
    metricsCid: r.metricsCid,
    attributionRoot: r.attributionRoot as `0x${string}`,
    attributionTotalWeight: BigInt(r.attributionTotalWeight),
    reportCid: r.reportCid,
  });
  ctx.log(`job ${rec.jobId}: submitted ${r.adapterCid}; challenge window ends ${new Date(Number(tx.challengeEndsAt) * 1000).toISOString()}`);
  await ctx.jobs.update(rec.jobId, { stage: "submitted", challengeEndsAt: tx.challengeEndsAt.toString(), txs: { submit: tx.hash } });
}

/** The held-out eval loss an eval job claims: the measured one (times the test fault `evalLossFactor`). */
function claimedEvalLoss(ctx: PipelineContext, jobId: string, measured: number): number {
  const f = ctx.faults?.evalLossFactor;
  if (f === undefined) return measured;
  ctx.log(`job ${jobId}: FAULT INJECTED: claiming the held-out eval loss ${measured.toFixed(4)} x ${f}`);
  return measured * f;
}

/**
 * How an eval job's last checkpoint state commits its held-out eval loss (appended to the state hash's extra
 * fields after the adapter hash and the attribution root): the float64's shortest round-trip decimal, so a
 * verifier holding the manifest's `verification.evalLoss` rebuilds the same leaf.
 */
export function evalLossCommitment(loss: number): string {
  return `tributary/eval-loss@1:${loss}`;
}

/** Takes the OPEN the JobMarket credited to this node (payments are pulled, not pushed). */
async function collect(ctx: PipelineContext, rec: JobRecord): Promise<void> {
  if (rec.txs.withdraw) return;
  const owed = await jobMarketWithdrawable(ctx.conn, ctx.conn.account!.address);
  if (owed === 0n) return;
  const w = await withdrawFromJobMarket(ctx.conn);
  ctx.log(`job ${rec.jobId}: withdrew ${w.amount} wei of OPEN`);
  await ctx.jobs.update(rec.jobId, { txs: { withdraw: w.hash } });
}

/** Per job, the first dispute id that may still need an answer (ids below it are settled). */
const disputeCursor = new Map<string, bigint>();

/** After the challenge window: finalize (anyone may) so the model is minted, then collect the payment. */
async function finalizeStage(ctx: PipelineContext, rec: JobRecord): Promise<boolean> {
  const job = await getJob(ctx.conn, BigInt(rec.jobId));
  if (job.status === "finalized") {
    // the poster accepted early, or a crash came between finalize and this record
    const done = await ctx.jobs.update(rec.jobId, { stage: "finalized", modelId: job.modelId?.toString() });
    await collect(ctx, done);
    return true;
  }
  // answer any challenge of this result while it is the trainer's move (silence loses on the clock)
  const tree = await readCheckpointTree(jobDirOf(ctx, rec.jobId));
  if (tree) {
    const { cursor } = await defendDisputes(ctx.conn, new Map([[rec.jobId, tree]]), disputeCursor.get(rec.jobId) ?? 1n, ctx.log);
    disputeCursor.set(rec.jobId, cursor);
  }
  if (job.status === "disputed") {
    await ctx.jobs.update(rec.jobId, { reason: "the result is challenged; the node answers the dispute game's moves, the game decides" });
    return false;
  }
  const block = await ctx.conn.publicClient.getBlock();
  if (job.challengeEndsAt !== undefined && block.timestamp <= job.challengeEndsAt) return false;
  const tx = await finalizeJob(ctx.conn, BigInt(rec.jobId));
  ctx.log(`job ${rec.jobId}: finalized, model #${tx.modelId}, paid ${tx.trainerPayment} wei`);
  const done = await ctx.jobs.update(rec.jobId, { stage: "finalized", modelId: tx.modelId.toString(), trainerPayment: tx.trainerPayment.toString(), txs: { finalize: tx.hash } });
  await collect(ctx, done);
  return true;
}

/**
 * Advances the job as far as it can go now. Returns when it is terminal or waiting (challenge window).
 * Throws on errors; the caller decides between retry and failure (isPermanent).
 */
export async function advanceJob(ctx: PipelineContext, jobId: string): Promise<JobRecord> {
  let rec = await ctx.jobs.ensure(jobId);
  if (rec.stage !== "seen" && !TERMINAL_STAGES.has(rec.stage)) rec = await reconcileWithChain(ctx, rec);
  try {
    if (rec.stage === "seen") {
      await claimStage(ctx, rec);
      rec = ctx.jobs.get(jobId)!;
    }
  } catch (err) {
    if (err instanceof SkipJob) return ctx.jobs.update(jobId, { stage: "skipped", reason: err.message });
    throw err;
  }
  if (HELD_STAGES.has(rec.stage)) {
    if (!rec.result) await trainStages(ctx, rec);
    rec = ctx.jobs.get(jobId)!;
    await submitStage(ctx, rec);
    rec = ctx.jobs.get(jobId)!;
  }
  if (rec.stage === "submitted") await finalizeStage(ctx, rec);
  return ctx.jobs.get(jobId)!;
}

/** Stages in which the node holds a claim it has not submitted yet. */
const HELD_STAGES: ReadonlySet<JobRecord["stage"]> = new Set(["claimed", "fetching", "training", "attributing", "pinning"]);

const isMe = (ctx: PipelineContext, a: string | undefined) => a?.toLowerCase() === ctx.conn.account!.address.toLowerCase();

/**
 * Compares a held job's record with the chain and repairs what a chain restart from an older state dump
 * lost: a claim that vanished is claimed again, a submission that vanished is submitted again (the
 * result is kept). A job the operator abandoned, or that is no longer this node's, ends as failed.
 */
export async function reconcileWithChain(ctx: PipelineContext, rec: JobRecord): Promise<JobRecord> {
  if (!HELD_STAGES.has(rec.stage) && rec.stage !== "submitted") return rec;
  const abandoned = ctx.jobs.request(rec.jobId, "abandon");
  const job = await getJob(ctx.conn, BigInt(rec.jobId));
  if (job.status === "open") {
    if (abandoned || rec.release) {
      return ctx.jobs.update(rec.jobId, { stage: "failed", error: rec.release?.message ?? "abandoned by the operator (tributary-trainer jobs abandon); the job is open again" });
    }
    ctx.log(`job ${rec.jobId}: this node's ${rec.stage === "submitted" ? "claim and submission" : "claim"} vanished from the chain (restarted from an older state?); claiming again`);
    const tx = await claimJob(ctx.conn, BigInt(rec.jobId));
    ctx.log(`job ${rec.jobId}: claimed again (due ${new Date(Number(tx.dueAt) * 1000).toISOString()})`);
    return ctx.jobs.update(rec.jobId, { dueAt: tx.dueAt.toString(), txs: { claim: tx.hash }, ...(rec.stage === "submitted" ? { stage: rec.result ? "pinning" : "claimed" } : {}) });
  }
  if (!isMe(ctx, job.trainer)) {
    return ctx.jobs.update(rec.jobId, { stage: "failed", error: `the job is ${job.status}${job.trainer ? ` by another trainer (${job.trainer})` : ""}; this node no longer holds it` });
  }
  if (job.status === "claimed" && rec.stage === "submitted") {
    ctx.log(`job ${rec.jobId}: the submission vanished from the chain (restarted from an older state?); submitting again`);
    return ctx.jobs.update(rec.jobId, { stage: rec.result ? "pinning" : "claimed", dueAt: job.dueAt?.toString() });
  }
  if (job.status === "claimed" && job.dueAt !== undefined && rec.dueAt !== job.dueAt.toString()) return ctx.jobs.update(rec.jobId, { dueAt: job.dueAt.toString() });
  return rec;
}

/**
 * Gives a claimed job back on chain with its cause, and records it (stage failed, `release`). The cause's
 * kind picks the chain call: `abandon` is `releaseJob` (the trainer pays the release fee).
 */
export async function releaseHeldJob(ctx: PipelineContext, jobId: string, cause: ReleaseCause): Promise<JobRecord> {
  const rec = ctx.jobs.get(jobId)!;
  const pending = { kind: cause.kind, reason: cause.reason, message: cause.message };
  await ctx.jobs.update(jobId, { stage: "failed", error: cause.message, release: pending });
  const job = await getJob(ctx.conn, BigInt(jobId));
  if (job.status !== "claimed" || !isMe(ctx, job.trainer)) {
    ctx.log(`job ${jobId}: not released: the job is ${job.status} on chain, not held by this node`);
    return ctx.jobs.update(jobId, { release: { ...pending, at: new Date().toISOString(), message: `${cause.message} (nothing to release: the job is ${job.status} on chain)` } });
  }
  let tx: { hash: string; fee: bigint };
  switch (cause.kind) {
    case "abandon":
      tx = await releaseJob(ctx.conn, BigInt(jobId));
      break;
  }
  ctx.log(`job ${jobId}: released on chain (${cause.reason}: ${cause.message}); fee ${tx.fee} wei (stage was ${rec.failure?.stage ?? rec.stage})`);
  return ctx.jobs.update(jobId, { release: { ...pending, fee: tx.fee.toString(), at: new Date().toISOString() }, txs: { release: tx.hash } });
}
