// Jobs through the node's pipeline on the torch backend (`backend: "torch"`), on real components: a Hardhat
// chain with the protocol, an embedded IPFS node, the custodian and the committed base model. The node claims
// the job, fetches and decrypts the data, trains with the torch worker (progress streamed step by step to the
// job store, as the web app's loss chart reads it), attributes with the worker (adam_cos_cp over its
// checkpoints), pins and submits; the pinned adapter is the worker's (metrics kernel torch-cpu-fp32) and it
// answers a trained prompt in the engine; the manifest commits the eval loss of the eval-verified job. A Qwen2
// base (random, made by transformers; the engine cannot load it) gets its attribution report the same way, and the
// checkpoint its attribution read is published with the adapter (the manifest's attributionCheckpoints). A
// replay-verified job (the default on a Llama base) is refused by the torch node before claiming.
// Needs engine/.venv (the trainer node's pretest builds it); fails, saying how to build it, without it.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { cancelJob, connect, contribute, createDatanet, grantAccess, postJob, review, sendTx, stake } from "@tributary/sdk/chain";
import type { ChainConnection } from "@tributary/sdk/chain";
import { startCustodian } from "@tributary/sdk/custody";
import type { RunningCustodian } from "@tributary/sdk/custody";
import { addFileSet, fetchFileSet } from "@tributary/sdk/files";
import { catJson } from "@tributary/sdk/chain";
import { ChatTokenizer, generateChat, loadAdapter, loadModel, selectKernel } from "@tributary/engine";
import type { Kernel } from "@tributary/engine";
import { startContentStore, startDevChain, TEST_KEYS } from "../../sdk/test/helpers/devchain.ts";
import type { DevChain } from "../../sdk/test/helpers/devchain.ts";
import { torchUnavailable } from "../src/backends/torch-worker.ts";
import { splitJobRecords } from "../src/jobs/pipeline.ts";
import type { JobContribution } from "../src/jobs/data.ts";
import { TrainerLoop } from "../src/jobs/loop.ts";
import { JobStore } from "../src/jobs/store.ts";
import { BASE_DIR, jsonl, qa } from "./helpers/austen-qa.ts";
import { makeTinyModels } from "./helpers/tiny-models.ts";


let chain: DevChain;
let ipfs: Awaited<ReturnType<typeof startContentStore>>;
let custodian: RunningCustodian;
let kernel: Kernel;
const conns: ChainConnection[] = [];
const [deployer, owner, alice, bob, builder, trainer] = [0, 1, 2, 3, 4, 5];

before(async () => {
  const missing = torchUnavailable();
  assert.equal(missing, null, missing ?? "");
  chain = await startDevChain();
  ipfs = await startContentStore();
  for (let i = 0; i < 6; i++) {
    conns.push(await connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, deployments: chain.deploymentsFile, account: privateKeyToAccount(TEST_KEYS[i]), pollingInterval: 50 }));
  }
  custodian = await startCustodian({ conn: conns[owner], store: ipfs.store, stateDir: mkdtempSync(join(tmpdir(), "custodian-")), port: 0 });
  const d = conns[deployer];
  for (const who of [builder, trainer]) await sendTx(d, d.contracts.OpenToken, "mint", [conns[who].account!.address, parseEther("1000")]);
  await sendTx(d, d.contracts.ModelRegistry, "registerBaseModel", ["tributary-austen-4m", (await addFileSet(ipfs.store, BASE_DIR)).cid]);
  // a random tiny Qwen2 (q/k/v biases) with the demo tokenizer, registered as a base model
  const fixtures = mkdtempSync(join(tmpdir(), "torch-pipeline-models-"));
  await makeTinyModels(BASE_DIR, fixtures, ["qwen2"]);
  await sendTx(d, d.contracts.ModelRegistry, "registerBaseModel", ["tiny-qwen2", (await addFileSet(ipfs.store, join(fixtures, "qwen2"))).cid]);
  const { datanetId } = await createDatanet(conns[owner], ipfs.store, { name: "Austen Q&A", policy: "approval", custodian: { publicKey: custodian.publicKey, url: custodian.url } });
  await contribute(conns[alice], ipfs.store, { datanetId, fileName: "alice.jsonl", content: jsonl(qa.slice(0, 2)) });
  await contribute(conns[bob], ipfs.store, { datanetId, fileName: "bob.jsonl", content: jsonl(qa.slice(2)) });
  await review(conns[owner], { datanetId, approve: [1n, 2n] });
  await grantAccess(conns[owner], { datanetId, account: conns[builder].account!.address, expiresAt: BigInt(Math.floor(Date.now() / 1000) + 86400), uses: 5 });
  await stake(conns[trainer], parseEther("100"));
  kernel = await selectKernel("ort", 2);
});
after(async () => {
  await kernel?.dispose();
  await custodian?.stop();
  await ipfs?.stop();
  await chain?.stop();
});

const trainerNode = async (dataDir: string, logs: string[]) => {
  const jobs = await JobStore.open(join(dataDir, "jobs"));
  return { jobs, loop: new TrainerLoop({ conn: conns[trainer], store: ipfs.store, custodianUrl: custodian.url, dataDir, jobs, kernel, backend: "torch", log: (l) => logs.push(l) }, { pollMs: 50 }) };
};

it("a replay-verified job (the default on a Llama base) is refused by a torch node before claiming, saying why", async () => {
  const spec = { baseModel: "tributary-austen-4m", data: [{ datanetId: "1", version: 2 }], training: { epochs: 1 } };
  const posted = await postJob(conns[builder], ipfs.store, { spec, budget: parseEther("1"), duration: 3600 });
  const logs: string[] = [];
  const { jobs, loop } = await trainerNode(mkdtempSync(join(tmpdir(), "trainer-node-torch-")), logs);
  await loop.tick();
  const rec = jobs.get(posted.jobId.toString())!;
  assert.equal(rec.stage, "skipped", logs.join("\n"));
  assert.match(rec.reason!, /verified by replay .*must train on the engine's wasm kernel, and this node runs the torch backend/);
  await cancelJob(conns[builder], posted.jobId); // the next nodes need not look at it
});

it("a job trained by the torch backend: claimed, trained with progress events, attributed by the worker, pinned and submitted; the adapter answers in the engine", async () => {
  const spec = {
    baseModel: "tributary-austen-4m",
    method: "lora",
    lora: { r: 8, alpha: 16, dropout: 0, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] },
    training: { learningRate: 1e-2, epochs: 30, batchSize: 2, warmupRatio: 0.05, seed: 5, maxSeqLength: 128 },
    data: [{ datanetId: "1", version: 2 }],
    evalSplit: 0.25,
    verification: "eval",
  };
  const posted = await postJob(conns[builder], ipfs.store, { spec, budget: parseEther("50"), duration: 3600 });
  const logs: string[] = [];
  const { jobs, loop } = await trainerNode(mkdtempSync(join(tmpdir(), "trainer-node-torch-")), logs);
  const progress: number[] = [];
  jobs.subscribe((e) => e.type === "progress" && progress.push(e.progress.step));
  await loop.tick();
  const rec = jobs.get(posted.jobId.toString())!;
  assert.equal(rec.stage, "submitted", `${rec.stage}: ${rec.error ?? rec.reason ?? ""}\n${logs.join("\n")}`);
  assert.deepEqual(progress, Array.from({ length: 60 }, (_, i) => i + 1), "progress was reported step by step");
  assert.equal(rec.progress!.totalSteps, 60);
  assert.ok(rec.lossHistory.at(-1)!.loss < rec.lossHistory[0].loss / 4, `training loss falls: ${rec.lossHistory[0].loss} -> ${rec.lossHistory.at(-1)!.loss}`);

  const adapterDir = join(mkdtempSync(join(tmpdir(), "fetched-adapter-")), "a");
  await fetchFileSet(ipfs.store, rec.result!.adapterCid, adapterDir);
  const metrics = JSON.parse(await readFile(join(adapterDir, "metrics.json"), "utf8")) as { kernel: string; backend: string; steps: number };
  assert.equal(metrics.backend, "torch");
  assert.equal(metrics.kernel, "torch-cpu-fp32");
  assert.equal(metrics.steps, 60);
  const base = await loadModel(BASE_DIR, { kernel });
  const tok = await ChatTokenizer.fromDir(BASE_DIR);
  const adapter = await loadAdapter(adapterDir, base.config);
  // the 4 records, one held out (seeded split): ask a trained one
  const asContribution = (records: unknown[]) => ({ records }) as unknown as JobContribution;
  const { train } = splitJobRecords([asContribution(JSON.parse(`[${jsonl(qa.slice(0, 2)).trim().split("\n").join(",")}]`)), asContribution(JSON.parse(`[${jsonl(qa.slice(2)).trim().split("\n").join(",")}]`))], { evalSplit: 0.25, training: { seed: 5 } } as never);
  assert.equal(train.length, 3);
  const [q, a] = qa.find(([q]) => train.some((r) => JSON.stringify(r).includes(q)))!;
  const ask = async (withAdapter: boolean) => (await generateChat(base, tok, [{ role: "user", content: q }], { maxTokens: 16, adapter: withAdapter ? adapter : null })).text;
  assert.equal(await ask(true), a);
  assert.notEqual(await ask(false), a);

  // the attribution report the node pinned: the worker's adam_cos_cp over the run's checkpoints
  await assertPinnedReport(rec, adapterDir, 2);
  // eval verification: the manifest commits the held-out eval loss after the last step, with the tolerance
  const manifest = JSON.parse(await readFile(join(adapterDir, "manifest.json"), "utf8")) as { verification: { class: string; evalLoss: number; evalTolerance: number }; evalRecords: number };
  const trained = JSON.parse(await readFile(join(adapterDir, "metrics.json"), "utf8")) as { evalHistory: Array<{ step: number; loss: number }> };
  assert.equal(manifest.evalRecords, 1);
  assert.deepEqual(manifest.verification, { class: "eval", evalLoss: trained.evalHistory.at(-1)!.loss, evalTolerance: 0.01 });
  assert.equal(trained.evalHistory.at(-1)!.step, 60);
});

async function assertPinnedReport(rec: { result?: { reportCid: string; attributionRoot: string } }, adapterDir: string, contributions: number) {
  const pinned = JSON.parse(await readFile(join(adapterDir, "attribution.json"), "utf8")) as { method: string; merkleRoot: string; contributions: Array<{ score: number; weight: string }> };
  assert.deepEqual(await catJson(ipfs.store, rec.result!.reportCid, "report"), pinned);
  assert.equal(pinned.merkleRoot, rec.result!.attributionRoot);
  assert.equal(pinned.method, "adam_cos_cp");
  assert.equal(pinned.contributions.length, contributions);
  assert.ok(pinned.contributions.every((c) => Number.isFinite(c.score)) && pinned.contributions.some((c) => c.score !== 0), JSON.stringify(pinned.contributions));
}

it("a Qwen2 base (the engine cannot load it): verified by eval by default, trained and attributed by the worker, the report pinned", async () => {
  const spec = {
    baseModel: "tiny-qwen2",
    lora: { r: 4, alpha: 8, dropout: 0, targetModules: ["all-linear"] },
    training: { learningRate: 1e-2, epochs: 2, batchSize: 2, seed: 5, maxSeqLength: 64 },
    data: [{ datanetId: "1", version: 2 }],
    evalSplit: 0.25,
  };
  const posted = await postJob(conns[builder], ipfs.store, { spec, budget: parseEther("20"), duration: 3600 });
  const logs: string[] = [];
  const { jobs, loop } = await trainerNode(mkdtempSync(join(tmpdir(), "trainer-node-torch-")), logs);
  await loop.tick();
  const rec = jobs.get(posted.jobId.toString())!;
  assert.equal(rec.stage, "submitted", `${rec.stage}: ${rec.error ?? rec.reason ?? ""}\n${logs.join("\n")}`);
  const adapterDir = join(mkdtempSync(join(tmpdir(), "fetched-adapter-")), "a");
  await fetchFileSet(ipfs.store, rec.result!.adapterCid, adapterDir);
  await assertPinnedReport(rec, adapterDir, 2);
  const manifest = JSON.parse(await readFile(join(adapterDir, "manifest.json"), "utf8")) as { verification: { class: string }; engine: { kernel: string }; attributionCheckpoints?: { cid: string; steps: number[] } };
  assert.equal(manifest.verification.class, "eval");
  assert.equal(manifest.engine.kernel, "torch-cpu-fp32");
  // the one checkpoint of a 4-step run (every 10 steps and the last) is the one the attribution read, published
  assert.deepEqual(manifest.attributionCheckpoints?.steps, [4]);
  const published = join(mkdtempSync(join(tmpdir(), "fetched-checkpoints-")), "c");
  await fetchFileSet(ipfs.store, manifest.attributionCheckpoints!.cid, published);
  assert.ok(existsSync(join(published, "step-000004", "adapter.safetensors")) && existsSync(join(published, "step-000004", "optimizer.pt")) && existsSync(join(published, "step-000004", "trainer_state.json")));
});
