// Payment channels (payer -> provider, per model): open, top up, withdraw (request, then withdraw).
import { zeroAddress } from "viem";
import type { Address, Hex } from "viem";
import type { ChainConnection } from "../client.ts";
import { eventsIn, readView, sendTx } from "../write.ts";
import type { TxRef } from "./access.ts";
import { ensureAllowance } from "./token.ts";

export async function openChannel(
  conn: ChainConnection,
  input: {
    provider: Address;
    modelId: bigint;
    amount: bigint;
    sessionKey?: Address;
    sessionKeyExpiresAt?: bigint;
  },
): Promise<TxRef & { channelId: Hex }> {
  const pc = conn.contracts.PaymentChannels;
  await ensureAllowance(conn, pc.address, input.amount);
  const tx = await sendTx(conn, pc, "openChannel", [
    input.provider,
    input.modelId,
    input.amount,
    input.sessionKey ?? zeroAddress,
    Number(input.sessionKeyExpiresAt ?? 0n),
  ]);
  const [ev] = eventsIn(pc, tx.receipt, "ChannelOpened");
  return { hash: tx.hash, blockNumber: tx.blockNumber, channelId: ev.args.channelId! };
}

export async function topUpChannel(
  conn: ChainConnection,
  input: { channelId: Hex; amount: bigint },
): Promise<TxRef & { deposit: bigint }> {
  const pc = conn.contracts.PaymentChannels;
  await ensureAllowance(conn, pc.address, input.amount);
  const tx = await sendTx(conn, pc, "topUp", [input.channelId, input.amount]);
  const [ev] = eventsIn(pc, tx.receipt, "ChannelToppedUp");
  return { hash: tx.hash, blockNumber: tx.blockNumber, deposit: ev.args.deposit! };
}

export async function getChannel(conn: ChainConnection, channelId: Hex) {
  const pc = conn.contracts.PaymentChannels;
  const c = await readView(pc, "getChannel", () =>
    conn.publicClient.readContract({
      address: pc.address,
      abi: pc.abi,
      functionName: "getChannel",
      args: [channelId],
    }),
  );
  return {
    channelId,
    ...c,
    withdrawableAt: BigInt(c.withdrawableAt),
    sessionKeyExpiresAt: BigInt(c.sessionKeyExpiresAt),
    modelId: BigInt(c.modelId),
  };
}

/**
 * Withdraws what is left of a channel: the first call requests the withdrawal (starting the timeout),
 * a call after the timeout withdraws. `step` says which happened.
 */
export async function withdrawChannel(
  conn: ChainConnection,
  channelId: Hex,
): Promise<TxRef & { step: "requested" | "withdrawn"; withdrawableAt?: bigint; amount?: bigint }> {
  const pc = conn.contracts.PaymentChannels;
  const c = await getChannel(conn, channelId);
  if (c.withdrawableAt === 0n) {
    const tx = await sendTx(conn, pc, "requestWithdrawal", [channelId]);
    const [ev] = eventsIn(pc, tx.receipt, "WithdrawalRequested");
    return {
      hash: tx.hash,
      blockNumber: tx.blockNumber,
      step: "requested",
      withdrawableAt: BigInt(ev.args.withdrawableAt!),
    };
  }
  const tx = await sendTx(conn, pc, "withdraw", [channelId]);
  const [ev] = eventsIn(pc, tx.receipt, "ChannelWithdrawn");
  return { hash: tx.hash, blockNumber: tx.blockNumber, step: "withdrawn", amount: ev.args.amount! };
}
