import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { keccak256, parseEther, stringToHex } from "viem";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  challengeMove,
  checkpointProof,
  checkpointTree,
  commitCheckpoints,
  commitEvalClaim,
  commitVote,
  connect,
  defendDispute,
  disputeJob,
  decodeEvalVote,
  drawCommittee,
  EVAL_SHARDS,
  evalClaimOf,
  evalShardOf,
  evalVote,
  getDispute,
  getJob,
  revealedChildren,
  revealVote,
  sendTx,
  settleDispute,
  stakeVerifier,
  UNAVAILABLE_VERDICT,
  withdrawFromDisputeGame,
} from "../src/chain/index.ts";
import type { ChainConnection, ProtocolContentStore } from "../src/chain/index.ts";
import { startContentStore, startDevChain, TEST_KEYS } from "./helpers/devchain.ts";
import type { DevChain } from "./helpers/devchain.ts";

const state = (i: number, tag: string): Hex => keccak256(stringToHex(`${tag}-${i}`));

describe("checkpoint tree", () => {
  it("pads to a power of two and proves every leaf against the root", () => {
    const states = Array.from({ length: 5 }, (_, i) => state(i, "s"));
    const tree = checkpointTree(7n, states);
    assert.equal(tree.levels[0].length, 8, "padded to 8 leaves");
    assert.equal(tree.levels.length, 4, "depth 3 plus the leaves");
    for (let i = 0; i < 5; i++) {
      let h = tree.levels[0][i];
      checkpointProof(tree, i).forEach((sib, k) => {
        h = ((i >> k) & 1) === 0 ? keccak256(`${h}${sib.slice(2)}` as Hex) : keccak256(`${sib}${h.slice(2)}` as Hex);
      });
      assert.equal(h, tree.root, `leaf ${i} proves`);
    }
    assert.notEqual(checkpointTree(8n, states).root, tree.root, "the job id is in every leaf");
    assert.throws(() => checkpointTree(1n, [states[0]]), /2\.\.1025/);
  });
});

describe("eval votes", () => {
  it("pack loss, rank correlation and terms as the contract unpacks them, and round-trip", () => {
    const m = { loss: 1.234567891, shardLoss: 0.9, rho: 0.85, termsOk: true };
    const { verdict, witness } = evalVote(m);
    const v = BigInt(verdict);
    assert.equal(v >> 128n, 1_234_567_891n, "loss in the high 128 bits, 9 decimals");
    assert.equal((v >> 64n) & 0xffffffffffffffffn, BigInt(1 + Math.round(1.85 * 5000)), "rhoCode");
    assert.equal(v & 1n, 1n, "terms flag");
    assert.equal(BigInt(witness), 900_000_000n, "shard loss");
    const back = decodeEvalVote(verdict, witness)!;
    assert.equal(back.loss, 1.234567891);
    assert.ok(Math.abs(back.rho! - 0.85) < 1e-4);
    assert.equal(back.termsOk, true);
    assert.equal(decodeEvalVote(evalVote({ ...m, rho: null, termsOk: false }).verdict, witness)!.rho, null, "not measured");
    assert.equal(decodeEvalVote(UNAVAILABLE_VERDICT, UNAVAILABLE_VERDICT), null);
    assert.equal(BigInt(evalVote({ ...m, rho: -1 }).verdict) >> 64n & 0xffffffffffffffffn, 1n, "rho -1 is code 1, not 'not measured'");
    assert.throws(() => evalVote({ ...m, loss: Number.NaN }), /finite number above 0/);
  });
});

describe("dispute game through the SDK (hardhat node, deploy script)", () => {
  let chain: DevChain;
  const conns: ChainConnection[] = [];
  const [deployer, trainer, challenger] = [0, 1, 2];
  const verifiers = [3, 4, 5, 6, 7];
  let ipfs: Awaited<ReturnType<typeof startContentStore>>;
  let store: ProtocolContentStore;

  before(async () => {
    chain = await startDevChain();
    ipfs = await startContentStore(); // disputeJob pins its reason on the embedded IPFS node
    store = ipfs.store;
    for (const key of TEST_KEYS) {
      conns.push(await connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, deployments: chain.deploymentsFile, account: privateKeyToAccount(key), pollingInterval: 50 }));
    }
    const d = conns[deployer];
    for (const who of [deployer, trainer, challenger, ...verifiers]) {
      await sendTx(d, d.contracts.OpenToken, "mint", [conns[who].account!.address, parseEther("1000")]);
    }
  });
  after(async () => {
    await ipfs?.stop();
    await chain?.stop();
  });

  it("catches a trainer that made up its last checkpoints after 4 bisection levels, and pays the challenger", async () => {
    const d = conns[deployer];
    await sendTx(d, d.contracts.DatanetRegistry, "createDatanet", ["bafymeta", 0, 0n, []]);
    await sendTx(d, d.contracts.DatanetRegistry, "submitContribution", [1n, "bafyc", state(0, "c"), 1, 1, false]);
    await sendTx(d, d.contracts.DatanetRegistry, "approveContribution", [1n, 1n]);
    await sendTx(d, d.contracts.OpenToken, "approve", [d.contracts.JobMarket.address, parseEther("10")]);
    await sendTx(d, d.contracts.JobMarket, "postJob", [
      { specCID: "bafyspec", baseModelId: 1, parentModelId: 0n, datanetIds: [1n], versions: [1], budget: parseEther("10"), duration: 3600 },
    ]);
    const t = conns[trainer];
    await sendTx(t, t.contracts.OpenToken, "approve", [t.contracts.TrainerRegistry.address, parseEther("200")]);
    await sendTx(t, t.contracts.TrainerRegistry, "stake", [parseEther("200")]);
    await sendTx(t, t.contracts.JobMarket, "claimJob", [1n]);
    const honest = checkpointTree(1n, Array.from({ length: 16 }, (_, i) => state(i, "true")));
    const cheat = checkpointTree(1n, Array.from({ length: 16 }, (_, i) => state(i, i < 9 ? "true" : "made-up")));
    await commitCheckpoints(t, cheat);
    await sendTx(t, t.contracts.JobMarket, "submitResult", [
      1n,
      { adapterCID: "bafyadapter", adapterHash: state(0, "a"), metricsCID: "bafymetrics", attributionRoot: state(0, "r"), attributionTotalWeight: 1n, reportCID: "bafyreport" },
    ]);
    for (const v of verifiers) await stakeVerifier(conns[v], parseEther("100"));

    const opened = await disputeJob(conns[challenger], store, 1n, "the loss curve stops at step 9");
    assert.equal(opened.disputeId, 1n);
    assert.equal((await getJob(d, 1n)).status, "disputed");
    let moves = 0;
    for (;;) {
      const def = await defendDispute(t, 1n, cheat);
      if (def.move === "segment") break;
      const receipt = await t.publicClient.getTransactionReceipt({ hash: def.hash });
      await challengeMove(conns[challenger], 1n, revealedChildren(t, receipt)!, honest);
      moves++;
    }
    const fixed = await getDispute(d, 1n);
    assert.equal(moves, 4, "4 bisection levels over 16 checkpoints");
    assert.equal(fixed.lo, 9, "the first made-up checkpoint");
    assert.equal(fixed.phaseName, "awaitingDraw");
    await d.publicClient.request({ method: "hardhat_mine", params: ["0x5"] } as never);
    const { members } = await drawCommittee(d, 1n);
    assert.equal(members.length, 3);
    const byAddress = new Map(verifiers.map((v) => [conns[v].account!.address.toLowerCase(), conns[v]]));
    const vote = { verdict: state(9, "true"), witness: state(9, "steps"), salt: state(9, "salt") };
    for (const m of members) await commitVote(byAddress.get(m.toLowerCase())!, 1n, vote);
    for (const m of members) await revealVote(byAddress.get(m.toLowerCase())!, 1n, vote);
    const settled = await settleDispute(d, 1n);
    assert.equal(settled.trainerWins, false);
    assert.equal((await getJob(d, 1n)).status, "refunded");
    const paid = await withdrawFromDisputeGame(conns[challenger]);
    // Collateral 50 (the floor), fees 3 x 1: the challenger gets its 10 back plus half of the other 47.
    assert.equal(paid.amount, parseEther("10") + parseEther("47") / 2n);
  });
  it("settles an eval job on the committee's recomputed loss: an overstated claim loses without bisection", async () => {
    const d = conns[deployer];
    await sendTx(d, d.contracts.OpenToken, "approve", [d.contracts.JobMarket.address, parseEther("10")]);
    await sendTx(d, d.contracts.JobMarket, "postJob", [
      { specCID: "bafyspec2", baseModelId: 1, parentModelId: 0n, datanetIds: [1n], versions: [1], budget: parseEther("10"), duration: 3600 },
    ]);
    const jobId = 2n;
    const t = conns[trainer];
    await sendTx(t, t.contracts.JobMarket, "claimJob", [jobId]);
    await commitEvalClaim(t, jobId, 1.25, 0.01);
    assert.deepEqual(await evalClaimOf(d, jobId), { trainer: t.account!.address, loss: 1.25, tolerance: 0.01 });
    await sendTx(t, t.contracts.JobMarket, "submitResult", [
      jobId,
      { adapterCID: "bafyadapter", adapterHash: state(1, "a"), metricsCID: "bafymetrics", attributionRoot: state(1, "r"), attributionTotalWeight: 1n, reportCID: "bafyreport" },
    ]);
    const disputeId = (await disputeJob(conns[challenger], store, jobId, "its adapter scores 1.6 on the held-out records")).disputeId!;
    const opened = await getDispute(d, disputeId);
    assert.equal(opened.eval, true);
    assert.equal(opened.phaseName, "awaitingDraw", "no bisection");
    await d.publicClient.request({ method: "hardhat_mine", params: ["0x5"] } as never);
    const { members } = await drawCommittee(d, disputeId);
    const shard = await evalShardOf(d, disputeId);
    assert.ok(shard >= 0 && shard < EVAL_SHARDS);
    const byAddress = new Map(verifiers.map((v) => [conns[v].account!.address.toLowerCase(), conns[v]]));
    const votes = members.map((_, i) => ({ ...evalVote({ loss: 1.6 + i * 0.002, shardLoss: 1.5 + i * 0.002, rho: 0.97, termsOk: true }), salt: state(i, "salt") }));
    for (const [i, m] of members.entries()) await commitVote(byAddress.get(m.toLowerCase())!, disputeId, votes[i]);
    for (const [i, m] of members.entries()) await revealVote(byAddress.get(m.toLowerCase())!, disputeId, votes[i]);
    const settled = await settleDispute(d, disputeId);
    assert.equal(settled.trainerWins, false, "1.6 is beyond 1.25 + 1%");
    assert.equal((await getJob(d, jobId)).status, "refunded");
  });
});
