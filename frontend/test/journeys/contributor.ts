// The contributor's journey: upload records (encrypted in the browser) that the owner approves; with the
// trainer node, see the attribution share in a trained model and claim its revenue.
import assert from "node:assert/strict";
import { depositRevenue, getModel } from "@tributary/sdk/chain/browser";
import { it } from "node:test";
import { demoAccount, demoAccounts } from "../../../scripts/stack/accounts.ts";
import { asAlice, openAs, COOKING, e, shot } from "./context.ts";

export function contributorJourney() {
  it("with a trainer node: a contributor sees their attribution share and influence, claims all revenue due, and sees it on the earnings chart", async () => {
    assert.ok(e.modelId, "a model was minted");
    // Revenue for the model (as the payment channels would deposit it), from alice.
    const alice = await asAlice();
    await depositRevenue(alice, e.modelId, 100n * 10n ** 18n);
    // The contributor with the largest attribution weight, from the report on IPFS.
    const model = await getModel(alice, e.modelId);
    const res = await fetch(`${e.stack.url("TRIBUTARY_IPFS_API_PORT")}/api/v0/cat?arg=${model.reportCid}`, {
      method: "POST",
    });
    const report = (await res.json()) as { contributors: Array<{ account: string; weight: string }> };
    const top = report.contributors.reduce((a, b) => (BigInt(b.weight) > BigInt(a.weight) ? b : a));
    const who = demoAccounts().find((a) => a.address.toLowerCase() === top.account.toLowerCase());
    assert.ok(who, `the top contributor ${top.account} is a demo account`);
    const { page: p2 } = await openAs(who.privateKey, "#/rewards");
    const row = p2.getByTestId(`reward-model-${e.modelId}`);
    await row.waitFor({ timeout: 30_000 });
    assert.doesNotMatch(await row.getByTestId("claimable").innerText(), /^0 OPEN$/);
    // their contributions' influence in the model (from its attribution report), then one claim for everything due
    const overview = p2.getByTestId("contributions-overview");
    await overview.waitFor({ timeout: 30_000 });
    assert.ok(
      (await overview.getByTestId(`influence-model-${e.modelId}`).count()) > 0,
      "influence in the trained model is shown",
    );
    assert.equal(await p2.getByTestId("earnings-empty").count(), 1, "nothing claimed before the claim");
    const claimAll = p2.getByTestId("claim-all");
    assert.doesNotMatch(await claimAll.locator("strong").innerText(), /^0 OPEN$/);
    await claimAll.getByRole("button", { name: "Claim all" }).click();
    await claimAll.locator(".tx-phase-done").waitFor({ timeout: 60_000 });
    // the claim, indexed by the subgraph, is the first point of the earnings chart
    const chart = p2.getByTestId("earnings-chart");
    await chart.waitFor({ timeout: 60_000 });
    assert.equal(await chart.getAttribute("data-claimed-points"), "1");
    await shot(p2, "08-rewards");
    const claimed = await alice.publicClient.readContract({
      address: alice.contracts.RewardDistributor.address,
      abi: alice.contracts.RewardDistributor.abi,
      functionName: "claimedBy",
      args: [e.modelId, who.address],
    });
    assert.ok(claimed > 0n, `${who.role} claimed on chain`);
    await p2.close();
  });

  it("lets a contributor upload records (encrypted in the browser) and the owner approve them", async () => {
    const { page: carolPage } = await openAs(demoAccount("carol").privateKey, "#/datanets", {
      trackErrors: true,
    });
    const cooking = carolPage.getByTestId("datanet-1");
    const panel = cooking.getByTestId("contribute");
    await panel.locator("summary").click();
    const records = [
      {
        messages: [
          { role: "user", content: "How long do I rest a steak?" },
          { role: "assistant", content: "Five minutes under foil." },
        ],
      },
      {
        messages: [
          { role: "user", content: "Why salt pasta water?" },
          { role: "assistant", content: "It seasons the pasta from inside." },
        ],
      },
    ];
    await panel.getByLabel("Records file").setInputFiles({
      name: "carol-steaks.jsonl",
      mimeType: "application/jsonl",
      buffer: Buffer.from(records.map((r) => JSON.stringify(r)).join("\n") + "\n"),
    });
    await panel.getByRole("button", { name: "Contribute" }).click();
    await panel.locator(".tx-phase-done").waitFor({ timeout: 60_000 });
    const done = await panel.locator(".tx-note").innerText();
    const id = BigInt(/Contribution #(\d+): 2 records, encrypted/.exec(done)?.[1] ?? "0");
    assert.ok(id > 0n, done);
    await shot(carolPage, "12-contributed");
    const alice = await asAlice();
    const onChain = await alice.publicClient.readContract({
      address: alice.contracts.DatanetRegistry.address,
      abi: alice.contracts.DatanetRegistry.abi,
      functionName: "getContribution",
      args: [COOKING, id],
    });
    assert.equal(onChain.contributor.toLowerCase(), demoAccount("carol").address.toLowerCase());
    assert.equal(onChain.status, 1, "pending");
    await carolPage.close();

    // Alice (the owner) sees it waiting and approves it; the Datanet's version rises.
    const versionBefore = await alice.publicClient.readContract({
      address: alice.contracts.DatanetRegistry.address,
      abi: alice.contracts.DatanetRegistry.abi,
      functionName: "versionOf",
      args: [COOKING],
    });
    const { page: alicePage } = await openAs(demoAccount("alice").privateKey, "#/datanets");
    const row = alicePage.getByTestId(`contribution-${id}`);
    await row.waitFor({ timeout: 60_000 });
    assert.match(await row.innerText(), /2 records, .*encrypted/);
    await row.getByRole("button", { name: "Approve" }).click();
    await row.locator(".tx-phase-done").waitFor({ timeout: 60_000 });
    await shot(alicePage, "13-approved");
    await alicePage.close();
    const after = await alice.publicClient.readContract({
      address: alice.contracts.DatanetRegistry.address,
      abi: alice.contracts.DatanetRegistry.abi,
      functionName: "getContribution",
      args: [COOKING, id],
    });
    assert.equal(after.status, 2, "approved");
    const versionAfter = await alice.publicClient.readContract({
      address: alice.contracts.DatanetRegistry.address,
      abi: alice.contracts.DatanetRegistry.abi,
      functionName: "versionOf",
      args: [COOKING],
    });
    assert.equal(versionAfter, versionBefore + 1);
  });
}
