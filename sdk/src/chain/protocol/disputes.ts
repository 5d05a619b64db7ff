// The dispute game (contracts/disputes/DisputeGame.sol): the checkpoint tree a trainer commits to, and the moves
// of trainers, challengers and verifiers. Opening a challenge is `disputeJob` in ./jobs.ts.
import { concat, encodeAbiParameters, keccak256 } from "viem";
import type { Address, Hex } from "viem";
import type { ChainConnection } from "../client.ts";
import { NoWalletError } from "../errors.ts";
import { eventsIn, sendTx } from "../write.ts";
import type { TxRef } from "./access.ts";
import { ensureAllowance } from "./token.ts";

const ZERO = `0x${"0".repeat(64)}` as Hex;
export const DISPUTE_PHASES = ["none", "trainerMove", "challengerMove", "awaitingDraw", "voting", "stuck", "settled"] as const;
export type DisputePhase = (typeof DISPUTE_PHASES)[number];

/**
 * A checkpoint tree: `levels[0]` the leaves padded with zero to a power of two, the last level the root. The last
 * state binds the submitted result (`finalCheckpointState`); `finalRunState` is the run state it was derived
 * from, which `proveSegment` takes at the last leaf.
 */
export interface CheckpointTree {
  jobId: bigint;
  count: number;
  states: Hex[];
  levels: Hex[][];
  root: Hex;
  finalRunState?: Hex;
}

/** The result fields the last checkpoint binds (as `JobMarket.submitResult` takes them). */
export interface FinalBinding {
  adapterHash: Hex;
  attributionRoot: Hex;
  attributionTotalWeight: bigint;
}

/**
 * The last checkpoint's state for run state `runState` and the result it backs, as `DisputeGame.finalState`
 * computes it: `keccak256(abi.encode(runState, adapterHash, attributionRoot, uint128 attributionTotalWeight))`.
 * A replay of the last segment includes the deterministic attribution run, so an attribution the run did not
 * compute is caught there like a skipped step (review finding 2).
 */
export function finalCheckpointState(runState: Hex, r: FinalBinding): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "bytes32" }, { type: "bytes32" }, { type: "bytes32" }, { type: "uint128" }],
      [runState, r.adapterHash, r.attributionRoot, r.attributionTotalWeight],
    ),
  );
}

/** `keccak256(abi.encode(jobId, index, stateHash))`, as the contract computes a leaf. */
export function checkpointLeaf(jobId: bigint, index: number, stateHash: Hex): Hex {
  return keccak256(encodeAbiParameters([{ type: "uint256" }, { type: "uint256" }, { type: "bytes32" }], [jobId, BigInt(index), stateHash]));
}

/**
 * Builds the tree over the state hashes of checkpoints 0..n-1 (2 <= n <= 1,025, as the contract accepts). With
 * `final`, the last of `states` is a run state and the tree's last state is `finalCheckpointState` of it.
 */
export function checkpointTree(jobId: bigint, runStates: Hex[], final?: FinalBinding): CheckpointTree {
  const states = final ? [...runStates.slice(0, -1), finalCheckpointState(runStates[runStates.length - 1], final)] : runStates;
  if (states.length < 2 || states.length > 1025) {
    throw new RangeError(`A checkpoint tree needs 2..1025 state hashes, got ${states.length}; commit one per K steps plus the initial state`);
  }
  let width = 1;
  while (width < states.length) width *= 2;
  const leaves = Array.from({ length: width }, (_, i) => (i < states.length ? checkpointLeaf(jobId, i, states[i]) : ZERO));
  const levels: Hex[][] = [leaves];
  while (levels[levels.length - 1].length > 1) {
    const prev = levels[levels.length - 1];
    levels.push(Array.from({ length: prev.length / 2 }, (_, i) => keccak256(concat([prev[2 * i], prev[2 * i + 1]]))));
  }
  return { jobId, count: states.length, states, levels, root: levels[levels.length - 1][0], ...(final ? { finalRunState: runStates[runStates.length - 1] } : {}) };
}

/** The sibling path of leaf `index`, bottom up (what `proveSegment` takes for the leaf before the segment). */
export function checkpointProof(tree: CheckpointTree, index: number): Hex[] {
  const proof: Hex[] = [];
  for (let k = 0; k + 1 < tree.levels.length; k++) proof.push(tree.levels[k][(index >> k) ^ 1]);
  return proof;
}

/** The two children of the node covering leaves [lo, lo + span). */
export function childrenOf(tree: CheckpointTree, lo: number, span: number): [Hex, Hex] {
  const level = Math.log2(span);
  if (!Number.isInteger(level) || level < 1) throw new RangeError(`span ${span} is not a power of two above 1`);
  const index = lo / span;
  return [tree.levels[level - 1][2 * index], tree.levels[level - 1][2 * index + 1]];
}

/** What a verifier commits: `keccak256(abi.encode(disputeId, round, verifier, verdict, witness, salt))`. */
export function voteCommitment(disputeId: bigint, round: number, verifier: Address, verdict: Hex, witness: Hex, salt: Hex): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "uint256" }, { type: "uint8" }, { type: "address" }, { type: "bytes32" }, { type: "bytes32" }, { type: "bytes32" }],
      [disputeId, round, verifier, verdict, witness, salt],
    ),
  );
}

/**
 * What a replay dispute's challenger must do next, said wherever one is opened (the CLI, the web app): the game
 * bisects the checkpoint tree, the challenger answers each move before its clock ends (`moveTime`), and a node run
 * with the challenger's key plays those moves (it replays the run to find the wrong checkpoint); without one the
 * bond is lost on the first clock.
 */
export const REPLAY_CHALLENGER_HINT =
  "This is a replay dispute: you answer each bisection move before its clock ends, or lose the bond. A node run with the same key plays your side (it replays the training run to find the wrong checkpoint): TRIBUTARY_PRIVATE_KEY=<this account's key> npx tributary-trainer --serve-only --verify --audit-rate 0. Keep it running until the dispute settles.";

export async function getDispute(conn: ChainConnection, disputeId: bigint) {
  const g = conn.contracts.DisputeGame;
  const d = await conn.publicClient.readContract({ address: g.address, abi: g.abi, functionName: "getDispute", args: [disputeId] });
  return { ...d, phaseName: DISPUTE_PHASES[d.phase] as DisputePhase };
}

/** The trainer commits its checkpoint tree while its claim runs (before `submitResult`). */
export async function commitCheckpoints(conn: ChainConnection, tree: CheckpointTree): Promise<TxRef> {
  const tx = await sendTx(conn, conn.contracts.DisputeGame, "commitCheckpoints", [tree.jobId, tree.root, tree.count]);
  return { hash: tx.hash, blockNumber: tx.blockNumber };
}

/**
 * The trainer's move, whatever it is: the children of the disputed node, or at one leaf the segment proof (the
 * disputed state and the one before it).
 */
export async function defendDispute(conn: ChainConnection, disputeId: bigint, tree: CheckpointTree): Promise<TxRef & { move: "children" | "segment" }> {
  const d = await getDispute(conn, disputeId);
  if (d.phaseName !== "trainerMove") throw new RangeError(`Dispute ${disputeId} is in phase ${d.phaseName}; the trainer moves only in trainerMove`);
  const g = conn.contracts.DisputeGame;
  if (d.span > 1) {
    const [left, right] = childrenOf(tree, d.lo, d.span);
    const tx = await sendTx(conn, g, "revealChildren", [disputeId, left, right]);
    return { hash: tx.hash, blockNumber: tx.blockNumber, move: "children" };
  }
  const j = d.lo;
  const prev = j === 0 ? ZERO : tree.states[j - 1];
  let state = tree.states[j];
  if (j === tree.count - 1) {
    // the contract derives the last leaf's state from the run state and the submitted result
    if (!tree.finalRunState) throw new RangeError(`Dispute ${disputeId} reached the last checkpoint, but the tree has no finalRunState: build it with checkpointTree(jobId, runStates, result)`);
    state = tree.finalRunState;
  }
  const tx = await sendTx(conn, g, "proveSegment", [disputeId, prev, j === 0 ? [] : checkpointProof(tree, j - 1), state]);
  return { hash: tx.hash, blockNumber: tx.blockNumber, move: "segment" };
}

/**
 * The challenger's move: given the two children the trainer revealed (its `ChildrenRevealed` event), descends
 * into the left one if it differs from the challenger's own replay (`mine`), else into the right one.
 */
export async function challengeMove(
  conn: ChainConnection,
  disputeId: bigint,
  revealed: { left: Hex; right: Hex },
  mine: CheckpointTree,
): Promise<TxRef & { right: boolean }> {
  const d = await getDispute(conn, disputeId);
  if (d.phaseName !== "challengerMove") throw new RangeError(`Dispute ${disputeId} is in phase ${d.phaseName}; the challenger moves only in challengerMove`);
  const [myLeft] = childrenOf(mine, d.lo, d.span);
  const right = revealed.left === myLeft;
  const tx = await sendTx(conn, conn.contracts.DisputeGame, "chooseChild", [disputeId, revealed.left, revealed.right, right]);
  return { hash: tx.hash, blockNumber: tx.blockNumber, right };
}

/**
 * The challenger's move when it knows which leaf holds the wrong state (an auditor that replayed the trainer's
 * published checkpoints): `tree` is the trainer's tree rebuilt from its checkpoint manifest (root checked against
 * the commitment), so its nodes are the children the trainer reveals; descends into the one covering `target`.
 */
export async function chooseChildToward(conn: ChainConnection, disputeId: bigint, tree: CheckpointTree, target: number): Promise<TxRef & { right: boolean }> {
  const d = await getDispute(conn, disputeId);
  if (d.phaseName !== "challengerMove") throw new RangeError(`Dispute ${disputeId} is in phase ${d.phaseName}; the challenger moves only in challengerMove`);
  if (target < d.lo || target >= d.lo + d.span) throw new RangeError(`Leaf ${target} is outside the disputed node [${d.lo}, ${d.lo + d.span})`);
  const [left, right] = childrenOf(tree, d.lo, d.span);
  const takeRight = target >= d.lo + d.span / 2;
  const tx = await sendTx(conn, conn.contracts.DisputeGame, "chooseChild", [disputeId, left, right, takeRight]);
  return { hash: tx.hash, blockNumber: tx.blockNumber, right: takeRight };
}

/** The committee drawn for a dispute's current round. */
export async function committeeOf(conn: ChainConnection, disputeId: bigint): Promise<readonly Address[]> {
  const g = conn.contracts.DisputeGame;
  return conn.publicClient.readContract({ address: g.address, abi: g.abi, functionName: "committeeOf", args: [disputeId] });
}

/** The children the trainer revealed in a transaction (`ChildrenRevealed`). */
export function revealedChildren(conn: ChainConnection, receipt: Parameters<typeof eventsIn>[1]): { left: Hex; right: Hex } | undefined {
  const [ev] = eventsIn(conn.contracts.DisputeGame, receipt, "ChildrenRevealed");
  return ev ? { left: ev.args.left!, right: ev.args.right! } : undefined;
}

/** Anyone: draws the committee once the draw block is past. Returns the members. */
export async function drawCommittee(conn: ChainConnection, disputeId: bigint): Promise<TxRef & { members: readonly Address[] }> {
  const g = conn.contracts.DisputeGame;
  const tx = await sendTx(conn, g, "drawCommittee", [disputeId]);
  const [ev] = eventsIn(g, tx.receipt, "CommitteeDrawn");
  return { hash: tx.hash, blockNumber: tx.blockNumber, members: ev?.args.members ?? [] };
}

/** A drawn verifier commits its replayed verdict and witness (kept secret with `salt` until the reveal). */
export async function commitVote(conn: ChainConnection, disputeId: bigint, vote: { verdict: Hex; witness: Hex; salt: Hex }): Promise<TxRef> {
  if (!conn.account) throw new NoWalletError("committing a vote");
  const d = await getDispute(conn, disputeId);
  const commitment = voteCommitment(disputeId, d.round, conn.account.address, vote.verdict, vote.witness, vote.salt);
  const tx = await sendTx(conn, conn.contracts.DisputeGame, "commitVote", [disputeId, commitment]);
  return { hash: tx.hash, blockNumber: tx.blockNumber };
}

export async function revealVote(conn: ChainConnection, disputeId: bigint, vote: { verdict: Hex; witness: Hex; salt: Hex }): Promise<TxRef> {
  const tx = await sendTx(conn, conn.contracts.DisputeGame, "revealVote", [disputeId, vote.verdict, vote.witness, vote.salt]);
  return { hash: tx.hash, blockNumber: tx.blockNumber };
}

/** Anyone: settles a missed move, a finished vote or a moot dispute. */
export async function settleDispute(conn: ChainConnection, disputeId: bigint): Promise<TxRef & { trainerWins?: boolean }> {
  const g = conn.contracts.DisputeGame;
  const tx = await sendTx(conn, g, "settle", [disputeId]);
  const [ev] = eventsIn(g, tx.receipt, "DisputeSettled");
  return { hash: tx.hash, blockNumber: tx.blockNumber, trainerWins: ev?.args.trainerWins };
}

/**
 * Stakes the caller as a verifier in the VerifierPool (approving it first): both games, jobs and usage epochs, draw
 * their committees from it.
 */
export async function stakeVerifier(conn: ChainConnection, amount: bigint): Promise<TxRef> {
  const p = conn.contracts.VerifierPool;
  await ensureAllowance(conn, p.address, amount);
  const tx = await sendTx(conn, p, "stake", [amount]);
  return { hash: tx.hash, blockNumber: tx.blockNumber };
}

/** A verifier's stake, the seats it serves on now, and when its exit completes (0: not exiting). */
export async function verifierStake(conn: ChainConnection, verifier: Address): Promise<{ stake: bigint; duties: number; exitAt: number }> {
  const p = conn.contracts.VerifierPool;
  const v = await conn.publicClient.readContract({ address: p.address, abi: p.abi, functionName: "getVerifier", args: [verifier] });
  return { stake: v.stake, duties: Number(v.duties), exitAt: Number(v.exitAt) };
}

/** Withdraws the caller's credits in the game (bond back, rewards, verifier fees). */
export async function withdrawFromDisputeGame(conn: ChainConnection): Promise<TxRef & { amount: bigint }> {
  const g = conn.contracts.DisputeGame;
  const tx = await sendTx(conn, g, "withdraw", []);
  const [ev] = eventsIn(g, tx.receipt, "Withdrawn");
  return { hash: tx.hash, blockNumber: tx.blockNumber, amount: ev.args.amount! };
}

// ------------------------------------------------------------------ eval jobs (checked on their outcome)

/** Fixed point of eval losses on chain (`DisputeGame.LOSS_SCALE`: 9 decimals). */
export const LOSS_SCALE = 1_000_000_000;
/** How many shards an eval job's held-out records are cut into (`DisputeGame.EVAL_SHARDS`; record i in shard i % 8). */
export const EVAL_SHARDS = 8;
/** The lowest median rank correlation (Spearman) with which an eval job's attribution stands (`EvalTally.MIN_RANK_CODE`). */
export const MIN_RANK_CORRELATION = 0.8;
/** The verdict of a verifier that could not get what the trainer had to publish. */
export const UNAVAILABLE_VERDICT: Hex = keccak256(new TextEncoder().encode("tributary/verdict-unavailable@1"));

/** A loss as the contract takes it (rounded to 9 decimals); throws for losses that are not finite and positive. */
export function lossToFixed(loss: number): bigint {
  if (!Number.isFinite(loss) || loss <= 0) throw new RangeError(`An eval loss must be a finite number above 0, got ${loss}`);
  return BigInt(Math.round(loss * LOSS_SCALE));
}

/** A relative tolerance (0.01 = 1%) in basis points, as `commitEvalClaim` takes it (1..5000). */
export function toleranceToBps(tolerance: number): number {
  const bps = Math.round(tolerance * 10_000);
  if (!(bps >= 1 && bps <= 5000)) throw new RangeError(`An eval tolerance must be between 0.0001 and 0.5, got ${tolerance}`);
  return bps;
}

/** `rhoCode = 1 + round((rho + 1) * 5000)` for a Spearman rank correlation; 0 when it was not measured (null). */
export function rhoCode(rho: number | null): bigint {
  if (rho === null) return 0n;
  const r = Math.max(-1, Math.min(1, Number.isFinite(rho) ? rho : -1));
  return BigInt(1 + Math.round((r + 1) * 5000));
}

/** What a verifier recomputed for an eval dispute. */
export interface EvalMeasurement {
  /** Held-out eval loss of the submitted adapter. */
  loss: number;
  /** Loss on the shard `evalShardOf` names. */
  shardLoss: number;
  /** Spearman correlation between the submitted attribution and the recomputed one; null when not recomputable. */
  rho: number | null;
  /** Whether the claim's terms (class eval, tolerance) are the job spec's. */
  termsOk: boolean;
}

/** An eval vote's verdict and witness: `loss << 128 | rhoCode << 64 | termsOk`, and the shard loss. */
export function evalVote(m: EvalMeasurement): { verdict: Hex; witness: Hex } {
  const verdict = (lossToFixed(m.loss) << 128n) | (rhoCode(m.rho) << 64n) | (m.termsOk ? 1n : 0n);
  const hex = (x: bigint) => `0x${x.toString(16).padStart(64, "0")}` as Hex;
  return { verdict: hex(verdict), witness: hex(lossToFixed(m.shardLoss)) };
}

/** Reads an eval vote back (for logs and the explorer); null for UNAVAILABLE. */
export function decodeEvalVote(verdict: Hex, witness: Hex): EvalMeasurement | null {
  if (verdict === UNAVAILABLE_VERDICT) return null;
  const v = BigInt(verdict);
  const code = (v >> 64n) & ((1n << 64n) - 1n);
  return {
    loss: Number(v >> 128n) / LOSS_SCALE,
    shardLoss: Number(BigInt(witness)) / LOSS_SCALE,
    rho: code === 0n ? null : (Number(code) - 1) / 5000 - 1,
    termsOk: (v & 1n) === 1n,
  };
}

/** An eval job's trainer commits its held-out eval loss and the spec's tolerance while its claim runs. */
export async function commitEvalClaim(conn: ChainConnection, jobId: bigint, loss: number, tolerance: number): Promise<TxRef> {
  const tx = await sendTx(conn, conn.contracts.DisputeGame, "commitEvalClaim", [jobId, lossToFixed(loss), toleranceToBps(tolerance)]);
  return { hash: tx.hash, blockNumber: tx.blockNumber };
}

/** The eval claim of a job (trainer zero: none), loss and tolerance as numbers. */
export async function evalClaimOf(conn: ChainConnection, jobId: bigint): Promise<{ trainer: Address; loss: number; tolerance: number }> {
  const g = conn.contracts.DisputeGame;
  const c = await conn.publicClient.readContract({ address: g.address, abi: g.abi, functionName: "evalClaimOf", args: [jobId] });
  return { trainer: c.trainer, loss: Number(c.loss) / LOSS_SCALE, tolerance: c.toleranceBps / 10_000 };
}

/** The held-out shard whose loss an eval dispute's current committee reveals as its witness. */
export async function evalShardOf(conn: ChainConnection, disputeId: bigint): Promise<number> {
  const g = conn.contracts.DisputeGame;
  return Number(await conn.publicClient.readContract({ address: g.address, abi: g.abi, functionName: "evalShardOf", args: [disputeId] }));
}
