// Reads that scale with the chain: protocol reads scan event logs in pages of at most 10,000 blocks,
// against a real Hardhat chain of more than 100,000 blocks behind a proxy that refuses larger eth_getLogs
// ranges as hosted providers do; a smaller provider cap is found by halving; a LogStore makes the next
// scan read only the blocks since.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { privateKeyToAccount } from "viem/accounts";
import {
  connect,
  contribute,
  createDatanet,
  fileLogStore,
  listContributions,
  logBlockRange,
  memoryLogStore,
  review,
  scanEvents,
} from "../src/chain/index.ts";
import type { ChainConnection } from "../src/chain/index.ts";
import { generateKeyPair } from "../src/crypto/index.ts";
import { startCappedRpc, type CappedRpc } from "./helpers/capped-rpc.ts";
import { startContentStore, startDevChain, TEST_KEYS } from "./helpers/devchain.ts";
import type { DevChain } from "./helpers/devchain.ts";

const MINED = 100_000;

describe("log scans on a chain of 100,000+ blocks behind a 10,000-block eth_getLogs cap", { timeout: 600_000 }, () => {
  let chain: DevChain;
  let ipfs: Awaited<ReturnType<typeof startContentStore>>;
  let proxy: CappedRpc;
  let owner: ChainConnection;
  let datanetId: bigint;
  let head: bigint;
  const via = (url: string, extra: Partial<Parameters<typeof connect>[0]> = {}) =>
    connect({ rpcUrl: url, chainId: chain.chainId, deployments: chain.deploymentsFile, ...extra });

  before(async () => {
    chain = await startDevChain();
    ipfs = await startContentStore();
    owner = await connect({
      rpcUrl: chain.rpcUrl,
      chainId: chain.chainId,
      deployments: chain.deploymentsFile,
      account: privateKeyToAccount(TEST_KEYS[1]),
      pollingInterval: 50,
    });
    const custodian = generateKeyPair();
    ({ datanetId } = await createDatanet(owner, ipfs.store, {
      name: "Long chain",
      policy: "approval",
      custodian: { publicKey: Buffer.from(custodian.publicKey).toString("hex"), url: "http://127.0.0.1:9" },
    }));
    await contribute(owner, ipfs.store, { datanetId, fileName: "early.jsonl", content: '{"text":"early"}\n' });
    await review(owner, { datanetId, approve: [1n] });
    // 100,000 empty blocks, then a contribution at the far end
    await owner.publicClient.request({ method: "hardhat_mine" as never, params: [`0x${MINED.toString(16)}`] as never });
    await contribute(owner, ipfs.store, { datanetId, fileName: "late.jsonl", content: '{"text":"late"}\n' });
    await review(owner, { datanetId, approve: [2n] });
    head = await owner.publicClient.getBlockNumber({ cacheTime: 0 });
    assert.ok(head - owner.deployments.deployBlock > BigInt(MINED), `the chain is ${head} blocks long`);
    proxy = await startCappedRpc(chain.rpcUrl, 10_000n);
  });
  after(async () => {
    await proxy?.stop();
    await ipfs?.stop();
    await chain?.stop();
  });

  it("the proxy refuses an unpaged scan from the deploy block, as a provider does", async () => {
    const conn = await via(proxy.url);
    const reg = conn.contracts.DatanetRegistry;
    await assert.rejects(
      conn.publicClient.getContractEvents({ address: reg.address, abi: reg.abi, eventName: "ContributionSubmitted", fromBlock: conn.deployments.deployBlock }),
      /exceeds the provider's limit of 10000 blocks/,
    );
  });

  it("lists a Datanet's contributions from both ends of the chain in pages of at most 10,000 blocks", async () => {
    const conn = await via(proxy.url);
    proxy.ranges.length = 0;
    const list = await listContributions(conn, datanetId);
    assert.deepEqual(
      list.map((c) => [c.contributionId, c.status, c.approvedInVersion]),
      [[1n, "approved", 1], [2n, "approved", 2]],
    );
    assert.ok(proxy.ranges.every(([a, b]) => b - a + 1n <= 10_000n), "every page within the cap");
    const pagesPerScan = Math.ceil(Number(head - conn.deployments.deployBlock + 1n) / 10_000);
    // two events, each scanned once (a page may end at the last final block, so one more per scan at most)
    assert.ok(proxy.ranges.length >= 2 * pagesPerScan && proxy.ranges.length <= 2 * (pagesPerScan + 1), `${proxy.ranges.length} pages`);
    // the pages tile deploy block..head exactly, once per event
    const covered = proxy.ranges.reduce((n, [a, b]) => n + (b - a + 1n), 0n);
    assert.equal(covered, 2n * (head - conn.deployments.deployBlock + 1n));
    assert.equal(proxy.ranges.filter(([a]) => a === conn.deployments.deployBlock).length, 2);
  });

  it("finds a provider's smaller cap by halving its pages, and honours TRIBUTARY_LOG_BLOCK_RANGE", async () => {
    const narrow = await startCappedRpc(chain.rpcUrl, 3_000n);
    try {
      const list = await listContributions(await via(narrow.url), datanetId);
      assert.equal(list.length, 2);
      assert.ok(narrow.refused >= 1, "the 10,000-block page was refused first");
      assert.ok(narrow.ranges.every(([a, b]) => b - a + 1n <= 3_000n));
      narrow.ranges.length = 0;
      narrow.refused = 0;
      process.env.TRIBUTARY_LOG_BLOCK_RANGE = "2000";
      try {
        assert.equal((await listContributions(await via(narrow.url), datanetId)).length, 2);
      } finally {
        delete process.env.TRIBUTARY_LOG_BLOCK_RANGE;
      }
      assert.equal(narrow.refused, 0, "configured below the cap: nothing refused");
      assert.ok(narrow.ranges.every(([a, b]) => b - a + 1n <= 2_000n));
    } finally {
      await narrow.stop();
    }
  });

  it("resumes from a LogStore: the next scan reads only the blocks after the last final one", async () => {
    const store = memoryLogStore();
    const conn = await via(proxy.url, { logStore: store });
    const reg = conn.contracts.DatanetRegistry;
    const scan = () => scanEvents(conn, { address: reg.address, abi: reg.abi, eventName: "ContributionApproved", args: { datanetId } });
    proxy.ranges.length = 0;
    const first = await scan();
    const firstPages = proxy.ranges.length;
    assert.ok(firstPages > 10);
    proxy.ranges.length = 0;
    const again = await scan();
    assert.deepEqual(again.map((l) => l.args.contributionId), first.map((l) => l.args.contributionId));
    assert.deepEqual(again.map((l) => l.args.contributionId), [1n, 2n]);
    assert.ok(proxy.ranges.length <= 1, `the second scan read ${proxy.ranges.length} page(s)`);
    assert.ok(proxy.ranges.every(([a]) => a > head - 10_000n - 64n), "and only near the head");
  });

  it("keeps scans in a folder across processes (bigints intact), and ignores a damaged file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "log-scans-"));
    try {
      const conn = await via(proxy.url, { logStore: fileLogStore(dir) });
      const reg = conn.contracts.DatanetRegistry;
      const scan = (c: ChainConnection) =>
        scanEvents(c, { address: reg.address, abi: reg.abi, eventName: "ContributionSubmitted", args: { datanetId } });
      const first = await scan(conn);
      assert.equal(readdirSync(dir).length, 1);
      proxy.ranges.length = 0;
      const fresh = await via(proxy.url, { logStore: fileLogStore(dir) }); // as a restarted process
      const again = await scan(fresh);
      assert.ok(proxy.ranges.length <= 1);
      assert.deepEqual(again.map((l) => [l.args.contributionId, l.args.cid, l.blockNumber]), first.map((l) => [l.args.contributionId, l.args.cid, l.blockNumber]));
      assert.equal(typeof again[0].blockNumber, "bigint");
      writeFileSync(join(dir, readdirSync(dir)[0]), "{ not json");
      proxy.ranges.length = 0;
      assert.equal((await scan(await via(proxy.url, { logStore: fileLogStore(dir) }))).length, 2);
      assert.ok(proxy.ranges.length > 10, "a damaged file means a full rescan, not an error");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a block range that is not a positive whole number", () => {
    assert.equal(logBlockRange(undefined), 10_000n);
    assert.equal(logBlockRange("2500"), 2500n);
    assert.throws(() => logBlockRange("0"), /at least 1 block, got 0/);
    assert.throws(() => logBlockRange("ten"), /whole number of blocks, got ten/);
  });
});
