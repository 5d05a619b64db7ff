/**
 * The node's verifier mode (`tributary-trainer --verify`; docs/contracts.md "Dispute game"). Each pass:
 * - **stakes** as a verifier in the VerifierPool (both games draw from it) up to the configured amount;
 * - **audits** a sample of submitted `replay` jobs whose data it can read: it checks the trainer's checkpoint
 *   manifest against the tree committed on chain and the submitted result, replays one or more segments on the
 *   engine's `wasm` kernel from the trainer's published checkpoints (or the whole run), and on a mismatch opens a
 *   challenge with the evidence pinned as its reason; then plays the challenger's side of the bisection: it knows
 *   which leaf holds the wrong state, and descends into the child covering it;
 * - **serves when drawn**: fetches the job's data (keys from the custodian, which releases them to drawn
 *   verifiers), replays the proven segment from the proven previous state, commits `(verdict, witness)` and
 *   reveals it when the reveal opens;
 * - **audits usage epochs** in their window by their public report (its claims root, the contributions it pays
 *   against their contributors on chain, the claims as sums of those, the contributors' share) and challenges one
 *   that fails (UsageGame);
 * - **serves on usage-epoch committees** (UsageGame): fetches the epoch's records from its provider (a signed
 *   request; the provider serves drawn verifiers only), recomputes the epoch (usage-verify.ts) and votes;
 * - calls `drawCommittee` and `settle` when they are due (anyone may), in both games.
 * A manifest whose checkpoints claim steps past the end of the run the job's spec defines (`runSteps`: records,
 * epochs, batch) is not that run's tree: the auditor challenges toward the first such checkpoint with the evidence,
 * and a drawn verifier votes `UNAVAILABLE` on a segment the run does not have. A replay job trained on another
 * kernel than wasm (which a node refuses before claiming) is audited like any other: what its wasm replay shows
 * decides. Jobs it cannot replay (not `replay`, no checkpoint manifest, data unreadable) are skipped with the
 * reason logged. Data keys and vote salts stay in files readable by the node's user only, never in logs.
 */
import { createHash, randomBytes, randomInt } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { keccak256 } from "viem";
import type { Address, Hex } from "viem";
import {
  catJson,
  checkpointTree,
  chooseChildToward,
  commitVote,
  committeeOf,
  disputeJob,
  drawCommittee,
  drawUsageCommittee,
  commitUsageVote,
  evalClaimOf,
  evalShardOf,
  evalVote,
  finalCheckpointState,
  getDispute,
  getJob,
  getUsageDispute,
  getUsageEpoch,
  expectedUsageVerdict,
  revealUsageVote,
  settleUsageDispute,
  usageCommitteeOf,
  usageEpochRanges,
  challengeUsageEpoch,
  contributorsBpsOf,
  listUsageEpochs,
  readUsageReport,
  verifierStake,
  listBaseModels,
  revealVote,
  sendTx,
  lossToFixed,
  MIN_RANK_CORRELATION,
  settleDispute,
  stakeVerifier,
  toleranceToBps,
} from "@tributary/sdk/chain";
import type { EvalMeasurement, UsageEpochReport } from "@tributary/sdk/chain";
import type { ChainConnection, CheckpointTree, FinalBinding, JobInfo } from "@tributary/sdk/chain";
import type { ContentStore } from "@tributary/sdk/content";
import { fetchFileSet } from "@tributary/sdk/files";
import { KeyReleaseDeniedError } from "@tributary/sdk/custody";
import { parseAdapterManifest, parseAttributionReport, parseCheckpointManifest, parseJobSpec, verificationOf } from "@tributary/sdk/schemas";
import type { AdapterManifest, AttributionReport, CheckpointManifest, JobSpec } from "@tributary/sdk/schemas";
import { checkpointDirStateHash, checkpointName, readSafetensors, replaySegment, replaySegments, runSteps } from "@tributary/engine";
import type { Kernel, TrainingRecord } from "@tributary/engine";
import { attribute, dedupContributions, inRunVectorsByRerun } from "./attribution.ts";
import { TORCH_ATTRIBUTION_METHODS } from "../backends/torch-protocol.ts";
import { TorchWorker, torchUnavailable } from "../backends/torch-worker.ts";
import type { AttributionMethod } from "./attribution.ts";
import { fetchJobData } from "./data.ts";
import type { JobContribution } from "./data.ts";
import { startState } from "./disputes.ts";
import { attributionAgreement, evalDirOf, evalLosses, reportMismatch, torchEvalLosses } from "./eval-check.ts";
import type { TorchOptions } from "./eval-check.ts";
import { engineLoadable } from "./fit.ts";
import { engineConfig, splitJobRecords } from "./pipeline.ts";
import { fetchUsageRecords, providerEndpoint, recomputeUsageEpoch, usageVote } from "./usage-verify.ts";

const ZERO = `0x${"0".repeat(64)}` as Hex;

export interface VerifierOptions {
  /** Stake (wei of OPEN) to hold as a verifier; the node tops its stake up to it. Undefined or 0: no staking. */
  stake?: bigint;
  /** Audit submitted jobs (default true); false: serve when drawn, draw and settle only. */
  audit?: boolean;
  /** Share of submitted jobs audited, 0..1 (default 1). */
  auditRate?: number;
  /**
   * Segments replayed per audited job: a number of random segments from the trainer's checkpoints (default 1), or
   * `all`: the whole run from its start, stopping at the first checkpoint that differs.
   */
  auditSegments?: number | "all";
  /**
   * Tests only: a lazy verifier. It audits nothing and, when drawn, votes the trainer's claimed state without
   * replaying (with a witness it made up, since it has none): the committee's honest majority penalises it.
   */
  lazy?: boolean;
  /**
   * Where a usage epoch's provider serves its records, by provider address (lower case); default: the endpoint of
   * the provider's trainer profile.
   */
  usageProviderUrls?: Record<string, string>;
}

export interface VerifierContext {
  conn: ChainConnection;
  store: ContentStore;
  custodianUrl: string;
  dataDir: string;
  /** Replays are bit-exact on `wasm` only: the verifier refuses any other kernel. */
  kernel: Kernel;
  /**
   * The torch worker's settings, for eval jobs on bases the engine cannot load (their held-out loss and attribution
   * are recomputed by the worker; its python: TRIBUTARY_PYTHON or engine/.venv unless given here).
   */
  torch?: TorchOptions;
  log: (line: string) => void;
  signal?: AbortSignal;
}

/** An audit's outcome per job (kept in `<dataDir>/verify/state.json`). */
export interface AuditRecord {
  /** closed: the job was past auditing when first seen (finalized, refunded, cancelled, or its window over). */
  outcome: "match" | "mismatch" | "skipped" | "unsampled" | "closed";
  reason?: string;
  /** Leaves replayed. */
  leaves?: number[];
  disputeId?: string;
  at: string;
}

interface Vote {
  verdict: Hex;
  witness: Hex;
  salt: Hex;
  committed?: boolean;
  revealed?: boolean;
}

interface VerifierState {
  audits: Record<string, AuditRecord>;
  /** The challenges this node opened: the leaf it knows is wrong and the trainer's manifest. */
  challenges: Record<string, { jobId: string; target: number; manifestCid: string }>;
  /** Votes by `<disputeId>:<round>` (the salt stays secret until the reveal). */
  votes: Record<string, Vote>;
  /** Disputes below this id are settled: later passes start here. */
  disputeCursor?: string;
  /** Disputes this node could not vote on, with the reason (logged once). */
  cannotVote?: Record<string, string>;
  /** Usage-epoch disputes (UsageGame): votes by `<disputeId>:<round>`, and where later passes start. */
  usageVotes?: Record<string, Vote>;
  usageCursor?: string;
  /** Usage epochs audited by their public report (see `usageReportProblem`), by epoch id. */
  usageAudits?: Record<string, AuditRecord>;
}

/**
 * Why a job cannot be replayed by this node (logged, recorded, not retried). `unavailable`: the trainer's own
 * publication is missing or wrong (no manifest, a manifest that is not the committed tree, a checkpoint folder that
 * does not hash to its leaf); then `leaf` names the checkpoint, when one is at fault.
 */
export class CannotReplay extends Error {
  readonly unavailable: boolean;
  readonly leaf?: number;
  constructor(message: string, o: { unavailable?: boolean; leaf?: number } = {}) {
    super(message);
    this.unavailable = o.unavailable ?? false;
    this.leaf = o.leaf;
  }
}

/**
 * The verdict (and witness) of a verifier that could not replay because the trainer's publication is missing or
 * wrong: any other hash than the trainer's loses it the dispute, and every honest verifier votes the same pair.
 */
export const UNAVAILABLE: Hex = keccak256(new TextEncoder().encode("tributary/verdict-unavailable@1"));

/** What a replay of a job needs, read once per job. */
interface Replayable {
  job: JobInfo;
  spec: JobSpec;
  manifest: CheckpointManifest;
  manifestCid: string;
  /** The trainer's tree, rebuilt from the manifest and checked against the commitment. */
  tree: CheckpointTree;
  modelDir: string;
  /** The base model's config.json. */
  modelConfig: { max_position_embeddings?: number } & Parameters<typeof engineLoadable>[0];
  train: TrainingRecord[];
  /** The contribution of each training record (in-run attribution). */
  trainOwner: number[];
  evalRecords: TrainingRecord[];
  config: ReturnType<typeof engineConfig>;
  method: JobSpec["method"];
  /** What the attribution run reads (as the trainer node's pipeline calls it). */
  contributions: JobContribution[];
  perContribution: TrainingRecord[][];
  duplicates: ReturnType<typeof dedupContributions>;
  context: number;
  /** The kernel the trainer says it trained on (the adapter manifest's `engine.kernel`). */
  trainedOn: string;
  /** Where the run the job's spec defines ends (`runSteps`): no checkpoint of it has a later step. */
  runSteps: number;
}

/** What checking an eval job needs: its inputs, the submitted adapter and attribution report, and its claim. */
interface Evaluable extends Omit<Replayable, "manifest" | "manifestCid" | "tree" | "trainedOn" | "runSteps"> {
  adapterDir: string;
  /** The result's adapter manifest (its `attributionCheckpoints`: what a torch attribution read). */
  manifest: AdapterManifest;
  report: AttributionReport | null;
  claim: { loss: number; tolerance: number };
}

type Wrong = { index: number; replayed?: Hex; step: number; result?: FinalBinding; pastEnd?: true };

/** The first leaf of the manifest that claims a step the job's run does not have (steps increase), if any. */
function firstPastEnd(r: Replayable): CheckpointManifest["leaves"][number] | undefined {
  return r.manifest.leaves.find((l) => l.step > r.runSteps);
}

/** What the job's run is, in the words of a past-the-end finding. */
function runOf(r: Replayable): string {
  const t = r.spec.training;
  return `${r.train.length} training records, ${t.epochs} epochs, batch ${t.batchSize} x ${t.gradientAccumulation} accumulation`;
}

const sameBinding = (a: FinalBinding, b: FinalBinding) =>
  a.adapterHash.toLowerCase() === b.adapterHash.toLowerCase() && a.attributionRoot.toLowerCase() === b.attributionRoot.toLowerCase() && a.attributionTotalWeight === b.attributionTotalWeight;

export class Verifier {
  private state: VerifierState = { audits: {}, challenges: {}, votes: {} };
  private loaded = false;
  private readonly dir: string;
  private readonly me: Address;
  private readonly cache = new Map<string, Replayable>();
  private readonly evalCache = new Map<string, Evaluable>();
  private readonly ctx: VerifierContext;
  private readonly opts: VerifierOptions;

  constructor(ctx: VerifierContext, opts: VerifierOptions = {}) {
    this.ctx = ctx;
    this.opts = opts;
    if (!ctx.conn.account) throw new Error("the verifier needs a connection with the operator's account");
    if (ctx.kernel.name !== "wasm") throw new Error(`the verifier replays on the wasm kernel only (bit-exact); it was given ${ctx.kernel.name}: start it with --kernel wasm`);
    const rate = opts.auditRate ?? 1;
    if (!(rate >= 0 && rate <= 1)) throw new Error(`auditRate must be between 0 and 1, got ${rate}`);
    const n = opts.auditSegments ?? 1;
    if (n !== "all" && (!Number.isInteger(n) || n < 1)) throw new Error(`auditSegments must be a whole number of at least 1 or "all", got ${n}`);
    this.dir = join(ctx.dataDir, "verify");
    this.me = ctx.conn.account.address;
  }

  /** The audit outcomes so far, by job id. */
  audits(): Readonly<Record<string, AuditRecord>> {
    return this.state.audits;
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    await mkdir(this.dir, { recursive: true });
    const file = join(this.dir, "state.json");
    if (existsSync(file)) this.state = { ...this.state, ...(JSON.parse(await readFile(file, "utf8")) as VerifierState) };
    this.loaded = true;
  }

  private async save(): Promise<void> {
    const file = join(this.dir, "state.json");
    await writeFile(`${file}.tmp`, JSON.stringify(this.state, null, 1), { mode: 0o600 });
    await copyFile(`${file}.tmp`, file);
    await rm(`${file}.tmp`);
  }

  /** One pass: stake, audit, play this node's challenges, serve on committees, draw and settle what is due. */
  async tick(): Promise<void> {
    await this.load();
    await this.ensureStake();
    // committee seats and moves have clocks: they go first, and again after audits that opened challenges
    await this.playDisputes();
    await this.playUsageDisputes();
    if (this.opts.audit !== false && !this.opts.lazy) {
      const before = Object.keys(this.state.challenges).length;
      await this.auditJobs();
      if (Object.keys(this.state.challenges).length > before) await this.playDisputes();
      await this.auditUsageEpochs();
    }
  }

  private async ensureStake(): Promise<void> {
    const want = this.opts.stake ?? 0n;
    if (want === 0n) return;
    const v = await verifierStake(this.ctx.conn, this.me);
    if (v.stake >= want) return;
    await stakeVerifier(this.ctx.conn, want - v.stake);
    this.ctx.log(`verifier: staked ${want - v.stake} wei of OPEN (stake now ${want})`);
  }

  // ---------------------------------------------------------------- audit

  private async auditJobs(): Promise<void> {
    const jm = this.ctx.conn.contracts.JobMarket;
    const count = await this.ctx.conn.publicClient.readContract({ address: jm.address, abi: jm.abi, functionName: "jobCount", args: [] });
    for (let id = 1n; id <= count; id++) {
      this.ctx.signal?.throwIfAborted();
      const key = id.toString();
      if (this.state.audits[key]) continue;
      const job = await getJob(this.ctx.conn, id);
      if (job.status === "open" || job.status === "claimed") continue; // not submitted yet: looked at again later
      const block = await this.ctx.conn.publicClient.getBlock();
      const closed = job.status !== "submitted" || (job.challengeEndsAt !== undefined && block.timestamp > job.challengeEndsAt);
      let rec: AuditRecord;
      if (closed) rec = { outcome: "closed", reason: `the job was ${job.status}${job.status === "submitted" ? " past its challenge window" : ""} when first seen`, at: new Date().toISOString() };
      else if (job.trainer?.toLowerCase() === this.me.toLowerCase()) rec = { outcome: "skipped", reason: "this node trained it (a trainer cannot challenge its own job)", at: new Date().toISOString() };
      else if (Math.random() >= (this.opts.auditRate ?? 1)) rec = { outcome: "unsampled", at: new Date().toISOString() };
      else {
        try {
          rec = await this.audit(job);
        } catch (err) {
          if (this.ctx.signal?.aborted) throw err;
          if (err instanceof CannotReplay && err.unavailable) {
            rec = await this.challengeUnavailable(job, err);
            this.state.audits[key] = rec;
            await this.save();
            continue;
          }
          if (!(err instanceof CannotReplay)) {
            // e.g. IPFS or the chain unreachable: the job is looked at again next pass; the others go on
            this.ctx.log(`verifier: job ${id}: audit failed (retried next pass): ${(err as Error).message}`);
            continue;
          }
          rec = { outcome: "skipped", reason: err.message, at: new Date().toISOString() };
          this.ctx.log(`verifier: job ${id}: not audited: ${err.message}`);
        }
      }
      this.state.audits[key] = rec;
      await this.save();
    }
  }

  /** Replays the sample of one job's segments (an eval job: recomputes its outcome); challenges on a mismatch. */
  private async audit(job: JobInfo): Promise<AuditRecord> {
    const claim = await evalClaimOf(this.ctx.conn, job.jobId);
    if (claim.trainer.toLowerCase() === job.trainer?.toLowerCase()) return this.auditEval(job);
    const r = await this.replayable(job.jobId, "audit");
    // a replay job must train on wasm (a node refuses it on another kernel before claiming): one that says it trained
    // on another is audited like any other, and what its wasm replay shows decides (the committee replays on wasm)
    const leaves = r.manifest.leaves;
    const submitted = { ...job.result!, attributionTotalWeight: job.result!.attributionTotalWeight };
    const { wrong: found, checked } = await this.findWrong(r, submitted, this.opts.auditSegments ?? 1);
    if (!found) {
      this.ctx.log(`verifier: job ${job.jobId}: audit passed (${checked.length} of ${leaves.length} checkpoints replayed: ${checked.join(", ")})`);
      return { outcome: "match", leaves: checked, at: new Date().toISOString() };
    }
    const leaf = leaves[found.index];
    const evidence = {
      checkpointManifest: r.manifestCid,
      root: r.tree.root,
      leaf: found.index,
      step: leaf.step,
      startState: found.index > 0 ? leaves[found.index - 1].state : null,
      claimedState: leaf.state,
      ...(found.pastEnd ? { runSteps: found.step, run: runOf(r) } : { replayedState: found.replayed, replayedStep: found.step }),
      ...(found.result
        ? {
            submittedResult: { ...submitted, attributionTotalWeight: submitted.attributionTotalWeight.toString() },
            recomputedResult: { ...found.result, attributionTotalWeight: found.result.attributionTotalWeight.toString() },
          }
        : {}),
      engine: { kernel: this.ctx.kernel.name, trainedOn: r.trainedOn },
    };
    const reason = found.pastEnd
      ? `checkpoint ${found.index} claims step ${leaf.step}, past the end of the run the job's spec defines (step ${found.step}: ${runOf(r)}): the committed tree is not that run's`
      : found.result
      ? `the run replays to the trainer's last state, but its result recomputed from the replay (adapter ${found.result.adapterHash}, attribution root ${found.result.attributionRoot}, total weight ${found.result.attributionTotalWeight}) is not the submitted one (adapter ${submitted.adapterHash}, attribution root ${submitted.attributionRoot}, total weight ${submitted.attributionTotalWeight})`
      : `replay of checkpoint ${found.index} (step ${leaf.step}${found.step !== leaf.step ? `; the run ends at step ${found.step}` : ""}) from ${found.index > 0 ? `the trainer's checkpoint ${found.index - 1}` : "the run's start"} gives state ${found.replayed}, the trainer committed ${leaf.state}`;
    const tx = await disputeJob(this.ctx.conn, this.ctx.store, job.jobId, reason, evidence);
    if (tx.disputeId === undefined) throw new Error(`job ${job.jobId}: the challenge transaction ${tx.hash} emitted no ChallengeOpened`);
    this.state.challenges[tx.disputeId.toString()] = { jobId: job.jobId.toString(), target: found.index, manifestCid: r.manifestCid };
    this.ctx.log(`verifier: job ${job.jobId}: audit MISMATCH at checkpoint ${found.index} (step ${leaf.step}${found.pastEnd ? `, past the run's end at step ${found.step}` : ""}); opened challenge ${tx.disputeId} (evidence ${tx.reasonCid})`);
    return { outcome: "mismatch", leaves: checked, disputeId: tx.disputeId.toString(), at: new Date().toISOString() };
  }

  /**
   * The first checkpoint of a replayable run that is wrong, among `want` sampled segments or all of them ("all":
   * one replay from the start, then the submitted result recomputed and the published last checkpoint checked);
   * with the leaves it checked.
   */
  private async findWrong(r: Replayable, submitted: NonNullable<JobInfo["result"]>, want: number | "all"): Promise<{ wrong: Wrong | null; checked: number[] }> {
    const leaves = r.manifest.leaves;
    const replayLeaves = leaves.filter((l) => l.step > 0).map((l) => l.index);
    const last = r.manifest.count - 1;
    let wrong: Wrong | null = null;
    let checked: number[];
    const beyond = firstPastEnd(r);
    if (beyond) {
      // no replay can reach a step the run does not have: the tree is another run's, provably from the spec alone
      checked = [];
      wrong = { index: beyond.index, step: r.runSteps, pastEnd: true };
    } else if (want === "all") {
      checked = [];
      const out = await this.rerunDir(r, 0);
      await replaySegments({
        ...this.replayOptions(r, null),
        outDir: out,
        boundaries: replayLeaves.map((i) => this.endStep(r, i)),
        onBoundary: (s) => {
          const leaf = leaves[replayLeaves[checked.length]];
          checked.push(leaf.index);
          if (s.stateHash !== leaf.state) {
            wrong = { index: leaf.index, replayed: s.stateHash, step: s.step };
            return false;
          }
        },
      });
      if (!wrong) {
        // the run matched to its end: the submitted result must be the one it computes
        const result = await this.rebind(r, out);
        if (!sameBinding(result, submitted)) wrong = { index: last, replayed: leaves[last].state as Hex, step: leaves[last].step, result };
      }
      // and the published checkpoints must be the committed states, or no committee could replay from them
      if (!wrong) await this.rerunDir(r, last, "published");
    } else {
      const pool = [...replayLeaves];
      const n = Math.min(want, pool.length);
      checked = [];
      while (checked.length < n) checked.push(pool.splice(randomInt(pool.length), 1)[0]);
      checked.sort((a, b) => a - b);
      for (const j of checked) {
        const start = await this.startCheckpoint(r, j, (leaves[j - 1]?.state ?? ZERO) as Hex);
        const out = j === last ? await this.rerunDir(r, j) : undefined;
        const s = await replaySegment({ ...this.replayOptions(r, start), endStep: this.endStep(r, j), outDir: out });
        if (s.stateHash !== leaves[j].state) {
          wrong = { index: j, replayed: s.stateHash, step: s.step };
          break;
        }
        if (out) {
          const result = await this.rebind(r, out);
          if (!sameBinding(result, submitted)) wrong = { index: j, replayed: s.stateHash, step: s.step, result };
        }
      }
    }
    return { wrong: wrong as Wrong | null, checked };
  }

  /**
   * Audits an eval job: recomputes its held-out loss (and the first shard's), its attribution's agreement and its
   * terms; challenges when the claim fails what a committee checks (loss above the claim plus the tolerance, rank
   * correlation below 0.8, terms not the spec's).
   */
  private async auditEval(job: JobInfo): Promise<AuditRecord> {
    const e = await this.evaluable(job.jobId, "audit");
    const m = await this.measureEval(e, 0);
    const fails: string[] = [];
    if (!m.termsOk) fails.push(`its claim's terms (tolerance ${e.claim.tolerance}) are not the spec's`);
    if (lossToFixed(m.loss) * 10_000n > lossToFixed(e.claim.loss) * BigInt(10_000 + toleranceToBps(e.claim.tolerance))) {
      fails.push(`its held-out eval loss is ${m.loss.toFixed(6)}, above the claimed ${e.claim.loss.toFixed(6)} plus ${e.claim.tolerance * 100}%`);
    }
    if (m.rho !== null && m.rho < MIN_RANK_CORRELATION) fails.push(`its attribution ranks the contributions unlike a recomputation (Spearman ${m.rho.toFixed(3)} < ${MIN_RANK_CORRELATION})`);
    if (!fails.length) {
      this.ctx.log(`verifier: job ${job.jobId}: eval audit passed (held-out loss ${m.loss.toFixed(6)} for a claim of ${e.claim.loss.toFixed(6)}; attribution Spearman ${m.rho === null ? "not recomputable" : m.rho.toFixed(3)})`);
      return { outcome: "match", leaves: [], at: new Date().toISOString() };
    }
    const reason = `eval job ${job.jobId}: ${fails.join("; ")}`;
    const evidence = { claim: e.claim, recomputed: m, engine: { kernel: this.ctx.kernel.name } };
    const tx = await disputeJob(this.ctx.conn, this.ctx.store, job.jobId, reason, evidence);
    if (tx.disputeId === undefined) throw new Error(`job ${job.jobId}: the challenge transaction ${tx.hash} emitted no ChallengeOpened`);
    this.state.challenges[tx.disputeId.toString()] = { jobId: job.jobId.toString(), target: -1, manifestCid: "" };
    this.ctx.log(`verifier: job ${job.jobId}: eval audit MISMATCH (${fails.join("; ")}); opened challenge ${tx.disputeId} (evidence ${tx.reasonCid})`);
    return { outcome: "mismatch", reason, disputeId: tx.disputeId.toString(), at: new Date().toISOString() };
  }

  /** What an eval vote reports: the recomputed losses (shard `shard`), the attribution's agreement, the terms. */
  private async measureEval(e: Evaluable, shard: number): Promise<EvalMeasurement> {
    const v = verificationOf(e.spec, engineLoadable(e.modelConfig));
    const termsOk = v.class === "eval" && toleranceToBps(v.tolerance!) === toleranceToBps(e.claim.tolerance);
    const common = { modelDir: e.modelDir, adapterDir: e.adapterDir, records: e.evalRecords, quantize: e.method === "qlora", batchSize: e.config.batchSize, maxSeqLen: e.config.maxSeqLen, shard };
    if (engineLoadable(e.modelConfig)) {
      const { loss, shardLoss } = await evalLosses({ ...common, kernel: this.ctx.kernel });
      return { loss, shardLoss, rho: await this.attributionRho(e), termsOk };
    }
    // any other base (a job the torch backend trained): the torch worker, with training's own eval loss definition;
    // one worker for the loss and the attribution
    const missing = torchUnavailable(this.ctx.torch?.python);
    if (missing) throw new CannotReplay(`the base is not a Llama model: its eval loss is recomputed by the torch worker, and ${missing}`);
    const worker = await TorchWorker.start({ python: this.ctx.torch?.python });
    try {
      const torch = { ...this.ctx.torch, worker };
      const { loss, shardLoss } = await torchEvalLosses({ ...common, scratchDir: evalDirOf(this.dir, e.job.jobId), torch });
      return { loss, shardLoss, rho: await this.attributionRho(e, torch), termsOk };
    } finally {
      await worker.close();
    }
  }

  /**
   * The submitted attribution's agreement with a recomputation: -1 when the published report is not the submitted
   * root; null when its method needs checkpoints the trainer did not publish (an engine checkpoint method, or a torch
   * one without the manifest's `attributionCheckpoints`); else Spearman of the scores (in-run methods by training
   * again on the engine, torch methods by the worker over the published checkpoints).
   */
  private async attributionRho(e: Evaluable, torch?: TorchOptions): Promise<number | null> {
    const r = e.job.result!;
    if (!e.report) return -1;
    if (reportMismatch(e.report, r)) return -1;
    if (!e.report.method.startsWith("inrun_") && e.report.method !== "uniform") return this.torchAttributionRho(e, torch);
    const report = await this.reattribute(e, await this.scratchAdapter(e), { method: e.report.method as AttributionMethod });
    return attributionAgreement(e.report, report);
  }

  /**
   * A report the torch worker computed (a torch-trained job: one of its methods, over the checkpoints the trainer
   * published with the adapter, `attributionCheckpoints`) recomputed with the same method over the same checkpoints:
   * Spearman agreement. null: a method the worker does not compute, or a *_cp method whose checkpoints were not
   * published (an older trainer). -1: the published checkpoints are not the ones the manifest names, or do not end at
   * the run's last step.
   */
  private async torchAttributionRho(e: Evaluable, torch: TorchOptions = this.ctx.torch ?? {}): Promise<number | null> {
    const method = e.report!.method;
    if (!(TORCH_ATTRIBUTION_METHODS as readonly string[]).includes(method)) return null;
    const published = e.manifest.attributionCheckpoints;
    if (method.endsWith("_cp") && !published) return null;
    const missing = torch.worker ? null : torchUnavailable(torch.python);
    if (missing) {
      // (a Llama base the engine evaluates, attributed by a torch trainer): not measured here
      this.ctx.log(`verifier: job ${e.job.jobId}: its ${method} attribution is recomputed by the torch worker, and ${missing}`);
      return null;
    }
    const dir = await this.scratchAdapter(e);
    if (published && method.endsWith("_cp")) {
      const to = join(dir, "checkpoints");
      await fetchFileSet(this.ctx.store, published.cid, to, { signal: this.ctx.signal });
      const names = (await readdir(to)).filter((n) => /^step-\d+$/.test(n)).sort();
      const want = published.steps.map((s) => `step-${String(s).padStart(6, "0")}`);
      if (names.join() !== want.join()) {
        this.ctx.log(`verifier: job ${e.job.jobId}: the published attribution checkpoints (${names.join(", ")}) are not the ones the manifest names (${want.join(", ")})`);
        return -1;
      }
      if (e.manifest.stats && published.steps.at(-1) !== e.manifest.stats.steps) {
        this.ctx.log(`verifier: job ${e.job.jobId}: the published attribution checkpoints end at step ${published.steps.at(-1)}, not at the run's last step ${e.manifest.stats.steps}`);
        return -1;
      }
      const differs = await lastCheckpointDiffers(join(to, names[names.length - 1]), e.adapterDir);
      if (differs) {
        this.ctx.log(`verifier: job ${e.job.jobId}: the last published attribution checkpoint is not the submitted adapter: ${differs}`);
        return -1;
      }
    }
    const report = await this.reattribute(e, dir, { method: method as AttributionMethod, torch });
    return attributionAgreement(e.report!, report);
  }

  /** Reads what checking an eval job needs (the adapter, its report, the data; keys from the custodian). */
  private async evaluable(jobId: bigint, why: string): Promise<Evaluable> {
    const cached = this.evalCache.get(jobId.toString());
    if (cached) return cached;
    const { job, adapterDir, adapter } = await this.submitted(jobId);
    for (const f of ["adapter_model.safetensors", "adapter_config.json"]) {
      if (!existsSync(join(adapterDir, f))) throw new CannotReplay(`the result's adapter folder has no ${f}`, { unavailable: true });
    }
    let report: AttributionReport | null = null;
    try {
      report = parseAttributionReport(JSON.parse(await readFile(join(adapterDir, "attribution.json"), "utf8")));
    } catch {
      report = null; // unpublished or unreadable: the attribution cannot stand
    }
    const claim = await evalClaimOf(this.ctx.conn, jobId);
    const out: Evaluable = { ...(await this.jobInputs(job, why)), adapterDir, manifest: adapter, report, claim };
    this.evalCache.set(jobId.toString(), out);
    return out;
  }

  /**
   * Challenges a job whose publication is missing or wrong: toward the segment that starts from the bad checkpoint
   * (or the last one, when the manifest itself is at fault), where a drawn committee cannot replay and votes
   * UNAVAILABLE.
   */
  /**
   * Where a challenge of a job whose trainer's publication is at fault bisects to: the checkpoint after the bad one
   * (or the last, when no leaf is named); a string says why there is none.
   */
  private async unavailableTarget(jobId: bigint, err: CannotReplay): Promise<number | string> {
    const g = this.ctx.conn.contracts.DisputeGame;
    const [, , count] = await this.ctx.conn.publicClient.readContract({ address: g.address, abi: g.abi, functionName: "checkpointsOf", args: [jobId] });
    if (count < 2) return `${err.message} (and no checkpoint tree is committed to bisect)`;
    // only the last checkpoint's folder is wrong: no segment starts from it
    if (err.leaf !== undefined && err.leaf + 1 >= count) return `${err.message} (the last checkpoint: no segment replays from it)`;
    return err.leaf !== undefined ? err.leaf + 1 : count - 1;
  }

  private async challengeUnavailable(job: JobInfo, err: CannotReplay): Promise<AuditRecord> {
    const target = await this.unavailableTarget(job.jobId, err);
    if (typeof target === "string") return { outcome: "skipped", reason: target, at: new Date().toISOString() };
    const cached = this.cache.get(job.jobId.toString());
    const adapterCid = job.result?.adapterCid;
    const tx = await disputeJob(this.ctx.conn, this.ctx.store, job.jobId, `the trainer's published data cannot be replayed: ${err.message}`, { unavailable: err.message, leaf: err.leaf ?? null, target, adapterCid, ...(cached ? { checkpointManifest: cached.manifestCid } : {}) });
    if (tx.disputeId === undefined) throw new Error(`job ${job.jobId}: the challenge transaction ${tx.hash} emitted no ChallengeOpened`);
    this.state.challenges[tx.disputeId.toString()] = { jobId: job.jobId.toString(), target, manifestCid: cached?.manifestCid ?? "" };
    this.ctx.log(`verifier: job ${job.jobId}: the trainer's published data is unavailable (${err.message}); opened challenge ${tx.disputeId} toward checkpoint ${target} (evidence ${tx.reasonCid})`);
    return { outcome: "mismatch", reason: err.message, disputeId: tx.disputeId.toString(), at: new Date().toISOString() };
  }

  // ---------------------------------------------------------------- disputes

  private async playDisputes(): Promise<void> {
    const conn = this.ctx.conn;
    const g = conn.contracts.DisputeGame;
    const count = await conn.publicClient.readContract({ address: g.address, abi: g.abi, functionName: "disputeCount", args: [] });
    let open = false;
    for (let id = BigInt(this.state.disputeCursor ?? "1"); id <= count; id++) {
      this.ctx.signal?.throwIfAborted();
      const d = await getDispute(conn, id);
      if (d.phaseName === "settled" || d.phaseName === "none") {
        if (!open) this.state.disputeCursor = (id + 1n).toString();
        continue;
      }
      open = true;
      if (d.phaseName === "stuck") continue;
      const block = await conn.publicClient.getBlock();
      const now = block.timestamp;
      let mine: VerifierState["challenges"][string] | undefined = this.state.challenges[id.toString()];
      if ((d.phaseName === "trainerMove" || d.phaseName === "challengerMove") && now > BigInt(d.deadline)) {
        await this.settle(id, "a party missed its move");
        continue;
      }
      if (!mine && !d.eval && d.challenger.toLowerCase() === this.me.toLowerCase() && (d.phaseName === "trainerMove" || d.phaseName === "challengerMove")) {
        mine = await this.adopt(id, d.jobId);
      }
      if (d.phaseName === "challengerMove" && mine) {
        let right: boolean;
        try {
          const r = await this.replayable(BigInt(mine.jobId), "challenge");
          right = (await chooseChildToward(conn, id, r.tree, mine.target)).right;
        } catch (err) {
          if (!(err instanceof CannotReplay)) throw err;
          // no usable manifest (what the challenge is about): the children are in the trainer's last reveal
          const [ev] = (await conn.publicClient.getContractEvents({ address: g.address, abi: g.abi, eventName: "ChildrenRevealed", args: { disputeId: id }, fromBlock: 0n })).slice(-1);
          const { left, right: r } = ev.args as { left: Hex; right: Hex };
          right = mine.target >= d.lo + d.span / 2;
          await sendTx(conn, g, "chooseChild", [id, left, r, right]);
        }
        this.ctx.log(`verifier: challenge ${id}: chose the ${right ? "right" : "left"} child of [${d.lo}, ${d.lo + d.span}) toward checkpoint ${mine.target}`);
        continue;
      }
      if (d.phaseName === "awaitingDraw") {
        if (block.number > d.drawBlock) {
          try {
            const tx = await drawCommittee(conn, id);
            if (tx.members.length) this.ctx.log(`verifier: dispute ${id}: drew the committee ${tx.members.join(", ")}`);
          } catch (err) {
            // too few eligible verifiers staked (the dispute waits for more, or for the emergency account): the
            // pass goes on with the other disputes and the audits
            if (!revertedWith(err, "NotEnoughVerifiers")) throw err;
            this.state.cannotVote ??= {};
            if (!this.state.cannotVote[`draw:${id}`]) this.ctx.log(`verifier: dispute ${id}: cannot draw its committee yet: ${(err as Error).message}`);
            this.state.cannotVote[`draw:${id}`] = (err as Error).message;
          }
        }
        continue;
      }
      if (d.phaseName === "voting") {
        try {
          await this.serve(id, d, now);
        } catch (err) {
          if (!(err instanceof CannotReplay)) throw err;
          // drawn but unable to replay: the seat is lost (the game penalises a missing reveal); said once
          this.state.cannotVote ??= {};
          if (!this.state.cannotVote[id.toString()]) this.ctx.log(`verifier: dispute ${id}: cannot vote: ${err.message}`);
          this.state.cannotVote[id.toString()] = err.message;
        }
      }
    }
    await this.save();
  }

  /**
   * A challenge opened with this node's key somewhere else (the web app's "Dispute the result", the CLI): nobody
   * would play the challenger's side of its bisection, and the bond would be lost on the first move's clock. The
   * node replays the whole run to find a wrong checkpoint and plays toward it from then on; when the run replays
   * exactly to the submitted result, the challenge cannot win, which it says once.
   */
  private async adopt(id: bigint, jobId: bigint): Promise<VerifierState["challenges"][string] | undefined> {
    this.state.cannotVote ??= {};
    const key = `adopt:${id}`;
    if (this.state.cannotVote[key]) return undefined;
    let target: number;
    let manifestCid = "";
    try {
      const r = await this.replayable(jobId, "challenge");
      const job = await getJob(this.ctx.conn, jobId);
      const { wrong } = await this.findWrong(r, job.result!, "all");
      if (!wrong) {
        this.state.cannotVote[key] = `job ${jobId} replays exactly to its submitted result`;
        this.ctx.log(`verifier: challenge ${id} was opened with this node's key, but job ${jobId} replays exactly to its submitted result: the challenge cannot win, and its bond goes to the trainer and the verifiers when its move clock ends`);
        await this.save();
        return undefined;
      }
      target = wrong.index;
      manifestCid = r.manifestCid;
    } catch (err) {
      if (!(err instanceof CannotReplay)) throw err;
      // the trainer's publication at fault: toward the checkpoint after the bad one, as an audit would
      const to = err.unavailable ? await this.unavailableTarget(jobId, err) : err.message;
      if (typeof to === "string") {
        // this node cannot tell which checkpoint is wrong (its data is unreadable here, say): it cannot play the challenge
        this.state.cannotVote[key] = to;
        this.ctx.log(`verifier: challenge ${id} was opened with this node's key, but this node cannot replay job ${jobId} to play it: ${to}`);
        await this.save();
        return undefined;
      }
      target = to;
    }
    const mine = { jobId: jobId.toString(), target, manifestCid };
    this.state.challenges[id.toString()] = mine;
    await this.save();
    this.ctx.log(`verifier: challenge ${id} (job ${jobId}) was opened with this node's key elsewhere; its replay finds checkpoint ${target} wrong: playing the challenger's side toward it`);
    return mine;
  }

  private async settle(id: bigint, why: string): Promise<void> {
    try {
      const tx = await settleDispute(this.ctx.conn, id);
      this.ctx.log(`verifier: dispute ${id}: settled (${why}); ${tx.trainerWins === undefined ? "moot" : tx.trainerWins ? "the trainer wins" : "the trainer loses"}`);
    } catch (err) {
      // another node settled it first, or the vote is not over yet: the next pass looks again
      if (!revertedWith(err, "VotingNotOver", "WrongPhase", "MoveTimeNotOver")) throw err;
    }
  }

  private async serve(id: bigint, d: Awaited<ReturnType<typeof getDispute>>, now: bigint): Promise<void> {
    const conn = this.ctx.conn;
    await this.sit(id, d, now, {
      members: () => committeeOf(conn, id),
      votes: this.state.votes,
      decide: () => this.decide(id, d),
      commit: (v) => commitVote(conn, id, v),
      reveal: (v) => revealVote(conn, id, v),
      settle: (why) => this.settle(id, why),
      what: `dispute ${id}`,
      subject: d.eval ? "the eval job's outcome" : `checkpoint ${d.lo}`,
    });
  }

  /**
   * A committee seat, in either game: decide and commit while the commit is open (the salt on disk first), reveal
   * when the reveal opens, settle once every vote may be in or the reveal is over.
   */
  private async sit(
    id: bigint,
    d: { round: number; revealStartsAt: number | bigint; deadline: number | bigint },
    now: bigint,
    g: {
      members: () => Promise<readonly Address[]>;
      votes: Record<string, Vote>;
      decide: () => Promise<Vote>;
      commit: (v: Vote) => Promise<unknown>;
      reveal: (v: Vote) => Promise<unknown>;
      settle: (why: string) => Promise<void>;
      what: string;
      subject: string;
    },
  ): Promise<void> {
    const seat = (await g.members()).some((m) => m.toLowerCase() === this.me.toLowerCase());
    const key = `${id}:${d.round}`;
    let vote = g.votes[key];
    if (seat && !vote?.committed && now < BigInt(d.revealStartsAt)) {
      vote ??= await g.decide();
      g.votes[key] = vote;
      await this.save(); // the salt is on disk before the commitment is on chain
      await g.commit(vote);
      vote.committed = true;
      await this.save();
      this.ctx.log(`verifier: ${g.what}: committed a vote on ${g.subject}${this.opts.lazy ? " (lazy: not recomputed)" : ""}`);
      return;
    }
    if (seat && vote?.committed && !vote.revealed && now >= BigInt(d.revealStartsAt) && now < BigInt(d.deadline)) {
      await g.reveal(vote);
      vote.revealed = true;
      await this.save();
      this.ctx.log(`verifier: ${g.what}: revealed verdict ${vote.verdict}`);
    }
    if (now >= BigInt(d.deadline) || vote?.revealed) await g.settle(now >= BigInt(d.deadline) ? "the reveal is over" : "every vote may be in");
  }

  // ---------------------------------------------------------------- usage-epoch audits (public checks)

  /**
   * What anyone can check of a committed usage epoch without its records (the provider serves those to a drawn
   * committee only): the report builds the committed claims root and names the committed records root and request
   * count; every contribution it pays belongs, on chain, to the account it pays; the claims are the per-account sums
   * of those payments; and they do not exceed the contributors' share of the cited revenue. Null when all hold.
   */
  private async usageReportProblem(reportCid: string, e: Awaited<ReturnType<typeof getUsageEpoch>>): Promise<string | null> {
    const conn = this.ctx.conn;
    let report: UsageEpochReport;
    try {
      report = await readUsageReport(this.ctx.store, reportCid, e);
    } catch (err) {
      return `its report ${reportCid} cannot prove its claims: ${(err as Error).message}`;
    }
    if (report.recordsRoot?.toLowerCase() !== e.recordsRoot.toLowerCase() || report.requests !== e.requests) {
      return `its report names records root ${report.recordsRoot} over ${report.requests} requests; the epoch committed ${e.recordsRoot} over ${e.requests}`;
    }
    const dn = conn.contracts.DatanetRegistry;
    const paid = new Map<string, bigint>();
    for (const c of report.contributions) {
      const onChain = await conn.publicClient.readContract({ address: dn.address, abi: dn.abi, functionName: "getContribution", args: [BigInt(c.datanetId), BigInt(c.contributionId)] }).catch(() => null);
      if (!onChain || onChain.contributor.toLowerCase() !== c.contributor.toLowerCase()) {
        return `contribution ${c.datanetId}/${c.contributionId} belongs to ${onChain?.contributor ?? "nobody"}, but the report pays ${c.contributor} for it`;
      }
      paid.set(c.contributor.toLowerCase(), (paid.get(c.contributor.toLowerCase()) ?? 0n) + BigInt(c.amount));
    }
    for (const claim of report.claims) {
      const due = paid.get(claim.account.toLowerCase()) ?? 0n;
      if (BigInt(claim.amount) !== due) return `the claim of ${claim.account} is ${claim.amount}; the contributions the report pays it add up to ${due}`;
    }
    const total = report.claims.reduce((s, c) => s + BigInt(c.amount), 0n);
    const share = (e.citedRevenue * BigInt(report.contributorsBps)) / 10_000n;
    if (total > share) return `its claims add up to ${total}, more than the contributors' ${report.contributorsBps} bps of the cited revenue (${share})`;
    return null;
  }

  /** Audits every committed usage epoch still in its window (once each); challenges one that fails a public check. */
  private async auditUsageEpochs(): Promise<void> {
    const conn = this.ctx.conn;
    const audits = (this.state.usageAudits ??= {});
    for (const c of await listUsageEpochs(conn)) {
      this.ctx.signal?.throwIfAborted();
      const key = c.epochId.toString();
      if (audits[key]) continue;
      const at = new Date().toISOString();
      if (c.provider.toLowerCase() === this.me.toLowerCase()) {
        audits[key] = { outcome: "skipped", reason: "this node committed it", at };
        continue;
      }
      const e = await getUsageEpoch(conn, c.epochId);
      const now = (await conn.publicClient.getBlock()).timestamp;
      if (e.status !== 1 || now >= BigInt(e.claimableAt)) {
        audits[key] = { outcome: "closed", reason: "challenged, finalised or past its window when first seen", at };
        continue;
      }
      const problem = await this.usageReportProblem(c.reportCid, e);
      if (!problem) {
        audits[key] = { outcome: "match", at };
        continue;
      }
      const r = await challengeUsageEpoch(conn, this.ctx.store, c.epochId, `usage epoch ${c.epochId}: ${problem}`, { reportCid: c.reportCid, problem });
      audits[key] = { outcome: "mismatch", reason: problem, disputeId: r.disputeId.toString(), at };
      this.ctx.log(`verifier: usage epoch ${c.epochId} of model ${c.modelId}: ${problem}; challenged (usage dispute ${r.disputeId}, reason ${r.reasonCid})`);
    }
    await this.save();
  }

  // ---------------------------------------------------------------- usage-epoch disputes (UsageGame)

  private async playUsageDisputes(): Promise<void> {
    const conn = this.ctx.conn;
    const g = conn.contracts.UsageGame;
    const count = await conn.publicClient.readContract({ address: g.address, abi: g.abi, functionName: "disputeCount", args: [] });
    const votes = (this.state.usageVotes ??= {});
    let open = false;
    for (let id = BigInt(this.state.usageCursor ?? "1"); id <= count; id++) {
      this.ctx.signal?.throwIfAborted();
      const d = await getUsageDispute(conn, id);
      if (d.phaseName === "settled" || d.phaseName === "none") {
        if (!open) this.state.usageCursor = (id + 1n).toString();
        continue;
      }
      open = true;
      const block = await conn.publicClient.getBlock();
      if (d.phaseName === "awaitingDraw" && block.number > d.drawBlock) {
        try {
          const tx = await drawUsageCommittee(conn, id);
          if (tx.members.length) this.ctx.log(`verifier: usage dispute ${id}: drew the committee ${tx.members.join(", ")}`);
        } catch (err) {
          // too few verifiers staked (the dispute is stuck until the emergency account rules), or drawn already
          if (!revertedWith(err, "NotEnoughVerifiers", "WrongPhase")) throw err;
        }
        continue;
      }
      if (d.phaseName !== "voting") continue;
      await this.sit(id, d, block.timestamp, {
        members: () => usageCommitteeOf(conn, id),
        votes,
        decide: () => this.decideUsage(id, d),
        commit: (v) => commitUsageVote(conn, id, v),
        reveal: (v) => revealUsageVote(conn, id, v),
        settle: async (why) => {
          try {
            const tx = await settleUsageDispute(conn, id);
            this.ctx.log(`verifier: usage dispute ${id}: settled (${why}); ${tx.providerWins === undefined ? "redrawn" : tx.providerWins ? "the epoch is upheld" : "the epoch is voided"}`);
          } catch (err) {
            if (!revertedWith(err, "VotingNotOver", "WrongPhase")) throw err;
          }
        },
        what: `usage dispute ${id}`,
        subject: `usage epoch ${d.epochId}`,
      });
    }
    await this.save();
  }

  /** The vote on a usage epoch: recomputed from the records its provider serves (see usage-verify.ts). */
  private async decideUsage(id: bigint, d: Awaited<ReturnType<typeof getUsageDispute>>): Promise<Vote> {
    const conn = this.ctx.conn;
    const salt = `0x${randomBytes(32).toString("hex")}` as Hex;
    if (this.opts.lazy) {
      // copies the committed roots: it cannot name a record it never fetched
      const verdict = await expectedUsageVerdict(conn, d.epochId);
      return { verdict, witness: keccak256(verdict), salt };
    }
    const epoch = await getUsageEpoch(conn, d.epochId);
    const url = this.opts.usageProviderUrls?.[d.provider.toLowerCase()] ?? (await providerEndpoint(conn, this.ctx.store, d.provider));
    const records = await fetchUsageRecords(conn, url, d.epochId, (line) => this.ctx.log(`verifier: ${line}`));
    const r = recomputeUsageEpoch(records, {
      modelId: epoch.modelId,
      recordsRoot: epoch.recordsRoot,
      ranges: await usageEpochRanges(conn, d.epochId),
      contributorsBps: await contributorsBpsOf(conn, epoch.modelId),
    });
    this.ctx.log(`verifier: usage dispute ${id}: epoch ${d.epochId}: ${r.reason}; ${r.verdict === d.claimed ? "agrees with" : "differs from"} what the provider committed`);
    return { ...usageVote(r, d.seed), salt };
  }

  /** The verdict and witness for the segment a dispute proved: a replay from the proven previous state. */
  private async decide(id: bigint, d: Awaited<ReturnType<typeof getDispute>>): Promise<Vote> {
    const salt = `0x${randomBytes(32).toString("hex")}` as Hex;
    if (this.opts.lazy && d.eval) {
      // copies the claim and guesses the shard: it cannot know a loss nobody published
      const claim = await evalClaimOf(this.ctx.conn, d.jobId);
      return { ...evalVote({ loss: claim.loss, shardLoss: claim.loss, rho: 1, termsOk: true }), salt };
    }
    if (this.opts.lazy) return { verdict: d.claimedState, witness: keccak256(d.claimedState), salt };
    try {
      if (d.eval) {
        const shard = await evalShardOf(this.ctx.conn, id);
        const m = await this.measureEval(await this.evaluable(d.jobId, "vote"), shard);
        this.ctx.log(`verifier: dispute ${id}: recomputed the eval job's held-out loss ${m.loss.toFixed(6)} (shard ${shard}: ${m.shardLoss.toFixed(6)}), attribution Spearman ${m.rho === null ? "not recomputable" : m.rho.toFixed(3)}, terms ${m.termsOk ? "the spec's" : "NOT the spec's"}`);
        return { ...evalVote(m), salt };
      }
      return { ...(await this.replayVote(id, d)), salt };
    } catch (err) {
      if (!(err instanceof CannotReplay) || !err.unavailable) throw err;
      // what the trainer had to publish for this segment is missing or wrong: it cannot be replayed, and that
      // is the trainer's to answer for
      this.ctx.log(`verifier: dispute ${id}: voting UNAVAILABLE: ${err.message}`);
      return { verdict: UNAVAILABLE, witness: UNAVAILABLE, salt };
    }
  }

  private async replayVote(id: bigint, d: Awaited<ReturnType<typeof getDispute>>): Promise<{ verdict: Hex; witness: Hex }> {
    const r = await this.replayable(d.jobId, "vote");
    const j = d.lo;
    const leaf = r.manifest.leaves[j];
    // a segment the job's run does not have (its end, or for the last leaf its start, past the run's end): the
    // trainer's manifest is wrong, and no replay can produce a state for it
    const prevStep = r.manifest.leaves[j - 1]?.step ?? 0;
    if (leaf.step > r.runSteps || (j === r.manifest.count - 1 && prevStep >= r.runSteps)) {
      throw new CannotReplay(`checkpoint ${j} claims step ${leaf.step} (from step ${prevStep}); the run the job's spec defines ends at step ${r.runSteps} (${runOf(r)})`, { unavailable: true, leaf: j });
    }
    if (leaf.step === 0) {
      // the start leaf of a single-checkpoint run: derived from the spec, nothing to replay
      const s = startState(r.job.jobId.toString(), r.job.specCid);
      return { verdict: s, witness: keccak256(s) };
    }
    const start = await this.startCheckpoint(r, j, d.prevState);
    const last = j === r.manifest.count - 1;
    // at the last checkpoint the run's result is recomputed too: the adapter the replay ends with, and the
    // deterministic attribution run over the checkpoints (the trainer's before the segment, the replayed ones in it)
    const out = last ? await this.rerunDir(r, j) : undefined;
    const s = await replaySegment({ ...this.replayOptions(r, start), endStep: this.endStep(r, j), outDir: out });
    const verdict = out ? finalCheckpointState(s.stateHash, await this.rebind(r, out)) : s.stateHash;
    this.ctx.log(`verifier: dispute ${id}: replayed checkpoint ${j} (steps ${r.manifest.leaves[j - 1]?.step ?? 0}..${s.step}): ${verdict === d.claimedState ? "agrees with" : "differs from"} the trainer's state`);
    return { verdict, witness: s.witness };
  }

  // ---------------------------------------------------------------- replay inputs

  /**
   * A clean folder for a replay that recomputes the run's result, holding in `checkpoints/` the trainer's published
   * checkpoints of the leaves before `j` (each checked against its leaf); the replay adds its own.
   */
  private async rerunDir(r: Replayable, j: number, name = "rerun"): Promise<string> {
    const dir = join(this.dir, "jobs", r.job.jobId.toString(), name);
    await rm(dir, { recursive: true, force: true });
    await mkdir(join(dir, "checkpoints"), { recursive: true });
    for (const leaf of r.manifest.leaves.slice(0, j)) {
      if (leaf.step === 0) continue;
      const to = join(dir, "checkpoints", checkpointName(leaf.step));
      await fetchFileSet(this.ctx.store, leaf.cid!, to, { signal: this.ctx.signal });
      if ((await checkpointDirStateHash(to)) !== leaf.state) throw new CannotReplay(`the trainer's published checkpoint ${leaf.index} (${leaf.cid}) does not hash to its committed state ${leaf.state}`, { unavailable: true, leaf: leaf.index });
    }
    return dir;
  }

  /** The result a replayed run (adapter and checkpoints in `dir`) binds: its adapter hash and its attribution. */
  private async rebind(r: Replayable, dir: string): Promise<FinalBinding> {
    const report = await this.reattribute(r, dir);
    const adapterHash = `0x${createHash("sha256").update(await readFile(join(dir, "adapter_model.safetensors"))).digest("hex")}` as Hex;
    return { adapterHash, attributionRoot: report.merkleRoot as Hex, attributionTotalWeight: BigInt(report.totalWeight) };
  }

  /**
   * The attribution of the adapter in `dir` over the job's data, as the pipeline computes it. An in-run method
   * (the default; engine only) first gets its vectors by training the job again from its start, since they
   * accumulate over the whole run (the trainer does the same for a run it resumed).
   */
  private async reattribute(
    x: Pick<Replayable, "modelDir" | "train" | "trainOwner" | "evalRecords" | "contributions" | "method" | "config" | "spec" | "context" | "perContribution" | "duplicates">,
    dir: string,
    o: { method?: AttributionMethod; torch?: TorchOptions } = {},
  ): Promise<AttributionReport> {
    if (!o.torch) await inRunVectorsByRerun({ modelDir: x.modelDir, records: x.train, trainOwner: x.trainOwner, evalRecords: x.evalRecords, contributions: x.contributions, method: x.method, config: x.config, kernel: this.ctx.kernel, adapterDir: dir, scratchDir: `${dir}-inrun`, attributionMethod: o.method, signal: this.ctx.signal });
    const { report } = await attribute({
      modelDir: x.modelDir,
      adapterDir: dir,
      quantize: x.method === "qlora",
      kernel: this.ctx.kernel,
      learningRate: x.spec.training.learningRate,
      maxSeqLen: Math.min(x.spec.training.maxSeqLength, x.context),
      trainRecords: x.perContribution,
      evalRecords: x.evalRecords,
      contributions: x.contributions,
      duplicates: x.duplicates,
      ...(o.method ? { method: o.method } : {}),
      ...(o.torch ? { backend: "torch" as const, torch: { ...o.torch, precision: o.torch.precision ?? "fp32" } } : { backend: "engine" as const }),
    });
    return report;
  }

  /** A clean folder holding a copy of an eval job's submitted adapter, to recompute its attribution in. */
  private async scratchAdapter(e: Evaluable): Promise<string> {
    const dir = join(this.dir, "jobs", e.job.jobId.toString(), "eval-attribution");
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    for (const f of ["adapter_model.safetensors", "adapter_config.json"]) await copyFile(join(e.adapterDir, f), join(dir, f));
    return dir;
  }

  /** Where the segment ending at leaf `j` ends: its checkpoint's step, and for the last leaf the run's end. */
  private endStep(r: Replayable, j: number): number {
    return j === r.manifest.count - 1 ? Infinity : r.manifest.leaves[j].step;
  }

  private replayOptions(r: Replayable, start: string | null) {
    return { modelDir: r.modelDir, records: r.train, evalRecords: r.evalRecords, method: r.method, config: r.config, kernel: this.ctx.kernel, start, signal: this.ctx.signal };
  }

  /**
   * The trainer's checkpoint before leaf `j` (null: the run's start), fetched and checked against `state` (the
   * manifest's, or the state the trainer proved on chain).
   */
  private async startCheckpoint(r: Replayable, j: number, state: Hex): Promise<string | null> {
    const prev = j > 0 ? r.manifest.leaves[j - 1] : undefined;
    if (!prev || prev.step === 0) return null;
    if (prev.state.toLowerCase() !== state.toLowerCase()) throw new Error(`job ${r.job.jobId}: the manifest's checkpoint ${j - 1} (${prev.state}) is not the proven state ${state}`);
    const dir = join(this.dir, "jobs", r.job.jobId.toString(), "checkpoints", `leaf-${j - 1}`);
    await fetchFileSet(this.ctx.store, prev.cid!, dir, { signal: this.ctx.signal });
    const got = await checkpointDirStateHash(dir);
    if (got !== prev.state) throw new CannotReplay(`the trainer's published checkpoint ${j - 1} (${prev.cid}) hashes to ${got}, not to its committed state ${prev.state}`, { unavailable: true, leaf: j - 1 });
    return dir;
  }

  /**
   * Reads what replaying the job needs: its result's adapter manifest and checkpoint manifest (checked against
   * the chain), the base model, the data (keys from the custodian where encrypted), the records as trained.
   */
  private async replayable(jobId: bigint, why: string): Promise<Replayable> {
    const cached = this.cache.get(jobId.toString());
    if (cached) return cached;
    const conn = this.ctx.conn;
    const { job, adapter } = await this.submitted(jobId);
    if (adapter.verification && adapter.verification.class !== "replay") throw new CannotReplay(`the job is verified by its ${adapter.verification.class} loss, not by replay`);
    if (!adapter.checkpoints) throw new CannotReplay("the result publishes no checkpoint manifest", { unavailable: true });
    const manifest = parseCheckpointManifest(await catJson(this.ctx.store, adapter.checkpoints.manifestCid, "checkpoint manifest"));
    // the manifest must be the tree committed on chain, and bind the submitted result
    const g = conn.contracts.DisputeGame;
    const [, root, count] = await conn.publicClient.readContract({ address: g.address, abi: g.abi, functionName: "checkpointsOf", args: [jobId] });
    if (manifest.jobId !== jobId.toString()) throw new CannotReplay(`the checkpoint manifest is job ${manifest.jobId}'s`, { unavailable: true });
    const r = job.result!;
    if (manifest.final.adapterHash.toLowerCase() !== r.adapterHash.toLowerCase() || manifest.final.attributionRoot.toLowerCase() !== r.attributionRoot.toLowerCase() || BigInt(manifest.final.attributionTotalWeight) !== r.attributionTotalWeight) {
      throw new CannotReplay("the checkpoint manifest binds another result than the one submitted", { unavailable: true });
    }
    const tree = checkpointTree(jobId, manifest.leaves.map((l) => l.state as Hex), { adapterHash: r.adapterHash, attributionRoot: r.attributionRoot, attributionTotalWeight: r.attributionTotalWeight });
    if (tree.root !== root || tree.count !== count) throw new CannotReplay(`the checkpoint manifest's tree (root ${tree.root}, ${tree.count} leaves) is not the one committed on chain (root ${root}, ${count} leaves)`, { unavailable: true });
    const inputs = await this.jobInputs(job, why, manifest.checkpointEvery);
    let steps: number;
    try {
      steps = await runSteps({ modelDir: inputs.modelDir, records: inputs.train, method: inputs.spec.method, config: inputs.config });
    } catch (err) {
      throw new CannotReplay(`the engine cannot plan the job's run: ${(err as Error).message}`);
    }
    const out: Replayable = { ...inputs, manifest, manifestCid: adapter.checkpoints.manifestCid, tree, trainedOn: adapter.engine.kernel, runSteps: steps };
    this.cache.set(jobId.toString(), out);
    return out;
  }

  /** A submitted job and its result's adapter folder (fetched), with the adapter manifest. */
  private async submitted(jobId: bigint) {
    const job = await getJob(this.ctx.conn, jobId);
    if (!job.result) throw new CannotReplay(`job ${jobId} has no submitted result (${job.status})`);
    const jobDir = join(this.dir, "jobs", jobId.toString());
    await mkdir(jobDir, { recursive: true });
    const adapterDir = join(jobDir, "adapter");
    await fetchFileSet(this.ctx.store, job.result.adapterCid, adapterDir, { signal: this.ctx.signal });
    if (!existsSync(join(adapterDir, "manifest.json"))) throw new CannotReplay("the result has no manifest.json", { unavailable: true });
    const adapter = parseAdapterManifest(JSON.parse(await readFile(join(adapterDir, "manifest.json"), "utf8")));
    return { job, jobDir, adapterDir, adapter };
  }

  /** The spec, the base model and the data (keys from the custodian where encrypted), split as the trainer did. */
  private async jobInputs(job: JobInfo, why: string, checkpointEvery?: number) {
    const conn = this.ctx.conn;
    const jobId = job.jobId;
    const jobDir = join(this.dir, "jobs", jobId.toString());
    const spec = parseJobSpec(await catJson(this.ctx.store, job.specCid, "job spec"));
    const base = (await listBaseModels(conn)).find((b) => b.baseModelId === job.baseModelId);
    if (!base) throw new CannotReplay(`base model #${job.baseModelId} is not registered`);
    const modelDir = join(this.ctx.dataDir, "models", base.cid);
    await fetchFileSet(this.ctx.store, base.cid, modelDir, { signal: this.ctx.signal });
    const dataFile = join(jobDir, "data.json");
    let contributions: JobContribution[];
    if (existsSync(dataFile)) contributions = JSON.parse(await readFile(dataFile, "utf8")) as JobContribution[];
    else {
      try {
        contributions = await fetchJobData({ conn, store: this.ctx.store, custodianUrl: this.ctx.custodianUrl, jobId, datanets: job.datanets, jobDir, signal: this.ctx.signal });
      } catch (err) {
        if (err instanceof KeyReleaseDeniedError) throw new CannotReplay(`the job's data is unreadable to this node (${why}): the custodian releases its keys only to the trainer and to verifiers drawn for a dispute: ${err.message}`);
        throw err;
      }
      await writeFile(dataFile, JSON.stringify(contributions), { mode: 0o600 });
    }
    const modelConfig = JSON.parse(await readFile(join(modelDir, "config.json"), "utf8")) as { max_position_embeddings?: number } & Parameters<typeof engineLoadable>[0];
    const context = modelConfig.max_position_embeddings ?? Infinity;
    const duplicates = dedupContributions(contributions);
    const parts = splitJobRecords(contributions.map((c, i) => (duplicates.has(i) ? { ...c, records: [] } : c)), spec);
    let config: ReturnType<typeof engineConfig>;
    try {
      config = engineConfig(spec, context, checkpointEvery);
    } catch (err) {
      throw new CannotReplay(`the engine cannot replay the job's spec: ${(err as Error).message}`);
    }
    return {
      job,
      spec,
      modelDir,
      modelConfig,
      train: parts.train,
      trainOwner: parts.trainOwner,
      evalRecords: parts.evalRecords,
      config,
      method: spec.method,
      contributions,
      perContribution: parts.perContribution,
      duplicates,
      context,
    };
  }
}

/**
 * Whether a torch run's last attribution checkpoint (`adapter.safetensors`: the trainable tensors by parameter
 * name) holds the submitted adapter (`adapter_model.safetensors`, PEFT's names): every adapter tensor must be in the
 * checkpoint, equal value for value. The checkpoints before it are the trainer's word (a GPU run cannot be replayed);
 * the last one is bound to what the job delivered. Null when they agree, else what differs.
 */
async function lastCheckpointDiffers(checkpointDir: string, adapterDir: string): Promise<string | null> {
  const file = join(checkpointDir, "adapter.safetensors");
  if (!existsSync(file)) return `it has no adapter.safetensors`;
  // PEFT drops the adapter name (".default") and may drop the "base_model.model." prefix when it saves
  const norm = (name: string) => name.replace(/\.default(?=\.)/g, "").replace(/^base_model\.model\./, "");
  const saved = new Map([...readSafetensors(new Uint8Array(await readFile(file))).tensors].map(([k, t]) => [norm(k), t]));
  const adapter = readSafetensors(new Uint8Array(await readFile(join(adapterDir, "adapter_model.safetensors")))).tensors;
  for (const [name, t] of adapter) {
    const c = saved.get(norm(name));
    if (!c) return `the adapter's ${name} is not in it`;
    if (c.data.length !== t.data.length || c.data.some((v, i) => v !== t.data[i])) return `its ${name} is not the adapter's`;
  }
  return adapter.size === 0 ? "the adapter holds no tensor" : null;
}

/** Whether `err` is a contract revert with one of these custom errors (decoded, or named in the message). */
function revertedWith(err: unknown, ...names: string[]): boolean {
  const e = err as { errorName?: string; message?: string };
  return names.some((n) => e.errorName === n || String(e.message).includes(n));
}
