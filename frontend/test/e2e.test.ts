// The web app in a real browser against the real local stack (chain, IPFS, custodian, indexer, trainer
// node, Vite): a headless wallet (test/support/wallet.ts) acts as the demo builder. It connects through
// RainbowKit, recovers from a wrong network, browses the Datanets, goes through the wizard (inline errors,
// a revert decoded into a sentence), posts a job and follows it; with the trainer node in the stack it
// also watches the loss curve, accepts the result and chats with the new model. A second wallet (dave)
// requests access to an approval-only Datanet.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  connectChain,
  depositRevenue,
  getModel,
  grantAccess,
  parseDeployments,
  revokeAccess,
} from "@tributary/sdk/chain/browser";
import { splitEval } from "@tributary/engine";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { privateKeyToAccount } from "viem/accounts";
import { demoAccount, demoAccounts } from "../../scripts/stack/accounts.ts";
import { browserMissing, launchBrowser } from "./support/browser.ts";
import { startTestStack } from "./support/stack.ts";
import type { TestStack } from "./support/stack.ts";
import { installWallet, switchWalletChain, WALLET_NAME } from "./support/wallet.ts";
import type { HeadlessWallet } from "./support/wallet.ts";

const COOKING = 1n;
/** Set WEB_SCREENSHOTS=<dir> to keep a screenshot of each page the test passes through (for review). */
const SHOTS = process.env.WEB_SCREENSHOTS;
const shot = async (p: Page, name: string) => {
  if (SHOTS) await p.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
};

/** Word-level ROUGE-L F1 (longest common subsequence of lower-cased words). */
function rougeL(candidate: string, reference: string): number {
  const words = (x: string) => x.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const a = words(candidate);
  const b = words(reference);
  if (!a.length || !b.length) return 0;
  let prev = new Array<number>(b.length + 1).fill(0);
  for (const w of a) {
    const row = [0];
    for (let j = 1; j <= b.length; j++)
      row[j] = w === b[j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], row[j - 1]);
    prev = row;
  }
  const lcs = prev[b.length];
  if (lcs === 0) return 0;
  const p = lcs / a.length;
  const r = lcs / b.length;
  return (2 * p * r) / (p + r);
}

/**
 * The cooking Datanet's record for `question`, checked to be one the job trains on: an approved
 * contribution up to version 4 (demo.json) and not in the eval split the trainer node holds out (the
 * engine's seeded split over the job's records, seed and fraction as the card recommends).
 */
function trainedRecord(question: string): { system: string; question: string; answer: string } {
  const seedDir = path.join(import.meta.dirname, "..", "..", "scripts", "seed-data");
  const demo = JSON.parse(fs.readFileSync(path.join(seedDir, "demo.json"), "utf8")) as {
    datanets: Array<{ key: string; contributions: Array<{ records: [number, number]; status: string }> }>;
  };
  const approved = demo.datanets
    .find((d) => d.key === "cooking")!
    .contributions.filter((c) => c.status === "approved")
    .flatMap((c) => Array.from({ length: c.records[1] - c.records[0] }, (_, i) => c.records[0] + i));
  const lines = fs.readFileSync(path.join(seedDir, "cooking-qa.jsonl"), "utf8").trim().split("\n");
  const records = lines.map(
    (l) => (JSON.parse(l) as { messages: Array<{ role: string; content: string }> }).messages,
  );
  const at = records.findIndex((m) => m.some((x) => x.role === "user" && x.content === question));
  assert.ok(approved.includes(at), `"${question}" is in an approved contribution`);
  const { eval: held } = splitEval(approved, 0.1, 42);
  assert.ok(!held.includes(at), `"${question}" is held out for evaluation; pick a trained question`);
  const m = records[at];
  const content = (role: string) => m.find((x) => x.role === role)!.content;
  return { system: content("system"), question, answer: content("assistant") };
}

describe("web app, end to end", { timeout: 1_800_000, skip: browserMissing() }, () => {
  let stack: TestStack;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let wallet: HeadlessWallet;
  let web: string;
  let chainId: number;
  let rpcUrl: string;
  let jobId: string | undefined;
  let modelId: bigint | undefined;
  const pageErrors: string[] = [];

  /** Alice (the cooking Datanet's owner) acting from outside the app. */
  const asAlice = async () => {
    const deployments = JSON.parse(
      fs.readFileSync(path.join(stack.env.TRIBUTARY_DEPLOYMENTS_DIR, `${chainId}.json`), "utf8"),
    ) as unknown;
    return connectChain({
      rpcUrl,
      chainId,
      deployments: parseDeployments(deployments, chainId),
      account: privateKeyToAccount(demoAccount("alice").privateKey),
    });
  };

  const connect = async (p: Page) => {
    await p.getByRole("button", { name: "Connect Wallet" }).first().click();
    await p.getByText(WALLET_NAME).first().click();
    await p
      .getByRole("button", { name: "Connect Wallet" })
      .first()
      .waitFor({ state: "detached", timeout: 20_000 });
  };

  before(async () => {
    stack = await startTestStack();
    chainId = Number(stack.env.TRIBUTARY_CHAIN_ID);
    rpcUrl = stack.url("TRIBUTARY_CHAIN_PORT");
    web = stack.url("TRIBUTARY_WEB_PORT");
    browser = await launchBrowser();
    context = await browser.newContext();
    page = await context.newPage();
    page.on("pageerror", (e) => pageErrors.push(e.message));
    // The wallet starts on Ethereum mainnet's id: the app must notice and offer the switch.
    wallet = await installWallet(page, {
      privateKey: demoAccount("builder").privateKey,
      rpcUrl,
      chainId,
      startChainId: 1,
    });
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it("lists the Datanets with names and descriptions from their IPFS metadata", async () => {
    await page.goto(`${web}/`, { timeout: 120_000 });
    await page.getByRole("heading", { name: "Datanets" }).waitFor({ timeout: 120_000 });
    const cooking = page.getByTestId("datanet-1");
    await cooking.getByRole("heading", { name: "Home Cooking Q&A" }).waitFor({ timeout: 30_000 });
    assert.match(await cooking.innerText(), /Practical answers to everyday home-cooking questions/);
    assert.match(await cooking.innerText(), /4 approved of 5/);
    await page.getByTestId("datanet-2").getByRole("heading", { name: "Houseplant Care" }).waitFor();
    await shot(page, "01-datanets");
    assert.match(await page.getByTestId("datanet-2").innerText(), /Open/);
  });

  it("connects the wallet through RainbowKit; a wrong network shows a banner whose button switches", async () => {
    await connect(page);
    assert.ok(wallet.calls.includes("eth_requestAccounts"), "the app asked the wallet for accounts");
    // RainbowKit asked to switch while connecting; now the person moves the wallet elsewhere.
    await switchWalletChain(page, wallet, 1);
    const banner = page.getByTestId("wrong-network");
    await banner.waitFor({ timeout: 10_000 });
    assert.match(await banner.innerText(), new RegExp(`chain id ${chainId}`));
    await shot(page, "02-wrong-network");
    await banner.getByRole("button").click();
    await banner.waitFor({ state: "detached", timeout: 10_000 });
    assert.equal(wallet.chainId, chainId, "the wallet was switched to the stack's chain");
  });

  it("shows that the builder may use both demo Datanets (a grant on #1, #2 is open)", async () => {
    await page.getByTestId("datanet-1").getByTestId("access-yes").waitFor({ timeout: 20_000 });
    assert.match(await page.getByTestId("datanet-1").getByTestId("access-yes").innerText(), /5 jobs left/);
    await page.getByTestId("datanet-2").getByTestId("access-yes").waitFor();
  });

  it("goes through the wizard: the model's recommended settings, inline errors, a revert as a sentence, then the job is posted with the defaults", async () => {
    const fineTune = page.getByRole("navigation").getByRole("link", { name: "Fine-tune" });
    await fineTune.click();
    await page.getByText("tributary-austen-4m").click();
    // The base model's card, read from its IPFS file set: size and context.
    const card = page.getByTestId("model-card");
    await card.waitFor({ timeout: 30_000 });
    assert.match(await card.innerText(), /3\.8M parameters, context 512 tokens, LlamaForCausalLM/);
    await page.getByRole("button", { name: "Next" }).click();
    // Data step: nothing chosen yet -> the schema's error next to the field.
    await page.getByTestId("use-datanet-1").waitFor({ timeout: 20_000 });
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByTestId("error-data").waitFor();
    assert.match(await page.getByTestId("error-data").innerText(), /at least one Datanet/);
    await page.getByTestId("use-datanet-1").check();
    await page.getByRole("button", { name: "Next" }).click();
    // Method step: every setting prefilled from the card, with its reason next to it.
    const value = (name: string) => page.locator(`input[name="${name}"]`).inputValue();
    assert.equal(await value("learningRate"), "0.01");
    assert.equal(await value("epochs"), "30");
    assert.equal(await value("maxSeqLength"), "512");
    assert.equal(await value("rank"), "16");
    assert.equal(await value("alpha"), "32");
    const adapted = await page
      .locator('[data-field="targetModules"] label.choice')
      .evaluateAll((labels) =>
        labels.filter((l) => l.querySelector("input")?.checked).map((l) => l.textContent?.trim()),
      );
    assert.deepEqual(adapted, ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]);
    assert.match(
      await page.getByTestId("note-learningRate").innerText(),
      /0\.01: measured on the demo Q&A data/,
    );
    assert.match(await page.getByTestId("note-epochs").innerText(), /30 passes/);
    assert.match(await page.getByTestId("note-maxSeqLength").innerText(), /context is 512/);
    assert.equal(await page.locator('input[name="maxSeqLength"]').getAttribute("max"), "512");
    // A max length above the context and a bad learning rate block the step with plain messages.
    await page.locator('input[name="maxSeqLength"]').fill("1024");
    await page.locator('input[name="learningRate"]').fill("abc");
    await page.getByRole("button", { name: "Next" }).click();
    assert.equal(
      await page.getByTestId("error-maxSeqLength").innerText(),
      "at most 512 tokens: tributary-austen-4m's context is 512 tokens",
    );
    assert.equal(await page.getByTestId("error-learningRate").innerText(), "enter a number");
    await shot(page, "03-wizard-error");
    await page.locator('input[name="learningRate"]').fill("5");
    assert.match(await page.getByTestId("error-learningRate").innerText(), /at most 1/);

    // Start over (leaving the page drops the form) and post with the defaults: no setting touched.
    await page.getByRole("navigation").getByRole("link", { name: "My jobs" }).click();
    await fineTune.click();
    await page.getByText("tributary-austen-4m").click();
    await page.getByTestId("model-card").waitFor({ timeout: 30_000 });
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByTestId("use-datanet-1").check();
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByTestId("recommended-for").waitFor();
    await shot(page, "03b-wizard-recommended");
    await page.getByRole("button", { name: "Next" }).click();
    // Budget step.
    await page.locator('input[name="budget"]').fill("20");
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByRole("button", { name: "Approve & post job" }).waitFor();
    const pinned = JSON.parse((await page.locator(".review pre").textContent()) ?? "{}") as {
      lora: { r: number; alpha: number; dropout: number; targetModules: string[] };
      training: { learningRate: number; epochs: number; maxSeqLength: number; warmupRatio: number };
    };
    assert.deepEqual(
      [pinned.training.learningRate, pinned.training.epochs, pinned.training.maxSeqLength],
      [0.01, 30, 512],
      "the pinned spec has the card's recommended settings",
    );
    assert.deepEqual([pinned.lora.r, pinned.lora.alpha, pinned.lora.dropout], [16, 32, 0]);
    assert.equal(pinned.lora.targetModules.length, 7);
    assert.equal(pinned.training.warmupRatio, 0.05, "settings the form does not show come from the card too");

    // Alice revokes the builder's grant behind the app's back: posting now reverts on chain.
    const alice = await asAlice();
    await revokeAccess(alice, { datanetId: COOKING, account: wallet.address });
    await page.getByRole("button", { name: "Approve & post job" }).click();
    const status = page.getByTestId("tx-status");
    await status.locator(".tx-error").waitFor({ timeout: 60_000 });
    const sentence = await status.locator(".tx-error").innerText();
    assert.match(sentence, /has no valid access to Datanet 1/);
    await shot(page, "04-review-revert");
    assert.doesNotMatch(sentence, /0x[0-9a-fA-F]{64,}/, "no raw revert data");

    // Access back: the same button now posts.
    await grantAccess(alice, {
      datanetId: COOKING,
      account: wallet.address,
      expiresAt: BigInt(Math.floor(Date.now() / 1000) + 86_400),
      uses: 3,
    });
    await page.getByRole("button", { name: "Approve & post job" }).click();
    await page.waitForURL(/#\/jobs\/\d+$/, { timeout: 90_000 });
    jobId = /#\/jobs\/(\d+)$/.exec(page.url())![1];
  });

  it("shows the posted job with its status from the chain", async () => {
    assert.ok(jobId, "a job was posted");
    await page.getByRole("heading", { name: new RegExp(`Job #${jobId}`) }).waitFor();
    const status = await page.getByTestId("job-status").innerText();
    assert.ok(["open", "claimed", "submitted"].includes(status), `status ${status}`);
    assert.match(await page.locator(".facts").innerText(), /20 OPEN/);
    assert.match(await page.locator(".facts").innerText(), /Datanet #1 v4/);
    await page.getByRole("navigation").getByRole("link", { name: "My jobs" }).click();
    await page.getByRole("link", { name: `#${jobId}` }).waitFor({ timeout: 20_000 });
    await page.getByRole("link", { name: `#${jobId}` }).click();
  });

  it("with a trainer node: draws the loss curve live, then the job is submitted", async () => {
    assert.ok(jobId, "a job was posted");
    const chart = page.getByTestId("loss-chart");
    await chart.waitFor({ timeout: 120_000 });
    assert.ok(Number(await chart.getAttribute("data-points")) >= 1, "the chart has points");
    await shot(page, "05-training");
    assert.match(await page.getByTestId("progress").innerText(), /\d+ \/ \d+\s*steps/);
    // 30 epochs (the card's recommendation) on the cooking Datanet's 18 training records: 150 steps, 5-10 minutes on the stack's wasm kernel on a busy 2-core machine
    await page.getByTestId("job-status").filter({ hasText: "submitted" }).waitFor({ timeout: 900_000 });
    assert.ok(Number(await chart.getAttribute("data-points")) >= 2, "the whole curve is drawn");
    await shot(page, "06-submitted");
  });

  it("with a trainer node: accepting the result mints a model; side by side, it answers a trained question as its record does and the base does not", async () => {
    assert.ok(jobId, "a job was posted");
    await page.getByRole("button", { name: "Accept the result now" }).click();
    await page.getByTestId("job-status").filter({ hasText: "finalized" }).waitFor({ timeout: 60_000 });
    const chatLink = page.getByRole("link", { name: "Chat with it" });
    await chatLink.waitFor({ timeout: 20_000 });
    const chatUrl = await chatLink.getAttribute("href");
    const apiId = decodeURIComponent(/#\/chat\/(.+)$/.exec(chatUrl ?? "")![1]);
    assert.match(apiId, /^model-\d+$/);
    modelId = BigInt(apiId.slice("model-".length));
    // The Models page lists it next to the base model.
    await page.getByRole("navigation").getByRole("link", { name: "Models & chat" }).click();
    await page.getByRole("cell", { name: apiId, exact: true }).waitFor({ timeout: 20_000 });
    await page.getByRole("cell", { name: "tributary-austen-4m", exact: true }).waitFor();
    // From the finalized job: the base model (left) against the new model (right).
    await page.goto(`${web}/${chatUrl}`);
    const base = page.getByTestId("column-0");
    const tuned = page.getByTestId("column-1");
    await tuned.waitFor({ timeout: 30_000 });
    assert.equal(await base.getAttribute("data-model"), "tributary-austen-4m");
    assert.equal(await tuned.getAttribute("data-model"), apiId);
    const snippet = page.getByTestId("api-snippet");
    assert.match(await snippet.innerText(), new RegExp(`"model": "${apiId}"`));
    assert.match(
      await snippet.innerText(),
      new RegExp(`${stack.url("TRIBUTARY_TRAINER_PORT")}/v1/chat/completions`),
    );

    // A question the job trained on (its record is in the training split, not the held-out one), asked
    // as the records ask it: with their system prompt.
    const record = trainedRecord("How long should I rest a steak after cooking?");
    await page.getByText("Settings").click();
    await page.getByLabel("System prompt").fill(record.system);
    await page.getByLabel("Message").fill(record.question);
    await page.getByRole("button", { name: "Send" }).click();
    await page.getByRole("button", { name: "Stop" }).waitFor();
    await page.getByRole("button", { name: "Send" }).waitFor({ timeout: 180_000 });
    const answerOf = async (col: typeof base) => {
      const msg = col.getByTestId("msg-assistant").last();
      assert.doesNotMatch((await msg.getAttribute("class")) ?? "", /error/, await msg.innerText());
      return (await msg.getByTestId("msg-text").innerText()).trim();
    };
    await tuned.getByTestId("citations").waitFor({ timeout: 10_000 });
    const citations = await tuned.getByTestId("citations").innerText();
    const tunedText = await answerOf(tuned);
    const baseText = await answerOf(base);
    await shot(page, "07-chat-side-by-side");
    const tunedScore = rougeL(tunedText, record.answer);
    const baseScore = rougeL(baseText, record.answer);
    assert.ok(tunedScore >= 0.6, `fine-tuned ROUGE-L ${tunedScore.toFixed(2)} >= 0.6: ${tunedText}`);
    assert.ok(baseScore <= 0.3, `base ROUGE-L ${baseScore.toFixed(2)} <= 0.3: ${baseText}`);
    assert.match(citations, /Datanet #1, contribution #\d+ by 0x/, "the answer cites its contribution");
    assert.equal(await base.getByTestId("citations").count(), 0, "the base model cites nothing");

    // On a phone (375 px) the columns stack and nothing overflows sideways.
    await page.setViewportSize({ width: 375, height: 800 });
    const [b0, b1] = [await base.boundingBox(), await tuned.boundingBox()];
    assert.ok(b0 && b1 && b1.y >= b0.y + b0.height - 1, "the right column is below the left one");
    assert.ok(b1.width <= 375, `column width ${b1.width}`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(overflow <= 375, `page width ${overflow} at 375 px`);
    await shot(page, "07b-chat-375px");
    await page.setViewportSize({ width: 1280, height: 720 });
  });

  it("with a trainer node: a contributor sees their attribution share and claims revenue", async () => {
    assert.ok(modelId, "a model was minted");
    // Revenue for the model (as the payment channels would deposit it), from alice.
    const alice = await asAlice();
    await depositRevenue(alice, modelId, 100n * 10n ** 18n);
    // The contributor with the largest attribution weight, from the report on IPFS.
    const model = await getModel(alice, modelId);
    const res = await fetch(`${stack.url("TRIBUTARY_IPFS_API_PORT")}/api/v0/cat?arg=${model.reportCid}`, {
      method: "POST",
    });
    const report = (await res.json()) as { contributors: Array<{ account: string; weight: string }> };
    const top = report.contributors.reduce((a, b) => (BigInt(b.weight) > BigInt(a.weight) ? b : a));
    const who = demoAccounts().find((a) => a.address.toLowerCase() === top.account.toLowerCase());
    assert.ok(who, `the top contributor ${top.account} is a demo account`);
    const p2 = await context.newPage();
    await installWallet(p2, { privateKey: who.privateKey, rpcUrl, chainId });
    await p2.goto(`${web}/#/rewards`);
    await connect(p2);
    const row = p2.getByTestId(`reward-model-${modelId}`);
    await row.waitFor({ timeout: 30_000 });
    assert.doesNotMatch(await row.getByTestId("claimable").innerText(), /^0 OPEN$/);
    await row.getByRole("button", { name: "Claim" }).click();
    await row.locator(".tx-phase-done").waitFor({ timeout: 60_000 });
    await shot(p2, "08-rewards");
    const claimed = await alice.publicClient.readContract({
      address: alice.contracts.RewardDistributor.address,
      abi: alice.contracts.RewardDistributor.abi,
      functionName: "claimedBy",
      args: [modelId, who.address],
    });
    assert.ok(claimed > 0n, `${who.role} claimed on chain`);
    await p2.close();
  });

  it("lets a builder without access request it; the owner sees the purpose and grants it", async () => {
    const davePage = await context.newPage();
    const daveWallet = await installWallet(davePage, {
      privateKey: demoAccount("dave").privateKey,
      rpcUrl,
      chainId,
    });
    await davePage.goto(`${web}/#/datanets`);
    await connect(davePage);
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
    const alicePage = await context.newPage();
    await installWallet(alicePage, { privateKey: demoAccount("alice").privateKey, rpcUrl, chainId });
    await alicePage.goto(`${web}/#/datanets`);
    await connect(alicePage);
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
    const daveCooking = davePage.getByTestId("datanet-1");
    await daveCooking.getByTestId("access-yes").waitFor({ timeout: 30_000 });
    assert.match(await daveCooking.getByTestId("access-yes").innerText(), /2 jobs left/);
    await davePage.close();
  });

  it("lets a contributor upload records (encrypted in the browser) and the owner approve them", async () => {
    const carolPage = await context.newPage();
    carolPage.on("pageerror", (e) => pageErrors.push(e.message));
    await installWallet(carolPage, { privateKey: demoAccount("carol").privateKey, rpcUrl, chainId });
    await carolPage.goto(`${web}/#/datanets`);
    await connect(carolPage);
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
    const alicePage = await context.newPage();
    await installWallet(alicePage, { privateKey: demoAccount("alice").privateKey, rpcUrl, chainId });
    await alicePage.goto(`${web}/#/datanets`);
    await connect(alicePage);
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

  it("raised no uncaught errors in the page", () => {
    assert.deepEqual(pageErrors, []);
  });
});
