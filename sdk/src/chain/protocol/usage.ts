// Use pays, per request (UsageEpochs): a serving node commits usage epochs (per-request records behind a
// Merkle root, the contributors' claims behind another, a report on IPFS); contributors read their
// citations and earnings per epoch from the reports and claim every claimable epoch, of any models, in one
// transaction.
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { getAddress } from "viem";
import type { Address, Hex } from "viem";
import { AttributionTree } from "../../merkle/index.ts";
import type { ChainConnection } from "../client.ts";
import { NotFoundError } from "../errors.ts";
import { scanEvents } from "../logs.ts";
import { eventsIn, readView, sendTx } from "../write.ts";
import type { TxRef } from "./access.ts";
import { catJson } from "./content.ts";
import type { ProtocolContentStore } from "./content.ts";

export const USAGE_EPOCH_SCHEMA = "tributary/usage-epoch@1";

/** What a usage epoch's report (pinned to IPFS, its CID in EpochCommitted) holds. Completions are not in it. */
export interface UsageEpochReport {
  schema: typeof USAGE_EPOCH_SCHEMA;
  modelId: string;
  provider: Address;
  /** Per channel: the cumulative range of vouchers its records cover. */
  channels: Array<{ channelId: Hex; fromCumulative: string; toCumulative: string }>;
  revenue: string;
  citedRevenue: string;
  requests: number;
  /** Root of the per-request records (revealed to verifiers if the epoch is challenged). */
  recordsRoot: Hex;
  /** The contributors' part of the cited revenue, in basis points (what the claims add up to at most). */
  contributorsBps: number;
  /** The claims tree's leaves: (account, amount). */
  claims: Array<{ account: Address; amount: string }>;
  /** Per contribution: how often it was cited this epoch, the tokens cited and what it earned. */
  contributions: Array<{ datanetId: string; contributionId: string; contributor: Address; citations: number; tokens: number; amount: string }>;
  createdAt: string;
}

export const UsageEpochStatus = { None: 0, Committed: 1, Challenged: 2, Finalized: 3, Voided: 4 } as const;
export type UsageEpochStatus = (typeof UsageEpochStatus)[keyof typeof UsageEpochStatus];
export const USAGE_EPOCH_STATUS_NAMES = ["none", "committed", "challenged", "finalized", "voided"] as const;

export interface UsageEpochView {
  epochId: bigint;
  modelId: bigint;
  provider: Address;
  committedAt: number;
  claimableAt: number;
  status: UsageEpochStatus;
  revenue: bigint;
  heldRevenue: bigint;
  citedRevenue: bigint;
  pool: bigint;
  claimed: bigint;
  requests: number;
  recordsRoot: Hex;
  claimsRoot: Hex;
}

/** The claims tree of an epoch (same leaves as attribution trees: (account, amount)). */
export function usageClaimsTree(claims: ReadonlyArray<{ account: string; amount: bigint | string }>): AttributionTree {
  return AttributionTree.build(claims.map((c) => ({ account: c.account, weight: BigInt(c.amount) })));
}

/** Leaf encoding of a usage epoch's records tree: channel, from, to, completion hash, citations hash. */
export const USAGE_RECORD_ENCODING = ["bytes32", "uint256", "uint256", "bytes32", "bytes32"];

/** Root of a usage epoch's records tree (OpenZeppelin StandardMerkleTree). */
export function usageRecordsRoot(leaves: Array<[Hex, bigint, bigint, Hex, Hex]>): Hex {
  return StandardMerkleTree.of(leaves, USAGE_RECORD_ENCODING).root as Hex;
}

/** The model's owner switches usage epochs on (once): its voucher revenue is held for per-request splits. */
export async function enableUsageEpochs(conn: ChainConnection, modelId: bigint): Promise<TxRef> {
  const tx = await sendTx(conn, conn.contracts.UsageEpochs, "enableUsageEpochs", [modelId]);
  return { hash: tx.hash, blockNumber: tx.blockNumber };
}

export async function usageEpochsEnabled(conn: ChainConnection, modelId: bigint): Promise<boolean> {
  const u = conn.contracts.UsageEpochs;
  return readView(u, "usageEpochsEnabled", () => conn.publicClient.readContract({ address: u.address, abi: u.abi, functionName: "usageEpochsEnabled", args: [modelId] }));
}

/** How far UsageEpochs has accounted a channel (cumulative OPEN wei). */
export async function usageAccounted(conn: ChainConnection, channelId: Hex): Promise<bigint> {
  const u = conn.contracts.UsageEpochs;
  return readView(u, "accounted", () => conn.publicClient.readContract({ address: u.address, abi: u.abi, functionName: "accounted", args: [channelId] }));
}

export interface CommitUsageEpochInput {
  modelId: bigint;
  ranges: Array<{ channelId: Hex; toCumulative: bigint }>;
  citedRevenue: bigint;
  requests: number;
  recordsRoot: Hex;
  claimsRoot: Hex;
  reportCid: string;
}

/** Commits a usage epoch (the connection's account must be the provider of every channel). */
export async function commitUsageEpoch(conn: ChainConnection, e: CommitUsageEpochInput): Promise<TxRef & { epochId: bigint; revenue: bigint }> {
  const u = conn.contracts.UsageEpochs;
  const tx = await sendTx(conn, u, "commitEpoch", [e.modelId, e.ranges, e.citedRevenue, e.requests, e.recordsRoot, e.claimsRoot, e.reportCid]);
  const [ev] = eventsIn(u, tx.receipt, "EpochCommitted");
  return { hash: tx.hash, blockNumber: tx.blockNumber, epochId: ev.args.epochId!, revenue: ev.args.revenue! };
}

export async function getUsageEpoch(conn: ChainConnection, epochId: bigint): Promise<UsageEpochView> {
  const u = conn.contracts.UsageEpochs;
  const e = await readView(u, "getEpoch", () => conn.publicClient.readContract({ address: u.address, abi: u.abi, functionName: "getEpoch", args: [epochId] }));
  return {
    epochId,
    modelId: e.modelId,
    provider: e.provider,
    committedAt: Number(e.committedAt),
    claimableAt: Number(e.claimableAt),
    status: Number(e.status) as UsageEpochStatus,
    revenue: e.revenue,
    heldRevenue: e.heldRevenue,
    citedRevenue: e.citedRevenue,
    pool: e.pool,
    claimed: e.claimed,
    requests: Number(e.requests),
    recordsRoot: e.recordsRoot,
    claimsRoot: e.claimsRoot,
  };
}

/** Finalises an epoch after its challenge window (anyone; claims do it too). */
export async function finalizeUsageEpoch(conn: ChainConnection, epochId: bigint): Promise<TxRef> {
  const tx = await sendTx(conn, conn.contracts.UsageEpochs, "finalizeEpoch", [epochId]);
  return { hash: tx.hash, blockNumber: tx.blockNumber };
}

/** Every committed epoch with its report CID (optionally of one model), oldest first. */
export async function listUsageEpochs(conn: ChainConnection, modelId?: bigint): Promise<Array<{ epochId: bigint; modelId: bigint; provider: Address; reportCid: string; blockNumber: bigint }>> {
  const u = conn.contracts.UsageEpochs;
  const logs = await scanEvents(conn, { address: u.address, abi: u.abi, eventName: "EpochCommitted", ...(modelId !== undefined ? { args: { modelId } } : {}) });
  return logs.map((l) => ({ epochId: l.args.epochId!, modelId: l.args.modelId!, provider: l.args.provider!, reportCid: l.args.reportCID!, blockNumber: l.blockNumber }));
}

/** One epoch as a contributor sees it. */
export interface UsageEarning {
  epochId: bigint;
  modelId: bigint;
  status: UsageEpochStatus;
  committedAt: number;
  claimableAt: number;
  amount: bigint;
  claimed: boolean;
  /** Claimable now (finalised, or committed and past its window) and not claimed yet. */
  claimable: boolean;
  proof: Hex[];
  contributions: UsageEpochReport["contributions"];
}

/** Reads and checks an epoch's report: its claims must build the epoch's claims root. */
export async function readUsageReport(store: ProtocolContentStore, cid: string, epoch: UsageEpochView): Promise<UsageEpochReport> {
  const doc = (await catJson(store, cid, "usage epoch report")) as UsageEpochReport;
  if (doc?.schema !== USAGE_EPOCH_SCHEMA || !Array.isArray(doc.claims) || !Array.isArray(doc.contributions)) {
    throw new NotFoundError(`A ${USAGE_EPOCH_SCHEMA} report at ${cid}`, "The epoch's report is not a usage epoch report; it cannot prove a claim.");
  }
  if (doc.claims.length > 0 && usageClaimsTree(doc.claims).root.toLowerCase() !== epoch.claimsRoot.toLowerCase()) {
    throw new NotFoundError(`A usage report matching epoch ${epoch.epochId}'s claims root`, `The report at ${cid} builds a different root than ${epoch.claimsRoot}; it cannot prove anything.`);
  }
  return doc;
}

/** Per epoch (all models): what `account` earned, whether it is claimed or claimable, and its proof. */
export async function usageEarnings(conn: ChainConnection, store: ProtocolContentStore, account: Address, modelId?: bigint): Promise<UsageEarning[]> {
  const u = conn.contracts.UsageEpochs;
  const now = Number((await conn.publicClient.getBlock()).timestamp);
  const out: UsageEarning[] = [];
  for (const c of await listUsageEpochs(conn, modelId)) {
    const epoch = await getUsageEpoch(conn, c.epochId);
    const report = await readUsageReport(store, c.reportCid, epoch);
    const leaf = report.claims.find((x) => x.account.toLowerCase() === account.toLowerCase());
    const contributions = report.contributions.filter((x) => x.contributor.toLowerCase() === account.toLowerCase());
    if (!leaf && contributions.length === 0) continue;
    const amount = leaf ? BigInt(leaf.amount) : 0n;
    const claimed = leaf
      ? await readView(u, "isClaimed", () => conn.publicClient.readContract({ address: u.address, abi: u.abi, functionName: "isClaimed", args: [c.epochId, getAddress(account)] }))
      : false;
    const open = epoch.status === UsageEpochStatus.Finalized || (epoch.status === UsageEpochStatus.Committed && now >= epoch.claimableAt);
    out.push({
      epochId: c.epochId,
      modelId: c.modelId,
      status: epoch.status,
      committedAt: epoch.committedAt,
      claimableAt: epoch.claimableAt,
      amount,
      claimed,
      claimable: open && amount > 0n && !claimed,
      proof: leaf ? usageClaimsTree(report.claims).proof(leaf.account).proof : [],
      contributions,
    });
  }
  return out;
}

/** Claims every claimable epoch of `account` (all models, or the given epochs) in one transaction. */
export async function claimUsage(conn: ChainConnection, store: ProtocolContentStore, account?: Address, epochIds?: bigint[]): Promise<TxRef & { amount: bigint; epochs: bigint[] }> {
  const who = account ?? conn.account?.address;
  if (!who) throw new NotFoundError("An account to claim for", "Configure a wallet or pass --account.");
  const due = (await usageEarnings(conn, store, who)).filter((e) => e.claimable && (!epochIds || epochIds.includes(e.epochId)));
  if (due.length === 0) throw new NotFoundError(`A claimable usage epoch for ${who}`, "Nothing is due now: epochs open for claims after their challenge window.");
  const u = conn.contracts.UsageEpochs;
  const tx = await sendTx(conn, u, "claim", [getAddress(who), due.map((e) => ({ epochId: e.epochId, amount: e.amount, proof: e.proof }))]);
  const amount = eventsIn(u, tx.receipt, "UsageClaimed").reduce((s, ev) => s + ev.args.amount!, 0n);
  return { hash: tx.hash, blockNumber: tx.blockNumber, amount, epochs: due.map((e) => e.epochId) };
}
