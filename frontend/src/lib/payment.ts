// Paying for a priced model from the chat (PaymentChannels + the trainer node's billing).
//
// The person opens one channel per (provider, model) with the wallet, registering a session key this
// browser generated and keeps (localStorage, per chain and payer): never the wallet's key. Each chat request
// then carries a `tributary/voucher@2` signed by that session key, as the SDK signs it (`signVoucher`, the
// channel's current epoch), for the cumulative amount the node says is owed so far (billing is post-paid:
// a request's cost is covered by the next request's voucher). The node's last answer chunk reports the
// request's cost and what is now owed; a 402 says what to sign instead, and is followed only up to the
// channel's deposit.
// The session key's code (key generation and signing, src/lib/session-key.ts) loads only for a priced model.
import { encodeAbiParameters, keccak256 } from "viem";
import type { Address, Hex } from "viem";

/** The part of the Web Storage API this module uses (localStorage in the browser, a Map in tests). */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export const keyName = (chainId: number, payer: Address) =>
  `tributary:session-key:${chainId}:${payer.toLowerCase()}`;
const spentName = (chainId: number, channelId: Hex) =>
  `tributary:channel-owed:${chainId}:${channelId.toLowerCase()}`;

/** How long a session key registered from the app may sign (the payer can revoke it sooner). */
export const SESSION_KEY_DAYS = 30;

/** The channel id PaymentChannels derives for (payer, provider, model): `channelIdOf` on chain. */
export function channelIdOf(payer: Address, provider: Address, modelId: bigint): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "address" }, { type: "address" }, { type: "uint256" }],
      [payer, provider, modelId],
    ),
  );
}

/** The channel as read from the chain (`getChannel` in the SDK), the fields the chat uses. */
export interface ChannelOnChain {
  payer: Address;
  provider: Address;
  deposit: bigint;
  redeemed: bigint;
  epoch: number;
  sessionKey: Address;
  sessionKeyExpiresAt: bigint;
  withdrawableAt: bigint;
}

/** Whether this browser's key may sign for the channel now (registered on it and not expired). */
export function keyRegistered(ch: ChannelOnChain, key: Address, nowSeconds: number): boolean {
  return ch.sessionKey.toLowerCase() === key.toLowerCase() && ch.sessionKeyExpiresAt > BigInt(nowSeconds);
}

/** What is owed on the channel as this browser last learned it (the node's `billing.owed`), at least the redeemed. */
export function knownOwed(storage: KeyValueStore, chainId: number, channelId: Hex, redeemed: bigint): bigint {
  const raw = storage.getItem(spentName(chainId, channelId));
  const local = raw && /^\d+$/.test(raw) ? BigInt(raw) : 0n;
  return local > redeemed ? local : redeemed;
}

export function rememberOwed(storage: KeyValueStore, chainId: number, channelId: Hex, owed: bigint): void {
  const name = spentName(chainId, channelId);
  const raw = storage.getItem(name);
  if (!raw || !/^\d+$/.test(raw) || BigInt(raw) < owed) storage.setItem(name, owed.toString());
}

/** The price, provider and contract a 402 answer names (`tributary` details of the trainer node's error). */
export interface PaymentTerms {
  modelId: string;
  pricePer1k: bigint;
  provider: Address;
  paymentChannels: Address;
  chainId: number;
}

/** Reads the terms from a 402 body, or null when it is not a payment answer this app understands. */
export function termsOf(
  body: unknown,
): (PaymentTerms & { code?: string; signAtLeast?: bigint; message?: string }) | null {
  const b = body as {
    error?: { code?: string; message?: string };
    tributary?: Record<string, unknown>;
  } | null;
  const t = b?.tributary;
  if (!t || typeof t.provider !== "string" || typeof t.price_per_1k_tokens !== "string") return null;
  return {
    modelId: String(t.model_id),
    pricePer1k: BigInt(t.price_per_1k_tokens),
    provider: t.provider as Address,
    paymentChannels: String(t.payment_channels) as Address,
    chainId: Number(t.chain_id),
    code: b?.error?.code,
    message: b?.error?.message,
    signAtLeast:
      typeof t.sign_at_least === "string" && /^\d+$/.test(t.sign_at_least)
        ? BigInt(t.sign_at_least)
        : undefined,
  };
}

/**
 * The amount to sign after a 402 asking for `signAtLeast`: accepted only up to the channel's deposit (the
 * most the node could ever redeem); beyond it the chat stops and says so.
 */
export function amountToSign(signAtLeast: bigint, deposit: bigint): { amount?: bigint; error?: string } {
  if (signAtLeast > deposit)
    return {
      error: `The node asks for a voucher of ${signAtLeast} OPEN wei, more than the channel's deposit (${deposit}); top the channel up or close it.`,
    };
  return { amount: signAtLeast };
}

/** The cost of `tokens` at `pricePer1k` OPEN wei per 1,000 tokens, rounded up as the node rounds. */
export function tokenCost(pricePer1k: bigint, tokens: number): bigint {
  return (pricePer1k * BigInt(tokens) + 999n) / 1000n;
}

/** A session key's expiry for a registration now. */
export function sessionKeyExpiry(nowSeconds: number): bigint {
  return BigInt(nowSeconds + SESSION_KEY_DAYS * 86_400);
}
