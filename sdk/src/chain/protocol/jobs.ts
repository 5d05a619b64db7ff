// Fine-tuning jobs: post (spec to IPFS, approve budget, post), status, accept, dispute, cancel.
import type { Address, Hex } from "viem";
import { applyRecommended, parseJobSpec } from "../../schemas/index.ts";
import type { BaseModelCard, JobSpec, JobSpecInput } from "../../schemas/index.ts";
import type { ChainConnection } from "../client.ts";
import { ContentStoreError } from "../../content/errors.ts";
import { FileSetMismatchError } from "../../files/set.ts";
import { NotFoundError } from "../errors.ts";
import { eventsIn, readView, sendTx } from "../write.ts";
import type { TxRef } from "./access.ts";
import { addJson } from "./content.ts";
import type { ProtocolContentStore } from "./content.ts";
import { baseModelCard, findBaseModel } from "./models.ts";
import { ensureAllowance } from "./token.ts";
import { scanEvents } from "../logs.ts";

export const JOB_STATUSES = [
  "none",
  "open",
  "claimed",
  "submitted",
  "disputed",
  "finalized",
  "cancelled",
  "refunded",
] as const;
export type JobStatusName = (typeof JOB_STATUSES)[number];

export interface PostJobInput {
  /** The job spec; validated (and defaults filled) with the `tributary/job-spec@1` schema. */
  spec: JobSpecInput | unknown;
  /** Budget in OPEN wei, escrowed on posting. */
  budget: bigint;
  /** Seconds the trainer has after claiming. */
  duration: number;
  /** On-chain base model id; default: looked up by the spec's `baseModel` name. */
  baseModelId?: number;
  parentModelId?: bigint;
  /**
   * Where the settings the spec leaves out come from: the base model's card (its recommended
   * settings, read from its file set: the default), a card given here, or `false` for the schema's
   * generic defaults. Either way a max length above the model's context is cut to the context.
   */
  recommended?: BaseModelCard | false;
}

export interface PostJobResult extends TxRef {
  jobId: bigint;
  specCid: string;
  spec: JobSpec;
  dataFee: bigint;
  /** The card whose recommended settings filled the spec, if any. */
  card?: BaseModelCard;
  /** Settings changed from what was asked, each with the reason (e.g. a max length above the context). */
  adjusted: string[];
}

/**
 * The spec as it will be posted: the base model's recommended settings under whatever the caller set,
 * the max length cut to the model's context, then validated with every remaining default filled.
 */
export async function resolveJobSpec(
  conn: ChainConnection,
  store: ProtocolContentStore,
  input: Pick<PostJobInput, "spec" | "recommended">,
): Promise<{ spec: JobSpec; baseModelId: number; card?: BaseModelCard; adjusted: string[] }> {
  const raw = (input.spec ?? {}) as JobSpecInput;
  const base = await findBaseModel(conn, String(raw.baseModel ?? ""));
  const adjusted: string[] = [];
  let card: BaseModelCard | undefined;
  if (input.recommended !== false) {
    try {
      card = input.recommended ?? (await baseModelCard(store, base));
    } catch (err) {
      // a base model registered without a model folder (an id only): generic defaults, said so
      const missing = err instanceof ContentStoreError && /not found/i.test(err.message);
      if (!(err instanceof NotFoundError || err instanceof FileSetMismatchError || missing)) throw err;
      adjusted.push(`no recommended settings for ${base.name} (${err.message}); the job spec's generic defaults apply`);
    }
  }
  let laid: unknown = raw;
  if (card) {
    const asked = (raw.training as { maxSeqLength?: number } | undefined)?.maxSeqLength;
    laid = applyRecommended(raw as never, card);
    if (asked !== undefined && asked > card.contextLength) {
      adjusted.push(`training.maxSeqLength ${asked} -> ${card.contextLength}: ${card.name}'s context is ${card.contextLength} tokens`);
    }
  }
  return { spec: parseJobSpec(laid), baseModelId: base.baseModelId, card, adjusted };
}

export async function postJob(
  conn: ChainConnection,
  store: ProtocolContentStore,
  input: PostJobInput,
): Promise<PostJobResult> {
  const { spec, baseModelId: found, card, adjusted } = await resolveJobSpec(conn, store, input);
  const baseModelId = input.baseModelId ?? found;
  const specCid = await addJson(store, spec);
  const jm = conn.contracts.JobMarket;
  await ensureAllowance(conn, jm.address, input.budget);
  const tx = await sendTx(conn, jm, "postJob", [
    {
      specCID: specCid,
      baseModelId,
      parentModelId: input.parentModelId ?? 0n,
      datanetIds: spec.data.map((d) => BigInt(d.datanetId)),
      versions: spec.data.map((d) => d.version),
      budget: input.budget,
      duration: input.duration,
    },
  ]);
  const [ev] = eventsIn(jm, tx.receipt, "JobPosted");
  return {
    hash: tx.hash,
    blockNumber: tx.blockNumber,
    jobId: ev.args.jobId!,
    specCid,
    spec,
    dataFee: ev.args.dataFee!,
    card,
    adjusted,
  };
}

export interface JobInfo {
  jobId: bigint;
  status: JobStatusName;
  poster: Address;
  trainer?: Address;
  baseModelId: number;
  parentModelId: bigint;
  budget: bigint;
  dataFee: bigint;
  duration: number;
  dueAt?: bigint;
  /** Stake the trainer's claim locked for this job (undefined while open). */
  collateral?: bigint;
  challengeEndsAt?: bigint;
  modelId?: bigint;
  specCid: string;
  datanets: Array<{ datanetId: bigint; version: number }>;
  result?: {
    adapterCid: string;
    adapterHash: Hex;
    metricsCid: string;
    attributionRoot: Hex;
    attributionTotalWeight: bigint;
    reportCid: string;
  };
}

export async function getJob(conn: ChainConnection, jobId: bigint): Promise<JobInfo> {
  const jm = conn.contracts.JobMarket;
  const pc = conn.publicClient;
  const job = await readView(jm, "getJob", () =>
    pc.readContract({ address: jm.address, abi: jm.abi, functionName: "getJob", args: [jobId] }),
  );
  if (job.status === 0)
    throw new NotFoundError(`Job ${jobId}`, "List jobs with `tributary job status` on a known id.");
  const [[ids, versions], posted] = await Promise.all([
    pc.readContract({ address: jm.address, abi: jm.abi, functionName: "getJobDatanets", args: [jobId] }),
    scanEvents(conn, { address: jm.address, abi: jm.abi, eventName: "JobPosted", args: { jobId } }),
  ]);
  const status = JOB_STATUSES[job.status];
  const info: JobInfo = {
    jobId,
    status,
    poster: job.poster,
    trainer: /^0x0+$/.test(job.trainer) ? undefined : job.trainer,
    baseModelId: job.baseModelId,
    parentModelId: job.parentModelId,
    budget: job.budget,
    dataFee: job.dataFee,
    duration: job.duration,
    dueAt: job.dueAt ? BigInt(job.dueAt) : undefined,
    collateral: job.collateral || undefined,
    challengeEndsAt: job.challengeEndsAt ? BigInt(job.challengeEndsAt) : undefined,
    modelId: job.modelId || undefined,
    specCid: posted[0]?.args.specCID ?? "",
    datanets: ids.map((id, i) => ({ datanetId: id, version: versions[i] })),
  };
  if (["submitted", "disputed", "finalized"].includes(status)) {
    const r = await pc.readContract({
      address: jm.address,
      abi: jm.abi,
      functionName: "getResult",
      args: [jobId],
    });
    info.result = {
      adapterCid: r.adapterCID,
      adapterHash: r.adapterHash,
      metricsCid: r.metricsCID,
      attributionRoot: r.attributionRoot,
      attributionTotalWeight: r.attributionTotalWeight,
      reportCid: r.reportCID,
    };
  }
  return info;
}

/** Accepts a submitted result early (poster only); mints the model version. */
export async function acceptJob(conn: ChainConnection, jobId: bigint): Promise<TxRef & { modelId?: bigint }> {
  const jm = conn.contracts.JobMarket;
  const tx = await sendTx(conn, jm, "acceptResult", [jobId]);
  const [ev] = eventsIn(jm, tx.receipt, "JobFinalized");
  return { hash: tx.hash, blockNumber: tx.blockNumber, modelId: ev?.args.modelId };
}

/**
 * Challenges a submitted result within the challenge window (anyone but its trainer): approves and posts the
 * dispute game's challenge bond; the reason is pinned as a document. The trainer must then defend its
 * checkpoint tree move by move (see docs/contracts.md, "Dispute game").
 */
export async function disputeJob(
  conn: ChainConnection,
  store: ProtocolContentStore,
  jobId: bigint,
  reason: string,
  /** Pinned with the reason (e.g. a verifier's replay: the leaf, the trainer's state and the replayed one). */
  evidence?: Record<string, unknown>,
): Promise<TxRef & { reasonCid: string; disputeId?: bigint; bond: bigint; replay: boolean }> {
  const reasonCid = await addJson(store, {
    schema: "tributary/dispute@1",
    jobId: jobId.toString(),
    reason,
    ...(evidence ? { evidence } : {}),
    createdAt: new Date().toISOString(),
  });
  const game = conn.contracts.DisputeGame;
  const { challengeBond: bond } = await conn.publicClient.readContract({ address: game.address, abi: game.abi, functionName: "params" });
  await ensureAllowance(conn, game.address, bond);
  const tx = await sendTx(conn, game, "openChallenge", [jobId, reasonCid]);
  const [ev] = eventsIn(game, tx.receipt, "ChallengeOpened");
  // an eval claim goes to a committee at once (EvalDisputeOpened); otherwise the challenger plays the bisection
  const replay = eventsIn(game, tx.receipt, "EvalDisputeOpened").length === 0;
  return { hash: tx.hash, blockNumber: tx.blockNumber, reasonCid, disputeId: ev?.args.disputeId, bond, replay };
}

/**
 * What disputing a job's result costs and how it would be decided, before opening it: the challenge bond, and
 * whether it is a replay dispute (bisected: the challenger answers each move, see REPLAY_CHALLENGER_HINT) or an eval
 * one (the job's current trainer committed an eval claim: a committee recomputes it).
 */
export async function disputeTerms(conn: ChainConnection, job: Pick<JobInfo, "jobId" | "trainer">): Promise<{ bond: bigint; replay: boolean }> {
  const game = conn.contracts.DisputeGame;
  const [params, claim] = await Promise.all([
    conn.publicClient.readContract({ address: game.address, abi: game.abi, functionName: "params" }),
    conn.publicClient.readContract({ address: game.address, abi: game.abi, functionName: "evalClaimOf", args: [job.jobId] }),
  ]);
  return { bond: params.challengeBond, replay: claim.trainer.toLowerCase() !== job.trainer?.toLowerCase() };
}

/** Cancels an open (unclaimed) job; the budget is refunded to the poster. */
export async function cancelJob(conn: ChainConnection, jobId: bigint): Promise<TxRef & { refund: bigint }> {
  const jm = conn.contracts.JobMarket;
  const tx = await sendTx(conn, jm, "cancelJob", [jobId]);
  const [ev] = eventsIn(jm, tx.receipt, "JobCancelled");
  return { hash: tx.hash, blockNumber: tx.blockNumber, refund: ev.args.refund! };
}

export interface SubmitResultInput {
  adapterCid: string;
  adapterHash: Hex;
  metricsCid: string;
  /** Root and total weight of the attribution tree (both zero for none). */
  attributionRoot: Hex;
  attributionTotalWeight: bigint;
  /** CID of the attribution report (`tributary/attribution@1`), needed with a root. */
  reportCid: string;
}

/** Submits a trained result for a claimed job (its trainer only); starts the challenge window. */
export async function submitResult(
  conn: ChainConnection,
  jobId: bigint,
  r: SubmitResultInput,
): Promise<TxRef & { challengeEndsAt: bigint }> {
  const jm = conn.contracts.JobMarket;
  const tx = await sendTx(conn, jm, "submitResult", [
    jobId,
    {
      adapterCID: r.adapterCid,
      adapterHash: r.adapterHash,
      metricsCID: r.metricsCid,
      attributionRoot: r.attributionRoot,
      attributionTotalWeight: r.attributionTotalWeight,
      reportCID: r.reportCid,
    },
  ]);
  const [ev] = eventsIn(jm, tx.receipt, "ResultSubmitted");
  return { hash: tx.hash, blockNumber: tx.blockNumber, challengeEndsAt: BigInt(ev.args.challengeEndsAt!) };
}

/**
 * Claims an open job as a trainer: needs the minimum stake, and locks `collateralFor(budget)` of the free
 * (unlocked) stake until the job settles.
 */
export async function claimJob(
  conn: ChainConnection,
  jobId: bigint,
): Promise<TxRef & { dueAt: bigint; collateral: bigint }> {
  const jm = conn.contracts.JobMarket;
  const tx = await sendTx(conn, jm, "claimJob", [jobId]);
  const [ev] = eventsIn(jm, tx.receipt, "JobClaimed");
  return { hash: tx.hash, blockNumber: tx.blockNumber, dueAt: BigInt(ev.args.dueAt!), collateral: ev.args.collateral! };
}

/** The collateral a claim of a job with `budget` would lock now: max(slashAmount, budget × collateralBps). */
export async function collateralFor(conn: ChainConnection, budget: bigint): Promise<bigint> {
  const jm = conn.contracts.JobMarket;
  return conn.publicClient.readContract({
    address: jm.address,
    abi: jm.abi,
    functionName: "collateralFor",
    args: [budget],
  });
}

/** Finalizes a submitted job once its challenge window is over (anyone); mints the model version. */
export async function finalizeJob(
  conn: ChainConnection,
  jobId: bigint,
): Promise<TxRef & { modelId: bigint; trainerPayment: bigint }> {
  const jm = conn.contracts.JobMarket;
  const tx = await sendTx(conn, jm, "finalizeJob", [jobId]);
  const [ev] = eventsIn(jm, tx.receipt, "JobFinalized");
  return {
    hash: tx.hash,
    blockNumber: tx.blockNumber,
    modelId: ev.args.modelId!,
    trainerPayment: ev.args.trainerPayment!,
  };
}

/** Reopens a claimed job whose deadline passed (anyone); the trainer's collateral goes to the Datanet pools. */
export async function reclaimJob(
  conn: ChainConnection,
  jobId: bigint,
): Promise<TxRef & { trainer: Address; slashed: bigint }> {
  const jm = conn.contracts.JobMarket;
  const tx = await sendTx(conn, jm, "reclaimJob", [jobId]);
  const [ev] = eventsIn(jm, tx.receipt, "JobReclaimed");
  return { hash: tx.hash, blockNumber: tx.blockNumber, trainer: ev.args.trainer!, slashed: ev.args.slashed! };
}

/**
 * The trainer gives a claimed job back before its deadline (a job it found it cannot finish): the job
 * reopens at once and the trainer pays the release fee (`releaseFeeBps` of the job's collateral, less than a
 * missed deadline) from its stake to the job's Datanet pools.
 */
export async function releaseJob(
  conn: ChainConnection,
  jobId: bigint,
): Promise<TxRef & { trainer: Address; fee: bigint }> {
  const jm = conn.contracts.JobMarket;
  const tx = await sendTx(conn, jm, "releaseJob", [jobId]);
  const [ev] = eventsIn(jm, tx.receipt, "JobReleased");
  return { hash: tx.hash, blockNumber: tx.blockNumber, trainer: ev.args.trainer!, fee: ev.args.fee! };
}

/**
 * The trainer gives a claimed job back without a fee because contribution `contributionId` of Datanet
 * `datanetId`, part of the job's version, was withdrawn while the claim ran (the contract checks this on chain
 * and reverts NoFaultCauseUnproven otherwise). The collateral is unlocked and the job reopens.
 */
export async function releaseJobNoFault(
  conn: ChainConnection,
  jobId: bigint,
  datanetId: bigint,
  contributionId: bigint,
): Promise<TxRef & { trainer: Address }> {
  const jm = conn.contracts.JobMarket;
  const tx = await sendTx(conn, jm, "releaseJobNoFault", [jobId, datanetId, contributionId]);
  const [ev] = eventsIn(jm, tx.receipt, "JobReleasedNoFault");
  return { hash: tx.hash, blockNumber: tx.blockNumber, trainer: ev.args.trainer! };
}

/** OPEN the JobMarket holds for `account` (trainer payments, refunds, slashes): withdraw() pays it out. */
export async function jobMarketWithdrawable(conn: ChainConnection, account: Address): Promise<bigint> {
  const jm = conn.contracts.JobMarket;
  return conn.publicClient.readContract({ address: jm.address, abi: jm.abi, functionName: "withdrawable", args: [account] });
}

/** Withdraws everything the JobMarket holds for the connected account (reverts NothingToWithdraw at zero). */
export async function withdrawFromJobMarket(conn: ChainConnection): Promise<TxRef & { amount: bigint }> {
  const jm = conn.contracts.JobMarket;
  const tx = await sendTx(conn, jm, "withdraw", []);
  const [ev] = eventsIn(jm, tx.receipt, "Withdrawn");
  return { hash: tx.hash, blockNumber: tx.blockNumber, amount: ev.args.amount! };
}
