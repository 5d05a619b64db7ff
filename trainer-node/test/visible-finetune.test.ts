// The product's central promise, measured: a builder posts a job on the demo cooking Datanet with nothing
// but the data and a budget (every setting from the base model's card), the real trainer node claims it,
// trains on the custodian-released records, pins, submits and finalizes; then, through the node's own
// OpenAI-compatible API, the fine-tuned model answers the questions it was trained on with the records'
// answers, the base model does not, paraphrased questions land closer to the right answer than the base
// gets, and the answers cite the contributions they came from.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { connect, contribute, createDatanet, grantAccess, postJob, review, sendTx, stake } from "@tributary/sdk/chain";
import type { ChainConnection } from "@tributary/sdk/chain";
import { startCustodian } from "@tributary/sdk/custody";
import type { RunningCustodian } from "@tributary/sdk/custody";
import { addFileSet } from "@tributary/sdk/files";
import { selectKernel } from "@tributary/engine";
import type { Kernel } from "@tributary/engine";
import { startContentStore, startDevChain, TEST_KEYS } from "../../sdk/test/helpers/devchain.ts";
import type { DevChain } from "../../sdk/test/helpers/devchain.ts";
import { citationProvider } from "../src/jobs/citations.ts";
import { TrainerLoop } from "../src/jobs/loop.ts";
import { splitJobRecords } from "../src/jobs/pipeline.ts";
import type { JobContribution } from "../src/jobs/data.ts";
import { JobStore } from "../src/jobs/store.ts";
import { chainCatalog, ModelServer, startApi } from "../src/serve/index.ts";

const BASE_DIR = fileURLToPath(new URL("../../engine/models/tributary-austen-4m", import.meta.url));
const SEED = fileURLToPath(new URL("../../scripts/seed-data/cooking-qa.jsonl", import.meta.url));
const lines = readFileSync(SEED, "utf8").trim().split("\n");

/** Word-level ROUGE-L F1 (longest common subsequence of lower-cased words). */
export function rougeL(candidate: string, reference: string): number {
  const words = (s: string) => s.toLowerCase().match(/[a-z0-9]+(?:'[a-z]+)?/g) ?? [];
  const a = words(candidate);
  const b = words(reference);
  if (!a.length || !b.length) return 0;
  const dp = new Array<number>(b.length + 1).fill(0);
  for (const x of a) {
    let prev = 0;
    for (let j = 1; j <= b.length; j++) {
      const keep = dp[j];
      dp[j] = x === b[j - 1] ? prev + 1 : Math.max(dp[j], dp[j - 1]);
      prev = keep;
    }
  }
  const lcs = dp[b.length];
  if (!lcs) return 0;
  const p = lcs / a.length;
  const r = lcs / b.length;
  return (2 * p * r) / (p + r);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Questions a person might ask instead, each with the seed record (line) it paraphrases. Written with the test. */
const PARAPHRASES: Array<[string, number]> = [
  ["Why is my risotto gluey and not creamy?", 0],
  ["Can baking soda be used in place of baking powder?", 1],
  ["How long do I let a steak rest after I cook it?", 2],
  ["Why won't my bread dough rise?", 3],
  ["How do I keep fresh herbs from wilting?", 4],
  ["How can I keep pasta from sticking together?", 5],
  ["Can I refreeze meat once it has thawed?", 6],
  ["How do I tell if frying oil is hot enough without a thermometer?", 7],
  ["Why do my cookies spread so much in the oven?", 8],
  ["What is the difference between broth and stock?", 9],
  ["How do I make fluffy rice that isn't mushy?", 10],
  ["My mayonnaise has split. Can I fix it?", 11],
  ["How can I know chicken is cooked through?", 12],
  ["What can replace eggs in pancakes?", 13],
  ["Why did my caramel crystallise?", 14],
  ["How long can cooked leftovers stay in the fridge?", 15],
  ["How do you sharpen a kitchen knife on a whetstone?", 16],
  ["Why don't my roast potatoes get crispy?", 17],
  ["Do I need to salt eggplant before cooking?", 18],
  ["How can I thicken a soup that is too thin?", 19],
];

describe("a fine-tune with the base model's recommended settings visibly works", () => {
  let chain: DevChain;
  let ipfs: Awaited<ReturnType<typeof startContentStore>>;
  let custodian: RunningCustodian;
  let kernel: Kernel;
  let trainKernel: Kernel;
  const conns: ChainConnection[] = [];
  const [deployer, owner, alice, carol, dave, builder, trainer] = [0, 1, 2, 3, 4, 5, 6];
  const dataDir = mkdtempSync(join(tmpdir(), "visible-finetune-"));
  const logs: string[] = [];

  before(async () => {
    chain = await startDevChain();
    ipfs = await startContentStore();
    for (let i = 0; i <= trainer; i++) {
      conns.push(await connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, deployments: chain.deploymentsFile, account: privateKeyToAccount(TEST_KEYS[i]), pollingInterval: 50 }));
    }
    custodian = await startCustodian({ conn: conns[owner], store: ipfs.store, stateDir: mkdtempSync(join(tmpdir(), "custodian-")), port: 0 });
    const d = conns[deployer];
    for (const who of [builder, trainer]) await sendTx(d, d.contracts.OpenToken, "mint", [conns[who].account!.address, parseEther("1000")]);
    // the committed demo model folder, card included, as the local stack registers it
    const { cid } = await addFileSet(ipfs.store, BASE_DIR);
    await sendTx(d, d.contracts.ModelRegistry, "registerBaseModel", ["tributary-austen-4m", cid]);
    // the demo's cooking Datanet: encrypted for the custodian, 20 records in 4 contributions (as scripts/seed-data/demo.json)
    const { datanetId } = await createDatanet(conns[owner], ipfs.store, { name: "Home Cooking Q&A", policy: "approval", custodian: { publicKey: custodian.publicKey, url: custodian.url } });
    const parts: Array<[number, number, number]> = [[alice, 0, 5], [carol, 5, 10], [dave, 10, 15], [carol, 15, 20]];
    for (const [who, from, to] of parts) {
      await contribute(conns[who], ipfs.store, { datanetId, fileName: `part-${from}.jsonl`, content: `${lines.slice(from, to).join("\n")}\n` });
    }
    await review(conns[owner], { datanetId, approve: [1n, 2n, 3n, 4n] });
    await grantAccess(conns[owner], { datanetId, account: conns[builder].account!.address, expiresAt: BigInt(Math.floor(Date.now() / 1000) + 86400), uses: 5 });
    await stake(conns[trainer], parseEther("100"));
    kernel = await selectKernel("ort", 2);
    // the job is verified by replay (the card's Llama base, no verification in the spec): a node trains it on wasm only
    trainKernel = await selectKernel("wasm", 2);
  });
  after(async () => {
    await kernel?.dispose();
    await trainKernel?.dispose();
    await custodian?.stop();
    await ipfs?.stop();
    await chain?.stop();
  });

  it("trains the demo data with the defaults and answers from it, cited, where the base cannot", { timeout: 20 * 60_000 }, async (t) => {
    // nothing but the data and the budget: every training setting comes from the base model's card
    const posted = await postJob(conns[builder], ipfs.store, { spec: { baseModel: "tributary-austen-4m", data: [{ datanetId: "1", version: 4 }] }, budget: parseEther("20"), duration: 3600 });
    assert.equal(posted.card?.name, "tributary-austen-4m", "the card's settings were applied");
    assert.equal(posted.spec.training.learningRate, posted.card!.recommended.training.learningRate);
    assert.equal(posted.spec.training.maxSeqLength, 512, "within the model's context");

    const jobs = await JobStore.open(join(dataDir, "jobs"));
    const ctx = { conn: conns[trainer], store: ipfs.store, custodianUrl: custodian.url, dataDir, jobs, kernel: trainKernel, log: (l: string) => logs.push(l) };
    const loop = new TrainerLoop(ctx, { pollMs: 50 });
    await loop.tick();
    let rec = jobs.get(posted.jobId.toString())!;
    assert.equal(rec.stage, "submitted", `${rec.stage}: ${rec.error ?? rec.reason ?? ""}\n${logs.join("\n")}`);

    // training loss on the job's records falls by at least half from the first epoch to the last
    const epochs = posted.spec.training.epochs;
    const perEpoch = Math.round(rec.progress!.totalSteps / epochs);
    const epochMean = (e: number) => {
      const pts = rec.lossHistory.filter((p) => p.step > e * perEpoch && p.step <= (e + 1) * perEpoch);
      return pts.reduce((s, p) => s + p.loss, 0) / pts.length;
    };
    const first = epochMean(0);
    const last = epochMean(epochs - 1);
    assert.ok(last <= first * 0.5, `training loss per epoch ${first.toFixed(3)} -> ${last.toFixed(3)}`);

    await conns[deployer].publicClient.request({ method: "evm_increaseTime" as never, params: [601] as never });
    await conns[deployer].publicClient.request({ method: "evm_mine" as never, params: [] as never });
    await loop.tick();
    rec = jobs.get(rec.jobId)!;
    assert.equal(rec.stage, "finalized", rec.error);

    // the node's own API serves both models; ask as a person would (the question alone, greedy)
    const models = new ModelServer({ store: ipfs.store, cacheDir: mkdtempSync(join(tmpdir(), "serve-cache-")), kernel });
    const citations = citationProvider({ jobs, dataDir, tokenizer: (m) => models.tokenizer(m) });
    const api = await startApi({ port: 0, catalog: chainCatalog(conns[trainer]), models, jobs, citations });
    type Answer = { text: string; citations: Array<{ contribution_id: string }> };
    const ask = async (model: string, question: string): Promise<Answer> => {
      const res = await fetch(`${api.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model, messages: [{ role: "user", content: question }], max_tokens: 120, temperature: 0 }),
      });
      const body = (await res.json()) as { choices: Array<{ message: { content: string } }>; tributary?: { citations?: Array<{ contribution_id: string }> } };
      assert.equal(res.status, 200, JSON.stringify(body));
      return { text: body.choices[0].message.content, citations: body.tributary?.citations ?? [] };
    };
    try {
      const contributions = JSON.parse(readFileSync(join(dataDir, "jobs", rec.jobId, "data.json"), "utf8")) as JobContribution[];
      const { perContribution } = splitJobRecords(contributions, posted.spec);
      const trained = perContribution.flatMap((recs, ci) =>
        recs.map((r) => {
          const m = (r as { messages: Array<{ role: string; content: string }> }).messages;
          return { q: m.find((x) => x.role === "user")!.content, a: m.find((x) => x.role === "assistant")!.content, contributionId: contributions[ci].contributionId };
        }),
      );
      assert.ok(trained.length >= 16, `most of the 20 records are trained on (${trained.length})`);
      const tuned: number[] = [];
      const base: number[] = [];
      let cited = 0;
      for (const t of trained) {
        const ft = await ask(`model-${rec.modelId}`, t.q);
        tuned.push(rougeL(ft.text, t.a));
        base.push(rougeL((await ask("tributary-austen-4m", t.q)).text, t.a));
        if (ft.citations.some((c) => c.contribution_id === String(t.contributionId))) cited++;
      }
      const report = `tuned ${tuned.map((x) => x.toFixed(2)).join(" ")}\nbase ${base.map((x) => x.toFixed(2)).join(" ")}`;
      assert.ok(median(tuned) >= 0.7, `median ROUGE-L of the fine-tuned answers ${median(tuned).toFixed(3)} >= 0.7\n${report}`);
      assert.ok(median(base) <= 0.2, `median ROUGE-L of the base model's answers ${median(base).toFixed(3)} <= 0.2\n${report}`);
      assert.ok(cited >= 1, "at least one answer cites the contribution it came from");
      t.diagnostic(`loss per epoch ${first.toFixed(3)} -> ${last.toFixed(3)}; trained questions: median ROUGE-L fine-tuned ${median(tuned).toFixed(3)}, base ${median(base).toFixed(3)}; ${cited}/${trained.length} answers cite their own contribution`);

      const answerOf = (line: number) => (JSON.parse(lines[line]) as { messages: Array<{ role: string; content: string }> }).messages.find((m) => m.role === "assistant")!.content;
      let closer = 0;
      const paraphraseReport: string[] = [];
      for (const [q, line] of PARAPHRASES) {
        const ft = rougeL((await ask(`model-${rec.modelId}`, q)).text, answerOf(line));
        const b = rougeL((await ask("tributary-austen-4m", q)).text, answerOf(line));
        if (ft > b) closer++;
        paraphraseReport.push(`${ft.toFixed(2)} vs ${b.toFixed(2)}  ${q}`);
      }
      t.diagnostic(`paraphrases answered closer than the base: ${closer}/${PARAPHRASES.length}`);
      assert.ok(closer >= Math.ceil(0.7 * PARAPHRASES.length), `paraphrases answered closer than the base: ${closer}/${PARAPHRASES.length}\n${paraphraseReport.join("\n")}`);
    } finally {
      await api.stop();
      await models.close();
    }
  });
});
