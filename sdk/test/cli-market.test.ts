// The CLI for the market side: trainer register/stake/unstake, job accept, model list/show,
// rewards show/claim (proof from the attribution report on IPFS), channel open/topup/withdraw.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { keccak256, parseEther, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  addJson,
  balanceOf,
  claimJob,
  connect,
  contribute,
  createDatanet,
  depositRevenue,
  review,
  sendTx,
  submitResult,
} from "../src/chain/index.ts";
import type { ChainConnection } from "../src/chain/index.ts";
import { buildAttributionReport } from "../src/merkle/index.ts";
import { cliRunner, ok } from "./helpers/cli.ts";
import { startContentStore, startDevChain, TEST_KEYS } from "./helpers/devchain.ts";
import type { DevChain } from "./helpers/devchain.ts";

describe("tributary CLI: trainers, models, rewards, channels", () => {
  let chain: DevChain;
  let ipfs: Awaited<ReturnType<typeof startContentStore>>;
  let run: ReturnType<typeof cliRunner>;
  const conns: ChainConnection[] = [];
  const [DEPLOYER, OWNER, ALICE, BUILDER, TRAINER, BOB, PAYER] = [0, 1, 2, 3, 4, 5, 6];
  const addr = (i: number) => privateKeyToAccount(TEST_KEYS[i]).address;
  const cli = (who: number | undefined, ...args: string[]) =>
    run(who === undefined ? undefined : TEST_KEYS[who], ...args);
  let weights: Map<string, bigint>;

  before(async () => {
    [chain, ipfs] = await Promise.all([startDevChain(), startContentStore()]);
    run = cliRunner({
      rpcUrl: chain.rpcUrl,
      deploymentsFile: chain.deploymentsFile,
      ipfsApi: ipfs.apiUrl,
      cwd: mkdtempSync(join(tmpdir(), "cli-market-")),
    });
    for (let i = 0; i <= PAYER; i++) {
      conns.push(
        await connect({
          rpcUrl: chain.rpcUrl,
          chainId: chain.chainId,
          deployments: chain.deploymentsFile,
          account: privateKeyToAccount(TEST_KEYS[i]),
          pollingInterval: 50,
        }),
      );
    }
    const d = conns[DEPLOYER];
    for (const who of [BUILDER, TRAINER, PAYER])
      await sendTx(d, d.contracts.OpenToken, "mint", [addr(who), parseEther("1000")]);
    await sendTx(d, d.contracts.ModelRegistry, "registerBaseModel", [
      "tiny-llama",
      "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
    ]);
    await createDatanet(conns[OWNER], ipfs.store, { name: "Open wiki", policy: "open" });
    await contribute(conns[ALICE], ipfs.store, {
      datanetId: 1n,
      fileName: "a.jsonl",
      content: '{"text":"alpha"}\n',
    });
    await contribute(conns[BOB], ipfs.store, {
      datanetId: 1n,
      fileName: "b.jsonl",
      content: '{"text":"beta"}\n',
    });
    await review(conns[OWNER], { datanetId: 1n, approve: [1n, 2n] });
  });
  after(async () => {
    await ipfs?.stop();
    await chain?.stop();
  });

  it("registers and stakes a trainer", async () => {
    const r = await ok(
      cli(
        TRAINER,
        "trainer",
        "register",
        "--endpoint",
        "http://127.0.0.1:8787",
        "--base-models",
        "tiny-llama",
        "--stake",
        "150",
      ),
    );
    assert.equal(r.staked, parseEther("150").toString());
    const shown = await ok(cli(undefined, "trainer", "show", addr(TRAINER)));
    assert.equal(shown.profileCid, r.profileCid);
    assert.equal(shown.eligible, true);
  });

  it("takes a job from post to an accepted model, then pays contributors by attribution", async () => {
    const posted = await ok(
      cli(BUILDER, "job", "post", "--base-model", "tiny-llama", "--data", "1", "--budget", "40"),
    );
    await claimJob(conns[TRAINER], BigInt(posted.jobId));
    const { report, tree } = buildAttributionReport([
      { datanetId: 1n, contributionId: 1n, contributor: addr(ALICE), score: 3 },
      { datanetId: 1n, contributionId: 2n, contributor: addr(BOB), score: 1 },
      // bob's copy of alice's contribution: the trainer found it before training; it earns nothing
      { datanetId: 1n, contributionId: 3n, contributor: addr(BOB), score: 3, duplicateOf: { datanetId: "1", contributionId: "1", kind: "exact", similarity: 1 } },
    ]);
    weights = new Map(report.contributors.map((c) => [c.account, BigInt(c.weight)]));
    const reportCid = await addJson(ipfs.store, report);
    await submitResult(conns[TRAINER], BigInt(posted.jobId), {
      adapterCid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
      adapterHash: keccak256(toHex("adapter")),
      metricsCid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
      attributionRoot: tree.root,
      attributionTotalWeight: BigInt(report.totalWeight),
      reportCid,
    });
    const accepted = await ok(cli(BUILDER, "job", "accept", posted.jobId));
    assert.equal(accepted.modelId, "1");
    const models = await ok(cli(undefined, "model", "list"));
    assert.deepEqual(
      models.map((m: { modelId: string; jobId: string; owner: string; reportCid: string }) => [
        m.modelId,
        m.jobId,
        m.owner,
        m.reportCid,
      ]),
      [["1", posted.jobId, addr(BUILDER), reportCid]],
    );
    assert.equal((await ok(cli(undefined, "model", "show", "1"))).attributionRoot, tree.root);

    await depositRevenue(conns[PAYER], 1n, parseEther("100"));
    const rd = conns[DEPLOYER].contracts.RewardDistributor;
    const expected = await conns[DEPLOYER].publicClient.readContract({
      address: rd.address,
      abi: rd.abi,
      functionName: "claimable",
      args: [1n, 1n, 1n, weights.get(addr(ALICE))!], // alice's contribution 1 of Datanet 1
    });
    assert.ok(expected > 0n);
    const shown = await ok(cli(undefined, "rewards", "show", "1", "--account", addr(ALICE)));
    assert.equal(shown.weight, weights.get(addr(ALICE))!.toString());
    assert.equal(shown.claimable, expected.toString());
    assert.equal(shown.method, "tracin");
    assert.deepEqual(shown.contributions, [{ datanetId: "1", contributionId: "1", score: 3, weight: weights.get(addr(ALICE))!.toString() }]);
    const bobs = (await ok(cli(undefined, "rewards", "show", "1", "--account", addr(BOB)))).contributions;
    assert.deepEqual(
      bobs.map((c: { contributionId: string; weight: string; duplicateOf?: { contributionId: string } }) => [c.contributionId, c.weight, c.duplicateOf?.contributionId]),
      [
        ["2", weights.get(addr(BOB))!.toString(), undefined],
        ["3", "0", "1"],
      ],
    );
    const before = await balanceOf(conns[ALICE], addr(ALICE));
    const claimed = await ok(cli(ALICE, "rewards", "claim", "1"));
    assert.equal(claimed.amount, expected.toString());
    assert.equal(await balanceOf(conns[ALICE], addr(ALICE)), before + expected);
    const again = await cli(ALICE, "rewards", "claim", "1");
    assert.equal(again.code, 1);
    assert.equal(again.json.error.errorName, "NothingToClaim");
  });

  it("disputes a submitted result within the challenge window (with a bond; not the job's own trainer)", async () => {
    const posted = await ok(
      cli(BUILDER, "job", "post", "--base-model", "tiny-llama", "--data", "1", "--budget", "5"),
    );
    await claimJob(conns[TRAINER], BigInt(posted.jobId));
    const cid = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
    await submitResult(conns[TRAINER], BigInt(posted.jobId), {
      adapterCid: cid,
      adapterHash: keccak256(toHex("adapter 2")),
      metricsCid: cid,
      attributionRoot: `0x${"00".repeat(32)}`,
      attributionTotalWeight: 0n,
      reportCid: "",
    });
    // anyone with a bond may challenge (the dispute game), except the job's own trainer
    const ownJob = await cli(TRAINER, "job", "dispute", posted.jobId, "--reason", "self");
    assert.equal(ownJob.json.error.errorName, "TrainerCannotChallenge");
    const disputed = await ok(
      cli(BUILDER, "job", "dispute", posted.jobId, "--reason", "eval loss is worse than the base model"),
    );
    assert.ok(disputed.reasonCid);
    assert.equal(disputed.replay, true, "no eval claim: a replay dispute, whose challenger must play the bisection");
    const status = await ok(cli(undefined, "job", "status", posted.jobId));
    assert.equal(status.status, "disputed");
    assert.equal(status.result.adapterHash, keccak256(toHex("adapter 2")));
  });

  it("moves stake into cooldown", async () => {
    const r = await ok(cli(TRAINER, "trainer", "unstake", "50"));
    assert.ok(BigInt(r.availableAt) > BigInt(Math.floor(Date.now() / 1000)));
    const shown = await ok(cli(undefined, "trainer", "show", addr(TRAINER)));
    assert.equal(shown.unstaking, parseEther("50").toString());
    const early = await cli(TRAINER, "trainer", "unstake", "--withdraw");
    assert.equal(early.json.error.errorName, "CooldownActive");
  });

  it("opens, tops up and starts withdrawing a payment channel", async () => {
    const opened = await ok(cli(PAYER, "channel", "open", addr(TRAINER), "1", "10"));
    const topped = await ok(cli(PAYER, "channel", "topup", opened.channelId, "5"));
    assert.equal(topped.deposit, parseEther("15").toString());
    const requested = await ok(cli(PAYER, "channel", "withdraw", opened.channelId));
    assert.equal(requested.step, "requested");
    const early = await cli(PAYER, "channel", "withdraw", opened.channelId);
    assert.equal(early.code, 1);
    assert.equal(early.json.error.errorName, "WithdrawalTimeoutActive");
    assert.match(early.json.error.message, /can be withdrawn from/);
  });
});
