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
import { mnemonicToAccount, privateKeyToAccount } from "viem/accounts";
import type { LocalAccount } from "viem";
import { catJson, connect, contribute, createDatanet, disputeJob, evalClaimOf, getDispute, getJob, getTrainer, postJob, review, sendTx, stake } from "@tributary/sdk/chain";
import type { ChainConnection } from "@tributary/sdk/chain";
import { startCustodian } from "@tributary/sdk/custody";
import type { RunningCustodian } from "@tributary/sdk/custody";
import { addFileSet } from "@tributary/sdk/files";
import { selectKernel } from "@tributary/engine";
import type { Kernel } from "@tributary/engine";
import { startContentStore, startDevChain, TEST_KEYS } from "../../sdk/test/helpers/devchain.ts";
import type { DevChain } from "../../sdk/test/helpers/devchain.ts";
import { TrainerLoop } from "../src/jobs/loop.ts";
import { JobStore } from "../src/jobs/store.ts";
import { Verifier } from "../src/jobs/verify.ts";
import { BASE_DIR, jsonl, qa } from "./helpers/austen-qa.ts";

const more: Array<[string, string]> = [
  ["Who proposes to Elizabeth first?", "Mr. Collins, the clergyman."],
  ["Whom does Jane Bennet marry?", "Mr. Bingley, of Netherfield."],
];

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
  const faults: { evalLossFactor?: number } = { evalLossFactor: 0.5 };
  let loop: TrainerLoop;
  const verifiers = new Map<number, Verifier>();
  let datanetId = 0n;

  before(async () => {
    chain = await startDevChain();
    ipfs = await startContentStore();
    for (const account of accounts) conns.push(await connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, deployments: chain.deploymentsFile, account, pollingInterval: 50 }));
    custodian = await startCustodian({ conn: conns[owner], store: ipfs.store, stateDir: mkdtempSync(join(tmpdir(), "custodian-")), port: 0 });
    const d = conns[deployer];
    for (const who of [builder, trainer, auditor, honest1, honest2, lazy]) await sendTx(d, d.contracts.OpenToken, "mint", [conns[who].account!.address, parseEther("1000")]);
    await sendTx(d, d.contracts.ModelRegistry, "registerBaseModel", ["tributary-austen-4m", (await addFileSet(ipfs.store, BASE_DIR)).cid]);
    ({ datanetId } = await createDatanet(conns[owner], ipfs.store, { name: "Austen Q&A (open)", policy: "open" }));
    await contribute(conns[alice], ipfs.store, { datanetId, fileName: "alice.jsonl", content: jsonl(qa.slice(0, 2)) });
    await contribute(conns[bob], ipfs.store, { datanetId, fileName: "bob.jsonl", content: jsonl(qa.slice(2)) });
    await contribute(conns[alice], ipfs.store, { datanetId, fileName: "alice-2.jsonl", content: jsonl(more) });
    await review(conns[owner], { datanetId, approve: [1n, 2n, 3n] });
    await stake(conns[trainer], parseEther("1000"));
    kernel = await selectKernel("wasm", 1);
    const dataDir = mkdtempSync(join(tmpdir(), "trainer-node-"));
    loop = new TrainerLoop({ conn: conns[trainer], store: ipfs.store, custodianUrl: custodian.url, dataDir, jobs: await JobStore.open(join(dataDir, "jobs")), kernel, faults, log: log("trainer") }, { pollMs: 50 });
    const verifier = (who: number, name: string, opts: ConstructorParameters<typeof Verifier>[1]) =>
      new Verifier({ conn: conns[who], store: ipfs.store, custodianUrl: custodian.url, dataDir: mkdtempSync(join(tmpdir(), `verifier-${name}-`)), kernel, log: log(name) }, { stake: parseEther("100"), ...opts });
    verifiers.set(auditor, verifier(auditor, "auditor", {}));
    verifiers.set(honest1, verifier(honest1, "honest1", { audit: false }));
    verifiers.set(honest2, verifier(honest2, "honest2", { audit: false }));
    verifiers.set(lazy, verifier(lazy, "lazy", { lazy: true }));
    for (const v of verifiers.values()) await v.tick(); // each stakes
  });
  after(async () => {
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
  /** Draws the committee and lets the verifier nodes serve: commit, reveal, settle. `expected`: who must sit. */
  const runCommittee = async (disputeId: bigint, expected?: number[]) => {
    let d = await getDispute(conns[deployer], disputeId);
    assert.equal(d.eval, true, "an eval dispute");
    assert.equal(d.phaseName, "awaitingDraw", `no bisection: the committee is next${context()}`);
    await mine(5);
    await verifiers.get(honest1)!.tick();
    const members = (await read<string[]>("committeeOf", [disputeId])).map((a) => a.toLowerCase()).sort();
    assert.equal(members.length, 3, context());
    if (expected) assert.deepEqual(members, expected.map((i) => conns[i].account!.address.toLowerCase()).sort(), context());
    for (let round = 0; round < 2; round++) for (const v of verifiers.values()) await v.tick();
    d = await getDispute(conns[deployer], disputeId);
    assert.equal(d.phaseName, "settled", context());
    return { d, members };
  };

  it("catches a trainer that claims a better held-out loss than its adapter reaches: audit, challenge, committee, slash", async () => {
    const p = await read<{ verifierFee: bigint; verifierPenalty: bigint; challengeBond: bigint }>("params", []);
    const posted = await postJob(conns[builder], ipfs.store, { spec: spec(datanetId.toString(), 3), budget: parseEther("20"), duration: 3600 });
    const jobId = posted.jobId;
    await loop.tick();
    const job = await getJob(conns[builder], jobId);
    assert.equal(job.status, "submitted", `the trainer node submitted${context()}`);
    const claim = await evalClaimOf(conns[builder], jobId);
    assert.equal(claim.trainer.toLowerCase(), conns[trainer].account!.address.toLowerCase(), "the trainer committed an eval claim");
    assert.equal(claim.tolerance, 0.01);
    assert.ok(logs.some((l) => l.includes("FAULT INJECTED: claiming the held-out eval loss")), context());
    const trainerBefore = await getTrainer(conns[trainer], conns[trainer].account!.address);

    await verifiers.get(auditor)!.tick();
    const audit = verifiers.get(auditor)!.audits()[jobId.toString()];
    assert.equal(audit?.outcome, "mismatch", context());
    const disputeId = BigInt(audit.disputeId!);
    const opened = await conns[deployer].publicClient.getContractEvents({ address: game().address, abi: game().abi, eventName: "ChallengeOpened", args: { disputeId }, fromBlock: 0n });
    const reason = (await catJson(ipfs.store, (opened[0].args as { reasonCID: string }).reasonCID, "dispute reason")) as { evidence: { claim: { loss: number }; recomputed: { loss: number } } };
    assert.ok(Math.abs(reason.evidence.recomputed.loss * 0.5 - reason.evidence.claim.loss) < 1e-6, "the evidence: the recomputed loss is twice the claim");

    // the challenger (the auditor) is excluded: the 3 other verifier nodes serve
    const { d } = await runCommittee(disputeId, [honest1, honest2, lazy]);
    assert.equal(d.trainerWon, false, "the committee's median loss is above the claim plus 1%");
    assert.equal(logs.filter((l) => l.includes(`dispute ${disputeId}: recomputed the eval job's held-out loss`)).length, 2, context());
    assert.equal((await getJob(conns[builder], jobId)).status, "refunded");
    const trainerAfter = await getTrainer(conns[trainer], conns[trainer].account!.address);
    assert.equal(trainerAfter.staked, trainerBefore.staked - job.collateral!, "the trainer's collateral was slashed");
    const stakeOf = async (who: number) => (await read<{ stake: bigint }>("getVerifier", [conns[who].account!.address])).stake;
    const credit = async (who: number) => read<bigint>("withdrawable", [conns[who].account!.address]);
    assert.equal(await stakeOf(lazy), parseEther("100") - p.verifierPenalty, "the lazy verifier lost the penalty");
    for (const who of [honest1, honest2]) assert.equal(await credit(who), p.verifierFee + p.verifierPenalty / 2n, "fee plus half the penalty");
    assert.ok((await credit(auditor)) > p.challengeBond, "the challenger got its bond back and a reward");
  });

  it("an honest eval job passes the audit, and a false challenge of it loses the challenger its bond", async () => {
    delete faults.evalLossFactor;
    const p = await read<{ verifierFee: bigint; challengeBond: bigint }>("params", []);
    const posted = await postJob(conns[builder], ipfs.store, { spec: spec(datanetId.toString(), 4), budget: parseEther("20"), duration: 3600 });
    await loop.tick();
    assert.equal((await getJob(conns[builder], posted.jobId)).status, "submitted", context());
    const before = await read<bigint>("disputeCount", []);
    await verifiers.get(auditor)!.tick();
    assert.equal(verifiers.get(auditor)!.audits()[posted.jobId.toString()]?.outcome, "match", context());
    assert.equal(await read<bigint>("disputeCount", []), before, "the auditor opened nothing");
    assert.ok(logs.some((l) => l.includes(`job ${posted.jobId}: eval audit passed`) && /Spearman 1\.000/.test(l)), `the attribution recomputes exactly on wasm${context()}`);

    // the poster challenges anyway
    const { disputeId } = await disputeJob(conns[builder], ipfs.store, posted.jobId, "I expected a better model");
    const staked = [auditor, honest1, honest2, lazy];
    const credits = await Promise.all(staked.map((w) => read<bigint>("withdrawable", [conns[w].account!.address])));
    const { d, members } = await runCommittee(disputeId!);
    assert.equal(d.trainerWon, true, "the recomputed loss is the claim");
    assert.equal((await getJob(conns[builder], posted.jobId)).status, "submitted", "back to submitted");
    for (const [i, who] of staked.entries()) {
      if (who === lazy || !members.includes(conns[who].account!.address.toLowerCase())) continue;
      assert.ok((await read<bigint>("withdrawable", [conns[who].account!.address])) >= credits[i] + p.verifierFee, "each honest verifier on the committee paid from the bond");
    }
    assert.equal(await read<bigint>("withdrawable", [conns[builder].account!.address]), 0n, "the false challenger's bond is gone");
  });
});
