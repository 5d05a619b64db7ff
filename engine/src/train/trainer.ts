/**
 * The training loop: full fine-tuning (every base tensor) or LoRA (adapter only, base frozen; with
 * an NF4-quantized base this is QLoRA). Micro-batches -> forward -> masked cross-entropy -> backward
 * -> (every gradAccum micro-batches) clip -> AdamW with a scheduled learning rate.
 * The loss of an optimizer step is the mean over all target tokens of its micro-batches.
 * Deterministic: given the same seed, data and kernel, the result is bit-identical, also after
 * resuming from a checkpoint.
 */
import { createHash } from "node:crypto";
import { EngineError } from "../errors.ts";
import { adapterParams, createLoraAdapter, loraConfig } from "../lora/adapter.ts";
import type { LoraAdapter, LoraConfig } from "../lora/adapter.ts";
import { dropFusedWeights, forward, lossBackward, trainableBaseParams } from "../model/llama.ts";
import type { Batch, LlamaModel, LoraTap } from "../model/llama.ts";
import { crossEntropyForward } from "../nn/cross-entropy.ts";
import { Rng, deriveSeed } from "../random/prng.ts";
import { AdamW, clipGradNorm } from "./adamw.ts";
import { latestCheckpoint, loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import type { TrainerState } from "./checkpoint.ts";
import { countTargets, countTokens, planBatches } from "./data.ts";
import type { Example } from "./data.ts";
import { learningRate } from "./schedule.ts";
import type { SchedulerType } from "./schedule.ts";

export interface TrainConfig {
  method: "lora" | "full";
  lora: LoraConfig;
  lr: number;
  epochs: number;
  batchSize: number;
  gradAccum: number;
  /** Longest example in tokens (longer ones are truncated); null: the model's context, at most 2048. */
  maxSeqLen: number | null;
  scheduler: SchedulerType;
  /** Warmup in optimizer steps; when null, warmupRatio * total steps. */
  warmupSteps: number | null;
  warmupRatio: number;
  weightDecay: number;
  maxGradNorm: number;
  seed: number;
  pack: boolean;
  /** Evaluate every N optimizer steps (0: only before and after training). */
  evalEvery: number;
  /** Write a checkpoint every N optimizer steps into checkpointDir (0: never). */
  checkpointEvery: number;
}

export function trainConfig(p: Partial<Omit<TrainConfig, "lora">> & { lora?: Partial<LoraConfig> } = {}): TrainConfig {
  const method = p.method ?? "lora";
  const c: TrainConfig = {
    epochs: 3,
    batchSize: 4,
    gradAccum: 1,
    maxSeqLen: null,
    scheduler: "cosine",
    warmupSteps: null,
    warmupRatio: 0,
    weightDecay: 0,
    maxGradNorm: 1,
    seed: 42,
    pack: false,
    evalEvery: 0,
    checkpointEvery: 0,
    ...p,
    method,
    lr: p.lr ?? (method === "lora" ? 2e-4 : 5e-5),
    lora: loraConfig(p.lora),
  };
  for (const k of ["epochs", "batchSize", "gradAccum", "maxSeqLen"] as const) {
    if (k === "maxSeqLen" && c[k] === null) continue;
    if (!Number.isInteger(c[k]) || (c[k] as number) <= 0) throw new EngineError(`training option ${k} must be a positive integer`, { [k]: c[k] });
  }
  if (!(c.lr > 0)) throw new EngineError("learning rate must be positive", { lr: c.lr });
  return c;
}

export interface TrainProgress {
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokensPerSec: number;
  etaSec: number;
  evalLoss?: number;
}

export interface TrainOptions {
  model: LlamaModel;
  train: Example[];
  eval?: Example[];
  config: TrainConfig;
  /** Start from this adapter instead of a fresh one (LoRA). */
  adapter?: LoraAdapter;
  checkpointDir?: string;
  /** Resume from the newest checkpoint in checkpointDir (true) or from this checkpoint path. */
  resume?: boolean | string;
  onProgress?: (p: TrainProgress) => void;
  signal?: AbortSignal;
  /** Stop (as if interrupted) once this many optimizer steps are done in total. */
  stopAfterSteps?: number;
  /**
   * Indices into `train` of examples masked in their own batch (zero loss weight; the batch plan is
   * unchanged): a retrain without them that differs from the full run only by them (attribution ground truth).
   */
  masked?: ReadonlySet<number>;
  /**
   * In-run hooks (training-time attribution from the training's own backward): `tap` gives each
   * micro-batch's LoRA tap (per-row gradient factors, the batch's `exampleOf` names the examples);
   * `afterStep` runs after each optimizer step. They read, never change, the run (LoRA, unfused kernels).
   */
  inRun?: InRunHooks;
  /**
   * Called after every optimizer step, once the state is complete and before its checkpoint is written: a
   * replay hashes each step's state here (`replaySegment`'s witness). It may change `params` in place, which
   * a test uses to tamper with a run (the dispute game's cheating trainer); it must not keep the references.
   */
  afterStep?: (s: { params: Map<string, Float32Array>; opt: AdamW; state: TrainerState; totalSteps: number }) => void;
  /**
   * Resume (`resume` as a path) under this run's configuration without requiring the checkpoint's recorded one
   * to match: a verifier replays the job's spec from a trainer's state, whatever the trainer wrote down.
   */
  replay?: boolean;
}

export interface InRunHooks {
  /** Before the first step: the adapter trained (null: full fine-tuning) and the step the run starts at (> 0 on resume). */
  start?(s: { adapter: LoraAdapter | null; step: number; totalSteps: number }): void;
  tap(batch: Batch): LoraTap;
  afterStep(s: InRunStep): void;
}

export interface InRunStep {
  /** The optimizer step just taken (1-based). */
  step: number;
  lr: number;
  /** Target tokens of the step: the step's loss is their summed loss over this. */
  normalizer: number;
  /** The factor gradient clipping applied (1 when it did not clip). */
  clip: number;
  /** The optimizer after the step (its second moment preconditioned the update). */
  opt: AdamW;
}

export interface TrainResult {
  adapter: LoraAdapter | null;
  steps: number;
  totalSteps: number;
  stopped: boolean;
  tokens: number;
  seconds: number;
  lossHistory: TrainerState["lossHistory"];
  evalHistory: TrainerState["evalHistory"];
}

/** Mean token loss of `examples` under the model (+ adapter), no dropout. */
export async function evaluate(model: LlamaModel, examples: Example[], opts: { adapter?: LoraAdapter | null; batchSize?: number; maxSeqLen?: number } = {}): Promise<number> {
  const batches = planBatches(examples, { batchSize: opts.batchSize ?? 8, maxSeqLen: opts.maxSeqLen ?? model.config.maxPositionEmbeddings, pack: false, seed: 0, epochs: 1, shuffle: false });
  let sum = 0;
  let count = 0;
  for (const b of batches) {
    const { logits } = await forward(model, b, { adapter: opts.adapter ?? null });
    const r = crossEntropyForward(logits, b.targets, model.config.vocabSize);
    sum += r.lossSum;
    count += r.count;
  }
  return sum / count;
}

/** A short hash of the examples (ids and masks), so a checkpoint only resumes the data it was made on. */
function dataFingerprint(examples: Example[]): string {
  const h = createHash("sha256");
  for (const e of examples) {
    h.update(Int32Array.from(e.ids));
    h.update(Uint8Array.from(e.train, Number));
    h.update("|");
  }
  return `${examples.length}:${h.digest("hex").slice(0, 16)}`;
}

/** The longest sequence a run trains on a model whose positions go up to `maxPos` (`model.rope.maxPos`). */
export function runMaxSeqLen(c: TrainConfig, maxPos: number): number {
  return c.maxSeqLen ?? Math.min(2048, maxPos);
}

/**
 * The micro-batches a run trains, in order, and its optimizer steps (one every `gradAccum` micro-batches, the last
 * one partial): the run's end, which a replay to `Infinity` stops at.
 */
export function runPlan(examples: Example[], c: TrainConfig, maxSeqLen: number, masked?: ReadonlySet<number>): { plan: ReturnType<typeof planBatches>; totalSteps: number } {
  const plan = planBatches(examples, { batchSize: c.batchSize, maxSeqLen, pack: c.pack, seed: c.seed, epochs: c.epochs, masked });
  return { plan, totalSteps: Math.ceil(plan.length / c.gradAccum) };
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  const { model, config: c } = o;
  const maxSeqLen = runMaxSeqLen(c, model.rope.maxPos);
  if (maxSeqLen > model.rope.maxPos) throw new EngineError("maxSeqLen exceeds the model's max_position_embeddings", { maxSeqLen, max: model.rope.maxPos });
  const adapter = c.method === "lora" ? (o.adapter ?? createLoraAdapter(model.config, c.lora, new Rng(deriveSeed(c.seed, "lora-init")))) : null;
  const params = adapter ? adapterParams(adapter) : trainableBaseParams(model);
  const opt = new AdamW(params, { weightDecay: c.weightDecay, noDecay: (n) => n.endsWith("norm.weight") });
  const { plan, totalSteps } = runPlan(o.train, c, maxSeqLen, o.masked);
  const warmup = c.warmupSteps ?? Math.ceil(c.warmupRatio * totalSteps);
  const run = JSON.parse(JSON.stringify({ ...c, data: dataFingerprint(o.train), evalData: dataFingerprint(o.eval ?? []), ...(o.masked?.size ? { masked: [...o.masked].sort((a, b) => a - b) } : {}) })) as Record<string, unknown>;
  let state: TrainerState = {
    step: 0,
    microStep: 0,
    dropoutRng: new Rng(deriveSeed(c.seed, "dropout")).getState(),
    tokens: 0,
    lossHistory: [],
    evalHistory: [],
    run,
  };
  if (o.resume) {
    const path = typeof o.resume === "string" ? o.resume : o.checkpointDir ? await latestCheckpoint(o.checkpointDir) : null;
    if (path) {
      state = await loadCheckpoint(path, params, opt);
      if (o.replay) state.run = run;
      else if (JSON.stringify(state.run) !== JSON.stringify(run)) {
        throw new EngineError("checkpoint was made by a different run configuration", { path }, "Resume with the same options and data, or start fresh");
      }
    }
  }
  const dropoutRng = Rng.fromState(state.dropoutRng);
  o.inRun?.start?.({ adapter, step: state.step, totalSteps });
  const evalNow = async () => {
    if (!o.eval?.length) return undefined;
    const loss = await evaluate(model, o.eval, { adapter, batchSize: c.batchSize, maxSeqLen });
    if (!state.evalHistory.some((e) => e.step === state.step)) state.evalHistory.push({ step: state.step, loss });
    return loss;
  };
  if (state.step === 0) await evalNow();

  const t0 = performance.now();
  const startStep = state.step;
  let tokensThisRun = 0;
  const grads = new Map([...params].map(([k, v]) => [k, new Float32Array(v.length)]));
  let stopped = false;
  while (state.step < totalSteps) {
    if (o.signal?.aborted || (o.stopAfterSteps !== undefined && state.step >= o.stopAfterSteps)) {
      stopped = true;
      break;
    }
    const micro: Batch[] = plan.slice(state.microStep, Math.min(plan.length, state.microStep + c.gradAccum));
    // a step whose examples are all masked has no target: its gradient is zero (AdamW still steps)
    const normalizer = Math.max(1, micro.reduce((s, b) => s + countTargets(b), 0));
    for (const g of grads.values()) g.fill(0);
    let lossSum = 0;
    for (const b of micro) {
      lossSum += (await lossBackward(model, b, normalizer, grads, { adapter, dropoutRng, loraTap: o.inRun?.tap(b) ?? null })).lossSum;
      const n = countTokens(b);
      tokensThisRun += n;
      state.tokens += n;
    }
    const gradNorm = clipGradNorm(grads, c.maxGradNorm);
    const lr = learningRate(state.step, { type: c.scheduler, lr: c.lr, warmupSteps: warmup, totalSteps });
    opt.step(grads, lr);
    if (!adapter) dropFusedWeights(model); // full fine-tuning changed the base weights
    state.step++;
    o.inRun?.afterStep({ step: state.step, lr, normalizer, clip: c.maxGradNorm > 0 && gradNorm > c.maxGradNorm ? c.maxGradNorm / (gradNorm + 1e-6) : 1, opt });
    state.microStep += micro.length;
    const loss = lossSum / normalizer;
    state.lossHistory.push({ step: state.step, loss, lr, gradNorm });
    let evalLoss: number | undefined;
    if ((c.evalEvery > 0 && state.step % c.evalEvery === 0) || state.step === totalSteps) evalLoss = await evalNow();
    state.dropoutRng = dropoutRng.getState();
    o.afterStep?.({ params, opt, state, totalSteps });
    if (o.checkpointDir && c.checkpointEvery > 0 && (state.step % c.checkpointEvery === 0 || state.step === totalSteps)) {
      await saveCheckpoint(o.checkpointDir, params, opt, state);
    }
    const elapsed = (performance.now() - t0) / 1000;
    const done = state.step - startStep;
    o.onProgress?.({
      step: state.step,
      totalSteps,
      loss,
      lr,
      gradNorm,
      tokensPerSec: tokensThisRun / Math.max(elapsed, 1e-9),
      etaSec: (elapsed / done) * (totalSteps - state.step),
      evalLoss,
    });
  }
  return {
    adapter,
    steps: state.step,
    totalSteps,
    stopped,
    tokens: state.tokens,
    seconds: (performance.now() - t0) / 1000,
    lossHistory: state.lossHistory,
    evalHistory: state.evalHistory,
  };
}
