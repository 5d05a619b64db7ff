// Access to an approval-only Datanet: a builder without access asks for it (refusing in the wallet first:
// nothing is sent), the owner sees the purpose and grants it.
import assert from "node:assert/strict";
import { it } from "node:test";
import { demoAccount } from "../../../scripts/stack/accounts.ts";
import { asAlice, COOKING, openAs, shot } from "./context.ts";

export function accessJourney() {
  it("lets a builder without access request it; the owner sees the purpose and grants it", async () => {
    const { page: davePage, wallet: daveWallet } = await openAs(demoAccount("dave").privateKey, "#/datanets");
    const cooking = davePage.getByTestId("datanet-1");
    await cooking.getByRole("button", { name: "Request access" }).waitFor({ timeout: 30_000 });
    await cooking.getByRole("textbox").fill("A pasta assistant");
    // First dave refuses in the wallet: the app says so, nothing is sent; then he confirms.
    daveWallet.rejectNext = true;
    await cooking.getByRole("button", { name: "Request access" }).click();
    await cooking.locator(".tx-error").waitFor({ timeout: 30_000 });
    assert.equal(
      await cooking.locator(".tx-error").innerText(),
      "You rejected the request in your wallet. Nothing was sent.",
    );
    await cooking.getByRole("button", { name: "Request access" }).click();
    await cooking.getByTestId("access-requested").waitFor({ timeout: 60_000 });
    await shot(davePage, "09-access-requested");
    const alice = await asAlice();
    const requested = await alice.publicClient.readContract({
      address: alice.contracts.AccessRegistry.address,
      abi: alice.contracts.AccessRegistry.abi,
      functionName: "requestedAt",
      args: [COOKING, demoAccount("dave").address],
    });
    assert.ok(Number(requested) > 0, "the request is on chain");

    // Alice, the owner, sees the request with its purpose and grants it; dave may then use the Datanet.
    const { page: alicePage } = await openAs(demoAccount("alice").privateKey, "#/datanets");
    const request = alicePage.getByTestId(`request-${demoAccount("dave").address.toLowerCase()}`);
    await alicePage.getByTestId("access-requests").first().waitFor({ timeout: 30_000 });
    await shot(alicePage, "10-requests");
    await request.waitFor({ timeout: 30_000 });
    await request.getByText("A pasta assistant").waitFor({ timeout: 20_000 });
    await request.getByLabel("Jobs").fill("2");
    await request.getByRole("button", { name: "Grant" }).click();
    await request.locator(".tx-phase-done").waitFor({ timeout: 60_000 });
    await shot(alicePage, "11-granted");
    await alicePage.close();
    await davePage.reload();
    // The wallet reconnects by itself after a reload (the app loads the wallet code at start for it).
    await davePage.getByRole("button", { name: /^Wallet 0x/ }).waitFor({ timeout: 30_000 });
    const daveCooking = davePage.getByTestId("datanet-1");
    await daveCooking.getByTestId("access-yes").waitFor({ timeout: 30_000 });
    assert.match(await daveCooking.getByTestId("access-yes").innerText(), /2 jobs left/);
    await davePage.close();
  });
}
