/**
 * Paid inference through payment channels. A model version whose owner set an inference price (OPEN wei
 * per 1,000 tokens, ModelRegistry) is served only against an EIP-712 voucher on a channel the caller
 * opened to this node for that model (PaymentChannels): header `x-tributary-voucher` with the SDK's
 * `tributary/voucher@1` JSON, signed by the payer or its unexpired session key.
 *
 * Cumulative, post-paid with one request of credit: a request is served when its voucher covers everything
 * used so far on the channel (`owed`) and the deposit can still cover this request's completion; after
 * it, `owed` grows by the request's actual tokens (prompt + completion) and the response says so, so the
 * client signs at least that much next time. The best voucher per channel is persisted before it is
 * relied on (a voucher is money) and redeemed on chain periodically and at shutdown; redeemed revenue goes
 * to the RewardDistributor, which splits it by the model's attribution.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { recoverTypedDataAddress } from "viem";
import type { Hex } from "viem";
import { getChannel, getModel, redeemVoucher, VOUCHER_TYPES } from "@tributary/sdk/chain";
import type { ChainConnection } from "@tributary/sdk/chain";
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

export interface BillingOptions {
  conn: ChainConnection;
  /** Where vouchers are kept (JSON, written atomically). */
  file: string;
  /** Redeem every this many ms when something is unredeemed (default 60000; 0: only on redeemAll/close). */
  redeemEveryMs?: number;
  log?: (line: string) => void;
}

export interface Authorization {
  channelId: Hex;
  pricePer1k: bigint;
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

  /** State of a channel as this node sees it (owed, best voucher, redeemed), for responses and tests. */
  channel(channelId: string): ChannelState | undefined {
    return this.channels[channelId.toLowerCase()];
  }

  /**
   * Checks the request's voucher for a paid model; returns null for a free one. Throws 402 with what to
   * do when the voucher is missing, invalid or too small, 400 when it is not a voucher at all.
   */
  async authorize(modelId: string, header: string | undefined, maxTokens: number): Promise<Authorization | null> {
    const pricePer1k = await this.price(modelId);
    if (pricePer1k === 0n) return null;
    const provider = this.conn.account!.address;
    const terms = { model_id: modelId, price_per_1k_tokens: pricePer1k.toString(), provider, payment_channels: this.conn.contracts.PaymentChannels.address, chain_id: this.conn.chainId };
    const how = `Open a channel to ${provider} for model ${modelId} (\`npx tributary channel open\`) and send a signed voucher (\`npx tributary channel voucher\`) as the x-tributary-voucher header`;
    if (!header) throw new PaymentRequiredError(`Model ${modelId} costs ${pricePer1k} OPEN wei per 1,000 tokens; this request carries no voucher`, "voucher_required", terms, how);
    let v: { channelId?: unknown; cumulativeAmount?: unknown; signature?: unknown };
    try {
      v = JSON.parse(header) as typeof v;
    } catch {
      throw new BadRequestError("x-tributary-voucher", "the x-tributary-voucher header is not JSON (expected a tributary/voucher@1 object)", "invalid_voucher");
    }
    if (typeof v.channelId !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(v.channelId) || typeof v.signature !== "string" || !/^0x[0-9a-fA-F]+$/.test(v.signature) || typeof v.cumulativeAmount !== "string" || !/^\d+$/.test(v.cumulativeAmount)) {
      throw new BadRequestError("x-tributary-voucher", "the voucher needs channelId (bytes32 hex), cumulativeAmount (a decimal string of OPEN wei) and signature (hex)", "invalid_voucher");
    }
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
    const state = (this.channels[channelId] ??= { modelId, owed: "0", voucher: null, redeemed: ch.redeemed.toString() });
    const owed = BigInt(state.owed);
    if (amount < owed) {
      throw new PaymentRequiredError(`The voucher covers ${amount} OPEN wei but ${owed} were used on channel ${channelId}; sign at least ${owed}`, "voucher_insufficient", { ...terms, channel_id: channelId, owed: owed.toString() }, "Sign a voucher for the cumulative amount owed");
    }
    const room = ch.deposit - owed;
    const need = tokenCost(pricePer1k, maxTokens);
    if (room < need) {
      throw new PaymentRequiredError(`Channel ${channelId} has ${room} OPEN wei left, this request may cost up to ${need} (${maxTokens} tokens)`, "deposit_exhausted", { ...terms, channel_id: channelId, owed: owed.toString(), deposit: ch.deposit.toString() }, "Top the channel up (`npx tributary channel topup`) or ask for fewer max_tokens");
    }
    if (!state.voucher || amount > BigInt(state.voucher.cumulativeAmount)) {
      state.voucher = { cumulativeAmount: amount.toString(), signature: v.signature as Hex };
      await this.persist();
    }
    return { channelId, pricePer1k };
  }

  /** Adds a served request's tokens to its channel; returns the cost and the new total owed. */
  async charge(a: Authorization, tokens: number): Promise<{ cost: bigint; owed: bigint }> {
    const state = this.channels[a.channelId];
    const cost = tokenCost(a.pricePer1k, tokens);
    const owed = BigInt(state.owed) + cost;
    state.owed = owed.toString();
    await this.persist();
    return { cost, owed };
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
