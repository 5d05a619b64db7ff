// Contributor rewards: what an account may claim from a model, and claiming it with a Merkle proof
// built from the model's attribution report on IPFS.
import { getAddress, isAddress } from "viem";
import type { Address, Hex } from "viem";
import { AttributionTree } from "../../merkle/index.ts";
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

export interface RewardPosition {
  modelId: bigint;
  account: Address;
  weight: bigint;
  totalWeight: bigint;
  claimable: bigint;
  claimed: bigint;
  proof: `0x${string}`[];
  /** The attribution method of the model's report. */
  method: string;
  /** The account's contributions in the model's report: influence score, weight, duplicate flag. */
  contributions: Array<{ datanetId: string; contributionId: string; score: number; weight: bigint; duplicateOf?: { datanetId: string; contributionId: string; kind: string } }>;
}

/** The account's weight and proof in the model's attribution tree, and what it may claim now. */
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
      "The model has no attribution; nothing can be claimed.",
    );
  const report = parseAttributionReport(await catJson(store, model.reportCid, "attribution report"));
  const tree = AttributionTree.build(
    report.contributors.map((c) => ({ account: c.account, weight: BigInt(c.weight) })),
  );
  if (tree.root.toLowerCase() !== model.attributionRoot.toLowerCase()) {
    throw new NotFoundError(
      `An attribution report matching model ${modelId}'s root`,
      `The report at ${model.reportCid} builds root ${tree.root}, not ${model.attributionRoot}; it cannot prove anything.`,
    );
  }
  const leaf = report.contributors.find((c) => c.account.toLowerCase() === account.toLowerCase());
  const rd = conn.contracts.RewardDistributor;
  const weight = leaf ? BigInt(leaf.weight) : 0n;
  const [claimable, claimed] = await Promise.all([
    leaf
      ? conn.publicClient.readContract({
          address: rd.address,
          abi: rd.abi,
          functionName: "claimable",
          args: [modelId, account, weight],
        })
      : Promise.resolve(0n),
    conn.publicClient.readContract({
      address: rd.address,
      abi: rd.abi,
      functionName: "claimedBy",
      args: [modelId, account],
    }),
  ]);
  return {
    modelId,
    account,
    weight,
    totalWeight: BigInt(report.totalWeight),
    claimable,
    claimed,
    proof: leaf ? tree.proof(account).proof : [],
    method: report.method,
    contributions: report.contributions
      .filter((c) => c.contributor.toLowerCase() === account.toLowerCase())
      .map((c) => ({
        datanetId: c.datanetId,
        contributionId: c.contributionId,
        score: c.score,
        weight: BigInt(c.weight),
        ...(c.duplicateOf ? { duplicateOf: { datanetId: c.duplicateOf.datanetId, contributionId: c.duplicateOf.contributionId, kind: c.duplicateOf.kind } } : {}),
      })),
  };
}

/** Claims the account's contributor rewards of `modelId`. */
export async function claimReward(
  conn: ChainConnection,
  store: ProtocolContentStore,
  modelId: bigint,
  account?: Address,
): Promise<TxRef & { amount: bigint }> {
  const who = account ?? conn.account?.address;
  if (!who) throw new NotFoundError("An account to claim for", "Configure a wallet or pass --account.");
  const pos = await rewardPosition(conn, store, modelId, who);
  if (pos.weight === 0n)
    throw new NotFoundError(
      `A weight for ${who} in model ${modelId}'s attribution`,
      "This account contributed nothing the model was trained on.",
    );
  const rd = conn.contracts.RewardDistributor;
  const tx = await sendTx(conn, rd, "claimReward", [modelId, who, pos.weight, pos.proof]);
  const [ev] = eventsIn(rd, tx.receipt, "RewardClaimed");
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
