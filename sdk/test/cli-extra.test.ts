// The CLI for the rest of the protocol: curators, the trainer side of a job (claim, submit), finalize
// after the challenge window, reclaim after a missed deadline, model prices, share payouts, Datanet pool
// distributions, and payment-channel vouchers with session keys.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { keccak256, parseEther, toHex } from "viem";
import type { Command } from "commander";
import type { Abi } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  addJson,
  balanceOf,
  connect,
  contribute,
  createDatanet,
  depositRevenue,
  openChannel,
  registerTrainer,
  review,
  sendTx,
} from "../src/chain/index.ts";
import type { ChainConnection } from "../src/chain/index.ts";
import { buildProgram } from "../src/cli/main.ts";
import { buildAttributionReport } from "../src/merkle/index.ts";
import { cliRunner, ok } from "./helpers/cli.ts";
import { startContentStore, startDevChain, TEST_KEYS } from "./helpers/devchain.ts";
import type { DevChain } from "./helpers/devchain.ts";

const CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";

describe("tributary CLI: the remaining protocol actions", () => {
  let chain: DevChain;
  let ipfs: Awaited<ReturnType<typeof startContentStore>>;
  let run: ReturnType<typeof cliRunner>;
  let dir: string;
  const conns: ChainConnection[] = [];
  const [DEPLOYER, OWNER, ALICE, BUILDER, TRAINER, BOB, PAYER, CURATOR] = [0, 1, 2, 3, 4, 5, 6, 7];
  const addr = (i: number) => privateKeyToAccount(TEST_KEYS[i]).address;
  const cli = (who: number | undefined, ...args: string[]) =>
    run(who === undefined ? undefined : TEST_KEYS[who], ...args);
  const read = (
    contract: "JobMarket" | "RewardDistributor" | "ModelRegistry",
    functionName: string,
    args: unknown[] = [],
  ) => {
    const c = conns[DEPLOYER].contracts[contract];
    const call = { address: c.address, abi: c.abi as Abi, functionName, args };
     
    return conns[DEPLOYER].publicClient.readContract(call) as Promise<any>;
  };
  const advance = async (seconds: number) => {
    for (const [method, params] of [
      ["evm_increaseTime", [seconds]],
      ["evm_mine", []],
    ] as const)
      await fetch(chain.rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      });
  };
  const post = async (budget: string, ...extra: string[]) =>
    (
      await ok(
        cli(
          BUILDER,
          "job",
          "post",
          "--base-model",
          "tiny-llama",
          "--data",
          "1",
          "--budget",
          budget,
          ...extra,
        ),
      )
    ).jobId as string;

  before(async () => {
    [chain, ipfs] = await Promise.all([startDevChain(), startContentStore()]);
    dir = mkdtempSync(join(tmpdir(), "cli-extra-"));
    run = cliRunner({
      rpcUrl: chain.rpcUrl,
      deploymentsFile: chain.deploymentsFile,
      ipfsApi: ipfs.apiUrl,
      cwd: dir,
    });
    for (let i = 0; i <= CURATOR; i++)
      conns.push(
        await connect({
          rpcUrl: chain.rpcUrl,
          chainId: chain.chainId,
          deployments: chain.deploymentsFile,
          account: privateKeyToAccount(TEST_KEYS[i]),
          pollingInterval: 50,
        }),
      );
    const d = conns[DEPLOYER];
    for (const who of [BUILDER, TRAINER, PAYER])
      await sendTx(d, d.contracts.OpenToken, "mint", [addr(who), parseEther("1000")]);
    await sendTx(d, d.contracts.ModelRegistry, "registerBaseModel", ["tiny-llama", CID]);
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
    await registerTrainer(conns[TRAINER], ipfs.store, {
      endpoint: "http://127.0.0.1:8787",
      stake: parseEther("300"),
    });
  });
  after(async () => {
    await ipfs?.stop();
    await chain?.stop();
  });

  it("adds and removes Datanet curators (owner only)", async () => {
    const notOwner = await cli(ALICE, "datanet", "curators", "add", "1", addr(CURATOR));
    assert.equal(notOwner.code, 1);
    assert.equal(notOwner.json.error.errorName, "NotDatanetOwner");
    assert.equal((await ok(cli(OWNER, "datanet", "curators", "add", "1", addr(BOB)))).isCurator, true);
    assert.equal((await ok(cli(OWNER, "datanet", "curators", "add", "1", addr(CURATOR)))).isCurator, true);
    assert.equal((await ok(cli(OWNER, "datanet", "curators", "remove", "1", addr(BOB)))).isCurator, false);
  });

  it("claims, submits, finalizes after the challenge window, prices the model and pays its shares", async () => {
    const jobId = await post("40");
    const claimed = await ok(cli(TRAINER, "job", "claim", jobId));
    assert.ok(BigInt(claimed.dueAt) > 0n);
    const { report, tree } = buildAttributionReport([
      { datanetId: 1n, contributionId: 1n, contributor: addr(ALICE), score: 3 },
      { datanetId: 1n, contributionId: 2n, contributor: addr(BOB), score: 1 },
    ]);
    const reportCid = await addJson(ipfs.store, report);
    const adapterHash = keccak256(toHex("adapter"));
    const args = ["--adapter", CID, "--adapter-hash", adapterHash, "--metrics", CID, "--report", reportCid];
    const wrongTrainer = await cli(ALICE, "job", "submit", jobId, ...args);
    assert.equal(wrongTrainer.json.error.errorName, "NotTrainer");
    await ok(cli(TRAINER, "job", "submit", jobId, ...args));
    const status = await ok(cli(undefined, "job", "status", jobId));
    assert.equal(status.status, "submitted");
    assert.equal(status.evalClaim, null, "no eval claim: the trainer committed none");
    assert.deepEqual(
      [status.result.attributionRoot, status.result.attributionTotalWeight, status.result.adapterHash],
      [tree.root, report.totalWeight, adapterHash],
    );

    const early = await cli(ALICE, "job", "finalize", jobId);
    assert.equal(early.json.error.errorName, "ChallengeWindowOpen");
    await advance(Number(await read("JobMarket", "challengeWindow")) + 1);
    const fin = await ok(cli(ALICE, "job", "finalize", jobId));
    assert.equal(fin.modelId, "1");
    assert.equal((await ok(cli(undefined, "job", "status", jobId))).status, "finalized");

    const bases = await ok(cli(undefined, "model", "base-models"));
    assert.equal(bases.length, Number(await read("ModelRegistry", "baseModelCount")));
    assert.deepEqual(bases.map((b: { name: string; cid: string }) => [b.name, b.cid]).at(-1), [
      "tiny-llama",
      CID,
    ]);
    const notOwner = await cli(ALICE, "model", "set-price", "1", "0.002");
    assert.equal(notOwner.json.error.errorName, "NotModelOwner");
    await ok(cli(BUILDER, "model", "set-price", "1", "0.002"));
    assert.equal(
      (await ok(cli(undefined, "model", "show", "1"))).inferencePrice,
      parseEther("0.002").toString(),
    );

    await depositRevenue(conns[PAYER], 1n, parseEther("100"));
    const split = await read("RewardDistributor", "currentSplit");
    const before = await balanceOf(conns[BUILDER], addr(BUILDER));
    const paid = await ok(cli(ALICE, "rewards", "pay-shares", "1"));
    const ownerShare = (parseEther("100") * BigInt(split.ownerBps)) / 10_000n;
    assert.equal(paid.ownerAmount, ownerShare.toString());
    assert.equal(paid.owner, addr(BUILDER));
    assert.equal(await balanceOf(conns[BUILDER], addr(BUILDER)), before + ownerShare);
  });

  it("reclaims a job whose trainer missed the deadline", async () => {
    const jobId = await post("5", "--duration", "2m");
    await ok(cli(TRAINER, "job", "claim", jobId));
    const early = await cli(ALICE, "job", "reclaim", jobId);
    assert.equal(early.json.error.errorName, "DeadlineNotPassed");
    await advance(121);
    const r = await ok(cli(ALICE, "job", "reclaim", jobId));
    assert.equal(r.trainer, addr(TRAINER));
    assert.equal(r.slashed, (await read("JobMarket", "slashAmount")).toString());
    assert.equal((await ok(cli(undefined, "job", "status", jobId))).status, "open");
  });

  it("freezes a Datanet pool into a distribution that contributors claim with proofs from its report", async () => {
    const pool: bigint = await read("RewardDistributor", "poolBalance", [1n]);
    assert.ok(pool > 0n, "the finalized job's data fee funds the pool");
    const weights = join(dir, "weights.json");
    writeFileSync(
      weights,
      JSON.stringify([
        { account: addr(ALICE), weight: "3" },
        { account: addr(BOB), weight: 1 },
      ]),
    );
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify([{ account: "0x1234", weight: "3" }]));
    assert.match(
      (await cli(OWNER, "rewards", "pool-distribute", "1", bad)).json.error.message,
      /entry 0: account/,
    );
    // only the Datanet's owner freezes its pool: a curator alone cannot pick the root
    const curator = await cli(CURATOR, "rewards", "pool-distribute", "1", weights);
    assert.equal(curator.json.error.errorName, "NotDatanetOwner");
    const stranger = await cli(ALICE, "rewards", "pool-distribute", "1", weights);
    assert.equal(stranger.json.error.errorName, "NotDatanetOwner");
    const dist = await ok(cli(OWNER, "rewards", "pool-distribute", "1", weights));
    assert.equal(dist.amount, pool.toString());
    assert.equal(dist.totalWeight, "4");

    const before = await balanceOf(conns[ALICE], addr(ALICE));
    const claimed = await ok(cli(ALICE, "rewards", "pool-claim", dist.distributionId));
    assert.equal(claimed.amount, ((pool * 3n) / 4n).toString());
    assert.equal(await balanceOf(conns[ALICE], addr(ALICE)), before + (pool * 3n) / 4n);
    assert.equal((await cli(ALICE, "rewards", "pool-claim", dist.distributionId)).code, 1);
    const outsider = await cli(PAYER, "rewards", "pool-claim", dist.distributionId);
    assert.match(outsider.json.error.message, /not among the distribution's contributors/);
  });

  it("signs vouchers (payer or session key) that the provider redeems", async () => {
    const { channelId } = await openChannel(conns[PAYER], {
      provider: addr(TRAINER),
      modelId: 1n,
      amount: parseEther("10"),
    });
    const set = await ok(
      cli(PAYER, "channel", "session-key", "set", channelId, addr(CURATOR), "--ttl", "1h"),
    );
    assert.equal(set.sessionKey, addr(CURATOR));
    const file = join(dir, "v1.json");
    await ok(cli(CURATOR, "channel", "voucher", channelId, "2", "--out", file));
    assert.equal(JSON.parse(readFileSync(file, "utf8")).signer, addr(CURATOR));
    const notProvider = await cli(PAYER, "channel", "redeem", file);
    assert.equal(notProvider.json.error.errorName, "NotProvider");
    const r1 = await ok(cli(TRAINER, "channel", "redeem", file));
    assert.deepEqual([r1.amount, r1.signer], [parseEther("2").toString(), addr(CURATOR)]);

    const forged = join(dir, "forged.json");
    await ok(cli(ALICE, "channel", "voucher", channelId, "5", "--out", forged));
    assert.equal((await cli(TRAINER, "channel", "redeem", forged)).json.error.errorName, "InvalidSigner");
    const revoked = await ok(cli(PAYER, "channel", "session-key", "revoke", channelId));
    assert.equal(revoked.sessionKey, addr(CURATOR));
    const v3 = join(dir, "v3.json");
    await ok(cli(PAYER, "channel", "voucher", channelId, "3", "--out", v3));
    const r3 = await ok(cli(TRAINER, "channel", "redeem", v3));
    assert.deepEqual([r3.amount, r3.signer], [parseEther("1").toString(), addr(PAYER)]);
  });
});

describe("tributary CLI help", () => {
  it("ends every command's help with an example of that command", () => {
    const leaves: Array<[string, Command]> = [];
    const walk = (cmd: Command, path: string) => {
      if (cmd.commands.length === 0) leaves.push([path, cmd]);
      for (const sub of cmd.commands) walk(sub, `${path} ${sub.name()}`.trim());
    };
    walk(buildProgram({}), "");
    assert.ok(leaves.length >= 45, `${leaves.length} commands`);
    for (const [path, cmd] of leaves) {
      let help = "";
      cmd.configureOutput({ writeOut: (s) => (help += s) });
      cmd.outputHelp();
      assert.match(help, new RegExp(`Example:\\n  \\$ (\\S+=\\S+ )?tributary ${path}(\\s|$)`, "m"), path);
    }
  });
});
