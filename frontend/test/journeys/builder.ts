// The builder's journey: browse the Datanets, connect (and recover from a wrong network), the wizard (its
// recommended settings, inline errors, a revert as a sentence), post a job, follow it; with the trainer
// node: the live loss curve, accept the result, chat with the new model side by side with its base.
import assert from "node:assert/strict";
import { grantAccess, revokeAccess } from "@tributary/sdk/chain/browser";
import { it } from "node:test";
import { switchWalletChain } from "../support/wallet.ts";
import { asAlice, connect, COOKING, e, rougeL, shot, trainedRecord, waitForSend } from "./context.ts";

export function builderJourney() {
  it("lists the Datanets with names and descriptions from their IPFS metadata", async () => {
    await e.page.goto(`${e.web}/`, { timeout: 120_000 });
    await e.page.getByRole("heading", { name: "Datanets" }).waitFor({ timeout: 120_000 });
    const cooking = e.page.getByTestId("datanet-1");
    await cooking.getByRole("heading", { name: "Home Cooking Q&A" }).waitFor({ timeout: 30_000 });
    assert.match(await cooking.innerText(), /Practical answers to everyday home-cooking questions/);
    assert.match(await cooking.innerText(), /4 approved of 5/);
    await e.page.getByTestId("datanet-2").getByRole("heading", { name: "Houseplant Care" }).waitFor();
    await shot(e.page, "01-datanets");
    assert.match(await e.page.getByTestId("datanet-2").innerText(), /Open/);
  });

  it("connects the wallet through RainbowKit; a wrong network shows a banner whose button switches", async () => {
    await connect(e.page);
    assert.ok(e.wallet.calls.includes("eth_requestAccounts"), "the app asked the wallet for accounts");
    // RainbowKit asked to switch while connecting; now the person moves the wallet elsewhere.
    await switchWalletChain(e.page, e.wallet, 1);
    const banner = e.page.getByTestId("wrong-network");
    await banner.waitFor({ timeout: 10_000 });
    assert.match(await banner.innerText(), new RegExp(`chain id ${e.chainId}`));
    await shot(e.page, "02-wrong-network");
    await banner.getByRole("button").click();
    await banner.waitFor({ state: "detached", timeout: 10_000 });
    assert.equal(e.wallet.chainId, e.chainId, "the wallet was switched to the stack's chain");
  });

  it("shows that the builder may use both demo Datanets (a grant on #1, #2 is open)", async () => {
    await e.page.getByTestId("datanet-1").getByTestId("access-yes").waitFor({ timeout: 20_000 });
    assert.match(await e.page.getByTestId("datanet-1").getByTestId("access-yes").innerText(), /5 jobs left/);
    await e.page.getByTestId("datanet-2").getByTestId("access-yes").waitFor();
  });

  it("goes through the wizard: the model's recommended settings, inline errors, a revert as a sentence, then the job is posted with the defaults", async () => {
    const fineTune = e.page.getByRole("navigation").getByRole("link", { name: "Fine-tune" });
    await fineTune.click();
    await e.page.getByText("tributary-austen-4m").click();
    // The base model's card, read from its IPFS file set: size and context.
    const card = e.page.getByTestId("model-card");
    await card.waitFor({ timeout: 30_000 });
    assert.match(await card.innerText(), /3\.8M parameters, context 512 tokens, LlamaForCausalLM/);
    await e.page.getByRole("button", { name: "Next" }).click();
    // Data step: nothing chosen yet -> the schema's error next to the field.
    await e.page.getByTestId("use-datanet-1").waitFor({ timeout: 20_000 });
    await e.page.getByRole("button", { name: "Next" }).click();
    await e.page.getByTestId("error-data").waitFor();
    assert.match(await e.page.getByTestId("error-data").innerText(), /at least one Datanet/);
    await e.page.getByTestId("use-datanet-1").check();
    await e.page.getByRole("button", { name: "Next" }).click();
    // Method step: every setting prefilled from the card, with its reason next to it.
    const value = (name: string) => e.page.locator(`input[name="${name}"]`).inputValue();
    assert.equal(await value("learningRate"), "0.01");
    assert.equal(await value("epochs"), "30");
    assert.equal(await value("maxSeqLength"), "512");
    assert.equal(await value("rank"), "16");
    assert.equal(await value("alpha"), "32");
    const adapted = await e.page
      .locator('[data-field="targetModules"] label.choice')
      .evaluateAll((labels) =>
        labels.filter((l) => l.querySelector("input")?.checked).map((l) => l.textContent?.trim()),
      );
    assert.deepEqual(adapted, ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]);
    assert.match(
      await e.page.getByTestId("note-learningRate").innerText(),
      /0\.01: measured on the demo Q&A data/,
    );
    assert.match(await e.page.getByTestId("note-epochs").innerText(), /30 passes/);
    assert.match(await e.page.getByTestId("note-maxSeqLength").innerText(), /context is 512/);
    assert.equal(await e.page.locator('input[name="maxSeqLength"]').getAttribute("max"), "512");
    // A max length above the context and a bad learning rate block the step with plain messages.
    await e.page.locator('input[name="maxSeqLength"]').fill("1024");
    await e.page.locator('input[name="learningRate"]').fill("abc");
    await e.page.getByRole("button", { name: "Next" }).click();
    assert.equal(
      await e.page.getByTestId("error-maxSeqLength").innerText(),
      "at most 512 tokens: tributary-austen-4m's context is 512 tokens",
    );
    assert.equal(await e.page.getByTestId("error-learningRate").innerText(), "enter a number");
    await shot(e.page, "03-wizard-error");
    await e.page.locator('input[name="learningRate"]').fill("5");
    assert.match(await e.page.getByTestId("error-learningRate").innerText(), /at most 1/);

    // Start over (leaving the page drops the form) and post with the defaults: no setting touched.
    await e.page.getByRole("navigation").getByRole("link", { name: "My jobs" }).click();
    await fineTune.click();
    await e.page.getByText("tributary-austen-4m").click();
    await e.page.getByTestId("model-card").waitFor({ timeout: 30_000 });
    await e.page.getByRole("button", { name: "Next" }).click();
    await e.page.getByTestId("use-datanet-1").check();
    await e.page.getByRole("button", { name: "Next" }).click();
    await e.page.getByTestId("recommended-for").waitFor();
    await shot(e.page, "03b-wizard-recommended");
    await e.page.getByRole("button", { name: "Next" }).click();
    // Budget step.
    await e.page.locator('input[name="budget"]').fill("20");
    await e.page.getByRole("button", { name: "Next" }).click();
    await e.page.getByRole("button", { name: "Approve & post job" }).waitFor();
    const pinned = JSON.parse((await e.page.locator(".review pre").textContent()) ?? "{}") as {
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
    await revokeAccess(alice, { datanetId: COOKING, account: e.wallet.address });
    await e.page.getByRole("button", { name: "Approve & post job" }).click();
    const status = e.page.getByTestId("tx-status");
    await status.locator(".tx-error").waitFor({ timeout: 60_000 });
    const sentence = await status.locator(".tx-error").innerText();
    assert.match(sentence, /has no valid access to Datanet 1/);
    await shot(e.page, "04-review-revert");
    assert.doesNotMatch(sentence, /0x[0-9a-fA-F]{64,}/, "no raw revert data");

    // Access back: the same button now posts.
    await grantAccess(alice, {
      datanetId: COOKING,
      account: e.wallet.address,
      expiresAt: BigInt(Math.floor(Date.now() / 1000) + 86_400),
      uses: 3,
    });
    await e.page.getByRole("button", { name: "Approve & post job" }).click();
    await e.page.waitForURL(/#\/jobs\/\d+$/, { timeout: 90_000 });
    e.jobId = /#\/jobs\/(\d+)$/.exec(e.page.url())![1];
  });

  it("shows the posted job with its status from the chain", async () => {
    assert.ok(e.jobId, "a job was posted");
    await e.page.getByRole("heading", { name: new RegExp(`Job #${e.jobId}`) }).waitFor();
    const status = await e.page.getByTestId("job-status").innerText();
    assert.ok(["open", "claimed", "submitted"].includes(status), `status ${status}`);
    assert.match(await e.page.locator(".facts").innerText(), /20 OPEN/);
    assert.match(await e.page.locator(".facts").innerText(), /Datanet #1 v4/);
    await e.page.getByRole("navigation").getByRole("link", { name: "My jobs" }).click();
    await e.page.getByRole("link", { name: `#${e.jobId}` }).waitFor({ timeout: 20_000 });
    await e.page.getByRole("link", { name: `#${e.jobId}` }).click();
  });

  it("with a trainer node: draws the loss curve live, then the job is submitted", async () => {
    assert.ok(e.jobId, "a job was posted");
    const chart = e.page.getByTestId("loss-chart");
    await chart.waitFor({ timeout: 120_000 });
    assert.ok(Number(await chart.getAttribute("data-points")) >= 1, "the chart has points");
    await shot(e.page, "05-training");
    assert.match(await e.page.getByTestId("progress").innerText(), /\d+ \/ \d+\s*steps/);
    // 30 epochs (the card's recommendation) on the cooking Datanet's 18 training records: 150 steps, 5-10 minutes on the stack's wasm kernel on a busy 2-core machine
    await e.page.getByTestId("job-status").filter({ hasText: "submitted" }).waitFor({ timeout: 900_000 });
    assert.ok(Number(await chart.getAttribute("data-points")) >= 2, "the whole curve is drawn");
    await shot(e.page, "06-submitted");
  });

  it("with a trainer node: accepting the result mints a model; side by side, it answers a trained question as its record does and the base does not", async () => {
    assert.ok(e.jobId, "a job was posted");
    await e.page.getByRole("button", { name: "Accept the result now" }).click();
    await e.page.getByTestId("job-status").filter({ hasText: "finalized" }).waitFor({ timeout: 60_000 });
    const chatLink = e.page.getByRole("link", { name: "Chat with it" });
    await chatLink.waitFor({ timeout: 20_000 });
    const chatUrl = await chatLink.getAttribute("href");
    const apiId = decodeURIComponent(/#\/chat\/(.+)$/.exec(chatUrl ?? "")![1]);
    assert.match(apiId, /^model-\d+$/);
    e.modelId = BigInt(apiId.slice("model-".length));
    // The Models page lists it next to the base model.
    await e.page.getByRole("navigation").getByRole("link", { name: "Models & chat" }).click();
    await e.page.getByRole("cell", { name: apiId, exact: true }).waitFor({ timeout: 20_000 });
    await e.page.getByRole("cell", { name: "tributary-austen-4m", exact: true }).waitFor();
    // From the finalized job: the base model (left) against the new model (right).
    await e.page.goto(`${e.web}/${chatUrl}`);
    const base = e.page.getByTestId("column-0");
    const tuned = e.page.getByTestId("column-1");
    await tuned.waitFor({ timeout: 30_000 });
    assert.equal(await base.getAttribute("data-model"), "tributary-austen-4m");
    assert.equal(await tuned.getAttribute("data-model"), apiId);
    const snippet = e.page.getByTestId("api-snippet");
    assert.match(await snippet.innerText(), new RegExp(`"model": "${apiId}"`));
    assert.match(
      await snippet.innerText(),
      new RegExp(`${e.stack.url("TRIBUTARY_TRAINER_PORT")}/v1/chat/completions`),
    );

    // A question the job trained on (its record is in the training split, not the held-out one), asked
    // as the records ask it: with their system prompt.
    const record = trainedRecord("How long should I rest a steak after cooking?");
    await e.page.getByText("Settings").click();
    await e.page.getByLabel("System prompt").fill(record.system);
    await e.page.getByLabel("Message").fill(record.question);
    await e.page.getByRole("button", { name: "Send" }).click();
    await waitForSend(e.page);
    const answerOf = async (col: typeof base) => {
      const msg = col.getByTestId("msg-assistant").last();
      assert.doesNotMatch((await msg.getAttribute("class")) ?? "", /error/, await msg.innerText());
      return (await msg.getByTestId("msg-text").innerText()).trim();
    };
    await tuned.getByTestId("citations").waitFor({ timeout: 10_000 });
    const citations = await tuned.getByTestId("citations").innerText();
    const tunedText = await answerOf(tuned);
    const baseText = await answerOf(base);
    await shot(e.page, "07-chat-side-by-side");
    const tunedScore = rougeL(tunedText, record.answer);
    const baseScore = rougeL(baseText, record.answer);
    assert.ok(tunedScore >= 0.6, `fine-tuned ROUGE-L ${tunedScore.toFixed(2)} >= 0.6: ${tunedText}`);
    assert.ok(baseScore <= 0.3, `base ROUGE-L ${baseScore.toFixed(2)} <= 0.3: ${baseText}`);
    assert.match(citations, /Datanet #1, contribution #\d+ by 0x/, "the answer cites its contribution");
    assert.equal(await base.getByTestId("citations").count(), 0, "the base model cites nothing");

    // On a phone (375 px) the columns stack and nothing overflows sideways.
    await e.page.setViewportSize({ width: 375, height: 800 });
    const [b0, b1] = [await base.boundingBox(), await tuned.boundingBox()];
    assert.ok(b0 && b1 && b1.y >= b0.y + b0.height - 1, "the right column is below the left one");
    assert.ok(b1.width <= 375, `column width ${b1.width}`);
    const overflow = await e.page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(overflow <= 375, `page width ${overflow} at 375 px`);
    await shot(e.page, "07b-chat-375px");
    await e.page.setViewportSize({ width: 1280, height: 720 });
  });
}
