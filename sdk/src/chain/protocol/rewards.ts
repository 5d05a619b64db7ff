// Contributor rewards: what an account may claim from a model, and claiming it with Merkle proofs of its
// contributions' leaves, built from the model's attribution report on IPFS. The leaves name contributions
// (datanetId, contributionId, weight); the RewardDistributor pays whoever the DatanetRegistry records as each
// contribution's contributor, so the account's leaves are the contributions the chain says it made.
import { getAddress, isAddress } from "viem";
import type { Address, Hex } from "viem";
import { AttributionTree, ContributionTree } from "../../merkle/index.ts";
import { parseAttributionReport } from "../../schemas/index.ts";
import type { ChainConnection } from "../client.ts";
import { NotFoundError } from "../errors.ts";
import { eventsIn, readView, sendTx } from "../write.ts";
import type { TxRef } from "./access.ts";
import { addJson, catJson } from "./content.ts";
import type { ProtocolContentStore } from "./content.ts";
import { getModel } from "./models.ts";
import { ensureAllowance } from "./token.ts";
import { scanEvents } from "../logs.ts";

export interface RewardLeaf {
  datanetId: bigint;
  contributionId: bigint;
  weight: bigint;
  /** Claimable now by this leaf. */
  claimable: bigint;
  /** Claimed so far by this leaf. */
  claimed: bigint;
  proof: `0x${string}`[];
}

export interface RewardPosition {
  modelId: bigint;
  account: Address;
  /** Sum of the weights of the account's leaves. */
  weight: bigint;
  totalWeight: bigint;
  claimable: bigint;
  claimed: bigint;
  /** The account's leaves: its contributions (by the DatanetRegistry) that the model's tree weighs. */
  leaves: RewardLeaf[];
  /** The attribution method of the model's report. */
  method: string;
  /** The account's contributions in the model's report: influence score, weight, duplicate flag. */
  contributions: Array<{ datanetId: string; contributionId: string; score: number; weight: bigint; duplicateOf?: { datanetId: string; contributionId: string; kind: string } }>;
}

/** The account's leaves (weights and proofs) in the model's attribution tree, and what it may claim now. */
export async function rewardPosition(
  conn: ChainConnection,
  store: ProtocolContentStore,
  modelId: bigint,
  account: Address,
): Promise<RewardPosition> {
  const model = await getModel(conn, modelId);
  if (!model.reportCid)
    throw new NotFoundError(
      `An attribution report for model ${modelId}`,
      "The model has no attribution; its contributors' share goes to its Datanets' pools.",
    );
  const report = parseAttributionReport(await catJson(store, model.reportCid, "attribution report"));
  const tree = ContributionTree.build(
    report.contributions
      .filter((c) => BigInt(c.weight) > 0n)
      .map((c) => ({ datanetId: BigInt(c.datanetId), contributionId: BigInt(c.contributionId), weight: BigInt(c.weight) })),
  );
  if (tree.root.toLowerCase() !== model.attributionRoot.toLowerCase()) {
    throw new NotFoundError(
      `An attribution report matching model ${modelId}'s root`,
      `The report at ${model.reportCid} builds root ${tree.root}, not ${model.attributionRoot}; it cannot prove anything.`,
    );
  }
  const rd = conn.contracts.RewardDistributor;
  const dn = conn.contracts.DatanetRegistry;
  // Whose leaf is whose comes from the chain, not from the trainer's report.
  const owners = await Promise.all(
    tree.leaves.map(async (l) => {
      const c = (await conn.publicClient.readContract({ address: dn.address, abi: dn.abi, functionName: "getContribution", args: [l.datanetId, l.contributionId] })) as { contributor: Address };
      return c.contributor;
    }),
  );
  const mine = tree.leaves.filter((_, i) => owners[i].toLowerCase() === account.toLowerCase());
  const leaves: RewardLeaf[] = await Promise.all(
    mine.map(async (l) => {
      const [claimable, claimed] = await Promise.all([
        conn.publicClient.readContract({ address: rd.address, abi: rd.abi, functionName: "claimable", args: [modelId, l.datanetId, l.contributionId, l.weight] }),
        conn.publicClient.readContract({ address: rd.address, abi: rd.abi, functionName: "leafClaimed", args: [modelId, l.datanetId, l.contributionId] }),
      ]);
      return { ...l, claimable, claimed, proof: tree.proof(l.datanetId, l.contributionId).proof };
    }),
  );
  const claimed = await conn.publicClient.readContract({ address: rd.address, abi: rd.abi, functionName: "claimedBy", args: [modelId, account] });
  const keys = new Set(mine.map((l) => `${l.datanetId}:${l.contributionId}`));
  return {
    modelId,
    account,
    weight: leaves.reduce((a, l) => a + l.weight, 0n),
    totalWeight: BigInt(report.totalWeight),
    claimable: leaves.reduce((a, l) => a + l.claimable, 0n),
    claimed,
    leaves,
    method: report.method,
    contributions: report.contributions
      .filter((c) => keys.has(`${c.datanetId}:${c.contributionId}`) || (c.duplicateOf && c.contributor.toLowerCase() === account.toLowerCase()))
      .map((c) => ({
        datanetId: c.datanetId,
        contributionId: c.contributionId,
        score: c.score,
        weight: BigInt(c.weight),
        ...(c.duplicateOf ? { duplicateOf: { datanetId: c.duplicateOf.datanetId, contributionId: c.duplicateOf.contributionId, kind: c.duplicateOf.kind } } : {}),
      })),
  };
}

/** Most leaves one `claimRewards` call takes (RewardDistributor.MAX_BATCH). */
export const MAX_CLAIM_BATCH = 32;

/**
 * Claims the account's contributor rewards of `modelId`: every leaf with something claimable, plus leaves not
 * yet recorded (a first claim within the claim window records the leaf's weight, so it is not swept later),
 * in batches of `MAX_CLAIM_BATCH` leaves, each one transfer.
 */
export async function claimReward(
  conn: ChainConnection,
  store: ProtocolContentStore,
  modelId: bigint,
  account?: Address,
): Promise<TxRef & { amount: bigint }> {
  const who = account ?? conn.account?.address;
  if (!who) throw new NotFoundError("An account to claim for", "Configure a wallet or pass --account.");
  const pos = await rewardPosition(conn, store, modelId, who);
  if (pos.leaves.length === 0)
    throw new NotFoundError(
      `A contribution of ${who} in model ${modelId}'s attribution`,
      "This account contributed nothing the model was trained on.",
    );
  const open = pos.leaves.filter((l) => l.claimable > 0n || l.claimed === 0n);
  // nothing open: send them all anyway, and the contract answers NothingToClaim
  const due = open.length > 0 ? open : pos.leaves;
  const rd = conn.contracts.RewardDistributor;
  let amount = 0n;
  let last: TxRef | undefined;
  for (let i = 0; i < due.length; i += MAX_CLAIM_BATCH) {
    const batch = due.slice(i, i + MAX_CLAIM_BATCH).map((l) => ({ modelId, datanetId: l.datanetId, contributionId: l.contributionId, weight: l.weight, proof: l.proof }));
    const tx = await sendTx(conn, rd, "claimRewards", [who, batch]);
    for (const ev of eventsIn(rd, tx.receipt, "RewardClaimed")) amount += ev.args.amount!;
    last = { hash: tx.hash, blockNumber: tx.blockNumber };
  }
  return { ...last!, amount };
}

/** Sends the share of a model's unclaimed attribution weight to its Datanets' pools (after the claim window). */
export async function sweepUnclaimed(conn: ChainConnection, modelId: bigint): Promise<TxRef & { amount: bigint }> {
  const rd = conn.contracts.RewardDistributor;
  const tx = await sendTx(conn, rd, "sweepUnclaimed", [modelId]);
  const [ev] = eventsIn(rd, tx.receipt, "UnclaimedSwept");
  return { hash: tx.hash, blockNumber: tx.blockNumber, amount: ev.args.amount! };
}

/** Deposits `amount` OPEN of revenue for a registered model (approving it first). */
export async function depositRevenue(
  conn: ChainConnection,
  modelId: bigint,
  amount: bigint,
): Promise<TxRef & { totalRevenue: bigint }> {
  const rd = conn.contracts.RewardDistributor;
  await ensureAllowance(conn, rd.address, amount);
  const tx = await sendTx(conn, rd, "depositRevenue", [modelId, amount]);
  const [ev] = eventsIn(rd, tx.receipt, "RevenueDeposited");
  return { hash: tx.hash, blockNumber: tx.blockNumber, totalRevenue: ev.args.totalRevenue! };
}

/** Pays a model's accrued owner, trainer and protocol shares (anyone may trigger it). */
export async function payShares(
  conn: ChainConnection,
  modelId: bigint,
): Promise<
  TxRef & {
    owner: Address;
    ownerAmount: bigint;
    trainer: Address;
    trainerAmount: bigint;
    protocolAmount: bigint;
  }
> {
  const rd = conn.contracts.RewardDistributor;
  const tx = await sendTx(conn, rd, "payShares", [modelId]);
  const [ev] = eventsIn(rd, tx.receipt, "SharesPaid");
  return {
    hash: tx.hash,
    blockNumber: tx.blockNumber,
    owner: ev.args.owner!,
    ownerAmount: ev.args.ownerAmount!,
    trainer: ev.args.trainer!,
    trainerAmount: ev.args.trainerAmount!,
    protocolAmount: ev.args.protocolAmount!,
  };
}

/** The report pinned for a datanet pool distribution: who gets what share of the pool. */
export interface PoolDistributionReport {
  schema: "tributary/pool-distribution@1";
  datanetId: string;
  totalWeight: string;
  root: Hex;
  contributors: Array<{ account: Address; weight: string }>;
  createdAt: string;
}

/** Reads `{account, weight}` leaves from an attribution-style document (a list, or `{contributors}`). */
export function parseWeights(doc: unknown): Array<{ account: Address; weight: bigint }> {
  const list = Array.isArray(doc) ? doc : (doc as { contributors?: unknown })?.contributors;
  if (!Array.isArray(list) || list.length === 0)
    throw new InvalidWeightsError(
      "expected a non-empty list of {account, weight} (or {contributors: [...]})",
    );
  return list.map((e, i) => {
    const { account, weight } = (e ?? {}) as { account?: unknown; weight?: unknown };
    if (typeof account !== "string" || !isAddress(account))
      throw new InvalidWeightsError(`entry ${i}: account ${String(account)} is not an address`);
    let w: bigint;
    try {
      w = BigInt(weight as string | number);
    } catch {
      throw new InvalidWeightsError(`entry ${i}: weight ${String(weight)} is not an integer`);
    }
    if (w <= 0n) throw new InvalidWeightsError(`entry ${i}: weight ${w} must be positive`);
    return { account: getAddress(account), weight: w };
  });
}

export class InvalidWeightsError extends Error {
  constructor(reason: string) {
    super(`Invalid distribution weights: ${reason}. Pass JSON like [{"account":"0x…","weight":"3"}].`);
    this.name = "InvalidWeightsError";
  }
}

/**
 * Freezes a datanet pool's balance into a Merkle distribution (curators only): builds the tree of
 * `leaves`, pins the report to IPFS and calls createPoolDistribution.
 */
export async function createPoolDistribution(
  conn: ChainConnection,
  store: ProtocolContentStore,
  input: { datanetId: bigint; leaves: Array<{ account: Address; weight: bigint }> },
): Promise<
  TxRef & { distributionId: bigint; amount: bigint; root: Hex; totalWeight: bigint; reportCid: string }
> {
  const tree = AttributionTree.build(input.leaves);
  const totalWeight = input.leaves.reduce((s, l) => s + l.weight, 0n);
  const report: PoolDistributionReport = {
    schema: "tributary/pool-distribution@1",
    datanetId: input.datanetId.toString(),
    totalWeight: totalWeight.toString(),
    root: tree.root,
    contributors: input.leaves.map((l) => ({ account: l.account, weight: l.weight.toString() })),
    createdAt: new Date().toISOString(),
  };
  const reportCid = await addJson(store, report);
  const rd = conn.contracts.RewardDistributor;
  const tx = await sendTx(conn, rd, "createPoolDistribution", [
    input.datanetId,
    tree.root,
    totalWeight,
    reportCid,
  ]);
  const [ev] = eventsIn(rd, tx.receipt, "PoolDistributionCreated");
  return {
    hash: tx.hash,
    blockNumber: tx.blockNumber,
    distributionId: ev.args.distributionId!,
    amount: ev.args.amount!,
    root: tree.root,
    totalWeight,
    reportCid,
  };
}

/** Claims an account's share of a pool distribution, with the proof built from its pinned report. */
export async function claimPoolReward(
  conn: ChainConnection,
  store: ProtocolContentStore,
  distributionId: bigint,
  account?: Address,
): Promise<TxRef & { amount: bigint; weight: bigint }> {
  const who = account ?? conn.account?.address;
  if (!who) throw new NotFoundError("An account to claim for", "Configure a wallet or pass --account.");
  const rd = conn.contracts.RewardDistributor;
  const dist = await readView(rd, "getDistribution", () =>
    conn.publicClient.readContract({
      address: rd.address,
      abi: rd.abi,
      functionName: "getDistribution",
      args: [distributionId],
    }),
  );
  const [created] = await scanEvents(conn, {
    address: rd.address,
    abi: rd.abi,
    eventName: "PoolDistributionCreated",
    args: { distributionId },
  });
  const reportCid = created?.args.reportCID;
  if (!reportCid)
    throw new NotFoundError(`The report of distribution ${distributionId}`, "Check the distribution id.");
  const report = (await catJson(store, reportCid, "pool distribution report")) as PoolDistributionReport;
  const tree = AttributionTree.build(parseWeights(report));
  if (tree.root.toLowerCase() !== dist.root.toLowerCase())
    throw new NotFoundError(
      `A report matching distribution ${distributionId}'s root`,
      `The report at ${reportCid} builds root ${tree.root}, not ${dist.root}; it cannot prove anything.`,
    );
  const leaf = tree.leaves.find((l) => l.account.toLowerCase() === who.toLowerCase());
  if (!leaf)
    throw new NotFoundError(
      `A weight for ${who} in distribution ${distributionId}`,
      "This account is not among the distribution's contributors.",
    );
  const tx = await sendTx(conn, rd, "claimPoolReward", [
    distributionId,
    who,
    leaf.weight,
    tree.proof(who).proof,
  ]);
  const [ev] = eventsIn(rd, tx.receipt, "PoolRewardClaimed");
  return { hash: tx.hash, blockNumber: tx.blockNumber, amount: ev.args.amount!, weight: leaf.weight };
}
