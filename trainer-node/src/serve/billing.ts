/**
 * Paid inference through payment channels. A model version whose owner set an inference price (OPEN wei
 * per 1,000 tokens, ModelRegistry) is served only against an EIP-712 voucher on a channel the caller
 * opened to this node for that model (PaymentChannels): header `x-tributary-voucher` with the SDK's
 * `tributary/voucher@2` JSON, signed by the payer or its unexpired session key.
 *
 * Cumulative, post-paid with one request of credit per channel, safe under concurrency:
 * - `authorize` (before anything is fetched or loaded) checks the voucher: signed by the payer or its
 *   session key, for this node and model, and covering everything used on the channel (`owed`) plus the
 *   maximum cost of the channel's requests still running (`reserved`). So concurrent requests on one
 *   channel need a voucher signed ahead for the ones in flight; only the new request itself runs on credit.
 * - `reserve` (once the prompt is tokenized) holds the request's maximum cost (prompt + every choice's
 *   completion limit) against the deposit: concurrent requests can never together overdraw it.
 * - `settle` (exactly once, whatever the outcome: finished, stopped by the client, failed) releases the
 *   reservation and adds what was actually computed (prompt + generated tokens) to `owed`; the next
 *   voucher must cover it before that channel is served again.
 * A channel first seen by this node starts at what the chain has already redeemed of it. The best voucher
 * per channel is persisted before it is relied on (a voucher is money) and redeemed on chain periodically
 * and at shutdown; a voucher above `owed` is prepayment that later requests use up. Redeemed revenue goes
 * to the RewardDistributor, which splits it by the model's attribution.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { recoverTypedDataAddress } from "viem";
import type { Hex } from "viem";
import { getChannel, getModel, redeemVoucher, VOUCHER_TYPES } from "@tributary/sdk/chain";
import type { ChainConnection } from "@tributary/sdk/chain";
import { z } from "zod";

/** The x-tributary-voucher header: the SDK's voucher JSON; the fields the node checks (the rest it reads from the chain). */
const VOUCHER_HEADER = z.looseObject({
  channelId: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
  cumulativeAmount: z.string().regex(/^\d+$/),
  signature: z.string().regex(/^0x[0-9a-fA-F]+$/),
});
import { BadRequestError, ServeError } from "./errors.ts";

/** 402: the request needs (a better) voucher; `details` says what to sign. */
export class PaymentRequiredError extends ServeError {
  constructor(message: string, code: string, details: Record<string, unknown>, hint: string) {
    super(message, { status: 402, type: "payment_required", param: "x-tributary-voucher", code, details, hint });
  }
}

interface ChannelState {
  modelId: string;
  /** OPEN wei used on this channel (cumulative). */
  owed: string;
  /** The highest voucher received: cumulative amount and signature. */
  voucher: { cumulativeAmount: string; signature: Hex } | null;
  /** What the chain has redeemed of it. */
  redeemed: string;
}

/** A channel's state in responses and tests: the persisted fields and the maximum cost of the requests running on it. */
export interface ChannelView extends ChannelState {
  reserved: string;
}

export interface BillingOptions {
  conn: ChainConnection;
  /** Where vouchers are kept (JSON, written atomically). */
  file: string;
  /** Redeem every this many ms when something is unredeemed (default 60000; 0: only on redeemAll/close). */
  redeemEveryMs?: number;
  log?: (line: string) => void;
}

/** A request admitted by `authorize`; `reserve` and `settle` act on it. */
export interface Authorization {
  channelId: Hex;
  pricePer1k: bigint;
  /** The voucher amount this request carried. */
  amount: bigint;
  /** OPEN wei held against the deposit while it runs (0 until reserve()). */
  reserved: bigint;
  settled: { cost: bigint; owed: bigint } | null;
  /** For 402 details. */
  terms: Record<string, unknown>;
}

export function tokenCost(pricePer1k: bigint, tokens: number): bigint {
  return (pricePer1k * BigInt(tokens) + 999n) / 1000n; // rounded up: never serve for less than the price
}

export class Billing {
  private readonly conn: ChainConnection;
  private readonly file: string;
  private readonly log: (line: string) => void;
  private channels: Record<string, ChannelState> = {};
  private readonly prices = new Map<string, { at: number; price: bigint }>();
  private writes: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private redeeming: Promise<void> | null = null;
  /** Per channel: the maximum cost of its running requests (in memory: a restart ends them). */
  private readonly reserved = new Map<string, bigint>();
  /** Per channel: the deposit as last read from the chain. */
  private readonly deposits = new Map<string, bigint>();

  private constructor(o: BillingOptions) {
    this.conn = o.conn;
    this.file = o.file;
    this.log = o.log ?? (() => {});
  }

  static async open(o: BillingOptions): Promise<Billing> {
    const b = new Billing(o);
    if (existsSync(o.file)) b.channels = (JSON.parse(await readFile(o.file, "utf8")) as { channels: Record<string, ChannelState> }).channels;
    const every = o.redeemEveryMs ?? 60_000;
    if (every > 0) {
      b.timer = setInterval(() => void b.redeemAll().catch((e: unknown) => b.log(`redeeming vouchers: ${(e as Error).message} (will retry)`)), every);
      b.timer.unref();
    }
    return b;
  }

  /** The model version's price in OPEN wei per 1,000 tokens (0: free), cached for 5 s. */
  async price(modelId: string): Promise<bigint> {
    const hit = this.prices.get(modelId);
    if (hit && Date.now() - hit.at < 5000) return hit.price;
    const price = (await getModel(this.conn, BigInt(modelId))).inferencePrice;
    this.prices.set(modelId, { at: Date.now(), price });
    return price;
  }

  /** State of a channel as this node sees it (owed, best voucher, redeemed, reserved), for responses and tests. */
  channel(channelId: string): ChannelView | undefined {
    const id = channelId.toLowerCase();
    const s = this.channels[id];
    return s && { ...s, reserved: (this.reserved.get(id) ?? 0n).toString() };
  }

  /**
   * Checks the request's voucher for a paid model; returns null for a free one. Throws 402 with what to
   * do when the voucher is missing, invalid, too small for what is owed and reserved on the channel, or the
   * deposit cannot cover `minTokens` more; 400 when it is not a voucher at all. Call it before fetching or
   * loading the model; then reserve() the request's maximum, and settle() it exactly once.
   */
  async authorize(modelId: string, header: string | undefined, minTokens = 1): Promise<Authorization | null> {
    const pricePer1k = await this.price(modelId);
    if (pricePer1k === 0n) return null;
    const provider = this.conn.account!.address;
    const terms = { model_id: modelId, price_per_1k_tokens: pricePer1k.toString(), provider, payment_channels: this.conn.contracts.PaymentChannels.address, chain_id: this.conn.chainId };
    const how = `Open a channel to ${provider} for model ${modelId} (\`npx tributary channel open\`) and send a signed voucher (\`npx tributary channel voucher\`) as the x-tributary-voucher header`;
    if (!header) throw new PaymentRequiredError(`Model ${modelId} costs ${pricePer1k} OPEN wei per 1,000 tokens; this request carries no voucher`, "voucher_required", terms, how);
    let json: unknown;
    try {
      json = JSON.parse(header);
    } catch {
      throw new BadRequestError("x-tributary-voucher", "the x-tributary-voucher header is not JSON (expected a tributary/voucher@2 object, as `npx tributary channel voucher` prints)", "invalid_voucher");
    }
    const parsed = VOUCHER_HEADER.safeParse(json);
    if (!parsed.success) {
      const at = parsed.error.issues[0].path.join(".");
      throw new BadRequestError("x-tributary-voucher", `the voucher needs channelId (bytes32 hex), cumulativeAmount (a decimal string of OPEN wei) and signature (hex)${at ? `; '${at}' is not that` : ""}`, "invalid_voucher");
    }
    const v = parsed.data;
    const channelId = v.channelId.toLowerCase() as Hex;
    const amount = BigInt(v.cumulativeAmount);
    const ch = await getChannel(this.conn, channelId).catch(() => null);
    if (!ch || /^0x0+$/.test(ch.payer)) throw new PaymentRequiredError(`Channel ${channelId} does not exist`, "unknown_channel", terms, how);
    if (ch.provider.toLowerCase() !== provider.toLowerCase() || ch.modelId !== BigInt(modelId)) {
      throw new PaymentRequiredError(`Channel ${channelId} pays ${ch.provider} for model ${ch.modelId}, not this node (${provider}) for model ${modelId}`, "wrong_channel", terms, how);
    }
    const signer = await recoverTypedDataAddress({
      domain: { name: "Tributary PaymentChannels", version: "1", chainId: this.conn.chainId, verifyingContract: this.conn.contracts.PaymentChannels.address },
      types: VOUCHER_TYPES,
      primaryType: "Voucher",
      // The channel's current epoch: a voucher signed before the payer's last withdrawal does not verify.
      message: { channelId, cumulativeAmount: amount, epoch: ch.epoch },
      signature: v.signature as Hex,
    }).catch(() => null);
    const now = BigInt(Math.floor(Date.now() / 1000));
    const okSigner = signer && (signer.toLowerCase() === ch.payer.toLowerCase() || (signer.toLowerCase() === ch.sessionKey.toLowerCase() && ch.sessionKeyExpiresAt > now));
    if (!okSigner) throw new PaymentRequiredError("The voucher is not signed by the channel's payer or its unexpired session key", "bad_signature", { ...terms, channel_id: channelId }, how);
    // from here on synchronous: the checks and the state they read cannot interleave with another request
    // a channel the node has not seen (or whose redemptions another process made) starts at what the chain redeemed
    const state = (this.channels[channelId] ??= { modelId, owed: ch.redeemed.toString(), voucher: null, redeemed: ch.redeemed.toString() });
    if (ch.redeemed > BigInt(state.owed)) state.owed = ch.redeemed.toString();
    if (ch.redeemed > BigInt(state.redeemed)) state.redeemed = ch.redeemed.toString();
    const a: Authorization = { channelId, pricePer1k, amount, reserved: 0n, settled: null, terms: { ...terms, channel_id: channelId } };
    a.terms.deposit = ch.deposit.toString();
    this.deposits.set(channelId, ch.deposit);
    // a valid voucher is money even when this request is refused: keep the best one (persisted before it is relied on)
    const better = !state.voucher || amount > BigInt(state.voucher.cumulativeAmount);
    if (better) state.voucher = { cumulativeAmount: amount.toString(), signature: v.signature as Hex };
    try {
      this.admit(a, minTokens, false);
    } finally {
      if (better) await this.persist();
    }
    return a;
  }

  /**
   * Holds `maxTokens` (the request's prompt plus every choice's completion limit) against the channel's
   * deposit until settle(); checks the voucher again against what is owed and reserved now. Throws 402.
   */
  reserve(a: Authorization, maxTokens: number): void {
    if (a.reserved > 0n || a.settled) throw new Error("reserve() is called once per authorized request, before settle()");
    this.admit(a, maxTokens, true);
  }

  /** The voucher and deposit checks; with `hold`, reserves the cost of `tokens` (synchronous: atomic). */
  private admit(a: Authorization, tokens: number, hold: boolean): void {
    const state = this.channels[a.channelId];
    const owed = BigInt(state.owed);
    const reserved = this.reserved.get(a.channelId) ?? 0n;
    const best = state.voucher && BigInt(state.voucher.cumulativeAmount) > a.amount ? BigInt(state.voucher.cumulativeAmount) : a.amount;
    const covered = owed + reserved;
    if (best < covered) {
      const running = reserved > 0n ? ` and up to ${reserved} are reserved by requests still running on it` : "";
      throw new PaymentRequiredError(`The voucher covers ${best} OPEN wei but ${owed} were used on channel ${a.channelId}${running}; sign at least ${covered}`, "voucher_insufficient", { ...a.terms, owed: owed.toString(), reserved: reserved.toString(), sign_at_least: covered.toString() }, reserved > 0n ? "Sign a voucher for the cumulative amount owed plus what the channel's running requests may cost, or wait for them to finish" : "Sign a voucher for the cumulative amount owed");
    }
    const deposit = this.deposits.get(a.channelId)!;
    const room = deposit - owed - reserved;
    const need = tokenCost(a.pricePer1k, tokens);
    if (room < need) {
      throw new PaymentRequiredError(`Channel ${a.channelId} has ${room < 0n ? 0n : room} OPEN wei left (deposit ${deposit}, used ${owed}, reserved by running requests ${reserved}); this request may cost up to ${need} (${tokens} tokens)`, "deposit_exhausted", { ...a.terms, owed: owed.toString(), reserved: reserved.toString(), deposit: deposit.toString() }, "Top the channel up (`npx tributary channel topup`), ask for fewer max_tokens, or wait for running requests to finish");
    }
    if (hold) {
      this.reserved.set(a.channelId, reserved + need);
      a.reserved = need;
    }
  }

  /**
   * Ends an authorized request whatever its outcome: releases its reservation and adds the cost of the
   * tokens it computed (prompt + generated) to `owed`. Idempotent: a second call returns the first result.
   */
  async settle(a: Authorization, tokens: number): Promise<{ cost: bigint; owed: bigint }> {
    if (a.settled) return a.settled;
    const state = this.channels[a.channelId];
    const cost = tokenCost(a.pricePer1k, tokens);
    const owed = BigInt(state.owed) + cost;
    state.owed = owed.toString();
    const left = (this.reserved.get(a.channelId) ?? 0n) - a.reserved;
    if (left > 0n) this.reserved.set(a.channelId, left);
    else this.reserved.delete(a.channelId);
    a.reserved = 0n;
    a.settled = { cost, owed };
    await this.persist();
    return a.settled;
  }

  /** Redeems every channel's best voucher beyond what the chain has redeemed. */
  redeemAll(): Promise<void> {
    this.redeeming ??= (async () => {
      try {
        for (const [channelId, s] of Object.entries(this.channels)) {
          if (!s.voucher || BigInt(s.voucher.cumulativeAmount) <= BigInt(s.redeemed)) continue;
          const r = await redeemVoucher(this.conn, { channelId: channelId as Hex, cumulativeAmount: s.voucher.cumulativeAmount, signature: s.voucher.signature });
          s.redeemed = s.voucher.cumulativeAmount;
          await this.persist();
          this.log(`redeemed ${r.amount} OPEN wei on channel ${channelId} (model ${s.modelId})`);
        }
      } finally {
        this.redeeming = null;
      }
    })();
    return this.redeeming;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.redeemAll().catch((e: unknown) => this.log(`redeeming vouchers at shutdown: ${(e as Error).message}; they stay in ${this.file} for the next start`));
    await this.writes;
  }

  private persist(): Promise<void> {
    const body = `${JSON.stringify({ channels: this.channels }, null, 1)}\n`;
    this.writes = this.writes.then(async () => {
      await mkdir(dirname(this.file), { recursive: true });
      await writeFile(`${this.file}.tmp`, body, { mode: 0o600 });
      await rename(`${this.file}.tmp`, this.file);
    });
    return this.writes;
  }
}
