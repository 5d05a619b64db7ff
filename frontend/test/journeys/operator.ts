// The trainer operator's journey: the node's jobs with their stages, and the operator's account on chain
// (stake, earnings from the builder's accepted job), then a stake added from the page.
import assert from "node:assert/strict";
import { it } from "node:test";
import { getTrainer } from "@tributary/sdk/chain/browser";
import { demoAccount } from "../../../scripts/stack/accounts.ts";
import { asAlice, openAs, e, shot } from "./context.ts";

export function operatorJourney() {
  it("a trainer operator sees the node's jobs and stages, its earnings, and stakes more", async () => {
    assert.ok(e.jobId, "the builder's job exists");
    const trainer = demoAccount("trainer");
    const { page: p } = await openAs(trainer.privateKey, "#/trainers", { trackErrors: true });
    const row = p.getByTestId(`node-job-${e.jobId}`);
    await row.waitFor({ timeout: 30_000 });
    assert.match(await row.innerText(), /finalized|submitted/);
    const earnings = p.getByTestId("trainer-earnings");
    await earnings.waitFor({ timeout: 30_000 });
    assert.doesNotMatch(await earnings.innerText(), /^0 OPEN$/, "paid for the accepted job");
    const alice = await asAlice();
    const before = (await getTrainer(alice, trainer.address)).staked;
    // A typo first: the amount's error, nothing sent; the typed text stays.
    await p.getByLabel("Amount (OPEN)").fill("1,5");
    await p.getByRole("button", { name: "Stake", exact: true }).click();
    await p.getByTestId("error-stake-amount").waitFor();
    assert.match(await p.getByTestId("error-stake-amount").innerText(), /not an amount of OPEN/);
    await p.getByLabel("Amount (OPEN)").fill("1.5");
    await p.getByRole("button", { name: "Stake", exact: true }).click();
    await p.locator(".tx-phase-done").waitFor({ timeout: 60_000 });
    await shot(p, "18-trainer");
    const after = (await getTrainer(alice, trainer.address)).staked;
    assert.equal(after - before, 1_500_000_000_000_000_000n);
    await p.close();
  });
}
