// The real contracts, deployed by the real deploy step on a Hardhat node, indexed by the real subgraph:
// a datanet -> access -> job -> model -> channel flow, then the GraphQL answers are checked against the
// contracts' own views, and every event the protocol emitted must have been handled.
// Needs the contracts' artifacts (`npm run compile`, which `npm test` runs first); without them it fails.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseEther, toEventSelector, type Abi, type AbiEvent, type Address, type Hash } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { hardhat } from "viem/chains";
import { startIndexer, type RunningIndexer } from "../runner/indexer.ts";
import { ensureBuilt } from "../scripts/prepare.ts";
import { repoRoot, startChain, type TestChain } from "./helpers/chain.ts";
import type { Data } from "./helpers/events.ts";

const deployScript = join(repoRoot, "scripts", "deploy.ts");
const artifact = join(repoRoot, "artifacts", "contracts", "jobs", "JobMarket.sol", "JobMarket.json");

const E = (n: number) => parseEther(String(n));

type DeployModule = {
  deployProtocol: (
    wallet: unknown,
    publicClient: unknown,
  ) => Promise<{
    chainId: number;
    deployBlock: number;
    contracts: Record<string, { address: Address; deployBlock: number }>;
  }>;
  readArtifact: (name: string) => { abi: Abi };
};

describe("real contracts through the subgraph", () => {
  let chain: TestChain;
  let indexer: RunningIndexer;
  let dataDir: string;
  let addr: Record<string, Address>;
  let abi: (name: string) => Abi;
  let read: (name: string, fn: string, args?: unknown[]) => Promise<unknown>;
  const actors = {} as Record<
    "curator" | "bob" | "carol" | "builder" | "trainer" | "payer" | "provider" | "verifier",
    Address
  >;

  const q = async (query: string, variables?: Record<string, unknown>): Promise<Data> => {
    const res = await fetch(indexer.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: Data; errors?: unknown[] };
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    return body.data;
  };

  before(async () => {
    assert.ok(existsSync(artifact), `no contract artifacts at ${artifact}: run \`npm run compile\` first`);
    const manifest = await ensureBuilt();
    chain = await startChain();
    const deployer = privateKeyToAccount(
      "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80", // Hardhat's public dev key #0
    );
    const { createWalletClient, http } = await import("viem");
    const wallet = createWalletClient({ account: deployer, chain: hardhat, transport: http(chain.rpcUrl) });
    const mod = (await import(deployScript)) as DeployModule;
    const d = await mod.deployProtocol(wallet, chain.publicClient);
    addr = Object.fromEntries(Object.entries(d.contracts).map(([k, v]) => [k, v.address]));
    abi = (name) => mod.readArtifact(name).abi;
    read = (name, fn, args = []) =>
      chain.publicClient.readContract({
        address: addr[name],
        abi: abi(name),
        functionName: fn,
        args,
      } as never);
    const [, curator, bob, carol, builder, trainer, payer, provider, verifier] = chain.accounts;
    Object.assign(actors, { curator, bob, carol, builder, trainer, payer, provider, verifier });

    const send = async (name: string, fn: string, args: unknown[], from: Address = deployer.address) => {
      const hash = await chain.wallet.writeContract({
        address: addr[name],
        abi: abi(name),
        functionName: fn,
        args,
        account: from,
        chain: hardhat,
      } as never);
      const r = await chain.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 20 });
      assert.equal(r.status, "success", `${name}.${fn}`);
    };
    const sendAs = async (name: string, fn: string, args: unknown[]) => {
      const hash = await wallet.writeContract({
        address: addr[name],
        abi: abi(name),
        functionName: fn,
        args,
      } as never);
      await chain.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 20 });
    };

    for (const [who, amount] of [
      [builder, E(10_000)],
      [trainer, E(1_100)],
      [payer, E(1_000)],
    ] as const) {
      await sendAs("OpenToken", "mint", [who, amount]);
    }
    // A Paid datanet (5 OPEN per use) with three contributions, all approved.
    await send("DatanetRegistry", "createDatanet", ["bafymeta", 2, E(5), []], actors.curator);
    for (const who of [bob, bob, carol]) {
      await send(
        "DatanetRegistry",
        "submitContribution",
        [1n, "bafyc", `0x${"11".repeat(32)}`, 100, 4096n, true],
        who,
      );
    }
    await send("DatanetRegistry", "approveContributions", [1n, [1n, 2n, 3n]], actors.curator);
    await send("OpenToken", "approve", [addr.AccessRegistry, E(5)], builder);
    await send("AccessRegistry", "buyAccess", [1n, 1, E(5)], builder);
    // The minimum stake plus the collateral the 1,000 OPEN job's claim locks (the whole budget by default).
    await send("OpenToken", "approve", [addr.TrainerRegistry, E(1_100)], trainer);
    await send("TrainerRegistry", "stake", [E(1_100)], trainer);
    await send("OpenToken", "approve", [addr.JobMarket, E(1_000)], builder);
    const job = {
      specCID: "bafyspec",
      baseModelId: 1,
      parentModelId: 0n,
      datanetIds: [1n],
      versions: [3],
      budget: E(1_000),
      duration: 3600,
    };
    await send("JobMarket", "postJob", [job], builder);
    await send("JobMarket", "claimJob", [1n], trainer);
    // The trainer commits its checkpoint tree in the DisputeGame while its claim runs.
    await send("DisputeGame", "commitCheckpoints", [1n, `0x${"44".repeat(32)}`, 4], trainer);
    const result = {
      adapterCID: "bafyadapter",
      adapterHash: `0x${"22".repeat(32)}`,
      metricsCID: "bafymetrics",
      attributionRoot: `0x${"33".repeat(32)}`,
      attributionTotalWeight: 3n,
      reportCID: "bafyreport",
    };
    await send("JobMarket", "submitResult", [1n, result], trainer);
    await send("JobMarket", "acceptResult", [1n], builder);
    // A channel whose voucher a session key signs; the provider redeems it.
    const session = privateKeyToAccount(`0x${"5e".repeat(32)}`);
    const now = (await chain.publicClient.getBlock()).timestamp;
    await send("OpenToken", "approve", [addr.PaymentChannels, E(50)], payer);
    await send(
      "PaymentChannels",
      "openChannel",
      [provider, 1n, E(50), session.address, Number(now + 86_400n)],
      payer,
    );
    const channelId = (await read("PaymentChannels", "channelIdOf", [payer, provider, 1n])) as Hash;
    const signature = await session.signTypedData({
      domain: {
        name: "Tributary PaymentChannels",
        version: "1",
        chainId: d.chainId,
        verifyingContract: addr.PaymentChannels,
      },
      types: {
        Voucher: [
          { name: "channelId", type: "bytes32" },
          { name: "cumulativeAmount", type: "uint256" },
          { name: "epoch", type: "uint32" },
        ],
      },
      primaryType: "Voucher",
      message: { channelId, cumulativeAmount: E(20), epoch: 0 },
    });
    await send("PaymentChannels", "redeemVoucher", [channelId, E(20), signature], provider);
    await send("JobMarket", "withdraw", [], trainer);
    // A verifier stakes in the VerifierPool (the minimum, plus more in a second stake).
    const minStake = (await read("VerifierPool", "minStake")) as bigint;
    await sendAs("OpenToken", "mint", [verifier, minStake + E(1)]);
    await send("OpenToken", "approve", [addr.VerifierPool, minStake + E(1)], verifier);
    await send("VerifierPool", "stake", [minStake], verifier);
    await send("VerifierPool", "stake", [E(1)], verifier);

    dataDir = mkdtempSync(join(tmpdir(), "subgraph-contracts-"));
    indexer = await startIndexer({
      rpcUrl: chain.rpcUrl,
      manifest,
      deployments: d,
      dataDir,
      port: 0,
      logger: () => {},
    });
    await indexer.waitForBlock(Number(await chain.publicClient.getBlockNumber({ cacheTime: 0 })), 60_000);
  });

  after(async () => {
    await indexer?.stop();
    await chain?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("handles every event the contracts emitted, without indexing errors", async () => {
    const handled = new Set(indexer.subgraph.dataSources.flatMap((ds) => ds.handlers.map((h) => h.topic0)));
    const logs = await chain.publicClient.getLogs({
      address: Object.entries(addr)
        .filter(([name]) => name !== "OpenToken")
        .map(([, a]) => a),
      fromBlock: 0n,
      toBlock: "latest",
    });
    const protocolEvents = logs.filter((l) => handled.has(l.topics[0]!));
    const names = new Set<string>();
    for (const ds of indexer.subgraph.dataSources) {
      for (const e of ds.abi.filter((x): x is AbiEvent => x.type === "event")) names.add(toEventSelector(e));
    }
    assert.deepEqual(
      logs.filter((l) => !handled.has(l.topics[0]!) && names.has(l.topics[0]!)),
      [],
      "an interface event without handler",
    );
    const d = await q(`{ _meta { hasIndexingErrors } protocolStats(id: "protocol") { eventCount } }`);
    assert.equal(d._meta.hasIndexingErrors, false);
    assert.equal(d.protocolStats.eventCount, protocolEvents.length);
    assert.ok(protocolEvents.length >= 20, `only ${protocolEvents.length} events`);
  });

  it("agrees with the contracts on the datanet, its contributions and its reward pool", async () => {
    const d = await q(
      `{ datanet(id: "1") { owner { id } policy price version approvedCount totalRecords contributions(orderBy: contributionId) { contributor { id } status } rewardPool { balance } } }`,
    );
    assert.equal(d.datanet.owner.id, actors.curator.toLowerCase());
    assert.equal(d.datanet.policy, "Paid");
    assert.equal(d.datanet.price, String(E(5)));
    assert.equal(d.datanet.version, Number(await read("DatanetRegistry", "versionOf", [1n])));
    assert.equal(d.datanet.approvedCount, 3);
    assert.equal(d.datanet.totalRecords, "300");
    assert.deepEqual(
      d.datanet.contributions.map((c: Data) => [c.contributor.id, c.status]),
      [
        [actors.bob.toLowerCase(), "Approved"],
        [actors.bob.toLowerCase(), "Approved"],
        [actors.carol.toLowerCase(), "Approved"],
      ],
    );
    assert.equal(d.datanet.rewardPool.balance, String(await read("RewardDistributor", "poolBalance", [1n])));
  });

  it("agrees with the contracts on the job, the model, its rewards and the channel", async () => {
    const d = await q(`{
      job(id: "1") { status trainer { id } model { id owner { id } adapterCID transfers { from to { id } } } trainerPayment }
      modelRewards(id: "1") { revenue ownerBps trainerBps protocolBps }
      channels { redeemed deposit payer { id } model { id } }
      accessGrant(id: "1-${actors.builder.toLowerCase()}") { paid usesLeft usesConsumed }
      trainer(id: "${actors.trainer}") { staked jobsCompleted earnings }
    }`);
    assert.equal(d.job.status, "Finalized");
    assert.equal(d.job.trainer.id, actors.trainer.toLowerCase());
    assert.equal(d.job.model.owner.id, String(await read("ModelRegistry", "ownerOf", [1n])).toLowerCase());
    assert.equal(d.job.model.adapterCID, "bafyadapter");
    assert.deepEqual(d.job.model.transfers, [
      { from: "0x0000000000000000000000000000000000000000", to: { id: actors.builder.toLowerCase() } },
    ]);
    assert.equal(d.job.trainerPayment, String(E(900)));
    const rewards = (await read("RewardDistributor", "getModelRewards", [1n])) as { revenue: bigint };
    assert.equal(d.modelRewards.revenue, String(rewards.revenue));
    assert.deepEqual(d.channels, [
      {
        redeemed: String(E(20)),
        deposit: String(E(50)),
        payer: { id: actors.payer.toLowerCase() },
        model: { id: "1" },
      },
    ]);
    assert.deepEqual(d.accessGrant, { paid: String(E(5)), usesLeft: 0, usesConsumed: 1 });
    assert.deepEqual(d.trainer, { staked: String(E(1_100)), jobsCompleted: 1, earnings: String(E(900)) });
  });

  it("agrees with the dispute game and the verifier pool on the checkpoints and the verifier's stake", async () => {
    const d = await q(`{
      job(id: "1") { checkpointRoot checkpointCount checkpointsBy { id } }
      verifier(id: "${actors.verifier.toLowerCase()}") { stake active exitAt }
      protocolStats(id: "protocol") { verifierCount totalVerifierStake }
      gamesSets { games }
    }`);
    const [by, root, count] = (await read("DisputeGame", "checkpointsOf", [1n])) as [Address, Hash, number];
    assert.deepEqual(d.job, { checkpointRoot: root, checkpointCount: count, checkpointsBy: { id: by.toLowerCase() } });
    const v = (await read("VerifierPool", "getVerifier", [actors.verifier])) as { stake: bigint; exitAt: number };
    assert.ok(v.stake > 0n);
    assert.deepEqual(d.verifier, { stake: String(v.stake), active: true, exitAt: null });
    assert.equal(v.exitAt, 0);
    assert.deepEqual(d.protocolStats, {
      verifierCount: Number(await read("VerifierPool", "verifierCount")),
      totalVerifierStake: String(v.stake),
    });
    assert.deepEqual(d.gamesSets, [{ games: [addr.DisputeGame.toLowerCase(), addr.UsageGame.toLowerCase()] }]);
  });
});
