// Paid chat's pure parts (src/lib/payment.ts, src/lib/session-key.ts): the browser's session key (made once, kept, never the
// wallet's), vouchers it signs in the SDK's tributary/voucher@2 format that the node's check recovers to
// that key for the channel's epoch only, the node's 402 terms, and what is owed kept monotonic.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { recoverTypedDataAddress } from "viem";
import type { Address, Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import type { ChainConnection } from "@tributary/sdk/chain/browser";
import {
  amountToSign,
  keyRegistered,
  knownOwed,
  rememberOwed,
  termsOf,
  tokenCost,
} from "../src/lib/payment.ts";
import type { KeyValueStore } from "../src/lib/payment.ts";
import { sessionKey, signWithSessionKey } from "../src/lib/session-key.ts";

function memoryStore(): KeyValueStore & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
    removeItem: (k) => void data.delete(k),
  };
}

const payer = privateKeyToAccount(generatePrivateKey());
const CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3" as Address;
const conn = {
  chainId: 31337,
  contracts: { PaymentChannels: { address: CONTRACT } },
} as unknown as ChainConnection;
const CHANNEL = `0x${"ab".repeat(32)}` as Hex;

/** The node's own check (trainer-node/src/serve/billing.ts), written out here: domain, types, message. */
function recover(v: { cumulativeAmount: string; signature: Hex }, epoch: number) {
  return recoverTypedDataAddress({
    domain: { name: "Tributary PaymentChannels", version: "1", chainId: 31337, verifyingContract: CONTRACT },
    types: {
      Voucher: [
        { name: "channelId", type: "bytes32" },
        { name: "cumulativeAmount", type: "uint256" },
        { name: "epoch", type: "uint32" },
      ],
    },
    primaryType: "Voucher",
    message: { channelId: CHANNEL, cumulativeAmount: BigInt(v.cumulativeAmount), epoch },
    signature: v.signature,
  });
}

describe("paid chat: session key and vouchers", () => {
  it("makes the session key once per chain and payer, keeps it, and replaces a damaged one", () => {
    const s = memoryStore();
    const a = sessionKey(s, 31337, payer.address);
    assert.equal(sessionKey(s, 31337, payer.address).address, a.address, "the same key on the next visit");
    assert.notEqual(a.address, payer.address, "never the wallet's key");
    assert.notEqual(sessionKey(s, 1, payer.address).address, a.address, "another chain gets its own key");
    const other = privateKeyToAccount(generatePrivateKey()).address;
    assert.notEqual(sessionKey(s, 31337, other).address, a.address, "another payer gets its own key");
    assert.equal(s.data.size, 3);
    const [name] = [...s.data.keys()];
    s.setItem(name, "not a key");
    const fresh = sessionKey(s, 31337, payer.address);
    assert.match(s.getItem(name)!, /^0x[0-9a-f]{64}$/);
    assert.notEqual(fresh.address, a.address);
  });

  it("signs a tributary/voucher@2 with the session key that the node's check recovers for that epoch only", async () => {
    const key = sessionKey(memoryStore(), 31337, payer.address);
    const v = await signWithSessionKey(conn, key, { channelId: CHANNEL, cumulativeAmount: 1234n, epoch: 2 });
    assert.equal(v.schema, "tributary/voucher@2");
    assert.equal(v.epoch, 2);
    assert.equal(v.cumulativeAmount, "1234");
    assert.equal(v.signer, key.address);
    assert.equal(v.contract, CONTRACT);
    assert.equal(await recover(v, 2), key.address);
    assert.notEqual(
      await recover(v, 3),
      key.address,
      "a voucher of an earlier epoch does not verify after a withdrawal",
    );
    assert.notEqual(
      await recover({ ...v, cumulativeAmount: "99999" }, 2),
      key.address,
      "the amount is signed",
    );
  });

  it("a key counts as registered only while the channel names it and it has not expired", () => {
    const key = privateKeyToAccount(generatePrivateKey()).address;
    const ch = { sessionKey: key, sessionKeyExpiresAt: 1000n } as Parameters<typeof keyRegistered>[0];
    assert.equal(keyRegistered(ch, key, 999), true);
    assert.equal(keyRegistered(ch, key, 1000), false);
    assert.equal(keyRegistered({ ...ch, sessionKey: payer.address }, key, 1), false);
  });
});

describe("paid chat: the node's terms and what is owed", () => {
  const body = (extra: Record<string, string>, code = "voucher_required") => ({
    error: { message: "pay", code },
    tributary: {
      model_id: "3",
      price_per_1k_tokens: "10000000000000000",
      provider: payer.address,
      payment_channels: CONTRACT,
      chain_id: 31337,
      ...extra,
    },
  });

  it("reads a 402's terms and the amount it asks to sign; ignores answers that are not payment terms", () => {
    const t = termsOf(body({ sign_at_least: "500" }, "voucher_insufficient"))!;
    assert.equal(t.pricePer1k, 10n ** 16n);
    assert.equal(t.provider, payer.address);
    assert.equal(t.chainId, 31337);
    assert.equal(t.code, "voucher_insufficient");
    assert.equal(t.signAtLeast, 500n);
    assert.equal(termsOf(body({}))?.signAtLeast, undefined);
    assert.equal(termsOf({ error: { message: "nope" } }), null);
    assert.equal(termsOf(null), null);
  });

  it("signs what the node asks only up to the channel's deposit", () => {
    assert.deepEqual(amountToSign(500n, 1000n), { amount: 500n });
    assert.match(amountToSign(1001n, 1000n).error!, /more than the channel's deposit \(1000\)/);
  });

  it("keeps what is owed monotonic and at least what the chain redeemed", () => {
    const s = memoryStore();
    assert.equal(knownOwed(s, 1, CHANNEL, 7n), 7n);
    rememberOwed(s, 1, CHANNEL, 50n);
    rememberOwed(s, 1, CHANNEL, 20n);
    assert.equal(knownOwed(s, 1, CHANNEL, 7n), 50n);
    assert.equal(knownOwed(s, 1, CHANNEL, 80n), 80n);
    assert.equal(knownOwed(s, 2, CHANNEL, 0n), 0n, "per chain");
  });

  it("prices tokens as the node does (rounded up)", () => {
    assert.equal(tokenCost(1000n, 3), 3n);
    assert.equal(tokenCost(1001n, 1), 2n);
    assert.equal(tokenCost(0n, 100), 0n);
  });
});
