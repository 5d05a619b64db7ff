/**
 * What a verifier recomputes for an `eval` job (checked on its outcome, not by replay; see IDisputeGame): the
 * held-out eval loss of the submitted adapter, the loss of one shard of the held-out records (the witness: the
 * shard follows from the committee's draw, and nobody publishes per-shard losses), and how well the submitted
 * attribution agrees with a recomputation (Spearman rank correlation of the contributions' scores).
 *
 * The losses are the engine's `evaluate` with the job's batch size and sequence length, the same call training
 * makes after its last step, so a verifier on the `wasm` kernel gets a `wasm`-trained job's number bit for bit and
 * another kernel's within rounding (the tolerance covers that). On a base the engine cannot load (a job the torch backend
 * trained) the losses are the torch worker's `evaluate` (`torchEvalLosses`): train.py's own eval loss definition, so
 * a CPU fp32 verifier gets the training run's number within rounding.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Hex } from "viem";
import { EVAL_SHARDS } from "@tributary/sdk/chain";
import { ContributionTree } from "@tributary/sdk/merkle";
import type { AttributionReport } from "@tributary/sdk/schemas";
import { ChatTokenizer, encodeRecord, evaluate, loadAdapter, loadModel } from "@tributary/engine";
import type { Kernel, TrainingRecord } from "@tributary/engine";
import { TorchWorker } from "../backends/torch-worker.ts";

/** How a verifier runs the torch worker (the python from TRIBUTARY_PYTHON or engine/.venv unless given). */
export interface TorchOptions {
  python?: string;
  device?: "auto" | "cpu" | "cuda";
  /** Default fp32 for eval losses (training's eval loss on the CPU is fp32; bf16 would miss the tolerance). */
  precision?: "auto" | "fp32" | "bf16" | "fp16";
  threads?: number;
  /** A worker the caller started (and closes): one start for the loss and the attribution. */
  worker?: TorchWorker;
}

/** Ranks with ties averaged (0-based). */
export function ranks(xs: readonly number[]): number[] {
  const idx = xs.map((_, i) => i).sort((a, b) => xs[a] - xs[b]);
  const r = new Array<number>(xs.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && xs[idx[j + 1]] === xs[idx[i]]) j++;
    for (let k = i; k <= j; k++) r[idx[k]] = (i + j) / 2;
    i = j + 1;
  }
  return r;
}

/** Spearman rank correlation; NaN when either side is constant. */
export function spearman(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new RangeError(`spearman needs two lists of one length, got ${a.length} and ${b.length}`);
  const ra = ranks(a);
  const rb = ranks(b);
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const ma = mean(ra);
  const mb = mean(rb);
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < ra.length; i++) {
    num += (ra[i] - ma) * (rb[i] - mb);
    da += (ra[i] - ma) ** 2;
    db += (rb[i] - mb) ** 2;
  }
  return da && db ? num / Math.sqrt(da * db) : NaN;
}

/** The records of shard `shard` of the held-out records (record i is in shard i % EVAL_SHARDS). */
export function evalShard<T>(records: readonly T[], shard: number): T[] {
  if (!Number.isInteger(shard) || shard < 0 || shard >= EVAL_SHARDS) throw new RangeError(`shard must be 0..${EVAL_SHARDS - 1}, got ${shard}`);
  return records.filter((_, i) => i % EVAL_SHARDS === shard);
}

/**
 * The held-out eval loss of the adapter in `adapterDir` over `records`, and over shard `shard` of them (the
 * shard's loss is the whole set's when the shard is empty: fewer held-out records than shards).
 */
export async function evalLosses(o: {
  modelDir: string;
  adapterDir: string;
  records: TrainingRecord[];
  quantize: boolean;
  kernel: Kernel;
  batchSize: number;
  maxSeqLen: number;
  shard: number;
}): Promise<{ loss: number; shardLoss: number }> {
  if (o.records.length === 0) throw new RangeError("the job holds out no records: there is no eval loss to recompute");
  const model = await loadModel(o.modelDir, { kernel: o.kernel, quantize: o.quantize ? "nf4" : null });
  const tok = await ChatTokenizer.fromDir(o.modelDir);
  const adapter = await loadAdapter(o.adapterDir, model.config);
  const examples = o.records.map((r) => encodeRecord(tok, r));
  const opts = { adapter, batchSize: o.batchSize, maxSeqLen: o.maxSeqLen };
  const loss = await evaluate(model, examples, opts);
  const shard = evalShard(examples, o.shard);
  const shardLoss = shard.length ? await evaluate(model, shard, opts) : loss;
  return { loss, shardLoss };
}

/**
 * `evalLosses` on the torch worker (its `evaluate`): for bases the engine cannot load. The records go to the worker in
 * a JSONL file under `scratchDir` (mode 600, removed afterwards).
 */
export async function torchEvalLosses(o: {
  modelDir: string;
  adapterDir: string;
  records: TrainingRecord[];
  quantize: boolean;
  batchSize: number;
  maxSeqLen: number;
  shard: number;
  scratchDir: string;
  torch?: TorchOptions;
}): Promise<{ loss: number; shardLoss: number }> {
  if (o.records.length === 0) throw new RangeError("the job holds out no records: there is no eval loss to recompute");
  if (!Number.isInteger(o.shard) || o.shard < 0 || o.shard >= EVAL_SHARDS) throw new RangeError(`shard must be 0..${EVAL_SHARDS - 1}, got ${o.shard}`);
  await mkdir(o.scratchDir, { recursive: true });
  const file = join(o.scratchDir, "eval-records.jsonl");
  await writeFile(file, o.records.map((r) => JSON.stringify(r)).join("\n") + "\n", { mode: 0o600 });
  const w = o.torch?.worker ?? (await TorchWorker.start({ python: o.torch?.python }));
  try {
    const r = await w.evaluate({
      model_dir: o.modelDir,
      adapter_dir: o.adapterDir,
      data_file: file,
      batch_size: o.batchSize,
      max_seq_len: o.maxSeqLen,
      shard: o.shard,
      nf4: o.quantize,
      precision: o.torch?.precision ?? "fp32",
      device: o.torch?.device ?? "auto",
      ...(o.torch?.threads ? { threads: o.torch.threads } : {}),
    });
    return { loss: r.loss, shardLoss: r.shard_loss };
  } finally {
    if (!o.torch?.worker) await w.close();
    await rm(file, { force: true });
  }
}

/**
 * Why a published attribution report is not the submitted attribution (null when it is): its own weights must
 * build the root and total submitted on chain, or its scores say nothing about what is paid.
 */
export function reportMismatch(report: AttributionReport, submitted: { attributionRoot: Hex; attributionTotalWeight: bigint }): string | null {
  if (BigInt(report.totalWeight) !== submitted.attributionTotalWeight) return `the report's total weight ${report.totalWeight} is not the submitted ${submitted.attributionTotalWeight}`;
  const leaves = report.contributions.filter((c) => BigInt(c.weight) > 0n).map((c) => ({ datanetId: BigInt(c.datanetId), contributionId: BigInt(c.contributionId), weight: BigInt(c.weight) }));
  if (!leaves.length) return submitted.attributionRoot === `0x${"0".repeat(64)}` ? null : "the report weighs no contribution, but a root was submitted";
  const root = ContributionTree.build(leaves).root;
  return root.toLowerCase() === submitted.attributionRoot.toLowerCase() ? null : `the report's weights build root ${root}, not the submitted ${submitted.attributionRoot}`;
}

/**
 * How well a submitted report's contribution scores agree with a recomputed one's (Spearman over the union of
 * their contributions; one missing from a side counts as the lowest score there). Fewer than two contributions:
 * 1 when both name the same one, else -1.
 */
export function attributionAgreement(submitted: AttributionReport, recomputed: AttributionReport): number {
  const key = (c: { datanetId: string; contributionId: string }) => `${c.datanetId}:${c.contributionId}`;
  const a = new Map(submitted.contributions.filter((c) => !c.duplicateOf).map((c) => [key(c), c.score]));
  const b = new Map(recomputed.contributions.filter((c) => !c.duplicateOf).map((c) => [key(c), c.score]));
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  if (keys.length < 2) return keys.length === 1 && a.has(keys[0]) && b.has(keys[0]) ? 1 : -1;
  const low = (m: Map<string, number>) => Math.min(...m.values(), 0) - 1;
  const rho = spearman(keys.map((k) => a.get(k) ?? low(a)), keys.map((k) => b.get(k) ?? low(b)));
  return Number.isNaN(rho) ? (keys.every((k) => a.get(k) === b.get(k)) ? 1 : 0) : rho;
}

/** Where a verifier keeps one eval job's recomputation. */
export const evalDirOf = (verifyDir: string, jobId: bigint) => join(verifyDir, "jobs", jobId.toString(), "eval");
