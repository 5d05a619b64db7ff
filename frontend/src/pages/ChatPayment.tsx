// Paying for a priced model in the chat: the model's price (ModelRegistry), the node's payment terms (its
// 402 answer names the provider), the payer's channel to it (PaymentChannels, id derived from payer,
// provider and model), this browser's session key (src/lib/payment.ts), and the panel to open, top up
// and close the channel, with the running cost. Vouchers are signed per request without a wallet prompt.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useState } from "react";
import type { Address, Hex } from "viem";
import {
  getChannel,
  getModel,
  openChannel,
  setSessionKey,
  topUpChannel,
  withdrawChannel,
} from "@tributary/sdk/chain/browser";
import type { ChainConnection } from "@tributary/sdk/chain/browser";
import { TxStatus } from "../components/TxStatus.tsx";
import { parseOpen } from "../lib/amount.ts";
import type { ServedModel } from "../lib/compare.ts";
import { formatOpen, formatTime, shortAddress } from "../lib/format.ts";
import {
  amountToSign,
  channelIdOf,
  keyRegistered,
  knownOwed,
  rememberOwed,
  sessionKeyExpiry,
  termsOf,
} from "../lib/payment.ts";
import type { ChannelOnChain, KeyValueStore, PaymentTerms } from "../lib/payment.ts";
import type { Billing } from "../lib/sse.ts";
import { useProtocol, useTx } from "../protocol.tsx";
import { useWallet } from "../wallet.tsx";

const memory = new Map<string, string>();
/** localStorage, or memory where the browser refuses it (then the key lasts as long as the page). */
function storage(): KeyValueStore {
  try {
    if (window.localStorage) return window.localStorage;
  } catch {
    // storage disabled
  }
  return {
    getItem: (k) => memory.get(k) ?? null,
    setItem: (k, v) => void memory.set(k, v),
    removeItem: (k) => void memory.delete(k),
  };
}

const now = () => Math.floor(Date.now() / 1000);

async function readChannel(conn: ChainConnection, channelId: Hex): Promise<ChannelOnChain | null> {
  try {
    return await getChannel(conn, channelId);
  } catch (e) {
    if ((e as { errorName?: string }).errorName === "ChannelNotFound") return null;
    throw e;
  }
}

/** The node answered a priced model's probe as free: it has not read the new price yet (retried). */
class PriceNotSeenYet extends Error {
  constructor(model: string) {
    super(
      `The trainer node still serves ${model} free although the chain has its price; it reads prices every few seconds, so reload in a minute.`,
    );
  }
}

/** The node's payment terms for a priced model: a request without a voucher is answered 402 with them. */
async function probeTerms(apiUrl: string, model: string, conn: ChainConnection): Promise<PaymentTerms> {
  let res: Response;
  try {
    res = await fetch(`${apiUrl}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, messages: [{ role: "user", content: "?" }], max_tokens: 1 }),
    });
  } catch {
    throw new Error("The trainer node's API cannot be reached to ask for its payment terms.");
  }
  const terms = termsOf(await res.json().catch(() => null));
  // the node reads prices with a short cache: just after the owner priced the model it may still serve it free
  if (res.ok) throw new PriceNotSeenYet(model);
  if (res.status !== 402 || !terms)
    throw new Error(
      `The trainer node did not name its payment terms for ${model} (it answered ${res.status}).`,
    );
  if (
    terms.chainId !== conn.chainId ||
    terms.paymentChannels.toLowerCase() !== conn.contracts.PaymentChannels.address.toLowerCase()
  )
    throw new Error(
      `The trainer node takes payment on chain ${terms.chainId} at ${terms.paymentChannels}, not this app's chain ${conn.chainId}; it cannot be paid from here.`,
    );
  return terms;
}

export interface Payment {
  model?: ServedModel;
  /** The model has an inference price (it needs a channel and vouchers). */
  priced: boolean;
  /** Why sending is not possible yet (priced models only), or null when it is. */
  blocked: string | null;
  /** The voucher header for the next request (what is owed so far, signed by the session key). */
  headers(): Promise<Record<string, string>>;
  /** After a 402: the header to retry with, or an Error saying why not. */
  afterRefusal(body: unknown): Promise<Record<string, string> | Error>;
  /** The node asked for payment for a model this page took as free: reads its price again. */
  repriced(): void;
  /** Records a paid answer's billing. */
  billed(b: Billing): void;
  /** OPEN wei spent in this chat (this page's answers). */
  spent: bigint;
  price?: bigint;
  terms?: PaymentTerms;
  channelId: Hex | null;
  channel?: ChannelOnChain | null;
  channelError?: unknown;
  keyAddress?: Address;
  refresh(): void;
}

/** Everything the chat needs to pay for `model` (a no-op for a free model). */
export function usePayment(model: ServedModel | undefined): Payment {
  const { conn, config } = useProtocol();
  const { address } = useWallet();
  const qc = useQueryClient();
  const modelId = model?.tributary?.model_id ?? null;
  const price = useQuery({
    queryKey: ["inference-price", modelId],
    enabled: modelId !== null,
    refetchInterval: 30_000, // the owner may price the model while the chat is open
    queryFn: async () => (await getModel(conn, BigInt(modelId!))).inferencePrice,
  });
  const priced = (price.data ?? 0n) > 0n;
  const terms = useQuery({
    queryKey: ["payment-terms", model?.id],
    enabled: priced,
    queryFn: () => probeTerms(config.proxied.trainer, model!.id, conn),
    // a node that has not seen the price yet is asked again for up to ~20 s; anything else is retried once
    retry: (failures, err) => failures < (err instanceof PriceNotSeenYet ? 10 : 1),
    retryDelay: (failures, err) => (err instanceof PriceNotSeenYet ? 2000 : Math.min(1000 * 2 ** failures, 4000)),
  });
  const channelId =
    address && terms.data ? channelIdOf(address, terms.data.provider, BigInt(modelId!)) : null;
  const channel = useQuery({
    queryKey: ["channel", channelId],
    enabled: channelId !== null,
    queryFn: () => readChannel(conn, channelId!),
  });
  // the key's code (secp256k1) loads only for a priced model
  const keyQuery = useQuery({
    queryKey: ["session-key", conn.chainId, address],
    enabled: priced && Boolean(address),
    staleTime: Infinity,
    queryFn: async () => {
      const m = await import("../lib/session-key.ts");
      return { key: m.sessionKey(storage(), conn.chainId, address!), sign: m.signWithSessionKey };
    },
  });
  const key = keyQuery.data?.key;
  const [spent, setSpent] = useState(0n);

  let blocked: string | null = null;
  if (priced) {
    if (!address) blocked = `${model!.id} is a paid model: connect your wallet to pay for it.`;
    else if (terms.isError) blocked = (terms.error as Error).message;
    else if (keyQuery.isError)
      blocked = `This browser's session key could not be loaded: ${(keyQuery.error as Error).message}`;
    else if (!terms.data || channel.isPending || !key) blocked = "Reading the payment channel…";
    else if (channel.isError) blocked = "The payment channel could not be read.";
    else if (!channel.data) blocked = `${model!.id} is a paid model: open a payment channel first.`;
    else if (!keyRegistered(channel.data, key.address, now()))
      blocked = "Register this browser's session key on the channel first.";
  } else if (modelId !== null && price.isPending) blocked = "Reading the model's price…";

  const refresh = useCallback(
    () => void qc.invalidateQueries({ queryKey: ["channel", channelId] }),
    [qc, channelId],
  );

  const sign = async (amount?: bigint) => {
    const ch = await readChannel(conn, channelId!); // the current epoch and deposit
    if (!ch) throw new Error("The payment channel is gone; open a new one.");
    const cumulativeAmount = amount ?? knownOwed(storage(), conn.chainId, channelId!, ch.redeemed);
    const v = await keyQuery.data!.sign(conn, key!, {
      channelId: channelId!,
      cumulativeAmount,
      epoch: ch.epoch,
    });
    return { "x-tributary-voucher": JSON.stringify(v) };
  };

  return {
    model,
    priced,
    blocked,
    spent,
    price: price.data,
    terms: terms.data,
    channelId,
    channel: channel.data,
    channelError: channel.error ?? terms.error ?? price.error ?? undefined,
    keyAddress: key?.address,
    refresh,
    headers: () => (priced ? sign() : Promise.resolve({})),
    repriced: () => void qc.invalidateQueries({ queryKey: ["inference-price", modelId] }),
    afterRefusal: async (body) => {
      const t = termsOf(body);
      if (!t || t.code !== "voucher_insufficient" || t.signAtLeast === undefined)
        return new Error(t?.message ?? "The node refused the payment.");
      const ch = await readChannel(conn, channelId!);
      const { amount, error } = amountToSign(t.signAtLeast, ch?.deposit ?? 0n);
      if (error) return new Error(error);
      rememberOwed(storage(), conn.chainId, channelId!, amount!);
      return sign(amount);
    },
    billed: (b) => {
      if (!channelId || b.channel_id.toLowerCase() !== channelId.toLowerCase()) return;
      rememberOwed(storage(), conn.chainId, channelId, BigInt(b.owed));
      setSpent((s) => s + BigInt(b.cost));
      refresh();
    },
  };
}

/** Price, channel, session key and running cost of a priced model, with open / top up / close. */
export function PaymentPanel({ pay }: { pay: Payment }) {
  const { conn } = useProtocol();
  const { address } = useWallet();
  const tx = useTx();
  const [deposit, setDeposit] = useState("1");
  const [topUp, setTopUp] = useState("1");
  const [error, setError] = useState<string | null>(null);
  if (!pay.priced || !pay.model) return null;
  const id = pay.model.id;
  const ch = pay.channel;
  const owed = ch && pay.channelId ? knownOwed(storage(), conn.chainId, pay.channelId, ch.redeemed) : 0n;
  const left = ch ? (ch.deposit > owed ? ch.deposit - owed : 0n) : 0n;
  const after = () => pay.refresh();

  const open = async () => {
    const { value, error: err } = parseOpen(deposit, "the deposit");
    setError(err ?? null);
    if (!value || !pay.terms || !pay.keyAddress || !pay.model?.tributary?.model_id) return;
    await tx.run(
      "Opening a payment channel: allow OPEN, then open the channel with this browser's session key (two wallet confirmations).",
      (signer) =>
        openChannel(signer, {
          provider: pay.terms!.provider,
          modelId: BigInt(pay.model!.tributary!.model_id!),
          amount: value,
          sessionKey: pay.keyAddress!,
          sessionKeyExpiresAt: sessionKeyExpiry(now()),
        }),
      () => `Channel open with ${formatOpen(value)}. Answers are now paid with vouchers this browser signs.`,
    );
    after();
  };
  const register = async () => {
    await tx.run(
      "Registering this browser's session key on the channel (one wallet confirmation).",
      (signer) =>
        setSessionKey(signer, {
          channelId: pay.channelId!,
          sessionKey: pay.keyAddress!,
          expiresAt: sessionKeyExpiry(now()),
        }),
      () => "This browser's key now signs the vouchers.",
    );
    after();
  };
  const addFunds = async () => {
    const { value, error: err } = parseOpen(topUp, "the top-up");
    setError(err ?? null);
    if (!value) return;
    await tx.run(
      "Topping the channel up: allow OPEN, then top up (two wallet confirmations).",
      (signer) => topUpChannel(signer, { channelId: pay.channelId!, amount: value }),
      (r) => `The channel now holds ${formatOpen(r.deposit)}.`,
    );
    after();
  };
  const close = async () => {
    await tx.run(
      ch && ch.withdrawableAt > 0n
        ? "Withdrawing what is left of the channel (one wallet confirmation)."
        : "Closing the channel: the withdrawal starts its timeout, so the node can still redeem what you owe (one wallet confirmation).",
      (signer) => withdrawChannel(signer, pay.channelId!),
      (r) =>
        r.step === "requested"
          ? `Withdrawal requested; withdraw what is left after ${formatTime(r.withdrawableAt!)}.`
          : `Withdrew ${formatOpen(r.amount!)}.`,
    );
    after();
  };

  return (
    <section className="panel payment" data-testid={`payment-${id}`} aria-label={`Payment for ${id}`}>
      <h2>Pay for {id}</h2>
      <p className="muted">
        {pay.price !== undefined && <>{formatOpen(pay.price, 8)} per 1,000 tokens (prompt and answer)</>}
        {pay.terms && <>, paid to the trainer node {shortAddress(pay.terms.provider)}</>}. The revenue goes to
        the model's contributors.
      </p>
      {!address ? (
        <p data-testid="payment-state">Connect your wallet to pay for this model.</p>
      ) : pay.channelError ? (
        <p className="tx-error" role="alert" data-testid="payment-state">
          {(pay.channelError as Error).message}
        </p>
      ) : ch === undefined ? (
        <p data-testid="payment-state">Reading your payment channel…</p>
      ) : ch === null ? (
        <form
          className="payment-open"
          onSubmit={(e) => {
            e.preventDefault();
            void open();
          }}
        >
          <p data-testid="payment-state">
            No channel yet. Your wallet deposits OPEN once and registers a key this browser keeps; each answer
            is then paid with a voucher that key signs, without a wallet prompt. What you do not use comes
            back when you close the channel.
          </p>
          <label className="field">
            <span className="label">Deposit (OPEN)</span>
            <input
              value={deposit}
              onChange={(e) => setDeposit(e.target.value)}
              inputMode="decimal"
              name="deposit"
            />
          </label>
          <button type="submit" disabled={tx.state.phase === "running"}>
            Open a payment channel
          </button>
        </form>
      ) : (
        <>
          <dl className="facts" data-testid="payment-state">
            <dt>Channel</dt>
            <dd>
              <code title={pay.channelId ?? ""}>{pay.channelId?.slice(0, 10)}…</code>
              {ch.withdrawableAt > 0n && <> · closing: withdraw after {formatTime(ch.withdrawableAt)}</>}
            </dd>
            <dt>Deposit</dt>
            <dd data-testid="channel-deposit">{formatOpen(ch.deposit, 8)}</dd>
            <dt>Used</dt>
            <dd data-testid="channel-used">
              {formatOpen(owed, 8)} ({formatOpen(left, 8)} left)
            </dd>
            <dt>This chat</dt>
            <dd data-testid="running-cost">{formatOpen(pay.spent, 8)}</dd>
            <dt>Session key</dt>
            <dd>
              {pay.keyAddress && keyRegistered(ch, pay.keyAddress, now()) ? (
                <>
                  this browser's {shortAddress(pay.keyAddress)}, until {formatTime(ch.sessionKeyExpiresAt)}
                </>
              ) : (
                <button type="button" onClick={() => void register()} disabled={tx.state.phase === "running"}>
                  Use this browser's key
                </button>
              )}
            </dd>
          </dl>
          <div className="payment-actions">
            <label className="inline">
              <span className="visually-hidden">Top-up amount (OPEN)</span>
              <input
                value={topUp}
                onChange={(e) => setTopUp(e.target.value)}
                inputMode="decimal"
                aria-label="Top-up amount (OPEN)"
                size={6}
              />
            </label>
            <button
              type="button"
              className="secondary"
              onClick={() => void addFunds()}
              disabled={tx.state.phase === "running"}
            >
              Top up
            </button>
            <button
              type="button"
              className="secondary"
              onClick={() => void close()}
              disabled={
                tx.state.phase === "running" || (ch.withdrawableAt > 0n && ch.withdrawableAt > BigInt(now()))
              }
            >
              {ch.withdrawableAt > 0n ? "Withdraw the rest" : "Close the channel"}
            </button>
          </div>
        </>
      )}
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      <TxStatus state={tx.state} />
    </section>
  );
}
