// Contributor rewards: what an account may claim from a model, and claiming it with a Merkle proof
// built from the model's attribution report on IPFS.
import type { Address } from "viem";
import { AttributionTree } from "../../merkle/index.ts";
import { parseAttributionReport } from "../../schemas/index.ts";
import type { ChainConnection } from "../client.ts";
import { NotFoundError } from "../errors.ts";
import { eventsIn, sendTx } from "../write.ts";
import type { TxRef } from "./access.ts";
import { catJson } from "./content.ts";
import type { ProtocolContentStore } from "./content.ts";
import { getModel } from "./models.ts";
import { ensureAllowance } from "./token.ts";

export interface RewardPosition {
  modelId: bigint;
  account: Address;
  weight: bigint;
  totalWeight: bigint;
  claimable: bigint;
  claimed: bigint;
  proof: `0x${string}`[];
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
