// Eval jobs end to end on real components (a Hardhat chain with the protocol deployed, an embedded IPFS node, the
// custodian, real LoRA training): a job posted with verification "eval" is checked on its outcome, not by replay.
// The trainer node commits its held-out eval loss (DisputeGame.commitEvalClaim) before submitting. A trainer that
// claims a better loss than its adapter reaches is found by an auditing verifier node (it recomputes the loss),
// challenged with the evidence, and decided without bisection by a committee of 3 verifier nodes (one lazy: it
// copies the claim): the trainer's collateral is slashed and the lazy verifier penalised. An honest eval job passes
// the audit, and a false challenge of it loses the challenger its bond.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseEther } from "viem";
import { catJson, disputeJob, evalClaimOf, getJob, getTrainer, postJob, sendTx, stake } from "@tributary/sdk/chain";
import { addFileSet } from "@tributary/sdk/files";
import { selectKernel } from "@tributary/engine";
import type { Kernel } from "@tributary/engine";
import { TrainerLoop } from "../src/jobs/loop.ts";
import { JobStore } from "../src/jobs/store.ts";
import type { Verifier } from "../src/jobs/verify.ts";
import { BASE_DIR } from "./helpers/austen-qa.ts";
import { qaDatanet, ROLE, serveEvalCommittee, startDisputeNet, verifierNodes } from "./helpers/dispute-net.ts";
import type { DisputeNet } from "./helpers/dispute-net.ts";

// 6 records, a quarter held out; batch 2, 4 epochs
const spec = (datanetId: string, seed: number) => ({
  baseModel: "tributary-austen-4m",
  method: "lora",
  lora: { r: 2, alpha: 4, dropout: 0, targetModules: ["q_proj", "v_proj"] },
  training: { learningRate: 1e-2, epochs: 4, batchSize: 2, warmupRatio: 0, seed, maxSeqLength: 64 },
  data: [{ datanetId, version: 3 }],
  evalSplit: 0.25,
  verification: "eval",
  evalTolerance: 0.01,
});

describe("eval jobs: committed eval loss, outcome audit, committee without bisection", () => {
  let net: DisputeNet;
  let kernel: Kernel;
  const { deployer, builder, trainer, auditor, honest1, honest2, lazy } = ROLE;
  const faults: { evalLossFactor?: number } = { evalLossFactor: 0.5 };
  let loop: TrainerLoop;
  let verifiers: Map<number, Verifier>;
  let datanetId = 0n;

  before(async () => {
    net = await startDisputeNet();
    const d = net.conns[deployer];
    await sendTx(d, d.contracts.ModelRegistry, "registerBaseModel", ["tributary-austen-4m", (await addFileSet(net.ipfs.store, BASE_DIR)).cid]);
    datanetId = await qaDatanet(net);
    await stake(net.conns[trainer], parseEther("1000"));
    kernel = await selectKernel("wasm", 1);
    const dataDir = mkdtempSync(join(tmpdir(), "trainer-node-"));
    loop = new TrainerLoop({ conn: net.conns[trainer], store: net.ipfs.store, custodianUrl: net.custodian.url, dataDir, jobs: await JobStore.open(join(dataDir, "jobs")), kernel, faults, log: net.log("trainer") }, { pollMs: 50 });
    verifiers = await verifierNodes(net, kernel);
  });
  after(async () => {
    await kernel?.dispose();
    await net?.stop();
  });

  const game = () => net.conns[deployer].contracts.DisputeGame;
  const read = <T,>(fn: string, args: unknown[]) => net.read<T>(fn, args);
  const context = () => net.context();
  it("catches a trainer that claims a better held-out loss than its adapter reaches: audit, challenge, committee, slash", async () => {
    const p = await read<{ verifierFee: bigint; verifierPenalty: bigint; challengeBond: bigint }>("params", []);
    const posted = await postJob(net.conns[builder], net.ipfs.store, { spec: spec(datanetId.toString(), 3), budget: parseEther("20"), duration: 3600 });
    const jobId = posted.jobId;
    await loop.tick();
    const job = await getJob(net.conns[builder], jobId);
    assert.equal(job.status, "submitted", `the trainer node submitted${context()}`);
    const claim = await evalClaimOf(net.conns[builder], jobId);
    assert.equal(claim.trainer.toLowerCase(), net.conns[trainer].account!.address.toLowerCase(), "the trainer committed an eval claim");
    assert.equal(claim.tolerance, 0.01);
    assert.ok(net.logs.some((l) => l.includes("FAULT INJECTED: claiming the held-out eval loss")), context());
    const trainerBefore = await getTrainer(net.conns[trainer], net.conns[trainer].account!.address);

    await verifiers.get(auditor)!.tick();
    const audit = verifiers.get(auditor)!.audits()[jobId.toString()];
    assert.equal(audit?.outcome, "mismatch", context());
    const disputeId = BigInt(audit.disputeId!);
    const opened = await net.conns[deployer].publicClient.getContractEvents({ address: game().address, abi: game().abi, eventName: "ChallengeOpened", args: { disputeId }, fromBlock: 0n });
    const reason = (await catJson(net.ipfs.store, (opened[0].args as { reasonCID: string }).reasonCID, "dispute reason")) as { evidence: { claim: { loss: number }; recomputed: { loss: number } } };
    assert.ok(Math.abs(reason.evidence.recomputed.loss * 0.5 - reason.evidence.claim.loss) < 1e-6, "the evidence: the recomputed loss is twice the claim");

    // the challenger (the auditor) is excluded: the 3 other verifier nodes serve
    const { d } = await serveEvalCommittee(net, verifiers, disputeId, [honest1, honest2, lazy]);
    assert.equal(d.trainerWon, false, "the committee's median loss is above the claim plus 1%");
    assert.equal(net.logs.filter((l) => l.includes(`dispute ${disputeId}: recomputed the eval job's held-out loss`)).length, 2, context());
    assert.equal((await getJob(net.conns[builder], jobId)).status, "refunded");
    const trainerAfter = await getTrainer(net.conns[trainer], net.conns[trainer].account!.address);
    assert.equal(trainerAfter.staked, trainerBefore.staked - job.collateral!, "the trainer's collateral was slashed");
    assert.equal(await net.stakeOf(lazy), parseEther("100") - p.verifierPenalty, "the lazy verifier lost the penalty");
    for (const who of [honest1, honest2]) assert.equal(await net.credit(who), p.verifierFee + p.verifierPenalty / 2n, "fee plus half the penalty");
    assert.ok((await net.credit(auditor)) > p.challengeBond, "the challenger got its bond back and a reward");
  });

  it("an honest eval job passes the audit, and a false challenge of it loses the challenger its bond", async () => {
    delete faults.evalLossFactor;
    const p = await read<{ verifierFee: bigint; challengeBond: bigint }>("params", []);
    const posted = await postJob(net.conns[builder], net.ipfs.store, { spec: spec(datanetId.toString(), 4), budget: parseEther("20"), duration: 3600 });
    await loop.tick();
    assert.equal((await getJob(net.conns[builder], posted.jobId)).status, "submitted", context());
    const before = await read<bigint>("disputeCount", []);
    await verifiers.get(auditor)!.tick();
    assert.equal(verifiers.get(auditor)!.audits()[posted.jobId.toString()]?.outcome, "match", context());
    assert.equal(await read<bigint>("disputeCount", []), before, "the auditor opened nothing");
    assert.ok(net.logs.some((l) => l.includes(`job ${posted.jobId}: eval audit passed`) && /Spearman 1\.000/.test(l)), `the attribution recomputes exactly on wasm${context()}`);

    // the poster challenges anyway
    const { disputeId } = await disputeJob(net.conns[builder], net.ipfs.store, posted.jobId, "I expected a better model");
    const staked = [auditor, honest1, honest2, lazy];
    const credits = await Promise.all(staked.map((w) => read<bigint>("withdrawable", [net.conns[w].account!.address])));
    const { d, members } = await serveEvalCommittee(net, verifiers, disputeId!);
    assert.equal(d.trainerWon, true, "the recomputed loss is the claim");
    assert.equal((await getJob(net.conns[builder], posted.jobId)).status, "submitted", "back to submitted");
    for (const [i, who] of staked.entries()) {
      if (who === lazy || !members.includes(net.conns[who].account!.address.toLowerCase())) continue;
      assert.ok((await read<bigint>("withdrawable", [net.conns[who].account!.address])) >= credits[i] + p.verifierFee, "each honest verifier on the committee paid from the bond");
    }
    assert.equal(await read<bigint>("withdrawable", [net.conns[builder].account!.address]), 0n, "the false challenger's bond is gone");
  });
});
