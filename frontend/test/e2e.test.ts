// The web app in a real browser against the real local stack (chain, IPFS, custodian, indexer, trainer
// node, Vite): one stack and one browser for every journey, each in its own file under test/journeys/,
// run in this order (later journeys use what earlier ones made: the builder's job and model):
//   builder.ts        browse, connect (wrong network banner), the wizard, post, train, accept, chat
//   paid-chat.ts      the model priced: a channel with a browser session key, vouchers per answer, top up, close
//   contributor.ts    attribution share and claim; upload records the owner approves
//   access.ts         request access to an approval-only Datanet; the owner grants it
//   operator.ts       the trainer node's jobs and stages, the operator's earnings, stake from the page
//   datanet-owner.ts  create a Datanet in the app, then fine-tune on it through the wizard
//   a11y.ts           axe-core on every page (0 serious/critical) and no sideways scroll at 375 px
// A headless wallet (test/support/wallet.ts) acts as each person. WEB_SCREENSHOTS=<dir> keeps screenshots.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { demoAccount } from "../../scripts/stack/accounts.ts";
import { a11yJourney } from "./journeys/a11y.ts";
import { accessJourney } from "./journeys/access.ts";
import { builderJourney } from "./journeys/builder.ts";
import { e } from "./journeys/context.ts";
import { contributorJourney } from "./journeys/contributor.ts";
import { datanetOwnerJourney } from "./journeys/datanet-owner.ts";
import { operatorJourney } from "./journeys/operator.ts";
import { paidChatJourney } from "./journeys/paid-chat.ts";
import { browserMissing, launchBrowser } from "./support/browser.ts";
import { startTestStack } from "./support/stack.ts";
import { installWallet } from "./support/wallet.ts";

describe("web app, end to end", { timeout: 2_400_000, skip: browserMissing() }, () => {
  before(async () => {
    e.stack = await startTestStack();
    e.chainId = Number(e.stack.env.TRIBUTARY_CHAIN_ID);
    e.rpcUrl = e.stack.url("TRIBUTARY_CHAIN_PORT");
    e.web = e.stack.url("TRIBUTARY_WEB_PORT");
    e.browser = await launchBrowser();
    e.context = await e.browser.newContext();
    e.page = await e.context.newPage();
    e.page.on("pageerror", (x) => e.pageErrors.push(x.message));
    // The wallet starts on Ethereum mainnet's id: the app must notice and offer the switch.
    e.wallet = await installWallet(e.page, {
      privateKey: demoAccount("builder").privateKey,
      rpcUrl: e.rpcUrl,
      chainId: e.chainId,
      startChainId: 1,
    });
  });

  after(async () => {
    await e.browser?.close();
    await e.stack?.stop();
  });

  builderJourney();
  paidChatJourney();
  contributorJourney();
  accessJourney();
  operatorJourney();
  datanetOwnerJourney();
  a11yJourney();

  it("raised no uncaught errors in the page", () => {
    assert.deepEqual(e.pageErrors, []);
  });
});
