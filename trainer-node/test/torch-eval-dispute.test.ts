// Eval jobs trained by a torch node on a base the engine cannot load (a random tiny Qwen2 made by transformers), end
// to end on real components (a Hardhat chain with the protocol, an embedded IPFS node, the custodian): the verifier
// nodes recompute the held-out loss with the torch worker's `evaluate` (training's own eval loss definition) and the
// attribution with the worker over the checkpoints the trainer published with the adapter. A trainer that claims
// half its held-out loss is found by an auditing verifier, challenged, and decided by a committee of 3 verifier
// nodes (one lazy: it copies the claim): the trainer's collateral is slashed, the lazy verifier penalised. An honest
// torch eval job passes the audit with its attribution recomputed (a measured Spearman agreement, not "not
// recomputable"), and one whose attribution gives the least useful contribution all the weight is challenged for it.
// Needs engine/.venv (the trainer node's pretest builds it).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseEther } from "viem";
import { mnemonicToAccount, privateKeyToAccount } from "viem/accounts";
import type { LocalAccount } from "viem";
import { catJson, connect, contribute, createDatanet, evalClaimOf, getDispute, getJob, getTrainer, postJob, review, sendTx, stake } from "@tributary/sdk/chain";
import type { ChainConnection } from "@tributary/sdk/chain";
import { startCustodian } from "@tributary/sdk/custody";
import type { RunningCustodian } from "@tributary/sdk/custody";
import { addFileSet, fetchFileSet } from "@tributary/sdk/files";
import { selectKernel } from "@tributary/engine";
import type { Kernel } from "@tributary/engine";
import { startContentStore, startDevChain, TEST_KEYS } from "../../sdk/test/helpers/devchain.ts";
import type { DevChain } from "../../sdk/test/helpers/devchain.ts";
import { torchPython, torchUnavailable } from "../src/backends/torch-worker.ts";
import { TrainerLoop } from "../src/jobs/loop.ts";
import { JobStore } from "../src/jobs/store.ts";
import { Verifier } from "../src/jobs/verify.ts";
import { BASE_DIR, jsonl, qa } from "./helpers/austen-qa.ts";

const FIXTURES = fileURLToPath(new URL("./helpers/torch_fixtures.py", import.meta.url));
const more: Array<[string, string]> = [
  ["Who proposes to Elizabeth first?", "Mr. Collins, the clergyman."],
  ["Whom does Jane Bennet marry?", "Mr. Bingley, of Netherfield."],
];

// 6 records, a quarter held out; batch 2, 2 epochs; a checkpoint every 2 steps
const spec = (datanetId: string, seed: number) => ({
  baseModel: "tiny-qwen2",
  method: "lora",
  lora: { r: 2, alpha: 4, dropout: 0, targetModules: ["q_proj", "v_proj"] },
  training: { learningRate: 1e-2, epochs: 2, batchSize: 2, warmupRatio: 0, seed, maxSeqLength: 48 },
  data: [{ datanetId, version: 3 }],
  evalSplit: 0.25,
  verification: "eval",
  evalTolerance: 0.01,
});

describe("torch eval jobs: outcome audit and committee by torch-capable verifiers", () => {
  let chain: DevChain;
  let ipfs: Awaited<ReturnType<typeof startContentStore>>;
  let custodian: RunningCustodian;
  let kernel: Kernel;
  const accounts: LocalAccount[] = [
    ...TEST_KEYS.map((k) => privateKeyToAccount(k)),
    mnemonicToAccount("test test test test test test test test test test test junk", { addressIndex: 8 }),
    mnemonicToAccount("test test test test test test test test test test test junk", { addressIndex: 9 }),
  ];
  const conns: ChainConnection[] = [];
  const [deployer, owner, alice, bob, builder, trainer, auditor, honest1, honest2, lazy] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const logs: string[] = [];
  const log = (who: string) => (l: string) => logs.push(`[${who}] ${l}`);
  const faults: { evalLossFactor?: number; inflateAttribution?: boolean } = { evalLossFactor: 0.5 };
  let loop: TrainerLoop;
  const verifiers = new Map<number, Verifier>();
  let datanetId = 0n;

  before(async () => {
    const missing = torchUnavailable();
    assert.equal(missing, null, missing ?? "");
    chain = await startDevChain();
    ipfs = await startContentStore();
    for (const account of accounts) conns.push(await connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, deployments: chain.deploymentsFile, account, pollingInterval: 50 }));
    custodian = await startCustodian({ conn: conns[owner], store: ipfs.store, stateDir: mkdtempSync(join(tmpdir(), "custodian-")), port: 0 });
    const d = conns[deployer];
    for (const who of [builder, trainer, auditor, honest1, honest2, lazy]) await sendTx(d, d.contracts.OpenToken, "mint", [conns[who].account!.address, parseEther("1000")]);
    const fixtures = mkdtempSync(join(tmpdir(), "torch-eval-dispute-models-"));
    await promisify(execFile)(torchPython(), [FIXTURES, "make", BASE_DIR, fixtures, "qwen2"]);
    await sendTx(d, d.contracts.ModelRegistry, "registerBaseModel", ["tiny-qwen2", (await addFileSet(ipfs.store, join(fixtures, "qwen2"))).cid]);
    ({ datanetId } = await createDatanet(conns[owner], ipfs.store, { name: "Austen Q&A (open)", policy: "open" }));
    await contribute(conns[alice], ipfs.store, { datanetId, fileName: "alice.jsonl", content: jsonl(qa.slice(0, 2)) });
    await contribute(conns[bob], ipfs.store, { datanetId, fileName: "bob.jsonl", content: jsonl(qa.slice(2)) });
    await contribute(conns[alice], ipfs.store, { datanetId, fileName: "alice-2.jsonl", content: jsonl(more) });
    await review(conns[owner], { datanetId, approve: [1n, 2n, 3n] });
    await stake(conns[trainer], parseEther("1000"));
    kernel = await selectKernel("wasm", 1);
    const dataDir = mkdtempSync(join(tmpdir(), "trainer-node-torch-"));
    loop = new TrainerLoop({ conn: conns[trainer], store: ipfs.store, custodianUrl: custodian.url, dataDir, jobs: await JobStore.open(join(dataDir, "jobs")), kernel, backend: "torch", checkpointEvery: 2, faults, log: log("trainer") }, { pollMs: 50 });
    const verifier = (who: number, name: string, opts: ConstructorParameters<typeof Verifier>[1]) =>
      new Verifier({ conn: conns[who], store: ipfs.store, custodianUrl: custodian.url, dataDir: mkdtempSync(join(tmpdir(), `verifier-${name}-`)), kernel, torch: { device: "cpu", threads: 1 }, log: log(name) }, { stake: parseEther("100"), ...opts });
    verifiers.set(auditor, verifier(auditor, "auditor", {}));
    verifiers.set(honest1, verifier(honest1, "honest1", { audit: false }));
    verifiers.set(honest2, verifier(honest2, "honest2", { audit: false }));
    verifiers.set(lazy, verifier(lazy, "lazy", { lazy: true }));
    for (const v of verifiers.values()) await v.tick(); // each stakes
  });
  after(async () => {
    if (process.env.TORCH_EVAL_DISPUTE_LOG) await writeFile(process.env.TORCH_EVAL_DISPUTE_LOG, logs.join("\n"));
    await kernel?.dispose();
    await custodian?.stop();
    await ipfs?.stop();
    await chain?.stop();
  });

  const game = () => conns[deployer].contracts.DisputeGame;
  const read = <T,>(functionName: string, args: unknown[]) => conns[deployer].publicClient.readContract({ address: game().address, abi: game().abi, functionName: functionName as never, args: args as never }) as Promise<T>;
  const mine = async (blocks: number) => {
    for (let i = 0; i < blocks; i++) await conns[deployer].publicClient.request({ method: "evm_mine" as never, params: [] as never });
  };
  const context = () => `\n${logs.join("\n")}`;
  /** The nodes' lines about a job (and a dispute of it) as test diagnostics: the numbers the verifiers measured. */
  const showLogs = (t: { diagnostic: (s: string) => void }, jobId: bigint, disputeId?: bigint) => {
    for (const l of logs.filter((l) => l.includes(`job ${jobId}:`) || (disputeId !== undefined && l.includes(`dispute ${disputeId}: recomputed`)))) if (/eval audit|recomputed|published the|committed its eval claim|FAULT/.test(l)) t.diagnostic(l);
  };

  it("catches a torch trainer that claims half its held-out loss: torch audit, challenge, committee of 3 (one lazy), slash", async (t) => {
    const p = await read<{ verifierFee: bigint; verifierPenalty: bigint; challengeBond: bigint }>("params", []);
    const posted = await postJob(conns[builder], ipfs.store, { spec: spec(datanetId.toString(), 3), budget: parseEther("20"), duration: 3600 });
    const jobId = posted.jobId;
    await loop.tick();
    const job = await getJob(conns[builder], jobId);
    assert.equal(job.status, "submitted", `the trainer node submitted${context()}`);
    const claim = await evalClaimOf(conns[builder], jobId);
    assert.equal(claim.trainer.toLowerCase(), conns[trainer].account!.address.toLowerCase(), "the trainer committed an eval claim");
    const trainerBefore = await getTrainer(conns[trainer], conns[trainer].account!.address);

    await verifiers.get(auditor)!.tick();
    const audit = verifiers.get(auditor)!.audits()[jobId.toString()];
    assert.equal(audit?.outcome, "mismatch", context());
    const disputeId = BigInt(audit.disputeId!);
    const opened = await conns[deployer].publicClient.getContractEvents({ address: game().address, abi: game().abi, eventName: "ChallengeOpened", args: { disputeId }, fromBlock: 0n });
    const reason = (await catJson(ipfs.store, (opened[0].args as { reasonCID: string }).reasonCID, "dispute reason")) as { evidence: { claim: { loss: number }; recomputed: { loss: number; rho: number | null } } };
    // the torch worker's loss is the one training reported (fp32 on the CPU): twice the claim
    assert.ok(Math.abs(reason.evidence.recomputed.loss * 0.5 - reason.evidence.claim.loss) <= 1e-6 * reason.evidence.claim.loss, `the evidence: the recomputed loss is twice the claim: ${JSON.stringify(reason.evidence)}`);
    assert.equal(reason.evidence.recomputed.rho, 1, "the attribution itself is honest: recomputed over the published checkpoints");

    let d = await getDispute(conns[deployer], disputeId);
    assert.equal(d.eval, true);
    assert.equal(d.phaseName, "awaitingDraw", `no bisection: the committee is next${context()}`);
    await mine(5);
    await verifiers.get(honest1)!.tick();
    const members = (await read<string[]>("committeeOf", [disputeId])).map((a) => a.toLowerCase()).sort();
    assert.deepEqual(members, [honest1, honest2, lazy].map((i) => conns[i].account!.address.toLowerCase()).sort(), context());
    for (let round = 0; round < 2; round++) for (const v of verifiers.values()) await v.tick();
    d = await getDispute(conns[deployer], disputeId);
    assert.equal(d.phaseName, "settled", context());
    assert.equal(d.trainerWon, false, "the committee's median loss is above the claim plus 1%");
    assert.equal(logs.filter((l) => l.includes(`dispute ${disputeId}: recomputed the eval job's held-out loss`)).length, 2, context());
    assert.equal((await getJob(conns[builder], jobId)).status, "refunded");
    const trainerAfter = await getTrainer(conns[trainer], conns[trainer].account!.address);
    assert.equal(trainerAfter.staked, trainerBefore.staked - job.collateral!, "the trainer's collateral was slashed");
    const stakeOf = async (who: number) => (await read<{ stake: bigint }>("getVerifier", [conns[who].account!.address])).stake;
    const credit = async (who: number) => read<bigint>("withdrawable", [conns[who].account!.address]);
    showLogs(t, jobId, disputeId);
    assert.equal(await stakeOf(lazy), parseEther("100") - p.verifierPenalty, "the lazy verifier lost the penalty");
    for (const who of [honest1, honest2]) assert.equal(await credit(who), p.verifierFee + p.verifierPenalty / 2n, "fee plus half the penalty");
  });

  it("an honest torch eval job passes the audit, its attribution recomputed over the checkpoints published with the adapter", async (t) => {
    delete faults.evalLossFactor;
    const posted = await postJob(conns[builder], ipfs.store, { spec: spec(datanetId.toString(), 4), budget: parseEther("20"), duration: 3600 });
    await loop.tick();
    const job = await getJob(conns[builder], posted.jobId);
    assert.equal(job.status, "submitted", context());
    const adapterDir = join(mkdtempSync(join(tmpdir(), "fetched-adapter-")), "a");
    await fetchFileSet(ipfs.store, job.result!.adapterCid, adapterDir);
    const manifest = JSON.parse(await readFile(join(adapterDir, "manifest.json"), "utf8")) as { attributionCheckpoints?: { cid: string; steps: number[] }; stats: { steps: number } };
    const report = JSON.parse(await readFile(join(adapterDir, "attribution.json"), "utf8")) as { method: string };
    assert.equal(report.method, "adam_cos_cp");
    // 4 train records, batch 2, 2 epochs: 4 steps, checkpoints at steps 2 and 4 (both picked, the run's end last)
    assert.equal(manifest.stats.steps, 4);
    assert.deepEqual(manifest.attributionCheckpoints?.steps, [2, 4], "the checkpoints the attribution read");
    const before = await read<bigint>("disputeCount", []);
    await verifiers.get(auditor)!.tick();
    assert.equal(verifiers.get(auditor)!.audits()[posted.jobId.toString()]?.outcome, "match", context());
    assert.equal(await read<bigint>("disputeCount", []), before, "the auditor opened nothing");
    showLogs(t, posted.jobId);
    const passed = logs.find((l) => l.includes(`job ${posted.jobId}: eval audit passed`));
    assert.ok(passed && /attribution Spearman 1\.000/.test(passed), `the attribution recomputes on the torch worker${context()}`);
  });

  it("a torch eval job whose attribution gives the least useful contribution all the weight is challenged: its report ranks unlike the recomputation", async (t) => {
    faults.inflateAttribution = true;
    const posted = await postJob(conns[builder], ipfs.store, { spec: spec(datanetId.toString(), 5), budget: parseEther("20"), duration: 3600 });
    await loop.tick();
    assert.equal((await getJob(conns[builder], posted.jobId)).status, "submitted", context());
    await verifiers.get(auditor)!.tick();
    const audit = verifiers.get(auditor)!.audits()[posted.jobId.toString()];
    showLogs(t, posted.jobId);
    assert.equal(audit?.outcome, "mismatch", context());
    assert.match(audit.reason!, /its attribution ranks the contributions unlike a recomputation \(Spearman -?[\d.]+ < 0\.8\)/);
    assert.doesNotMatch(audit.reason!, /held-out eval loss/, "the loss claim is honest");
  });
});
