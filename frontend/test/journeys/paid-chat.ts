// Paid chat: the builder prices the model the builder journey minted (as its owner, outside the app),
// then chats with it in the app: one channel opened with the wallet (its state shown), a session key made
// and kept by the browser registered on it, every answer paid with a voucher that key signs (no wallet
// prompt), the running cost shown; the node's redeemable voucher grows and the chain shows the channel;
// top up and close from the panel.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { it } from "node:test";
import { getChannel, setInferencePrice } from "@tributary/sdk/chain/browser";
import type { Hex } from "viem";
import { parseEther } from "viem";
import { demoAccount } from "../../../scripts/stack/accounts.ts";
import { channelIdOf } from "../../src/lib/payment.ts";
import { asDemo, e, shot, waitForSend } from "./context.ts";

/** OPEN wei per 1,000 tokens: a request of ~250 tokens costs ~0.0025 OPEN. */
const PRICE = parseEther("0.01");

/** The trainer node's best voucher for a channel (what it will redeem), from its vouchers file. */
function nodeVoucher(channelId: Hex): bigint | null {
  const file = path.join(e.stack.env.TRIBUTARY_HOME, "trainer", "vouchers.json");
  if (!fs.existsSync(file)) return null;
  const { channels } = JSON.parse(fs.readFileSync(file, "utf8")) as {
    channels: Record<string, { voucher: { cumulativeAmount: string } | null }>;
  };
  const v = channels[channelId.toLowerCase()]?.voucher;
  return v ? BigInt(v.cumulativeAmount) : null;
}

export function paidChatJourney() {
  it("pays for a priced model from the chat: one channel with a browser session key, vouchers per answer, running cost, top up and close", async () => {
    assert.ok(e.modelId, "the builder journey minted a model");
    const modelName = `model-${e.modelId}`;
    const builder = await asDemo("builder");
    await setInferencePrice(builder, e.modelId, PRICE);
    const payer = demoAccount("builder").address;
    const provider = demoAccount("trainer").address;
    const channelId = channelIdOf(payer, provider, e.modelId);

    // a fresh visit to the chat (the builder journey left this tab on it, priced as free then)
    await e.page.goto(`${e.web}/#/models`);
    await e.page.getByRole("cell", { name: modelName, exact: true }).waitFor({ timeout: 20_000 });
    await e.page.goto(`${e.web}/#/chat/${modelName}`);
    const panel = e.page.getByTestId(`payment-${modelName}`);
    await panel.waitFor({ timeout: 30_000 });
    assert.match(await panel.innerText(), /0\.01 OPEN per 1,000 tokens/);
    await panel.getByText("No channel yet").waitFor({ timeout: 30_000 });
    // nothing is sent to a paid model before it is paid for
    await e.page.getByTestId("send-blocked").waitFor();
    await e.page.getByLabel("Message").fill("What is a roux?");
    assert.equal(await e.page.getByRole("button", { name: "Send" }).isDisabled(), true);

    // A typo first: refused inline, nothing sent.
    await panel.getByLabel("Deposit (OPEN)").fill("1,5");
    await panel.getByRole("button", { name: "Open a payment channel" }).click();
    await panel.getByText(/"1,5" is not an amount of OPEN/).waitFor();
    await panel.getByLabel("Deposit (OPEN)").fill("1");
    await panel.getByRole("button", { name: "Open a payment channel" }).click();
    await panel.locator(".tx-phase-done").waitFor({ timeout: 60_000 });
    assert.match(await panel.getByTestId("tx-status").innerText(), /Open the payment channel: confirmed/);
    await panel.getByTestId("channel-deposit").waitFor({ timeout: 20_000 });
    await shot(e.page, "07c-paid-chat-channel");

    // The chain: the builder's channel to the trainer node for this model, with the browser's key, not the wallet's.
    const ch = await getChannel(builder, channelId);
    assert.equal(ch.payer.toLowerCase(), payer.toLowerCase());
    assert.equal(ch.deposit, parseEther("1"));
    const stored = await e.page.evaluate(
      ([chainId, who]) => localStorage.getItem(`tributary:session-key:${chainId}:${who.toLowerCase()}`),
      [String(e.chainId), payer] as const,
    );
    assert.match(stored ?? "", /^0x[0-9a-f]{64}$/, "the session key is kept in this browser");
    assert.notEqual(
      ch.sessionKey.toLowerCase(),
      payer.toLowerCase(),
      "the session key is not the wallet's key",
    );
    assert.match(await panel.innerText(), new RegExp(`this browser's ${ch.sessionKey.slice(0, 6)}`));

    // Two answers: vouchers signed by the session key, no wallet prompt; the cost runs up.
    const walletSignatures = () => e.wallet.calls.filter((c) => c.startsWith("eth_sign")).length;
    const before = walletSignatures();
    await e.page.getByRole("button", { name: "Send" }).click();
    await waitForSend(e.page);
    const column = e.page.locator(`[data-model="${modelName}"]`);
    const answer = column.getByTestId("msg-assistant").last();
    assert.doesNotMatch((await answer.getAttribute("class")) ?? "", /error/, await answer.innerText());
    // the answer's billing is counted before Send comes back
    const cost = async () =>
      parseEther((await panel.getByTestId("running-cost").innerText()).replace(/ OPEN$/, ""));
    const first = await cost();
    assert.ok(first > 0n, "the first answer cost something");
    const v1 = nodeVoucher(channelId);
    assert.ok(v1 !== null, "the node holds a voucher for the channel");

    await e.page.getByLabel("Message").fill("And a béchamel?");
    await e.page.getByRole("button", { name: "Send" }).click();
    await waitForSend(e.page);
    const total = await cost();
    assert.ok(total > first, `the running cost grew (${first} -> ${total})`);
    const v2 = nodeVoucher(channelId)!;
    assert.ok(
      v2 > v1!,
      `the node's redeemable voucher grew (${v1} -> ${v2}): the second request paid for the first`,
    );
    assert.ok(v2 >= first, "it covers at least the first answer");
    assert.equal(walletSignatures(), before, "vouchers are signed by the session key, not the wallet");
    await shot(e.page, "07d-paid-chat-cost");

    // Top up, then close (the withdrawal timeout starts; the node can still redeem what is owed).
    await panel.getByLabel("Top-up amount (OPEN)").fill("0.5");
    await panel.getByRole("button", { name: "Top up" }).click();
    await panel.getByText("The channel now holds 1.5 OPEN.").waitFor({ timeout: 60_000 });
    assert.equal((await getChannel(builder, channelId)).deposit, parseEther("1.5"));
    await panel.getByRole("button", { name: "Close the channel" }).click();
    await panel.getByText(/Withdrawal requested; withdraw what is left after/).waitFor({ timeout: 60_000 });
    assert.ok(
      (await getChannel(builder, channelId)).withdrawableAt > 0n,
      "the chain shows the channel closing",
    );
    await shot(e.page, "07e-paid-chat-closing");
  });
}
