// Payment channels (payer -> provider, per model): open, top up, withdraw (request, then withdraw).
import { zeroAddress } from "viem";
import type { Address, Hex } from "viem";
import type { ChainConnection } from "../client.ts";
import { NoWalletError, NotFoundError } from "../errors.ts";
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

/** Delegates voucher signing to `sessionKey` until `expiresAt` (payer only). */
export async function setSessionKey(
  conn: ChainConnection,
  input: { channelId: Hex; sessionKey: Address; expiresAt: bigint },
): Promise<TxRef & { sessionKey: Address; expiresAt: bigint }> {
  const pc = conn.contracts.PaymentChannels;
  const tx = await sendTx(conn, pc, "setSessionKey", [
    input.channelId,
    input.sessionKey,
    Number(input.expiresAt),
  ]);
  const [ev] = eventsIn(pc, tx.receipt, "SessionKeySet");
  return {
    hash: tx.hash,
    blockNumber: tx.blockNumber,
    sessionKey: ev.args.sessionKey!,
    expiresAt: BigInt(ev.args.expiresAt!),
  };
}

/** Revokes the session key (payer only); its vouchers stay valid until `validUntil`. */
export async function revokeSessionKey(
  conn: ChainConnection,
  channelId: Hex,
): Promise<TxRef & { sessionKey: Address; validUntil: bigint }> {
  const pc = conn.contracts.PaymentChannels;
  const tx = await sendTx(conn, pc, "revokeSessionKey", [channelId]);
  const [ev] = eventsIn(pc, tx.receipt, "SessionKeyRevoked");
  return {
    hash: tx.hash,
    blockNumber: tx.blockNumber,
    sessionKey: ev.args.sessionKey!,
    validUntil: BigInt(ev.args.validUntil!),
  };
}

/**
 * A signed voucher: the payer (or its session key) owes the provider `cumulativeAmount` in total. `epoch` is the
 * channel's voucher epoch when it was signed; a withdrawal starts the next one, voiding earlier vouchers.
 */
export interface Voucher {
  schema: "tributary/voucher@2";
  chainId: number;
  contract: Address;
  channelId: Hex;
  cumulativeAmount: string;
  epoch: number;
  signer: Address;
  signature: Hex;
}

export const VOUCHER_TYPES = {
  Voucher: [
    { name: "channelId", type: "bytes32" },
    { name: "cumulativeAmount", type: "uint256" },
    { name: "epoch", type: "uint32" },
  ],
} as const;

/**
 * Signs an EIP-712 voucher for a cumulative amount with the connection's account (payer or session key), for
 * the channel's current voucher epoch (read from the chain unless `input.epoch` is given).
 */
export async function signVoucher(
  conn: ChainConnection,
  input: { channelId: Hex; cumulativeAmount: bigint; epoch?: number },
): Promise<Voucher> {
  if (!conn.account || !conn.walletClient) throw new NoWalletError("signing a voucher");
  const pc = conn.contracts.PaymentChannels;
  const epoch = input.epoch ?? (await getChannel(conn, input.channelId)).epoch;
  // through the wallet client: a local key signs here, a JSON-RPC account (a browser wallet) signs there
  const signature = await conn.walletClient.signTypedData({
    account: conn.account,
    domain: {
      name: "Tributary PaymentChannels",
      version: "1",
      chainId: conn.chainId,
      verifyingContract: pc.address,
    },
    types: VOUCHER_TYPES,
    primaryType: "Voucher",
    message: { channelId: input.channelId, cumulativeAmount: input.cumulativeAmount, epoch },
  });
  return {
    schema: "tributary/voucher@2",
    chainId: conn.chainId,
    contract: pc.address,
    channelId: input.channelId,
    cumulativeAmount: input.cumulativeAmount.toString(),
    epoch,
    signer: conn.account.address,
    signature,
  };
}

/** Redeems a voucher (provider only); what it adds over the redeemed total becomes the model's revenue. */
export async function redeemVoucher(
  conn: ChainConnection,
  voucher: Pick<Voucher, "channelId" | "cumulativeAmount" | "signature"> & {
    chainId?: number;
    contract?: string;
  },
): Promise<TxRef & { amount: bigint; signer: Address }> {
  const pc = conn.contracts.PaymentChannels;
  if (
    (voucher.chainId !== undefined && voucher.chainId !== conn.chainId) ||
    (voucher.contract !== undefined && voucher.contract.toLowerCase() !== pc.address.toLowerCase())
  )
    throw new NotFoundError(
      `A voucher for chain ${conn.chainId} and PaymentChannels ${pc.address}`,
      `This voucher is for chain ${voucher.chainId} at ${voucher.contract}; redeem it on that chain.`,
    );
  const tx = await sendTx(conn, pc, "redeemVoucher", [
    voucher.channelId,
    BigInt(voucher.cumulativeAmount),
    voucher.signature,
  ]);
  const [ev] = eventsIn(pc, tx.receipt, "VoucherRedeemed");
  return { hash: tx.hash, blockNumber: tx.blockNumber, amount: ev.args.amount!, signer: ev.args.signer! };
}
