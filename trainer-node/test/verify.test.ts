// The verifier mode end to end on real components (a Hardhat chain with the protocol deployed, an embedded IPFS
// node, the net.custodian, real LoRA training and replay on the wasm kernel): a trainer node whose run was tampered
// with at one checkpoint (a fault hook; 16 checkpoints) submits; an auditing verifier node replays the run from
// the trainer's published checkpoints, finds the first wrong checkpoint, challenges with the evidence and bisects
// down to it against the trainer node's answers; the committee (3 verifier nodes, one lazy) is drawn, replays the
// proven segment, commits and reveals; the honest majority decides. The trainer's collateral is slashed, the
// poster refunded, the lazy verifier penalised, the coherent ones paid. An honest run's audit opens nothing. A job
// on encrypted data is skipped by the auditor (the net.custodian refuses it the keys); a false challenge of it is
// decided by a committee that got the keys from the net.custodian as drawn verifiers, and the challenger loses its bond.
// A trainer that trains fewer steps than the job asks is caught at its last checkpoint (the run's end is replayed),
// one that inflates the attribution too (the committee recomputes the result there); one that trains more steps
// publishes checkpoints past the run's end, which the auditor challenges from the spec alone (the committee votes
// UNAVAILABLE on a segment the run does not have); a replay job is refused by a node on the ort kernel before
// the claim and taken by one on wasm; a trainer that stops answering loses on its clock. A challenge the poster
// opened in the web app is played by a node run with the poster's key (it replays the run to find the wrong
// checkpoint), or, when the run is honest, said to be unwinnable and lost on the challenger's clock.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { spawn } from "node:child_process";
import { parseEther, toHex } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { catJson, checkpointTree, chooseChildToward, connect, contribute, createDatanet, disputeJob, getDispute, getJob, getTrainer, grantAccess, jobMarketWithdrawable, postJob, review, sendTx, stake, verifierStake } from "@tributary/sdk/chain";
import { addFileSet, fetchFileSet } from "@tributary/sdk/files";
import { parseAdapterManifest, parseCheckpointManifest } from "@tributary/sdk/schemas";
import { selectKernel } from "@tributary/engine";
import type { Kernel } from "@tributary/engine";
import { freePort } from "../../sdk/test/helpers/devchain.ts";
import { TrainerLoop } from "../src/jobs/loop.ts";
import { JobStore } from "../src/jobs/store.ts";
import { Verifier } from "../src/jobs/verify.ts";
import { BASE_DIR, jsonl, qa } from "./helpers/austen-qa.ts";
import { ROLE, startDisputeNet, verifierNodes } from "./helpers/dispute-net.ts";
import type { DisputeNet } from "./helpers/dispute-net.ts";

// 4 records, batch 2, 16 epochs: 32 optimizer steps; a checkpoint every 2 steps: 16 checkpoints
const spec = (datanetId: string, epochs: number, seed: number, scheduler = "cosine") => ({
  baseModel: "tributary-austen-4m",
  method: "lora",
  lora: { r: 2, alpha: 4, dropout: 0.1, targetModules: ["q_proj", "v_proj"] },
  training: { learningRate: 1e-2, epochs, batchSize: 2, warmupRatio: 0, seed, maxSeqLength: 64, scheduler },
  data: [{ datanetId, version: 2 }],
  evalSplit: 0,
  verification: "replay",
});
const CHECKPOINT_EVERY = 2;
const TAMPERED_STEP = 14; // the checkpoint at step 14 is leaf 6

describe("verifier mode: audit, challenge, bisect, committee", () => {
  let net: DisputeNet;
  let kernel: Kernel;
  const { deployer, owner, alice, bob, builder, trainer, auditor, honest1, honest2, lazy } = ROLE;
  const faults: { tamperAfterStep?: number; epochs?: number; inflateAttribution?: boolean; corruptCheckpointLeaf?: number } = { tamperAfterStep: TAMPERED_STEP };
  let loop: TrainerLoop;
  let verifiers: Map<number, Verifier>;
  let datanetId = 0n;

  before(async () => {
    net = await startDisputeNet();
    const d = net.conns[deployer];
    await sendTx(d, d.contracts.ModelRegistry, "registerBaseModel", ["tributary-austen-4m", (await addFileSet(net.ipfs.store, BASE_DIR)).cid]);
    // an open Datanet: its data is public, so any verifier can audit the jobs trained on it
    ({ datanetId } = await createDatanet(net.conns[owner], net.ipfs.store, { name: "Austen Q&A (open)", policy: "open" }));
    await contribute(net.conns[alice], net.ipfs.store, { datanetId, fileName: "alice.jsonl", content: jsonl(qa.slice(0, 2)) });
    await contribute(net.conns[bob], net.ipfs.store, { datanetId, fileName: "bob.jsonl", content: jsonl(qa.slice(2)) });
    await review(net.conns[owner], { datanetId, approve: [1n, 2n] });
    await sendTx(d, d.contracts.OpenToken, "mint", [net.conns[trainer].account!.address, parseEther("500")]);
    await stake(net.conns[trainer], parseEther("1000")); // five jobs are slashed, two stay locked
    kernel = await selectKernel("wasm", 1);
    const dataDir = mkdtempSync(join(tmpdir(), "trainer-node-"));
    loop = new TrainerLoop(
      { conn: net.conns[trainer], store: net.ipfs.store, custodianUrl: net.custodian.url, dataDir, jobs: await JobStore.open(join(dataDir, "jobs")), kernel, checkpointEvery: CHECKPOINT_EVERY, faults, log: net.log("trainer") },
      { pollMs: 50 },
    );
    verifiers = await verifierNodes(net, kernel, { auditor: { auditSegments: "all" } });
  });
  after(async () => {
    await kernel?.dispose();
    await net?.stop();
  });

  const game = () => net.conns[deployer].contracts.DisputeGame;
  const read = <T,>(fn: string, args: unknown[]) => net.read<T>(fn, args);
  const mine = (blocks: number) => net.mine(blocks);
  const context = () => net.context();
  // 32 epochs at a constant learning rate (64 steps); the trainer trains 16: its 16 checkpoints are all honest
  // states of the shorter run, but the last one is not the end of the job's run
  const submitShortRun = async (seed: number) => {
    faults.epochs = 16;
    const posted = await postJob(net.conns[builder], net.ipfs.store, { spec: spec(datanetId.toString(), 32, seed, "constant"), budget: parseEther("20"), duration: 3600 });
    try {
      await loop.tick();
    } finally {
      delete faults.epochs;
    }
    assert.equal((await getJob(net.conns[builder], posted.jobId)).status, "submitted", context());
    return posted.jobId;
  };

  it("catches a tampered run: audit, challenge with evidence, 4 bisection levels over 16 checkpoints, committee verdict, slash and payouts", async () => {
    const p = await read<{ challengeBond: bigint; verifierFee: bigint; verifierPenalty: bigint }>("params", []);
    const posted = await postJob(net.conns[builder], net.ipfs.store, { spec: spec(datanetId.toString(), 16, 5), budget: parseEther("20"), duration: 3600 });
    const jobId = posted.jobId;
    await loop.tick();
    const job = await getJob(net.conns[builder], jobId);
    assert.equal(job.status, "submitted", `the trainer node submitted${context()}`);
    assert.ok(net.logs.some((l) => l.includes(`FAULT INJECTED: the adapter was changed after step ${TAMPERED_STEP}`)), context());

    // the result points at the checkpoint manifest; its tree is the one committed on chain
    const adapterDir = join(mkdtempSync(join(tmpdir(), "fetched-")), "a");
    await fetchFileSet(net.ipfs.store, job.result!.adapterCid, adapterDir);
    const adapter = parseAdapterManifest(JSON.parse(await readFile(join(adapterDir, "manifest.json"), "utf8")));
    assert.ok(adapter.checkpoints, "the adapter manifest names the checkpoint manifest");
    const manifest = parseCheckpointManifest(await catJson(net.ipfs.store, adapter.checkpoints.manifestCid, "checkpoint manifest"));
    const [, root, count] = await read<[string, string, number]>("checkpointsOf", [jobId]);
    assert.equal(count, 16);
    assert.equal(manifest.count, 16);
    assert.equal(manifest.root, root);
    assert.deepEqual(manifest.leaves.map((l) => l.step), Array.from({ length: 16 }, (_, i) => (i + 1) * CHECKPOINT_EVERY));

    const collateral = job.collateral!;
    const trainerBefore = await getTrainer(net.conns[trainer], net.conns[trainer].account!.address);
    const posterBefore = await jobMarketWithdrawable(net.conns[builder], net.conns[builder].account!.address);

    // the auditor replays the whole run from the start and stops at the first checkpoint that differs
    const before = await read<bigint>("disputeCount", []);
    await verifiers.get(auditor)!.tick();
    const audit = verifiers.get(auditor)!.audits()[jobId.toString()];
    assert.equal(audit?.outcome, "mismatch", context());
    assert.deepEqual(audit.leaves, [0, 1, 2, 3, 4, 5, 6], "it replayed up to the tampered checkpoint and stopped");
    const disputeId = BigInt(audit.disputeId!);
    assert.equal(disputeId, before + 1n);
    // the challenge's reason is the pinned evidence
    const opened = await net.conns[deployer].publicClient.getContractEvents({ address: game().address, abi: game().abi, eventName: "ChallengeOpened", args: { disputeId }, fromBlock: 0n });
    const reason = await catJson(net.ipfs.store, (opened[0].args as { reasonCID: string }).reasonCID, "dispute reason") as { evidence: { leaf: number; claimedState: string; replayedState: string; checkpointManifest: string } };
    assert.equal(reason.evidence.leaf, 6);
    assert.equal(reason.evidence.claimedState, manifest.leaves[6].state);
    assert.notEqual(reason.evidence.replayedState, manifest.leaves[6].state);
    assert.equal(reason.evidence.checkpointManifest, adapter.checkpoints.manifestCid);

    // bisection: the trainer node reveals children, the auditor descends toward leaf 6, until the segment is proven
    await net.untilPhase(disputeId, "awaitingDraw", 12, async () => {
      await loop.tick();
      await verifiers.get(auditor)!.tick();
    });
    let d = await getDispute(net.conns[deployer], disputeId);
    assert.equal(d.phaseName, "awaitingDraw", context());
    assert.equal(d.lo, 6, "the bisection ended at the tampered checkpoint");
    assert.equal(d.moves, 8, "4 levels: 4 reveals and 4 choices");
    assert.equal(d.prevState, manifest.leaves[5].state);
    assert.equal(d.claimedState, manifest.leaves[6].state);

    // the committee is drawn after the lookahead; with the challenger excluded, the 3 other verifiers serve
    await mine(5);
    await verifiers.get(honest1)!.tick();
    d = await getDispute(net.conns[deployer], disputeId);
    assert.equal(d.phaseName, "voting", context());
    const members = (await read<string[]>("committeeOf", [disputeId])).map((a) => a.toLowerCase()).sort();
    assert.deepEqual(members, [honest1, honest2, lazy].map((i) => net.conns[i].account!.address.toLowerCase()).sort());
    // commit (the honest ones replay steps 12..14 from the trainer's checkpoint 5), then reveal and settle
    for (const who of [honest1, honest2, lazy]) await verifiers.get(who)!.tick();
    for (const who of [honest1, honest2, lazy]) await verifiers.get(who)!.tick();
    d = await getDispute(net.conns[deployer], disputeId);
    assert.equal(d.phaseName, "settled", context());
    assert.equal(d.trainerWon, false, "the honest majority's verdict differs from the trainer's state");
    assert.ok(net.logs.filter((l) => l.includes(`dispute ${disputeId}: replayed checkpoint 6`) && l.includes("differs from")).length === 2, context());

    // money: collateral slashed, poster refunded, lazy verifier penalised, coherent verifiers and challenger paid
    assert.equal((await getJob(net.conns[builder], jobId)).status, "refunded");
    const trainerAfter = await getTrainer(net.conns[trainer], net.conns[trainer].account!.address);
    assert.equal(trainerAfter.staked, trainerBefore.staked - collateral, "the trainer's collateral was slashed");
    assert.equal(await jobMarketWithdrawable(net.conns[builder], net.conns[builder].account!.address), posterBefore + parseEther("20"), "the poster's budget is refunded");
    assert.equal(await net.stakeOf(lazy), parseEther("100") - p.verifierPenalty, "the lazy verifier lost the penalty");
    assert.equal(await net.credit(lazy), 0n);
    for (const who of [honest1, honest2]) {
      assert.equal(await net.stakeOf(who), parseEther("100"));
      assert.equal(await net.credit(who), p.verifierFee + p.verifierPenalty / 2n, "fee plus half the lazy verifier's penalty");
    }
    assert.ok((await net.credit(auditor)) > p.challengeBond, "the challenger got its bond back and a reward");
  });

  it("an honest run passes the audit: no challenge is opened; a replay job is refused by a node on ort before the claim, a wasm node takes it", async () => {
    delete faults.tamperAfterStep;
    const posted = await postJob(net.conns[builder], net.ipfs.store, { spec: spec(datanetId.toString(), 4, 9), budget: parseEther("20"), duration: 3600 });
    await loop.tick();
    assert.equal((await getJob(net.conns[builder], posted.jobId)).status, "submitted", context());
    const before = await read<bigint>("disputeCount", []);
    const v = new Verifier(
      { conn: net.conns[auditor], store: net.ipfs.store, custodianUrl: net.custodian.url, dataDir: mkdtempSync(join(tmpdir(), "verifier-sample-")), kernel, log: net.log("sampler") },
      { auditSegments: 2 },
    );
    await v.tick();
    const audit = v.audits()[posted.jobId.toString()];
    assert.equal(audit?.outcome, "match", context());
    assert.equal(audit.leaves!.length, 2, "two random segments replayed from the trainer's checkpoints");
    assert.equal(await read<bigint>("disputeCount", []), before, "no challenge");
    assert.equal((await getJob(net.conns[builder], posted.jobId)).status, "submitted");

    // a replay job is refused before the claim by a node on the ort kernel (a wasm replay would not reproduce its run):
    // the job stays open; the operator's node on wasm (a fresh data folder) claims it, and its run passes the audit
    const ortAccount = mnemonicToAccount("test test test test test test test test test test test junk", { addressIndex: 11 });
    const ortConn = await connect({ rpcUrl: net.chain.rpcUrl, chainId: net.chain.chainId, deployments: net.chain.deploymentsFile, account: ortAccount, pollingInterval: 50 });
    await sendTx(net.conns[deployer], net.conns[deployer].contracts.OpenToken, "mint", [ortAccount.address, parseEther("200")]);
    await stake(ortConn, parseEther("200"));
    const ortKernel = await selectKernel("ort", 1);
    const node = async (k: Kernel) => {
      const dir = mkdtempSync(join(tmpdir(), `trainer-${k.name}-`));
      const jobs = await JobStore.open(join(dir, "jobs"));
      return { jobs, loop: new TrainerLoop({ conn: ortConn, store: net.ipfs.store, custodianUrl: net.custodian.url, dataDir: dir, jobs, kernel: k, checkpointEvery: CHECKPOINT_EVERY, log: net.log(`${k.name}-trainer`) }, { pollMs: 50 }) };
    };
    try {
      const ortJob = await postJob(net.conns[builder], net.ipfs.store, { spec: spec(datanetId.toString(), 4, 21), budget: parseEther("20"), duration: 3600 });
      const ort = await node(ortKernel);
      await ort.loop.tick();
      const refused = ort.jobs.get(ortJob.jobId.toString());
      assert.equal(refused?.stage, "skipped", context());
      assert.match(refused.reason!, /verified by replay .*this node trains on the ort kernel.*run the node with --kernel wasm to take it, or the poster can post it with verification "eval"/);
      assert.equal((await getJob(net.conns[builder], ortJob.jobId)).status, "open", "the ort node never claimed it");
      const wasm = await node(kernel);
      await wasm.loop.tick();
      assert.equal((await getJob(net.conns[builder], ortJob.jobId)).status, "submitted", context());
      assert.equal((await getJob(net.conns[builder], ortJob.jobId)).trainer?.toLowerCase(), ortAccount.address.toLowerCase());
      assert.ok(net.logs.some((l) => l.startsWith(`[wasm-trainer] job ${ortJob.jobId}: claimed`)), context());
      await v.tick();
      assert.equal(v.audits()[ortJob.jobId.toString()]?.outcome, "match", context());
    } finally {
      await ortKernel.dispose();
    }
  });

  it("an honest run with held-out records passes a whole-run audit: the result is recomputed with the node's in-run attribution", async () => {
    delete faults.tamperAfterStep;
    // held-out records make the attribution the real in-run influence (not uniform): the verifier gets its
    // vectors by training the job again from the start, and must land on the trainer's root
    const posted = await postJob(net.conns[builder], net.ipfs.store, { spec: { ...spec(datanetId.toString(), 6, 23), evalSplit: 0.25 }, budget: parseEther("20"), duration: 3600 });
    await loop.tick();
    const job = await getJob(net.conns[builder], posted.jobId);
    assert.equal(job.status, "submitted", context());
    const before = await read<bigint>("disputeCount", []);
    const auditorNode = verifiers.get(auditor)!;
    await auditorNode.tick();
    const audit = auditorNode.audits()[posted.jobId.toString()];
    assert.equal(audit?.outcome, "match", context());
    const [, , count] = await read<[string, string, number]>("checkpointsOf", [posted.jobId]);
    assert.equal(audit.leaves!.length, Number(count), "every leaf replayed, the last one with the result");
    assert.equal(await read<bigint>("disputeCount", []), before, "no challenge");
  });

  it("skips a job whose data it cannot read; drawn for a false challenge, the committee gets the keys from the net.custodian, replays and upholds the trainer", async () => {
    // an approval Datanet: its data is encrypted; the net.custodian releases keys to the trainer and to drawn verifiers only
    const enc = await createDatanet(net.conns[owner], net.ipfs.store, { name: "Austen Q&A (private)", policy: "approval", custodian: { publicKey: net.custodian.publicKey, url: net.custodian.url } });
    await contribute(net.conns[alice], net.ipfs.store, { datanetId: enc.datanetId, fileName: "alice.jsonl", content: jsonl(qa.slice(0, 2)) });
    await contribute(net.conns[bob], net.ipfs.store, { datanetId: enc.datanetId, fileName: "bob.jsonl", content: jsonl(qa.slice(2)) });
    await review(net.conns[owner], { datanetId: enc.datanetId, approve: [1n, 2n] });
    await grantAccess(net.conns[owner], { datanetId: enc.datanetId, account: net.conns[builder].account!.address, expiresAt: BigInt(Math.floor(Date.now() / 1000) + 86400), uses: 2 });
    const posted = await postJob(net.conns[builder], net.ipfs.store, { spec: spec(enc.datanetId.toString(), 4, 11), budget: parseEther("20"), duration: 3600 });
    const jobId = posted.jobId;
    await loop.tick();
    assert.equal((await getJob(net.conns[builder], jobId)).status, "submitted", context());
    await verifiers.get(auditor)!.tick();
    const audit = verifiers.get(auditor)!.audits()[jobId.toString()];
    assert.equal(audit?.outcome, "skipped", context());
    assert.match(audit.reason!, /data is unreadable to this node/);

    // the poster challenges without grounds and bisects toward checkpoint 1 with the trainer's published tree
    const adapterDir = join(mkdtempSync(join(tmpdir(), "fetched-")), "a");
    await fetchFileSet(net.ipfs.store, (await getJob(net.conns[builder], jobId)).result!.adapterCid, adapterDir);
    const adapter = parseAdapterManifest(JSON.parse(await readFile(join(adapterDir, "manifest.json"), "utf8")));
    const manifest = parseCheckpointManifest(await catJson(net.ipfs.store, adapter.checkpoints!.manifestCid, "checkpoint manifest"));
    const r = (await getJob(net.conns[builder], jobId)).result!;
    const tree = checkpointTree(jobId, manifest.leaves.map((l) => l.state as `0x${string}`), { adapterHash: r.adapterHash, attributionRoot: r.attributionRoot, attributionTotalWeight: r.attributionTotalWeight });
    const { disputeId } = await disputeJob(net.conns[builder], net.ipfs.store, jobId, "I do not believe it");
    const id = disputeId!;
    await net.untilPhase(id, "awaitingDraw", 8, async () => {
      await loop.tick();
      if ((await getDispute(net.conns[deployer], id)).phaseName === "challengerMove") await chooseChildToward(net.conns[builder], id, tree, 1);
    });
    assert.equal((await getDispute(net.conns[deployer], id)).phaseName, "awaitingDraw", context());
    await mine(5);
    const stakes = new Map<number, bigint>();
    const credits = new Map<number, bigint>();
    for (const who of verifiers.keys()) {
      stakes.set(who, (await verifierStake(net.conns[who], net.conns[who].account!.address)).stake);
      credits.set(who, await read<bigint>("withdrawable", [net.conns[who].account!.address]));
    }
    await net.untilPhase(id, "settled", 3, async () => {
      for (const v of verifiers.values()) await v.tick();
    });
    const d = await getDispute(net.conns[deployer], id);
    assert.equal(d.phaseName, "settled", context());
    assert.equal(d.trainerWon, true, "the replayed segment agrees with the trainer's state");
    assert.equal((await getJob(net.conns[builder], jobId)).status, "submitted", "the result stands");
    const members = (await read<string[]>("committeeOf", [id])).map((a) => a.toLowerCase());
    assert.equal(members.length, 3);
    const p = await read<{ verifierFee: bigint; verifierPenalty: bigint }>("params", []);
    for (const who of verifiers.keys()) {
      if (!members.includes(net.conns[who].account!.address.toLowerCase())) continue;
      const stakeNow = (await verifierStake(net.conns[who], net.conns[who].account!.address)).stake;
      if (who === lazy) assert.equal(stakeNow, stakes.get(lazy)! - p.verifierPenalty, "a drawn lazy verifier is penalised");
      else {
        // an honest member read the encrypted data: the net.custodian released the keys to it as a drawn verifier
        assert.ok(net.logs.some((l) => l.includes(`dispute ${id}: replayed checkpoint ${d.lo}`) && l.includes("agrees with")), context());
        assert.ok((await read<bigint>("withdrawable", [net.conns[who].account!.address])) >= credits.get(who)! + p.verifierFee, "a coherent member is paid from the bond");
      }
    }
    assert.equal(await read<bigint>("withdrawable", [net.conns[builder].account!.address]), 0n, "the false challenger's bond is gone");
  });

  it("catches a trainer that trains fewer steps than the job asks: the last checkpoint must be the run's end", async () => {
    const jobId = await submitShortRun(13);
    const [, , count] = await read<[string, string, number]>("checkpointsOf", [jobId]);
    assert.equal(count, 16);
    const auditorNode = verifiers.get(auditor)!;
    await auditorNode.tick();
    const audit = auditorNode.audits()[jobId.toString()];
    assert.equal(audit?.outcome, "mismatch", context());
    assert.deepEqual(audit.leaves, Array.from({ length: 16 }, (_, i) => i), "every checkpoint but the last matched");
    const id = BigInt(audit.disputeId!);
    await net.untilPhase(id, "awaitingDraw", 12, async () => {
      await loop.tick();
      await auditorNode.tick();
    });
    let d = await getDispute(net.conns[deployer], id);
    assert.equal(d.phaseName, "awaitingDraw", context());
    assert.equal(d.lo, 15, "bisected to the last checkpoint");
    assert.equal(d.moves, 8);
    await mine(5);
    await net.untilPhase(id, "settled", 3, async () => {
      for (const who of [honest1, honest2, lazy]) await verifiers.get(who)!.tick();
    });
    d = await getDispute(net.conns[deployer], id);
    assert.equal(d.phaseName, "settled", context());
    assert.equal(d.trainerWon, false, "the committee replayed to step 64, not to the trainer's step 32");
    assert.ok(net.logs.some((l) => l.includes(`dispute ${id}: replayed checkpoint 15 (steps 30..64): differs from`)), context());
    assert.equal((await getJob(net.conns[builder], jobId)).status, "refunded");
  });

  it("challenges a manifest whose checkpoints claim steps past the run's end: no replay reaches them, the committee votes UNAVAILABLE", async () => {
    // 4 epochs at a constant learning rate: the job's run is 8 steps; the trainer trains 8 epochs (16 steps): its 8
    // checkpoints are states of that longer run, and leaves 4..7 claim steps 10..16, which the job's run does not have
    delete faults.tamperAfterStep;
    faults.epochs = 8;
    const posted = await postJob(net.conns[builder], net.ipfs.store, { spec: spec(datanetId.toString(), 4, 29, "constant"), budget: parseEther("20"), duration: 3600 });
    const jobId = posted.jobId;
    try {
      await loop.tick();
    } finally {
      delete faults.epochs;
    }
    assert.equal((await getJob(net.conns[builder], jobId)).status, "submitted", context());
    const [, , count] = await read<[string, string, number]>("checkpointsOf", [jobId]);
    assert.equal(count, 8);
    const auditorNode = verifiers.get(auditor)!;
    await auditorNode.tick();
    const audit = auditorNode.audits()[jobId.toString()];
    assert.equal(audit?.outcome, "mismatch", `challenged, not retried${context()}`);
    assert.deepEqual(audit.leaves, [], "the spec alone shows it: nothing replayed");
    const id = BigInt(audit.disputeId!);
    const opened = await net.conns[deployer].publicClient.getContractEvents({ address: game().address, abi: game().abi, eventName: "ChallengeOpened", args: { disputeId: id }, fromBlock: 0n });
    const reason = (await catJson(net.ipfs.store, (opened[0].args as { reasonCID: string }).reasonCID, "dispute reason")) as { reason: string; evidence: { leaf: number; step: number; runSteps: number; replayedState?: string } };
    assert.equal(reason.evidence.leaf, 4);
    assert.equal(reason.evidence.step, 10);
    assert.equal(reason.evidence.runSteps, 8);
    assert.equal(reason.evidence.replayedState, undefined);
    assert.match(reason.reason, /checkpoint 4 claims step 10, past the end of the run the job's spec defines \(step 8: 4 training records, 4 epochs, batch 2 x 1 accumulation\)/);
    await net.untilPhase(id, "awaitingDraw", 8, async () => {
      await loop.tick();
      await auditorNode.tick();
    });
    let d = await getDispute(net.conns[deployer], id);
    assert.equal(d.phaseName, "awaitingDraw", context());
    assert.equal(d.lo, 4, "bisected to the first checkpoint past the run's end");
    assert.equal(d.moves, 6, "3 levels over 8 checkpoints");
    await mine(5);
    await net.untilPhase(id, "settled", 3, async () => {
      for (const who of [honest1, honest2, lazy]) await verifiers.get(who)!.tick();
    });
    d = await getDispute(net.conns[deployer], id);
    assert.equal(d.phaseName, "settled", context());
    assert.equal(d.trainerWon, false, "UNAVAILABLE is not the trainer's state");
    assert.equal(net.logs.filter((l) => l.includes(`dispute ${id}: voting UNAVAILABLE: checkpoint 4 claims step 10 (from step 8); the run the job's spec defines ends at step 8`)).length, 2, context());
    assert.equal((await getJob(net.conns[builder], jobId)).status, "refunded");
  });

  it("catches an inflated attribution: the run replays to the trainer's states, the result recomputed from it differs", async () => {
    faults.inflateAttribution = true;
    // one record held out: the attribution is the real influence run over the training's checkpoints
    const posted = await postJob(net.conns[builder], net.ipfs.store, { spec: { ...spec(datanetId.toString(), 16, 17), evalSplit: 0.25 }, budget: parseEther("20"), duration: 3600 });
    const jobId = posted.jobId;
    try {
      await loop.tick();
    } finally {
      delete faults.inflateAttribution;
    }
    const job = await getJob(net.conns[builder], jobId);
    assert.equal(job.status, "submitted", context());
    assert.ok(net.logs.some((l) => l.includes(`job ${jobId}: FAULT INJECTED: the attribution gives`)), context());
    const [, , count] = await read<[string, string, number]>("checkpointsOf", [jobId]);
    assert.equal(count, 16);
    const auditorNode = verifiers.get(auditor)!;
    await auditorNode.tick();
    const audit = auditorNode.audits()[jobId.toString()];
    assert.equal(audit?.outcome, "mismatch", context());
    assert.equal(audit.leaves!.length, 16, "every run state matched");
    const opened = await net.conns[deployer].publicClient.getContractEvents({ address: game().address, abi: game().abi, eventName: "ChallengeOpened", args: { disputeId: BigInt(audit.disputeId!) }, fromBlock: 0n });
    const reason = (await catJson(net.ipfs.store, (opened[0].args as { reasonCID: string }).reasonCID, "dispute reason")) as { evidence: { leaf: number; submittedResult: { attributionRoot: string; adapterHash: string }; recomputedResult: { attributionRoot: string; adapterHash: string } } };
    assert.equal(reason.evidence.leaf, 15);
    assert.equal(reason.evidence.submittedResult.attributionRoot, job.result!.attributionRoot);
    assert.notEqual(reason.evidence.recomputedResult.attributionRoot, job.result!.attributionRoot);
    assert.equal(reason.evidence.recomputedResult.adapterHash, job.result!.adapterHash, "the adapter itself is the honest one");
    const id = BigInt(audit.disputeId!);
    await net.untilPhase(id, "awaitingDraw", 12, async () => {
      await loop.tick();
      await auditorNode.tick();
    });
    let d = await getDispute(net.conns[deployer], id);
    assert.equal(d.phaseName, "awaitingDraw", context());
    assert.equal(d.lo, 15);
    await mine(5);
    await net.untilPhase(id, "settled", 3, async () => {
      for (const who of [honest1, honest2, lazy]) await verifiers.get(who)!.tick();
    });
    d = await getDispute(net.conns[deployer], id);
    assert.equal(d.phaseName, "settled", context());
    assert.equal(d.trainerWon, false, "the committee's recomputed result differs from the submitted one");
    assert.equal(net.logs.filter((l) => l.includes(`dispute ${id}: replayed checkpoint 15 (steps 30..32): differs from`)).length, 2, context());
    assert.equal((await getJob(net.conns[builder], jobId)).status, "refunded");
  });

  it("a trainer that withholds a checkpoint loses: the auditor challenges toward the segment that needs it, the committee votes UNAVAILABLE", async () => {
    faults.corruptCheckpointLeaf = 4; // leaf 4 names leaf 5's folder
    const posted = await postJob(net.conns[builder], net.ipfs.store, { spec: spec(datanetId.toString(), 16, 23), budget: parseEther("20"), duration: 3600 });
    const jobId = posted.jobId;
    try {
      await loop.tick();
    } finally {
      delete faults.corruptCheckpointLeaf;
    }
    assert.equal((await getJob(net.conns[builder], jobId)).status, "submitted", context());
    const auditorNode = verifiers.get(auditor)!;
    await auditorNode.tick();
    const audit = auditorNode.audits()[jobId.toString()];
    assert.equal(audit?.outcome, "mismatch", context());
    assert.match(audit.reason!, /published checkpoint 4 .* does not hash to its committed state/);
    const id = BigInt(audit.disputeId!);
    await net.untilPhase(id, "awaitingDraw", 12, async () => {
      await loop.tick();
      await auditorNode.tick();
    });
    let d = await getDispute(net.conns[deployer], id);
    assert.equal(d.phaseName, "awaitingDraw", context());
    assert.equal(d.lo, 5, "bisected to the segment that starts from the withheld checkpoint");
    await mine(5);
    await net.untilPhase(id, "settled", 3, async () => {
      for (const who of [honest1, honest2, lazy]) await verifiers.get(who)!.tick();
    });
    d = await getDispute(net.conns[deployer], id);
    assert.equal(d.phaseName, "settled", context());
    assert.equal(d.trainerWon, false, "UNAVAILABLE is not the trainer's state");
    assert.equal(net.logs.filter((l) => l.includes(`dispute ${id}: voting UNAVAILABLE`)).length, 2, context());
    assert.equal((await getJob(net.conns[builder], jobId)).status, "refunded");
  });

  it("settles a challenge whose trainer stays silent once its move clock is over", async () => {
    // an honest run is challenged while its trainer node is not running
    const posted = await postJob(net.conns[builder], net.ipfs.store, { spec: spec(datanetId.toString(), 4, 19), budget: parseEther("20"), duration: 3600 });
    const jobId = posted.jobId;
    await loop.tick();
    assert.equal((await getJob(net.conns[builder], jobId)).status, "submitted", context());
    const { disputeId } = await disputeJob(net.conns[builder], net.ipfs.store, jobId, "testing the clock");
    const id = disputeId!;
    const v = verifiers.get(honest1)!;
    await v.tick();
    assert.equal((await getDispute(net.conns[deployer], id)).phaseName, "trainerMove", "nothing to settle within the move time");
    const p = await read<{ moveTime: number }>("params", []);
    await net.conns[deployer].publicClient.request({ method: "evm_increaseTime" as never, params: [p.moveTime + 1] as never });
    await mine(1);
    await v.tick();
    const d = await getDispute(net.conns[deployer], id);
    assert.equal(d.phaseName, "settled", context());
    assert.equal(d.trainerWon, false, "the silent trainer loses on its clock");
    assert.equal((await getJob(net.conns[builder], jobId)).status, "refunded");
    assert.ok(net.logs.some((l) => l.includes(`dispute ${id}: settled (a party missed its move); the trainer loses`)), context());
  });

  it("a challenge opened with the web app (the poster's key) is played by a verifier node run with that key: it replays the run, bisects and wins", async () => {
    // the poster disputes in the browser; nobody else would play the challenger's moves, so the bond would be lost
    // on the first clock. Its own node (--verify --audit-rate 0 with the same key) adopts the challenge.
    const jobId = await submitShortRun(29);
    const p = await read<{ challengeBond: bigint }>("params", []);
    const before = await net.credit(builder);
    const { disputeId } = await disputeJob(net.conns[builder], net.ipfs.store, jobId, "the model did not learn the answers");
    const id = disputeId!;
    const posterNode = new Verifier({ conn: net.conns[builder], store: net.ipfs.store, custodianUrl: net.custodian.url, dataDir: mkdtempSync(join(tmpdir(), "verifier-poster-")), kernel, log: net.log("poster") }, { audit: false });
    await net.untilPhase(id, "awaitingDraw", 12, async () => {
      await loop.tick();
      await posterNode.tick();
    });
    assert.ok(net.logs.some((l) => l.includes(`challenge ${id} (job ${jobId}) was opened with this node's key elsewhere; its replay finds checkpoint 15 wrong`)), context());
    let d = await getDispute(net.conns[deployer], id);
    assert.equal(d.lo, 15, "bisected to the last checkpoint");
    assert.equal(d.moves, 8);
    await mine(5);
    // every staked node may be drawn here (the auditor too: it is not the challenger)
    await net.untilPhase(id, "settled", 4, async () => {
      for (const v of verifiers.values()) await v.tick();
    });
    d = await getDispute(net.conns[deployer], id);
    assert.equal(d.phaseName, "settled", context());
    assert.equal(d.trainerWon, false, context());
    assert.equal((await getJob(net.conns[builder], jobId)).status, "refunded");
    assert.ok((await net.credit(builder)) - before >= p.challengeBond, "the poster's bond came back");
  });

  it("a challenge opened with the node's key that cannot win is said so, and lost on the challenger's clock", async () => {
    const posted = await postJob(net.conns[builder], net.ipfs.store, { spec: spec(datanetId.toString(), 4, 31), budget: parseEther("20"), duration: 3600 });
    const jobId = posted.jobId;
    await loop.tick();
    const { disputeId } = await disputeJob(net.conns[builder], net.ipfs.store, jobId, "I do not like the answers");
    const id = disputeId!;
    const posterNode = new Verifier({ conn: net.conns[builder], store: net.ipfs.store, custodianUrl: net.custodian.url, dataDir: mkdtempSync(join(tmpdir(), "verifier-poster-")), kernel, log: net.log("poster") }, { audit: false });
    await posterNode.tick();
    assert.ok(net.logs.some((l) => l.includes(`challenge ${id} was opened with this node's key, but job ${jobId} replays exactly to its submitted result: the challenge cannot win`)), context());
    await loop.tick(); // the trainer reveals the root's children: the challenger's move
    await posterNode.tick();
    assert.equal((await getDispute(net.conns[deployer], id)).phaseName, "challengerMove", "the node does not play a challenge it cannot win");
    const { moveTime } = await read<{ moveTime: number }>("params", []);
    await net.conns[deployer].publicClient.request({ method: "evm_increaseTime" as never, params: [moveTime + 1] as never });
    await mine(1);
    await verifiers.get(honest1)!.tick();
    const d = await getDispute(net.conns[deployer], id);
    assert.equal(d.phaseName, "settled", context());
    assert.equal(d.trainerWon, true, "the silent challenger loses");
  });

  it("tributary-trainer --verify stakes as a verifier and runs its passes; the key is never printed", async () => {
    const hd = mnemonicToAccount("test test test test test test test test test test test junk", { addressIndex: 10 });
    const key = toHex(hd.getHdKey().privateKey!);
    await sendTx(net.conns[deployer], net.conns[deployer].contracts.OpenToken, "mint", [hd.address, parseEther("150")]);
    const env = {
      ...process.env,
      TRIBUTARY_PRIVATE_KEY: key,
      TRIBUTARY_RPC_URL: net.chain.rpcUrl,
      TRIBUTARY_CHAIN_ID: String(net.chain.chainId),
      TRIBUTARY_DEPLOYMENTS_FILE: net.chain.deploymentsFile,
      TRIBUTARY_IPFS_API_URL: net.ipfs.apiUrl,
      TRIBUTARY_CUSTODIAN_URL: net.custodian.url,
      TRIBUTARY_TRAINER_DIR: mkdtempSync(join(tmpdir(), "verifier-cli-")),
      TRIBUTARY_TRAINER_PORT: String(await freePort()),
    };
    const bin = fileURLToPath(new URL("../bin/tributary-trainer.ts", import.meta.url));
    const child = spawn(process.execPath, [bin, "--serve-only", "--verify", "--verify-stake", "100", "--audit-rate", "0", "--threads", "1"], { env, stdio: ["ignore", "pipe", "pipe"] });
    const output: string[] = [];
    child.stdout!.on("data", (d) => output.push(String(d)));
    child.stderr!.on("data", (d) => output.push(String(d)));
    try {
      const end = Date.now() + 60_000;
      while (!output.join("").includes("verifier: staked")) {
        if (Date.now() > end || child.exitCode !== null) throw new Error(`the verifier did not stake:\n${output.join("")}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal((await verifierStake(net.conns[deployer], hd.address)).stake, parseEther("100"));
      assert.match(output.join(""), /verifier mode: no audits, serving when drawn/);
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once("exit", r)));
    }
    assert.ok(!output.join("").includes(key.slice(2)), "the operator key is never printed");
  });
});
