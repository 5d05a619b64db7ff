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
import { ensureAllowance } from "./token.ts";
import { listModels } from "./models.ts";
import { MAX_CLAIM_BATCH, rewardPosition } from "./rewards.ts";
import type { RewardLeaf } from "./rewards.ts";
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
  /** The provider's bond (back at finalisation; forfeited to the usage game if a challenge voids the epoch). */
  bond: bigint;
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

/** The contributors' basis points of a model's split (what the owner, trainer and protocol parts leave). */
export async function contributorsBpsOf(conn: ChainConnection, modelId: bigint): Promise<number> {
  const rd = conn.contracts.RewardDistributor;
  const m = await conn.publicClient.readContract({ address: rd.address, abi: rd.abi, functionName: "getModelRewards", args: [modelId] });
  return 10_000 - m.split.ownerBps - m.split.trainerBps - m.split.protocolBps;
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

/**
 * Commits a usage epoch (the connection's account must be the provider of every channel), approving the provider
 * bond first (returned when the epoch is finalised; forfeited if a challenge voids it).
 */
export async function commitUsageEpoch(conn: ChainConnection, e: CommitUsageEpochInput): Promise<TxRef & { epochId: bigint; revenue: bigint }> {
  const u = conn.contracts.UsageEpochs;
  const [, , providerBond] = await readView(u, "params", () => conn.publicClient.readContract({ address: u.address, abi: u.abi, functionName: "params" }));
  await ensureAllowance(conn, u.address, providerBond);
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
    bond: e.bond,
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

/** A contributor's view of everything: per contribution its influence per model and its citations; per epoch its earnings. */
export interface ContributorOverview {
  account: Address;
  contributions: Array<{
    datanetId: string;
    contributionId: string;
    /** Training-time influence (attribution report) per model that was trained on it. */
    models: Array<{ modelId: bigint; influence: number; weight: bigint; duplicateOf?: string }>;
    /** Times cited in paid answers, tokens cited, and what use earned it (all epochs). */
    citations: number;
    citedTokens: number;
    usageEarned: bigint;
  }>;
  /** Earnings over time: one entry per epoch the account earned in. */
  epochs: UsageEarning[];
  /** Training-time rewards per model (RewardDistributor): claimable now. */
  influenceRewards: Array<{ modelId: bigint; weight: bigint; totalWeight: bigint; claimable: bigint; claimed: bigint; leaves: RewardLeaf[] }>;
  usageClaimable: bigint;
  influenceClaimable: bigint;
}

/** Builds the contributor overview from the chain, the models' attribution reports and the usage epoch reports. */
export async function contributorOverview(conn: ChainConnection, store: ProtocolContentStore, account: Address): Promise<ContributorOverview> {
  const byKey = new Map<string, ContributorOverview["contributions"][number]>();
  const entry = (datanetId: string, contributionId: string) => {
    const k = `${datanetId}/${contributionId}`;
    let e = byKey.get(k);
    if (!e) byKey.set(k, (e = { datanetId, contributionId, models: [], citations: 0, citedTokens: 0, usageEarned: 0n }));
    return e;
  };
  const influenceRewards: ContributorOverview["influenceRewards"] = [];
  for (const m of await listModels(conn)) {
    if (!m.reportCid) continue;
    const p = await rewardPosition(conn, store, m.modelId, account).catch(() => null);
    if (!p || (p.weight === 0n && p.contributions.length === 0)) continue;
    influenceRewards.push({ modelId: m.modelId, weight: p.weight, totalWeight: p.totalWeight, claimable: p.claimable, claimed: p.claimed, leaves: p.leaves });
    for (const c of p.contributions) {
      entry(c.datanetId, c.contributionId).models.push({ modelId: m.modelId, influence: c.score, weight: c.weight, ...(c.duplicateOf ? { duplicateOf: `${c.duplicateOf.datanetId}/${c.duplicateOf.contributionId}` } : {}) });
    }
  }
  const epochs = await usageEarnings(conn, store, account);
  for (const ep of epochs) {
    for (const c of ep.contributions) {
      const e = entry(c.datanetId, c.contributionId);
      e.citations += c.citations;
      e.citedTokens += c.tokens;
      e.usageEarned += BigInt(c.amount);
    }
  }
  return {
    account,
    contributions: [...byKey.values()],
    epochs,
    influenceRewards,
    usageClaimable: epochs.filter((e) => e.claimable).reduce((s, e) => s + e.amount, 0n),
    influenceClaimable: influenceRewards.reduce((s, r) => s + r.claimable, 0n),
  };
}

/**
 * Claims everything due to `account`: every claimable usage epoch (one UsageEpochs transaction) and the
 * training-time rewards of every model with something claimable (one RewardDistributor transaction).
 */
export async function claimAll(conn: ChainConnection, store: ProtocolContentStore, account?: Address): Promise<{ usage: (TxRef & { amount: bigint; epochs: bigint[] }) | null; influence: (TxRef & { amount: bigint; models: bigint[] }) | null }> {
  const who = account ?? conn.account?.address;
  if (!who) throw new NotFoundError("An account to claim for", "Configure a wallet or pass --account.");
  const o = await contributorOverview(conn, store, who);
  const usage = o.usageClaimable > 0n ? await claimUsage(conn, store, who) : null;
  // finalising usage epochs forwards their uncited revenue to the RewardDistributor: read what is due after it
  const rd = conn.contracts.RewardDistributor;
  const claims: Array<{ modelId: bigint; datanetId: bigint; contributionId: bigint; weight: bigint; proof: Hex[] }> = [];
  for (const r of o.influenceRewards) {
    for (const l of r.leaves) {
      const claimable = await conn.publicClient.readContract({ address: rd.address, abi: rd.abi, functionName: "claimable", args: [r.modelId, l.datanetId, l.contributionId, l.weight] });
      if (claimable > 0n) claims.push({ modelId: r.modelId, datanetId: l.datanetId, contributionId: l.contributionId, weight: l.weight, proof: l.proof });
    }
  }
  let influence: (TxRef & { amount: bigint; models: bigint[] }) | null = null;
  if (claims.length > 0) {
    // leaves of every model in one call per MAX_CLAIM_BATCH leaves, one transfer each
    let amount = 0n;
    let last: TxRef | undefined;
    for (let i = 0; i < claims.length; i += MAX_CLAIM_BATCH) {
      const tx = await sendTx(conn, rd, "claimRewards", [getAddress(who), claims.slice(i, i + MAX_CLAIM_BATCH)]);
      amount += eventsIn(rd, tx.receipt, "RewardClaimed").reduce((s, ev) => s + ev.args.amount!, 0n);
      last = { hash: tx.hash, blockNumber: tx.blockNumber };
    }
    influence = { ...last!, amount, models: [...new Set(claims.map((c) => c.modelId))] };
  }
  if (!usage && !influence) throw new NotFoundError(`Anything claimable for ${who}`, "Nothing is due now: usage epochs open after their challenge window; training-time rewards grow with revenue.");
  return { usage, influence };
}
