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
import { mkdtempSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseEther } from "viem";
import { catJson, evalClaimOf, getJob, getTrainer, postJob, sendTx, stake } from "@tributary/sdk/chain";
import { addFileSet, fetchFileSet } from "@tributary/sdk/files";
import { selectKernel } from "@tributary/engine";
import type { Kernel } from "@tributary/engine";
import { torchUnavailable } from "../src/backends/torch-worker.ts";
import { TrainerLoop } from "../src/jobs/loop.ts";
import { JobStore } from "../src/jobs/store.ts";
import type { Verifier } from "../src/jobs/verify.ts";
import { BASE_DIR } from "./helpers/austen-qa.ts";
import { qaDatanet, ROLE, serveEvalCommittee, startDisputeNet, verifierNodes } from "./helpers/dispute-net.ts";
import type { DisputeNet } from "./helpers/dispute-net.ts";
import { makeTinyModels } from "./helpers/tiny-models.ts";

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
  let net: DisputeNet;
  let kernel: Kernel;
  const { deployer, builder, trainer, auditor, honest1, honest2, lazy } = ROLE;
  const faults: { evalLossFactor?: number; inflateAttribution?: boolean; forgeAttributionCheckpoint?: boolean } = { evalLossFactor: 0.5 };
  let loop: TrainerLoop;
  let verifiers: Map<number, Verifier>;
  let datanetId = 0n;

  before(async () => {
    const missing = torchUnavailable();
    assert.equal(missing, null, missing ?? "");
    net = await startDisputeNet();
    const d = net.conns[deployer];
    const fixtures = mkdtempSync(join(tmpdir(), "torch-eval-dispute-models-"));
    await makeTinyModels(BASE_DIR, fixtures, ["qwen2"]);
    await sendTx(d, d.contracts.ModelRegistry, "registerBaseModel", ["tiny-qwen2", (await addFileSet(net.ipfs.store, join(fixtures, "qwen2"))).cid]);
    datanetId = await qaDatanet(net);
    await stake(net.conns[trainer], parseEther("1000"));
    kernel = await selectKernel("wasm", 1);
    const dataDir = mkdtempSync(join(tmpdir(), "trainer-node-torch-"));
    loop = new TrainerLoop({ conn: net.conns[trainer], store: net.ipfs.store, custodianUrl: net.custodian.url, dataDir, jobs: await JobStore.open(join(dataDir, "jobs")), kernel, backend: "torch", checkpointEvery: 2, faults, log: net.log("trainer") }, { pollMs: 50 });
    verifiers = await verifierNodes(net, kernel, { context: { torch: { device: "cpu", threads: 1 } } });
  });
  after(async () => {
    if (process.env.TORCH_EVAL_DISPUTE_LOG) await writeFile(process.env.TORCH_EVAL_DISPUTE_LOG, net.logs.join("\n"));
    await kernel?.dispose();
    await net?.stop();
  });

  const game = () => net.conns[deployer].contracts.DisputeGame;
  const read = <T,>(fn: string, args: unknown[]) => net.read<T>(fn, args);
  const context = () => net.context();
  /** The nodes' lines about a job (and a dispute of it) as test diagnostics: the numbers the verifiers measured. */
  const showLogs = (t: { diagnostic: (s: string) => void }, jobId: bigint, disputeId?: bigint) => {
    for (const l of net.logs.filter((l) => l.includes(`job ${jobId}:`) || (disputeId !== undefined && l.includes(`dispute ${disputeId}: recomputed`)))) if (/eval audit|recomputed|published the|committed its eval claim|FAULT/.test(l)) t.diagnostic(l);
  };

  it("catches a torch trainer that claims half its held-out loss: torch audit, challenge, committee of 3 (one lazy), slash", async (t) => {
    const p = await read<{ verifierFee: bigint; verifierPenalty: bigint; challengeBond: bigint }>("params", []);
    const posted = await postJob(net.conns[builder], net.ipfs.store, { spec: spec(datanetId.toString(), 3), budget: parseEther("20"), duration: 3600 });
    const jobId = posted.jobId;
    await loop.tick();
    const job = await getJob(net.conns[builder], jobId);
    assert.equal(job.status, "submitted", `the trainer node submitted${context()}`);
    const claim = await evalClaimOf(net.conns[builder], jobId);
    assert.equal(claim.trainer.toLowerCase(), net.conns[trainer].account!.address.toLowerCase(), "the trainer committed an eval claim");
    const trainerBefore = await getTrainer(net.conns[trainer], net.conns[trainer].account!.address);

    await verifiers.get(auditor)!.tick();
    const audit = verifiers.get(auditor)!.audits()[jobId.toString()];
    assert.equal(audit?.outcome, "mismatch", context());
    const disputeId = BigInt(audit.disputeId!);
    const opened = await net.conns[deployer].publicClient.getContractEvents({ address: game().address, abi: game().abi, eventName: "ChallengeOpened", args: { disputeId }, fromBlock: 0n });
    const reason = (await catJson(net.ipfs.store, (opened[0].args as { reasonCID: string }).reasonCID, "dispute reason")) as { evidence: { claim: { loss: number }; recomputed: { loss: number; rho: number | null } } };
    // the torch worker's loss is the one training reported (fp32 on the CPU): twice the claim
    assert.ok(Math.abs(reason.evidence.recomputed.loss * 0.5 - reason.evidence.claim.loss) <= 1e-6 * reason.evidence.claim.loss, `the evidence: the recomputed loss is twice the claim: ${JSON.stringify(reason.evidence)}`);
    assert.equal(reason.evidence.recomputed.rho, 1, "the attribution itself is honest: recomputed over the published checkpoints");

    const { d } = await serveEvalCommittee(net, verifiers, disputeId, [honest1, honest2, lazy]);
    assert.equal(d.trainerWon, false, "the committee's median loss is above the claim plus 1%");
    assert.equal(net.logs.filter((l) => l.includes(`dispute ${disputeId}: recomputed the eval job's held-out loss`)).length, 2, context());
    assert.equal((await getJob(net.conns[builder], jobId)).status, "refunded");
    const trainerAfter = await getTrainer(net.conns[trainer], net.conns[trainer].account!.address);
    assert.equal(trainerAfter.staked, trainerBefore.staked - job.collateral!, "the trainer's collateral was slashed");
    showLogs(t, jobId, disputeId);
    assert.equal(await net.stakeOf(lazy), parseEther("100") - p.verifierPenalty, "the lazy verifier lost the penalty");
    for (const who of [honest1, honest2]) assert.equal(await net.credit(who), p.verifierFee + p.verifierPenalty / 2n, "fee plus half the penalty");
  });

  it("an honest torch eval job passes the audit, its attribution recomputed over the checkpoints published with the adapter", async (t) => {
    delete faults.evalLossFactor;
    const posted = await postJob(net.conns[builder], net.ipfs.store, { spec: spec(datanetId.toString(), 4), budget: parseEther("20"), duration: 3600 });
    await loop.tick();
    const job = await getJob(net.conns[builder], posted.jobId);
    assert.equal(job.status, "submitted", context());
    const adapterDir = join(mkdtempSync(join(tmpdir(), "fetched-adapter-")), "a");
    await fetchFileSet(net.ipfs.store, job.result!.adapterCid, adapterDir);
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
    const passed = net.logs.find((l) => l.includes(`job ${posted.jobId}: eval audit passed`));
    assert.ok(passed && /attribution Spearman 1\.000/.test(passed), `the attribution recomputes on the torch worker${context()}`);
  });

  it("a torch eval job whose attribution gives the least useful contribution all the weight is challenged: its report ranks unlike the recomputation", async (t) => {
    faults.inflateAttribution = true;
    const posted = await postJob(net.conns[builder], net.ipfs.store, { spec: spec(datanetId.toString(), 5), budget: parseEther("20"), duration: 3600 });
    await loop.tick();
    assert.equal((await getJob(net.conns[builder], posted.jobId)).status, "submitted", context());
    await verifiers.get(auditor)!.tick();
    const audit = verifiers.get(auditor)!.audits()[posted.jobId.toString()];
    showLogs(t, posted.jobId);
    assert.equal(audit?.outcome, "mismatch", context());
    assert.match(audit.reason!, /its attribution ranks the contributions unlike a recomputation \(Spearman -?[\d.]+ < 0\.8\)/);
    assert.doesNotMatch(audit.reason!, /held-out eval loss/, "the loss claim is honest");
  });

  it("a torch eval job whose last published attribution checkpoint is not the submitted adapter is challenged: the checkpoints are bound to the result", async (t) => {
    delete faults.inflateAttribution;
    faults.forgeAttributionCheckpoint = true;
    try {
      const posted = await postJob(net.conns[builder], net.ipfs.store, { spec: spec(datanetId.toString(), 6), budget: parseEther("20"), duration: 3600 });
      await loop.tick();
      assert.equal((await getJob(net.conns[builder], posted.jobId)).status, "submitted", context());
      await verifiers.get(auditor)!.tick();
      const audit = verifiers.get(auditor)!.audits()[posted.jobId.toString()];
      showLogs(t, posted.jobId);
      assert.equal(audit?.outcome, "mismatch", context());
      assert.ok(net.logs.some((l) => l.includes(`job ${posted.jobId}: the last published attribution checkpoint is not the submitted adapter`)), context());
      assert.match(audit.reason!, /Spearman -1\.000 < 0\.8/);
    } finally {
      delete faults.forgeAttributionCheckpoint;
    }
  });
});
