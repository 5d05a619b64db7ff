/**
 * Training-time attribution. The influence of a contribution on the model is scored against the eval
 * records' loss on the LoRA parameters by the method `bench/attribution.ts` measured best against
 * retraining ground truth (DEFAULT_METHOD; see bench/results/attribution.json and influence.ts for every
 * method). Positive: training on it lowered the eval loss. Scores become integer weights per contributor
 * (negative ones earn nothing) committed as a Merkle root by the SDK's report builder.
 *
 * Duplicates cannot farm credit: `dedupContributions` (the SDK's exact + MinHash near-duplicate
 * detection) runs before training; a duplicate's records are neither trained nor attributed, it scores
 * 0 and its report entry names the earlier contribution that keeps the credit (`duplicateOf`).
 * Without eval records there is no eval gradient: the report is "uniform" (weight by records).
 *
 * Backends: the engine computes the gradients for the bases it loads (Llama); a torch node asks its worker
 * (`attribute`, trainer-node/torch/tributary_torch/attribution.py): the same definitions with torch autograd,
 * on any transformers causal LM, reading the run's checkpoints of either backend.
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { duplicateGroups } from "@tributary/sdk/dedup";
import type { DuplicateMatch } from "@tributary/sdk/dedup";
import { buildAttributionReport } from "@tributary/sdk/merkle";
import type { ContributionTree } from "@tributary/sdk/merkle";
import type { AttributionReport } from "@tributary/sdk/schemas";
import { AdamW, ChatTokenizer, adapterParams, encodeRecord, fineTune, loadAdapter, loadCheckpoint, loadModel } from "@tributary/engine";
import type { FineTuneOptions, Kernel, LoraAdapter, TrainingRecord } from "@tributary/engine";
import { TorchWorker } from "../backends/torch-worker.ts";
import type { Attributed } from "../backends/torch-protocol.ts";
import { TORCH_ATTRIBUTION_METHODS } from "../backends/torch-protocol.ts";
import type { JobContribution } from "./data.ts";
import { attributionScores, INRUN_METHODS, InRunAttribution, vectorsOf } from "./influence.ts";
import type { Checkpoint, InRunMethod, MethodName } from "./influence.ts";

/** Any method the node can report: the checkpoint methods and the in-run ones. */
export type AttributionMethod = MethodName | InRunMethod;
/**
 * The node's attribution method: in bench/results/attribution.json the best same-seed LDS among the methods
 * whose cost fits the goal (<= 0.25 of training). In-run: its vectors come from the training run itself
 * (the pipeline trains with `InRunAttribution` hooks and saves them beside the adapter).
 */
export const DEFAULT_METHOD: AttributionMethod = "inrun_tracin_unit";
/** What the node falls back to when the training kept no in-run vectors (a resumed run, the torch backend, fused kernels). */
export const CHECKPOINT_METHOD: MethodName = "adam_cos_cp";
export const isInRun = (m: AttributionMethod): m is InRunMethod => (INRUN_METHODS as readonly string[]).includes(m);

/**
 * The in-run collector for a training run (pass `hooks()` as fineTune's `inRun`, then `save(adapterDir,
 * keys)`), or null when `method` is not in-run. `owner[i]`: the contribution index of training record i,
 * in the order the records are trained (fineTune's `records`).
 */
export function inRunAttributionFor(owner: readonly number[], contributions: number, method: AttributionMethod = DEFAULT_METHOD): InRunAttribution | null {
  return isInRun(method) ? new InRunAttribution(owner, contributions, [vectorsOf(method)]) : null;
}
/**
 * A run's in-run vectors, recomputed by training it again from its start with the in-run hooks (into `scratchDir`,
 * removed after) and saved beside the adapter in `adapterDir`, where `attribute` reads them. The hooks only read
 * the run and the unfused kernels are deterministic, so these are the vectors of the run that wrote `adapterDir`
 * had it never stopped: a run resumed from a checkpoint (its hooks missed the steps before it) and a verifier
 * recomputing a submitted result (it holds the replayed adapter, not the trainer's vectors) get the attribution
 * an uninterrupted run gets, instead of falling back to another method. Costs one training run. Returns false
 * (nothing done) when the method is not in-run, the kernel is fused, or there are no eval records to attribute
 * against (the report is then uniform).
 */
export async function inRunVectorsByRerun(o: {
  modelDir: string;
  /** The training records in training order and the contribution of each (splitJobRecords' train/trainOwner). */
  records: TrainingRecord[];
  trainOwner: readonly number[];
  evalRecords: TrainingRecord[];
  contributions: readonly JobContribution[];
  method: "lora" | "qlora";
  config: FineTuneOptions["config"];
  kernel: Kernel;
  adapterDir: string;
  scratchDir: string;
  attributionMethod?: AttributionMethod;
  signal?: AbortSignal;
}): Promise<boolean> {
  const inRun = inRunAttributionFor(o.trainOwner, o.contributions.length, o.attributionMethod ?? DEFAULT_METHOD);
  if (!inRun || o.kernel.ops || o.evalRecords.length === 0) return false;
  await rm(o.scratchDir, { recursive: true, force: true });
  try {
    const { metrics } = await fineTune({ modelDir: o.modelDir, records: o.records, evalRecords: o.evalRecords, outDir: o.scratchDir, method: o.method, config: o.config, kernel: o.kernel, resume: false, signal: o.signal, inRun: inRun.hooks() });
    if (metrics.stopped || !inRun.complete) throw new Error("the attribution rerun stopped before the run's end");
    await inRun.save(o.adapterDir, o.contributions.map(keyOf));
    return true;
  } finally {
    await rm(o.scratchDir, { recursive: true, force: true });
  }
}

/** Checkpoints a *_cp method reads (evenly spaced over the run, the final adapter last). */
export const ATTRIBUTION_CHECKPOINTS = 3;

export interface AttributionInput {
  modelDir: string;
  adapterDir: string;
  quantize: boolean;
  kernel: Kernel;
  learningRate: number;
  maxSeqLen: number;
  /** Training records per contribution (after the eval split), in the same order as `contributions`. */
  trainRecords: TrainingRecord[][];
  evalRecords: TrainingRecord[];
  contributions: JobContribution[];
  /** Duplicates found before training (dedupContributions): they score 0. */
  duplicates?: ReadonlyMap<number, DuplicateOf>;
  method?: AttributionMethod;
  /** Who computes the gradients: the engine (default; Llama bases) or the torch worker (any causal LM). */
  backend?: "engine" | "torch";
  /** The torch worker's options (backend torch). */
  torch?: { python?: string; device?: "auto" | "cpu" | "cuda"; precision?: "auto" | "fp32" | "bf16" | "fp16"; threads?: number; worker?: TorchWorker };
}

export interface DuplicateOf {
  datanetId: string;
  contributionId: string;
  kind: DuplicateMatch["kind"];
  similarity: number;
}

const keyOf = (c: Pick<JobContribution, "datanetId" | "contributionId">) => `${c.datanetId}/${c.contributionId}`;
/** The key a contribution's in-run vector is saved under (`InRunAttribution.save(dir, keys)`). */
export const contributionKey = keyOf;

/**
 * Exact and near duplicates among a job's contributions, in registration order (the job's data is in
 * (Datanet, contribution id) order; within a Datanet ids are registration order). Returns, by index,
 * the earlier contribution each duplicate copies.
 */
export function dedupContributions(contributions: readonly JobContribution[]): Map<number, DuplicateOf> {
  const r = duplicateGroups(contributions.map((c) => ({ id: keyOf(c), records: c.records })));
  const index = new Map(contributions.map((c, i) => [keyOf(c), i]));
  return new Map(
    r.duplicates.map((d) => {
      const of = contributions[index.get(d.of)!];
      return [index.get(d.id)!, { datanetId: of.datanetId, contributionId: of.contributionId, kind: d.kind, similarity: d.similarity }];
    }),
  );
}

/**
 * The checkpoint folders (`<adapterDir>/checkpoints/step-*`) a *_cp attribution reads: `count` of them evenly spaced,
 * newest last (the torch worker's `pick_checkpoints` is the same choice). Picking again among the picked gives them.
 * (Before, a run with a single checkpoint picked `undefined` beside it here, and the engine's attribution threw.)
 */
export async function pickCheckpoints(adapterDir: string, count = ATTRIBUTION_CHECKPOINTS): Promise<string[]> {
  const dir = join(adapterDir, "checkpoints");
  const names = existsSync(dir) ? (await readdir(dir)).filter((n) => /^step-\d+$/.test(n)).sort() : [];
  if (!names.length) return [];
  // `at`: index -1 (a run with one checkpoint, picking 3) is the last one, as Python's names[-1] in the worker
  return [...new Set(Array.from({ length: count }, (_, i) => names.at(Math.round(((i + 1) * names.length) / count) - 1)!))];
}

/** The adapter's checkpoints (engine `checkpoints/step-*`), `count` of them evenly spaced, newest last. */
async function checkpointsOf(adapterDir: string, adapter: LoraAdapter, learningRate: number, count: number): Promise<Checkpoint[]> {
  const dir = join(adapterDir, "checkpoints");
  const picked = await pickCheckpoints(adapterDir, count);
  if (!picked.length) return [{ adapter, opt: null, lr: learningRate }];
  const out: Checkpoint[] = [];
  let prevStep = 0;
  for (const name of picked) {
    const a: LoraAdapter = { config: adapter.config, modules: new Map([...adapter.modules].map(([k, m]) => [k, { A: new Float32Array(m.A.length), B: new Float32Array(m.B.length) }])) };
    const params = adapterParams(a);
    const opt = new AdamW(params);
    const st = await loadCheckpoint(join(dir, name), params, opt);
    const lrs = st.lossHistory.slice(prevStep, st.step).map((h) => h.lr);
    out.push({ adapter: a, opt, lr: lrs.length ? lrs.reduce((s, x) => s + x, 0) / lrs.length : learningRate });
    prevStep = st.step;
  }
  return out;
}

export async function attribute(o: AttributionInput, onContribution?: (done: number, total: number) => void): Promise<{ report: AttributionReport; tree: ContributionTree }> {
  const dups = o.duplicates ?? new Map<number, DuplicateOf>();
  const base = o.contributions.map((c, i) => ({
    datanetId: c.datanetId,
    contributionId: c.contributionId,
    contributor: c.contributor,
    contentHash: c.contentHash,
    ...(dups.has(i) ? { duplicateOf: dups.get(i)! } : {}),
  }));
  const recordsOf = (i: number) => (dups.has(i) ? [] : o.trainRecords[i]);
  if (o.evalRecords.length === 0) {
    return buildAttributionReport(base.map((c, i) => ({ ...c, score: recordsOf(i).length })), { method: "uniform" });
  }
  if (o.backend === "torch") {
    const r = await torchAttribution(o, base.map((_, i) => recordsOf(i)), onContribution);
    return buildAttributionReport(base.map((c, i) => ({ ...c, score: dups.has(i) ? 0 : r.totals[i] })), { method: r.method });
  }
  const wanted = o.method ?? DEFAULT_METHOD;
  const model = await loadModel(o.modelDir, { kernel: o.kernel, quantize: o.quantize ? "nf4" : null });
  const tok = await ChatTokenizer.fromDir(o.modelDir);
  const adapter = await loadAdapter(o.adapterDir, model.config);
  const evalExamples = o.evalRecords.map((r) => encodeRecord(tok, r));
  if (isInRun(wanted)) {
    // the vectors the training accumulated (pipeline: InRunAttribution hooks); the eval records' gradients
    // at the final adapter are the only pass left. Duplicates trained nothing, so they have no vector.
    // Saved by contribution key: every contribution with training records must have been in the run.
    const inRun = await InRunAttribution.load(o.adapterDir, adapter);
    const at = new Map((inRun?.keys ?? []).map((k, i) => [k, i]));
    const covered = base.every((c, i) => !recordsOf(i).length || at.has(keyOf(c)));
    if (inRun?.complete && inRun.kinds.includes(vectorsOf(wanted)) && covered) {
      const { scores } = await inRun.scores(model, adapter, evalExamples, { maxSeqLen: o.maxSeqLen, methods: [wanted] });
      const total = (j: number | undefined) => (j === undefined ? 0 : scores[wanted].reduce((s, row) => s + row[j], 0));
      const scored = base.map((c, i) => ({ ...c, score: dups.has(i) || !recordsOf(i).length ? 0 : total(at.get(keyOf(c))) }));
      return buildAttributionReport(scored, { method: wanted });
    }
  }
  // no in-run vectors (a resumed run, another backend or kernel): the best checkpoint method, named in the report
  let method: MethodName = isInRun(wanted) ? CHECKPOINT_METHOD : wanted;
  const cp = method.endsWith("_cp");
  const checkpoints = cp ? await checkpointsOf(o.adapterDir, adapter, o.learningRate, ATTRIBUTION_CHECKPOINTS) : [{ adapter, opt: null, lr: o.learningRate }];
  // without the training's optimizer checkpoints (a backend that keeps none) the Adam preconditioner is
  // unknown: the unpreconditioned cosine, the next best in the benchmark, is used and named in the report
  if (method.startsWith("adam_") && checkpoints.some((c) => !c.opt)) method = method === "adam_cos_cp" ? "grad_cos_cp" : "tracin_cp";
  // each eval record is a query (as in the benchmark); a contribution's score is its sum over them
  const { scores } = await attributionScores(model, {
    checkpoints,
    contributions: base.map((_, i) => recordsOf(i).map((r) => encodeRecord(tok, r))),
    queries: evalExamples,
    maxSeqLen: o.maxSeqLen,
    methods: [method],
    onProgress: onContribution,
  });
  const scored = base.map((c, i) => ({ ...c, score: dups.has(i) ? 0 : scores[method].reduce((s, row) => s + row[i], 0) }));
  return buildAttributionReport(scored, { method });
}

/**
 * The scores computed by the torch worker: each contribution's records and the eval records (the queries)
 * go to it in a file beside the adapter (mode 600, removed afterwards); the worker reads the run's
 * checkpoints from `<adapterDir>/checkpoints`.
 */
export async function torchAttribution(
  o: Pick<AttributionInput, "modelDir" | "adapterDir" | "quantize" | "learningRate" | "maxSeqLen" | "evalRecords" | "method" | "torch">,
  contributions: TrainingRecord[][],
  onProgress?: (done: number, total: number) => void,
  extra: { perQuery?: boolean; signal?: AbortSignal } = {},
): Promise<Attributed> {
  const wanted = o.method ?? DEFAULT_METHOD;
  // the torch worker keeps no in-run vectors: its best checkpoint method
  const method = isInRun(wanted) ? CHECKPOINT_METHOD : wanted;
  if (!(TORCH_ATTRIBUTION_METHODS as readonly string[]).includes(method)) throw new Error(`attribution method ${method} is computed by the engine only; the torch worker computes ${TORCH_ATTRIBUTION_METHODS.join(", ")}`);
  const dir = join(o.adapterDir, "torch-data");
  await mkdir(dir, { recursive: true });
  const file = join(dir, "attribution-data.json");
  await writeFile(file, JSON.stringify({ contributions, queries: o.evalRecords }), { mode: 0o600 });
  // a worker the caller started (and closes), or one of its own
  const w = o.torch?.worker ?? (await TorchWorker.start({ python: o.torch?.python }));
  try {
    return await w.attribute(
      {
        type: "attribute",
        model_dir: o.modelDir,
        adapter_dir: o.adapterDir,
        data_file: file,
        method: method as (typeof TORCH_ATTRIBUTION_METHODS)[number],
        learning_rate: o.learningRate,
        max_seq_len: o.maxSeqLen,
        quantize: o.quantize,
        checkpoints: ATTRIBUTION_CHECKPOINTS,
        per_query: extra.perQuery ?? false,
        precision: o.torch?.precision ?? "auto",
        device: o.torch?.device ?? "auto",
        ...(o.torch?.threads ? { threads: o.torch.threads } : {}),
      },
      { onProgress, signal: extra.signal },
    );
  } finally {
    if (!o.torch?.worker) await w.close();
    await rm(file, { force: true });
  }
}
