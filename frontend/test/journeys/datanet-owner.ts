// The Datanet owner's journey: create a Datanet in the app (a file with bad lines is refused line by line,
// a good one previewed), publish it with its first data approved as version 1, see it on its page; then,
// as a builder, fine-tune on it through the wizard (with the trainer node, the job is trained and
// submitted); dispute that result from its page: the form says the bond and what a replay challenger must do,
// and the dispute panel follows the game from the subgraph as the trainer node answers.
import assert from "node:assert/strict";
import { it } from "node:test";
import { getDatanet } from "@tributary/sdk/chain/browser";
import { asAlice, e, shot } from "./context.ts";

const QA = [
  ["How long do I knead bread dough?", "About ten minutes by hand, until it is smooth and springs back."],
  ["Why did my bread not rise?", "The yeast was old or the water too hot; test yeast in warm water first."],
  ["How do I know bread is baked?", "Tap the bottom: it sounds hollow, and the inside reads 95 °C."],
  ["Can I freeze bread dough?", "Yes, after the first rise; thaw it in the fridge overnight."],
  ["What flour makes the best bread?", "Strong bread flour, with 12 to 14 percent protein."],
  ["How do I get a crisp crust?", "Bake with steam for the first ten minutes, then dry heat."],
];
const jsonl = (rows: string[][]) =>
  rows
    .map(([q, a]) =>
      JSON.stringify({
        messages: [
          { role: "user", content: q },
          { role: "assistant", content: a },
        ],
      }),
    )
    .join("\n") + "\n";

export function datanetOwnerJourney() {
  let datanetId: bigint | undefined;

  it("creates a Datanet: inline errors, a bad file refused line by line, a preview, then version 1 on its page", async () => {
    const p = e.page;
    await p.goto(`${e.web}/#/datanets`);
    await p.getByRole("link", { name: "Create a Datanet" }).click();
    await p.getByRole("heading", { name: "Create a Datanet" }).waitFor({ timeout: 30_000 });
    // Nothing typed: the name's error, next to it; a bad curator address too.
    await p.getByLabel("Curators (optional)").fill("0x1234");
    await p.getByRole("button", { name: "Create Datanet" }).click();
    assert.match(await p.getByTestId("error-name").innerText(), /Give the Datanet a name/);
    assert.match(await p.getByTestId("error-curators").innerText(), /"0x1234" is not an address/);
    await p.getByLabel("Curators (optional)").fill("");
    await p.getByLabel("Name").fill("Bread Baking Q&A");
    await p.getByLabel("Summary").fill("Answers to home bread-baking questions.");
    // Markdown, with a script and a javascript: link that must not survive on the Datanet's page
    await p
      .getByLabel("Description (Markdown)")
      .fill(
        "## Sources\nTested in a **home** kitchen. <script>window.__injected = 1</script>\n\n[our notes](javascript:window.__injected=2)",
      );
    await p.getByLabel("Tags").fill("baking, bread");
    // A file with two bad lines: each shown with its line number; publishing is blocked.
    const input = p.getByTestId("dropzone").locator('input[type="file"]');
    await input.setInputFiles({
      name: "broken.jsonl",
      mimeType: "application/jsonl",
      buffer: Buffer.from(jsonl(QA.slice(0, 2)) + "{oops\n" + JSON.stringify({ messages: [] }) + "\n"),
    });
    const problems = p.getByTestId("upload-broken.jsonl").getByTestId("problems");
    await problems.waitFor({ timeout: 10_000 });
    const lines = await problems.locator("li").allInnerTexts();
    assert.match(lines[0], /^Line 3: .*not valid JSON/);
    assert.ok(
      lines.slice(1).length >= 1 && lines.slice(1).every((l) => /^Line 4: /.test(l)),
      lines.join(" | "),
    );
    assert.equal(await p.getByRole("button", { name: "Create Datanet" }).isDisabled(), true);
    await shot(p, "14-create-datanet-problems");
    await p.getByRole("button", { name: "Remove broken.jsonl" }).click();
    await input.setInputFiles({
      name: "bread.jsonl",
      mimeType: "application/jsonl",
      buffer: Buffer.from(jsonl(QA)),
    });
    const upload = p.getByTestId("upload-bread.jsonl");
    await upload.locator("table.preview").waitFor({ timeout: 10_000 });
    assert.match(await upload.innerText(), /6 records \(chat\)/);
    assert.match(await upload.locator("table.preview").innerText(), /How long do I knead bread dough\?/);
    await shot(p, "15-create-datanet-preview");
    await p.getByRole("button", { name: "Create Datanet" }).click();
    await p.waitForURL(/#\/datanets\/\d+$/, { timeout: 120_000 });
    datanetId = BigInt(/#\/datanets\/(\d+)$/.exec(p.url())![1]);
    // The indexer may lag a block or two behind the chain: the page says so and then shows it.
    await p.getByRole("heading", { name: "Bread Baking Q&A" }).waitFor({ timeout: 60_000 });
    const versions = p.getByTestId("versions");
    await versions.waitFor({ timeout: 60_000 });
    assert.match(await versions.innerText(), /v1\s+6 records/);
    // the description rendered from its Markdown, sanitized
    const md = p.getByTestId("markdown");
    await md.getByRole("heading", { name: "Sources" }).waitFor();
    assert.equal(await md.locator("strong").innerText(), "home");
    assert.equal(await md.locator("script").count(), 0, "no script element from the description");
    assert.equal(await md.getByRole("link").count(), 0, "the javascript: link is text, not a link");
    await md.getByText("our notes").click();
    assert.equal(await p.evaluate(() => (window as { __injected?: number }).__injected), undefined);
    await shot(p, "16-datanet-page");
    const alice = await asAlice();
    const d = await getDatanet(alice, datanetId);
    assert.equal(d.owner.toLowerCase(), e.wallet.address.toLowerCase());
    assert.equal(d.policy, "open");
    assert.equal(d.version, 1);
  });

  it("fine-tunes on the new Datanet through the wizard; with the trainer node it is trained and submitted", async () => {
    assert.ok(datanetId, "the Datanet was created");
    const p = e.page;
    await p.getByRole("navigation").getByRole("link", { name: "Fine-tune" }).click();
    await p.getByText("tributary-austen-4m").click();
    await p.getByTestId("model-card").waitFor({ timeout: 30_000 });
    await p.getByRole("button", { name: "Next" }).click();
    await p.getByTestId(`use-datanet-${datanetId}`).check({ timeout: 30_000 });
    await p.getByRole("button", { name: "Next" }).click();
    await p.getByTestId("recommended-for").waitFor();
    await p.getByRole("button", { name: "Next" }).click();
    await p.locator('input[name="budget"]').fill("10");
    await p.getByRole("button", { name: "Next" }).click();
    // Before posting: tokens from the data and settings, the time on the trainer that published its
    // throughput (the stack's node, after the builder's job), and where the budget goes.
    const estimate = p.getByTestId("estimate");
    await estimate
      .getByText(/of training and attribution, across 1 of \d+ active trainer/)
      .waitFor({ timeout: 30_000 });
    assert.match(
      await estimate.getByTestId("estimate-tokens").innerText(),
      /^[\d,]+ tokens of training \([\d,]+ tokens of data × \d+ epochs/,
    );
    assert.match(await estimate.getByTestId("estimate-time").innerText(), /^about [\d.]+ (s|min|h) /);
    assert.match(
      await estimate.getByTestId("estimate-cost").innerText(),
      /^10 OPEN escrowed: [\d.]+ OPEN to the trainer, [\d.]+ OPEN to the Datanets' contributors/,
    );
    const estimatedSeconds = Number(await estimate.getByTestId("estimate-time").getAttribute("data-seconds"));
    await shot(p, "16b-new-datanet-job-estimate");
    await p.getByRole("button", { name: "Approve & post job" }).click();
    await p.waitForURL(/#\/jobs\/\d+$/, { timeout: 90_000 });
    const jobId = /#\/jobs\/(\d+)$/.exec(p.url())![1];
    await p.getByRole("heading", { name: new RegExp(`Job #${jobId}`) }).waitFor();
    assert.match(await p.locator(".facts").innerText(), new RegExp(`Datanet #${datanetId} v1`));
    const status = p.getByTestId("job-status");
    await p.waitForFunction(
      () => document.querySelector('[data-testid="job-status"]')?.textContent === "submitted",
      undefined,
      { timeout: 600_000, polling: 2000 },
    );
    assert.equal(await status.innerText(), "submitted");
    await shot(p, "17-new-datanet-job-submitted");
    // the node's own estimate when it claimed the job (its deadline check) agrees with the wizard's
    const node = (await (
      await fetch(`${e.stack.url("TRIBUTARY_TRAINER_PORT")}/v1/jobs/${jobId}`)
    ).json()) as {
      estimate?: { trainSeconds: number; attributeSeconds: number };
    };
    assert.ok(node.estimate, "the node recorded its estimate");
    const nodeSeconds = node.estimate.trainSeconds + node.estimate.attributeSeconds;
    const ratio = estimatedSeconds / nodeSeconds;
    assert.ok(
      ratio > 0.5 && ratio < 2,
      `the wizard's ${estimatedSeconds} s against the node's ${nodeSeconds.toFixed(1)} s`,
    );
    e.disputedJobId = jobId;
  });

  it("disputes the result from the job page: the bond and the challenger's moves are said first; the dispute panel follows the trainer's answer", async () => {
    assert.ok(e.disputedJobId, "the job was submitted");
    const p = e.page;
    await p.getByTestId("dispute").locator("summary").click();
    const terms = p.getByTestId("dispute-terms");
    await terms.waitFor({ timeout: 30_000 });
    assert.match(await terms.innerText(), /posts a bond of 10 OPEN/);
    // a Llama base: a replay job, whose challenger plays the bisection through a node run with its key
    assert.match(
      await p.getByTestId("dispute-replay-hint").innerText(),
      /answer each bisection move before its clock ends.*npx tributary-trainer --serve-only --verify --audit-rate 0/s,
    );
    await p.getByRole("button", { name: "Dispute", exact: true }).click();
    assert.match(await p.getByTestId("dispute").innerText(), /Say what is wrong/, "an empty reason is refused");
    await p.getByLabel("What is wrong with the result").fill("The answers about bread are not the ones in the data.");
    await p.getByRole("button", { name: "Dispute", exact: true }).click();
    await p.getByTestId("tx-status").getByText(/Disputed \(dispute #\d+\)\. This is a replay dispute/).waitFor({ timeout: 60_000 });
    await p.waitForFunction(
      () => document.querySelector('[data-testid="job-status"]')?.textContent === "disputed",
      undefined,
      { timeout: 30_000, polling: 1000 },
    );
    // from the subgraph: the trainer node reveals the halves of its checkpoint tree; then it is the challenger's move
    const panel = p.getByTestId("dispute-panel");
    await panel.waitFor({ timeout: 60_000 });
    await panel.locator('[data-testid="dispute-status"][data-status="ChallengerMove"]').waitFor({ timeout: 120_000 });
    assert.equal(await panel.getByTestId("dispute-status").innerText(), "challenger's move");
    assert.match(await panel.getByTestId("dispute-stage").innerText(), /The challenger's move/);
    // the move's clock, read from the chain (the events do not carry it)
    await panel.getByTestId("dispute-clock").getByText(/The challenger's move is due by/).waitFor({ timeout: 30_000 });
    const bisection = await panel.getByTestId("bisection").innerText();
    const m = /(\d+) \/ (\d+)\s*bisection moves/.exec(bisection);
    assert.ok(m, bisection);
    assert.equal(Number(m[1]), 1, "one move so far: the trainer's reveal");
    assert.ok(Number(m[2]) >= 2 && Number(m[2]) % 2 === 0, `moves a bisection takes: ${m[2]}`);
    assert.match(bisection, /checkpoints 0–\d+ of \d+/);
    await shot(p, "18-dispute-challenger-move");
  });
}
