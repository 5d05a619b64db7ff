// The job pipeline end to end on real components: a Hardhat chain with the protocol deployed, an
// embedded IPFS node, the custodian, the committed base model, and real LoRA training. A builder posts a
// job on an encrypted Datanet; the trainer node claims it, fetches the keys and data, trains, attributes,
// pins, submits, and after the challenge window finalizes and is paid. A second job is interrupted
// mid-training and resumed by a new node from the same folder.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { claimReward, connect, contribute, createDatanet, getChannel, getJob, getModel, grantAccess, openChannel, postJob, review, rewardPosition, sendTx, setInferencePrice, signVoucher, stake } from "@tributary/sdk/chain";
import type { ChainConnection } from "@tributary/sdk/chain";
import { startCustodian } from "@tributary/sdk/custody";
import type { RunningCustodian } from "@tributary/sdk/custody";
import { addFileSet, fetchFileSet } from "@tributary/sdk/files";
import { verifyContributionProof, ContributionTree } from "@tributary/sdk/merkle";
import { parseAttributionReport } from "@tributary/sdk/schemas";
import { ChatTokenizer, checkpointDirStateHash, generateChat, loadAdapter, loadModel, selectKernel } from "@tributary/engine";
import { challengeMove, checkpointTree, childrenOf, disputeJob, getDispute } from "@tributary/sdk/chain";
import type { Kernel } from "@tributary/engine";
import { freePort, startContentStore, startDevChain, TEST_KEYS } from "../../sdk/test/helpers/devchain.ts";
import type { DevChain } from "../../sdk/test/helpers/devchain.ts";
import { TrainerLoop } from "../src/jobs/loop.ts";
import { Billing, chainCatalog, ModelServer, startApi, tokenCost } from "../src/serve/index.ts";
import { citationProvider } from "../src/jobs/citations.ts";
import { JobStore } from "../src/jobs/store.ts";
import { BASE_DIR, jsonl, qa } from "./helpers/austen-qa.ts";

const spec = (datanetId: string, version: number, epochs: number) => ({
  baseModel: "tributary-austen-4m",
  method: "lora",
  lora: { r: 8, alpha: 16, dropout: 0, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] },
  training: { learningRate: 1e-2, epochs, batchSize: 2, warmupRatio: 0.05, seed: 5, maxSeqLength: 128 },
  data: [{ datanetId, version }],
  evalSplit: 0,
});

describe("trainer node job pipeline", () => {
  let chain: DevChain;
  let ipfs: Awaited<ReturnType<typeof startContentStore>>;
  let custodian: RunningCustodian;
  let kernel: Kernel;
  const conns: ChainConnection[] = [];
  const [deployer, owner, alice, bob, builder, trainer] = [0, 1, 2, 3, 4, 5];
  const dataDir = mkdtempSync(join(tmpdir(), "trainer-node-"));
  const logs: string[] = [];
  let baseCid = "";
  let firstModelId = 0n;

  before(async () => {
    chain = await startDevChain();
    ipfs = await startContentStore();
    for (let i = 0; i < 6; i++) {
      conns.push(await connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, deployments: chain.deploymentsFile, account: privateKeyToAccount(TEST_KEYS[i]), pollingInterval: 50 }));
    }
    custodian = await startCustodian({ conn: conns[owner], store: ipfs.store, stateDir: mkdtempSync(join(tmpdir(), "custodian-")), port: 0 });
    const d = conns[deployer];
    for (const who of [builder, trainer]) await sendTx(d, d.contracts.OpenToken, "mint", [conns[who].account!.address, parseEther("1000")]);
    baseCid = (await addFileSet(ipfs.store, BASE_DIR)).cid;
    await sendTx(d, d.contracts.ModelRegistry, "registerBaseModel", ["tributary-austen-4m", baseCid]);
    const { datanetId } = await createDatanet(conns[owner], ipfs.store, { name: "Austen Q&A", policy: "approval", custodian: { publicKey: custodian.publicKey, url: custodian.url } });
    await contribute(conns[alice], ipfs.store, { datanetId, fileName: "alice.jsonl", content: jsonl(qa.slice(0, 2)) });
    await contribute(conns[bob], ipfs.store, { datanetId, fileName: "bob.jsonl", content: jsonl(qa.slice(2)) });
    await review(conns[owner], { datanetId, approve: [1n, 2n] });
    await grantAccess(conns[owner], { datanetId, account: conns[builder].account!.address, expiresAt: BigInt(Math.floor(Date.now() / 1000) + 86400), uses: 6 });
    await stake(conns[trainer], parseEther("200")); // the challenged job's collateral (20) stays locked
    // the jobs are verified by replay (Llama base, no verification in the spec): a node trains them on wasm only
    kernel = await selectKernel("wasm", 2);
  });
  after(async () => {
    await kernel?.dispose();
    await custodian?.stop();
    await ipfs?.stop();
    await chain?.stop();
  });

  const nodeCtx = async () => ({
    conn: conns[trainer],
    store: ipfs.store,
    custodianUrl: custodian.url,
    dataDir,
    jobs: await JobStore.open(join(dataDir, "jobs")),
    kernel,
    log: (l: string) => logs.push(l),
  });
  const passTime = async (seconds: number) => {
    await conns[deployer].publicClient.request({ method: "evm_increaseTime" as never, params: [seconds] as never });
    await conns[deployer].publicClient.request({ method: "evm_mine" as never, params: [] as never });
  };

  it("claims, trains on the decrypted data, attributes, pins, submits, finalizes and is paid", async () => {
    const posted = await postJob(conns[builder], ipfs.store, { spec: spec("1", 2, 30), budget: parseEther("50"), duration: 3600 });
    const ctx = await nodeCtx();
    const loop = new TrainerLoop(ctx, { pollMs: 50 });
    const progress: number[] = [];
    ctx.jobs.subscribe((e) => e.type === "progress" && progress.push(e.progress.step));
    await loop.tick();
    let rec = ctx.jobs.get(posted.jobId.toString())!;
    assert.equal(rec.stage, "submitted", `${rec.stage}: ${rec.error ?? rec.reason ?? ""}\n${logs.join("\n")}`);
    assert.equal(rec.records, 4);
    assert.equal(rec.contributions, 2);
    assert.ok(progress.length >= 30 && progress.at(-1) === rec.progress!.totalSteps, "progress was reported step by step");
    assert.ok(rec.lossHistory.at(-1)!.loss < rec.lossHistory[0].loss / 4, `training loss falls: ${rec.lossHistory[0].loss} -> ${rec.lossHistory.at(-1)!.loss}`);
    assert.equal(statSync(join(dataDir, "jobs", rec.jobId, "data.json")).mode & 0o777, 0o600, "decrypted data is readable by the node's user only");

    // within the challenge window nothing happens; after it, the node finalizes
    await loop.tick();
    assert.equal(ctx.jobs.get(rec.jobId)!.stage, "submitted");
    const balance = async () => conns[trainer].publicClient.readContract({ address: conns[trainer].contracts.OpenToken.address, abi: conns[trainer].contracts.OpenToken.abi, functionName: "balanceOf", args: [conns[trainer].account!.address] });
    const before = await balance();
    await passTime(601);
    await loop.tick();
    rec = ctx.jobs.get(rec.jobId)!;
    assert.equal(rec.stage, "finalized", rec.error);
    assert.ok(BigInt(rec.trainerPayment!) > 0n);
    assert.equal(await balance(), before + BigInt(rec.trainerPayment!), "the trainer's OPEN balance rose by the payment");

    // the minted model points at the pinned adapter, which is real: it answers what it was trained on
    const model = await getModel(conns[builder], BigInt(rec.modelId!));
    assert.equal(model.adapterCid, rec.result!.adapterCid);
    firstModelId = model.modelId;
    const adapterDir = join(mkdtempSync(join(tmpdir(), "fetched-adapter-")), "a");
    await fetchFileSet(ipfs.store, model.adapterCid, adapterDir);
    const { createHash } = await import("node:crypto");
    assert.equal(`0x${createHash("sha256").update(await readFile(join(adapterDir, "adapter_model.safetensors"))).digest("hex")}`, model.adapterHash);
    const base = await loadModel(BASE_DIR, { kernel });
    const tok = await ChatTokenizer.fromDir(BASE_DIR);
    const adapter = await loadAdapter(adapterDir, base.config);
    const ask = async (q: string, withAdapter: boolean) => (await generateChat(base, tok, [{ role: "user", content: q }], { maxTokens: 16, adapter: withAdapter ? adapter : null })).text;
    assert.equal(await ask(qa[0][0], true), qa[0][1]);
    assert.notEqual(await ask(qa[0][0], false), qa[0][1]);

    // attribution: the report on IPFS commits to the root on chain; both contributors are in it
    const report = parseAttributionReport(JSON.parse(new TextDecoder().decode(await ipfs.store.cat(rec.result!.reportCid))));
    assert.equal(report.merkleRoot, model.attributionRoot);
    assert.deepEqual(report.contributors.map((c) => c.account.toLowerCase()).sort(), [conns[alice].account!.address, conns[bob].account!.address].map((a) => a.toLowerCase()).sort());
    // the tree's leaves name contributions (datanetId, contributionId, weight), never a payee
    const leaves = report.contributions.filter((c) => BigInt(c.weight) > 0n).map((c) => ({ datanetId: BigInt(c.datanetId), contributionId: BigInt(c.contributionId), weight: BigInt(c.weight) }));
    const tree = ContributionTree.build(leaves);
    assert.equal(tree.root, model.attributionRoot);
    for (const l of leaves) assert.ok(verifyContributionProof(model.attributionRoot, l, tree.proof(l.datanetId, l.contributionId).proof));
    const manifest = JSON.parse(await readFile(join(adapterDir, "manifest.json"), "utf8")) as { engine: { kernel: string }; data: Array<{ contributions: unknown[] }> };
    assert.equal(manifest.engine.kernel, "wasm");
    assert.equal(manifest.data[0].contributions.length, 2);
  });

  it("commits its run's checkpoint tree before submitting, and answers a challenge's moves down to the segment proof", async () => {
    const posted = await postJob(conns[builder], ipfs.store, { spec: spec("1", 2, 10), budget: parseEther("20"), duration: 3600 });
    const ctx = await nodeCtx();
    const loop = new TrainerLoop(ctx, { pollMs: 50 });
    await loop.tick();
    const rec = ctx.jobs.get(posted.jobId.toString())!;
    assert.equal(rec.stage, "submitted", `${rec.stage}: ${rec.error ?? rec.reason ?? ""}`);
    // the committed root is the tree over the state hashes of the run's checkpoints; the last leaf binds the
    // submitted result as DisputeGame.finalState computes it
    const ckpts = join(dataDir, "jobs", rec.jobId, "adapter", "checkpoints");
    const names = readdirSync(ckpts).filter((n) => /^step-\d+$/.test(n)).sort();
    assert.deepEqual(names, ["step-000010", "step-000020"]);
    const runStates = [await checkpointDirStateHash(join(ckpts, names[0])), await checkpointDirStateHash(join(ckpts, names[1]))] as `0x${string}`[];
    const final = { adapterHash: rec.result!.adapterHash as `0x${string}`, attributionRoot: rec.result!.attributionRoot as `0x${string}`, attributionTotalWeight: BigInt(rec.result!.attributionTotalWeight) };
    const tree = checkpointTree(posted.jobId, runStates, final);
    const states = tree.states;
    const g0 = conns[builder].contracts.DisputeGame;
    assert.equal(await conns[builder].publicClient.readContract({ address: g0.address, abi: g0.abi, functionName: "finalState", args: [posted.jobId, runStates[1]] }), states[1], "the contract derives the same last state");
    const g = conns[builder].contracts.DisputeGame;
    const [who, root, count] = await conns[builder].publicClient.readContract({ address: g.address, abi: g.abi, functionName: "checkpointsOf", args: [posted.jobId] });
    assert.equal(who.toLowerCase(), conns[trainer].account!.address.toLowerCase());
    assert.equal(root, tree.root);
    assert.equal(count, 2);
    // a (false) challenger opens a challenge; the node reveals the root's children on its next tick
    const { disputeId } = await disputeJob(conns[builder], ipfs.store, posted.jobId, "the loss curve looks too good");
    assert.equal((await getDispute(conns[builder], disputeId!)).phaseName, "trainerMove");
    await loop.tick();
    let d = await getDispute(conns[builder], disputeId!);
    assert.equal(d.phaseName, "challengerMove", "the node answered with the children");
    const fake = checkpointTree(posted.jobId, [`0x${"11".repeat(32)}`, `0x${"22".repeat(32)}`]);
    const [left, right] = childrenOf(tree, d.lo, d.span);
    await challengeMove(conns[builder], disputeId!, { left, right }, fake);
    await loop.tick();
    d = await getDispute(conns[builder], disputeId!);
    assert.equal(d.phaseName, "awaitingDraw", "at one leaf the node proved the segment; the committee decides next");
    assert.equal(d.claimedState, states[d.lo]);
    assert.equal(ctx.jobs.get(rec.jobId)!.stage, "submitted");
    assert.ok(logs.some((l) => l.includes(`answered challenge ${disputeId} (segment)`)), logs.join("\n"));
  });

  it("sells the model's answers for vouchers, redeems them, and a contributor claims her attributed share", async () => {
    assert.ok(firstModelId > 0n, "needs the model of the first test");
    const modelId = firstModelId;
    const pricePer1k = parseEther("0.001");
    await setInferencePrice(conns[builder], modelId, pricePer1k); // the job's poster owns the model
    const user = await connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, deployments: chain.deploymentsFile, account: privateKeyToAccount(TEST_KEYS[6]), pollingInterval: 50 });
    const stranger = await connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, deployments: chain.deploymentsFile, account: privateKeyToAccount(TEST_KEYS[7]), pollingInterval: 50 });
    await sendTx(conns[deployer], conns[deployer].contracts.OpenToken, "mint", [user.account!.address, parseEther("10")]);
    const { channelId } = await openChannel(user, { provider: conns[trainer].account!.address, modelId, amount: parseEther("1") });
    const billing = await Billing.open({ conn: conns[trainer], file: join(mkdtempSync(join(tmpdir(), "billing-")), "vouchers.json"), redeemEveryMs: 0 });
    const models = new ModelServer({ store: ipfs.store, cacheDir: mkdtempSync(join(tmpdir(), "serve-cache-")), kernel });
    const jobs = await JobStore.open(join(dataDir, "jobs")); // the node's own records: it trained this model
    const citations = citationProvider({ jobs, dataDir, tokenizer: (m) => models.tokenizer(m) });
    const api = await startApi({ port: 0, catalog: chainCatalog(conns[trainer]), models, jobs, billing, citations });
    try {
      const ask = async (voucher?: unknown) => {
        const res = await fetch(`${api.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", ...(voucher ? { "x-tributary-voucher": JSON.stringify(voucher) } : {}) },
          body: JSON.stringify({ model: `model-${modelId}`, messages: [{ role: "user", content: qa[0][0] }], max_tokens: 16, temperature: 0 }),
        });
        return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string }; tributary?: { billing?: { owed: string; cost: string }; price_per_1k_tokens?: string; citations?: { contribution_id: string; contributor: string; text: string; tokens: number }[] }; choices?: { message: { content: string } }[] } };
      };
      const none = await ask();
      assert.equal(none.status, 402);
      assert.equal(none.body.error!.code, "voucher_required");
      assert.equal(none.body.tributary!.price_per_1k_tokens, pricePer1k.toString(), "the 402 states the price");
      const forged = await ask(await signVoucher(stranger, { channelId, cumulativeAmount: 0n }));
      assert.equal(forged.status, 402);
      assert.equal(forged.body.error!.code, "bad_signature");

      const first = await ask(await signVoucher(user, { channelId, cumulativeAmount: 0n }));
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.body.choices![0].message.content, qa[0][1], "the paid model answers what it learned");
      // inference-time attribution: the answer is cited to alice's contribution (#1), and the use is logged
      const cites = first.body.tributary!.citations!;
      assert.ok(cites.length >= 1, JSON.stringify(first.body.tributary));
      assert.equal(cites[0].contribution_id, "1");
      assert.equal(cites[0].contributor.toLowerCase(), conns[alice].account!.address.toLowerCase());
      assert.match(cites[0].text, /Jane Austen wrote it/);
      const usage = readFileSync(join(dataDir, "usage.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { contribution_id: string; tokens: number });
      assert.ok(usage.some((u) => u.contribution_id === "1" && u.tokens === cites[0].tokens));
      const owed1 = BigInt(first.body.tributary!.billing!.owed);
      assert.ok(owed1 > 0n && owed1 === BigInt(first.body.tributary!.billing!.cost));
      const stale = await ask(await signVoucher(user, { channelId, cumulativeAmount: owed1 - 1n }));
      assert.equal(stale.status, 402);
      assert.equal(stale.body.error!.code, "voucher_insufficient");
      assert.match(stale.body.error!.message, new RegExp(`sign at least ${owed1}`));
      const second = await ask(await signVoucher(user, { channelId, cumulativeAmount: owed1 }));
      assert.equal(second.status, 200);
      const owed2 = BigInt(second.body.tributary!.billing!.owed);
      assert.equal(owed2, 2n * owed1, "the same request costs the same");

      // redemption moves the signed amount to the model's revenue; the attribution decides the contributors' share
      await billing.redeemAll();
      assert.equal((await getChannel(user, channelId)).redeemed, owed1, "the best voucher (signed for owed1) was redeemed");
      const pos = await rewardPosition(conns[alice], ipfs.store, modelId, conns[alice].account!.address);
      assert.ok(pos.claimable > 0n, "alice has a claimable share of the revenue");
      const token = conns[alice].contracts.OpenToken;
      const bal = () => conns[alice].publicClient.readContract({ address: token.address, abi: token.abi, functionName: "balanceOf", args: [conns[alice].account!.address] });
      const before = await bal();
      const claimed = await claimReward(conns[alice], ipfs.store, modelId);
      assert.equal(claimed.amount, pos.claimable);
      assert.equal(await bal(), before + pos.claimable);

      // every generated token is billed: all n choices, tool calls, text completions, an aborted stream
      let owed = owed2;
      const paid = async (path: string, body: Record<string, unknown>, signal?: AbortSignal) =>
        fetch(`${api.url}${path}`, { method: "POST", signal, headers: { "content-type": "application/json", "x-tributary-voucher": JSON.stringify(await signVoucher(user, { channelId, cumulativeAmount: owed })) }, body: JSON.stringify({ model: `model-${modelId}`, ...body }) });
      const tool = { type: "function", function: { name: "author", parameters: { type: "object", properties: { name: { type: "string", enum: ["Jane Austen", "Fanny Burney"] }, year: { type: "integer" } }, required: ["name", "year"], additionalProperties: false } } };
      const requests: [string, Record<string, unknown>, (r: any) => number][] = [
        ["/v1/chat/completions", { messages: [{ role: "user", content: qa[0][0] }], n: 2, max_tokens: 40, temperature: 1, seed: 3, tools: [tool], tool_choice: "required", logprobs: true }, (r) => r.choices.reduce((s: number, c: any) => s + c.logprobs.content.length, 0)],
        ["/v1/completions", { prompt: "Jane Austen", n: 3, max_tokens: 10, temperature: 1, seed: 2, logprobs: 0 }, (r) => r.choices.reduce((s: number, c: any) => s + c.logprobs.tokens.length, 0)],
      ];
      for (const [path, body, generated] of requests) {
        const res = await paid(path, body);
        const r = (await res.json()) as any;
        assert.equal(res.status, 200, JSON.stringify(r));
        assert.equal(r.usage.completion_tokens, generated(r), "usage counts every choice's tokens");
        if (path === "/v1/chat/completions") assert.ok(r.choices.every((c: any) => c.message.tool_calls.length === 1));
        assert.equal(BigInt(r.tributary.billing.cost), tokenCost(pricePer1k, r.usage.prompt_tokens + r.usage.completion_tokens));
        assert.equal(BigInt(r.tributary.billing.owed), owed + BigInt(r.tributary.billing.cost));
        owed = BigInt(r.tributary.billing.owed);
      }
      const stored = () => BigInt(billing.channel(channelId)!.owed);
      assert.equal(stored(), owed);
      const client = new AbortController();
      const res = await paid("/v1/chat/completions", { messages: [{ role: "user", content: "Tell me everything." }], max_tokens: 300, temperature: 1, seed: 4, stream: true }, client.signal);
      const reader = res.body!.getReader();
      await reader.read();
      client.abort();
      for (let i = 0; i < 200 && stored() === owed; i++) await new Promise((r) => setTimeout(r, 25));
      assert.ok(stored() > owed, "the tokens of an aborted stream are charged");
    } finally {
      await api.stop();
      await billing.close();
      await models.close();
    }
  });

  it("resumes a job interrupted mid-training from its checkpoint, in a new node over the same folder", async () => {
    const posted = await postJob(conns[builder], ipfs.store, { spec: spec("1", 2, 40), budget: parseEther("50"), duration: 3600 });
    const jobId = posted.jobId.toString();
    const ctx1 = await nodeCtx();
    const loop1 = new TrainerLoop(ctx1, { pollMs: 50 });
    const reached = new Promise<void>((resolve) => ctx1.jobs.subscribe((e) => e.type === "progress" && e.jobId === jobId && e.progress.step >= 15 && resolve()));
    loop1.start();
    await reached;
    await loop1.stop();
    assert.equal(ctx1.jobs.get(jobId)!.stage, "training", "stopped while training");
    assert.equal((await getJob(conns[trainer], posted.jobId)).status, "claimed");

    const ctx2 = await nodeCtx(); // reads the records back from disk
    assert.equal(ctx2.jobs.get(jobId)!.stage, "training");
    const steps: number[] = [];
    ctx2.jobs.subscribe((e) => e.type === "progress" && e.jobId === jobId && steps.push(e.progress.step));
    await new TrainerLoop(ctx2, { pollMs: 50 }).tick();
    const rec = ctx2.jobs.get(jobId)!;
    assert.equal(rec.stage, "submitted", rec.error);
    assert.ok(steps[0] > 10, `training went on from a checkpoint (first step after the restart: ${steps[0]})`);
    assert.equal(steps.at(-1), rec.progress!.totalSteps);
    assert.equal(logs.filter((l) => l.includes(`job ${jobId}: claimed`)).length, 1, "claimed once");
  });

  it("survives SIGKILL mid-training: the restarted CLI resumes from the checkpoint and submits", async () => {
    const posted = await postJob(conns[builder], ipfs.store, { spec: spec("1", 2, 60), budget: parseEther("50"), duration: 3600 });
    const jobId = posted.jobId.toString();
    const dir = mkdtempSync(join(tmpdir(), "trainer-cli-"));
    const port = await freePort();
    const bin = fileURLToPath(new URL("../bin/tributary-trainer.ts", import.meta.url));
    const env = {
      ...process.env,
      TRIBUTARY_PRIVATE_KEY: TEST_KEYS[trainer],
      TRIBUTARY_RPC_URL: chain.rpcUrl,
      TRIBUTARY_CHAIN_ID: String(chain.chainId),
      TRIBUTARY_DEPLOYMENTS_FILE: chain.deploymentsFile,
      TRIBUTARY_IPFS_API_URL: ipfs.apiUrl,
      TRIBUTARY_CUSTODIAN_URL: custodian.url,
      TRIBUTARY_TRAINER_DIR: dir,
      TRIBUTARY_TRAINER_PORT: String(port),
    };
    const output: string[] = [];
    const run = (): ChildProcess => {
      const child = spawn(process.execPath, [bin, "--kernel", "wasm", "--threads", "2"], { env, stdio: ["ignore", "pipe", "pipe"] });
      child.stdout!.on("data", (d) => output.push(String(d)));
      child.stderr!.on("data", (d) => output.push(String(d)));
      return child;
    };
    const record = () => {
      const f = join(dir, "jobs", `${jobId}.json`);
      try {
        return existsSync(f) ? (JSON.parse(readFileSync(f, "utf8")) as { stage: string; error?: string }) : undefined;
      } catch {
        return undefined;
      }
    };
    const waitFor = async (what: string, ok: () => boolean, ms = 120_000) => {
      const end = Date.now() + ms;
      while (!ok()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}; record ${JSON.stringify(record())}\n${output.join("")}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const checkpoints = join(dir, "jobs", jobId, "adapter", "checkpoints");
    const first = run();
    try {
      await waitFor("a complete checkpoint", () => existsSync(checkpoints) && readdirSync(checkpoints).some((n) => /^step-\d+$/.test(n)));
    } finally {
      first.kill("SIGKILL");
    }
    await new Promise((r) => first.once("exit", r));
    assert.equal(record()?.stage, "training", "killed while training");
    assert.ok(!output.join("").includes(TEST_KEYS[trainer].slice(2)), "the operator key is never printed");
    const second = run();
    try {
      await waitFor("the submission", () => record()?.stage === "submitted");
      const api = (await (await fetch(`http://127.0.0.1:${port}/v1/jobs/${jobId}`)).json()) as { stage: string };
      assert.equal(api.stage, "submitted", "the API serves the job record");
    } finally {
      second.kill("SIGTERM");
      await new Promise((r) => second.once("exit", r));
    }
    assert.equal((await getJob(conns[trainer], posted.jobId)).status, "submitted");
    const history = (JSON.parse(readFileSync(join(dir, "jobs", `${jobId}.json`), "utf8")) as { lossHistory: { step: number }[] }).lossHistory;
    assert.ok(history[0].step > 1, `the restarted node trained on from its checkpoint (first step ${history[0].step})`);
  });

  it("skips a job it cannot run and says why", async () => {
    const posted = await postJob(conns[builder], ipfs.store, { spec: { ...spec("1", 2, 1), training: { learningRate: 1e-3, epochs: 1.5 } }, budget: parseEther("10"), duration: 3600 });
    const ctx = await nodeCtx();
    await new TrainerLoop(ctx, { pollMs: 50 }).tick();
    const rec = ctx.jobs.get(posted.jobId.toString())!;
    assert.equal(rec.stage, "skipped");
    assert.match(rec.reason!, /epochs 1\.5 is not a whole number/);
    assert.equal((await getJob(conns[trainer], posted.jobId)).status, "open", "left open for other trainers");
  });

  it("does not claim a job it cannot train before the deadline (its stake would be slashed)", async () => {
    const posted = await postJob(conns[builder], ipfs.store, { spec: spec("1", 2, 1000), budget: parseEther("10"), duration: 60 });
    const ctx = await nodeCtx();
    await new TrainerLoop(ctx, { pollMs: 50 }).tick();
    const rec = ctx.jobs.get(posted.jobId.toString())!;
    assert.equal(rec.stage, "skipped");
    assert.match(rec.reason!, /training and attribution would take about \d+ s on this node .* of the job's 60 s deadline/);
    assert.equal((await getJob(conns[trainer], posted.jobId)).status, "open");
    assert.ok(existsSync(join(dataDir, "throughput.json")), "the estimate uses what the node measured on earlier jobs");
  });
});
