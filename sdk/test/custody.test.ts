import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { bytesToHex, parseEther, sha256 } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { Hex } from "viem";
import {
  challengeMove,
  checkpointTree,
  childrenOf,
  claimJob,
  commitCheckpoints,
  connect,
  disputeJob,
  drawCommittee,
  getDispute,
  revealedChildren,
  stakeVerifier,
  submitResult,
  defendDispute,
  contribute,
  createDatanet,
  grantAccess,
  postJob,
  review,
  sendTx,
  stake,
} from "../src/chain/index.ts";
import type { ChainConnection } from "../src/chain/index.ts";
import { decryptWithDataKey, generateKeyPair, unwrapDataKey } from "../src/crypto/index.ts";
import {
  KeyReleaseDeniedError,
  keyReleaseDomain,
  postKeyRelease,
  requestDataKeys,
  signKeyRelease,
  startCustodian,
} from "../src/custody/index.ts";
import type { KeyRelease, RunningCustodian } from "../src/custody/index.ts";
import { startCappedRpc } from "./helpers/capped-rpc.ts";
import { startContentStore, startDevChain, TEST_KEYS } from "./helpers/devchain.ts";
import type { DevChain } from "./helpers/devchain.ts";
import type { KuboContentStore } from "../src/content/index.ts";

describe("custodian key release", () => {
  let chain: DevChain;
  let custodian: RunningCustodian;
  let store: KuboContentStore;
  let ipfs: Awaited<ReturnType<typeof startContentStore>>;
  const conns: ChainConnection[] = [];
  const [deployer, owner, contributor, builder, trainer, other] = [0, 1, 2, 3, 4, 5];
  const trainerKeys = generateKeyPair();
  const trainerPubKey = bytesToHex(trainerKeys.publicKey);
  const contents = [
    '{"prompt":"capital of France?","completion":"Paris"}\n',
    '{"text":"rivers flow to the sea"}\n',
    '{"text":"late contribution"}\n',
  ];
  const contributionHashes: Hex[] = [];
  let stateDir: string;

  before(async () => {
    chain = await startDevChain();
    ipfs = await startContentStore();
    store = ipfs.store;
    for (let i = 0; i < 6; i++) {
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
    stateDir = mkdtempSync(join(tmpdir(), "custodian-"));
    custodian = await startCustodian({ conn: conns[owner], store, stateDir, port: 0 });
    const d = conns[deployer];
    for (const who of [builder, trainer, other])
      await sendTx(d, d.contracts.OpenToken, "mint", [conns[who].account!.address, parseEther("1000")]);
    await sendTx(d, d.contracts.ModelRegistry, "registerBaseModel", [
      "tiny-llama",
      "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
    ]);
    const { datanetId } = await createDatanet(conns[owner], store, {
      name: "Geo QA",
      policy: "approval",
      custodian: { publicKey: custodian.publicKey, url: custodian.url },
    });
    for (const [i, text] of contents.slice(0, 2).entries()) {
      const c = await contribute(conns[contributor], store, {
        datanetId,
        fileName: `f${i}.jsonl`,
        content: text,
      });
      contributionHashes.push(c.contentHash);
    }
    await review(conns[owner], { datanetId, approve: [1n, 2n] });
    await grantAccess(conns[owner], {
      datanetId,
      account: conns[builder].account!.address,
      expiresAt: BigInt(Math.floor(Date.now() / 1000) + 86400),
      uses: 3,
    });
    await postJob(conns[builder], store, {
      spec: { baseModel: "tiny-llama", data: [{ datanetId: "1", version: 2 }] },
      budget: parseEther("50"),
      duration: 3600,
    });
    await stake(conns[trainer], parseEther("100"));
    await stake(conns[other], parseEther("100"));
    await claimJob(conns[trainer], 1n);
    // A third contribution approved after the job was posted: version 3, outside the job's version 2.
    await contribute(conns[contributor], store, { datanetId, fileName: "late.jsonl", content: contents[2] });
    await review(conns[owner], { datanetId, approve: [3n] });
  });
  after(async () => {
    await custodian?.stop();
    await ipfs?.stop();
    await chain?.stop();
  });

  const ask = (who: number, ids: bigint[], ttl?: number, url = custodian.url) =>
    requestDataKeys({
      url,
      account: conns[who].account!,
      chainId: chain.chainId,
      jobMarket: conns[who].contracts.JobMarket.address,
      jobId: 1n,
      datanetId: 1n,
      contributionIds: ids,
      trainerPubKey,
      ttl,
    });
  const refused = (status: number, pattern: RegExp) => (e: unknown) => {
    assert.ok(e instanceof KeyReleaseDeniedError, String(e));
    assert.equal(e.status, status);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes("wrappedKey"));
    return true;
  };

  it("keeps a generated key in the state folder readable by its owner only", () => {
    assert.equal(custodian.keyCreated, true);
    assert.equal(statSync(join(stateDir, "custodian-key.json")).mode & 0o777, 0o600);
  });

  it("gives the trainer that claimed the job the keys, and the content decrypts to the registered hash", async () => {
    const res = await ask(trainer, [1n, 2n]);
    assert.equal(res.version, 2);
    assert.equal(res.keys.length, 2);
    for (const [i, k] of res.keys.entries()) {
      const dataKey = await unwrapDataKey(k.wrappedKey!, trainerKeys.privateKey);
      const plain = await decryptWithDataKey(await store.cat(k.contentCid), { iv: k.iv! }, dataKey);
      assert.equal(sha256(plain), contributionHashes[i]);
      assert.equal(new TextDecoder().decode(plain), contents[i]);
    }
  });

  it("gives the verifiers drawn for a dispute of the job its keys, on the chain's word; refuses an undrawn address", async () => {
    // Job 2 (version 2), claimed by `other`, submitted and challenged by the builder; bisected to leaf 0, and a
    // committee of 3 drawn from the 3 staked verifiers.
    const d = conns[deployer];
    const extra = [6, 7].map((i) => connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, deployments: chain.deploymentsFile, account: privateKeyToAccount(TEST_KEYS[i]), pollingInterval: 50 }));
    const verifiers = [conns[contributor], ...(await Promise.all(extra))];
    for (const v of verifiers) {
      await sendTx(d, d.contracts.OpenToken, "mint", [v.account!.address, parseEther("1000")]);
      await stakeVerifier(v, parseEther("100"));
    }
    const { jobId } = await postJob(conns[builder], store, {
      spec: { baseModel: "tiny-llama", data: [{ datanetId: "1", version: 2 }] },
      budget: parseEther("5"),
      duration: 3600,
    });
    await claimJob(conns[other], jobId);
    const result = { adapterHash: sha256(new TextEncoder().encode("adapter")), attributionRoot: sha256(new TextEncoder().encode("root")), attributionTotalWeight: 1n };
    const tree = checkpointTree(jobId, [sha256(new TextEncoder().encode("s0")), sha256(new TextEncoder().encode("s1"))], result);
    await commitCheckpoints(conns[other], tree);
    await submitResult(conns[other], jobId, { adapterCid: "bafyadapter", metricsCid: "bafymetrics", reportCid: "bafyreport", ...result });
    const askFor = (who: ChainConnection) =>
      requestDataKeys({ url: custodian.url, account: who.account!, chainId: chain.chainId, jobMarket: who.contracts.JobMarket.address, jobId, datanetId: 1n, contributionIds: [1n, 2n], trainerPubKey });
    // The trainer's claim has ended: it is no longer served.
    await assert.rejects(askFor(conns[other]), refused(403, new RegExp(`job ${jobId} is not claimed by`)));
    const { disputeId } = await disputeJob(conns[builder], store, jobId, "the loss curve is too smooth");
    const def = await defendDispute(conns[other], disputeId!, tree);
    const receipt = await d.publicClient.getTransactionReceipt({ hash: def.hash });
    const fake = checkpointTree(jobId, [sha256(new TextEncoder().encode("x0")), sha256(new TextEncoder().encode("x1"))]);
    await challengeMove(conns[builder], disputeId!, revealedChildren(d, receipt)!, fake);
    assert.deepEqual(revealedChildren(d, receipt), { left: childrenOf(tree, 0, 2)[0], right: childrenOf(tree, 0, 2)[1] });
    await defendDispute(conns[other], disputeId!, tree);
    assert.equal((await getDispute(d, disputeId!)).phaseName, "awaitingDraw");
    // Before the draw nobody is a verifier of the job.
    await assert.rejects(askFor(verifiers[0]), refused(403, /is not a verifier drawn for a dispute of it/));
    await d.publicClient.request({ method: "hardhat_mine", params: ["0x10"] } as never);
    const { members } = await drawCommittee(d, disputeId!);
    assert.equal(members.length, 3);
    const drawn = verifiers.find((v) => members.some((m) => m.toLowerCase() === v.account!.address.toLowerCase()))!;
    const res = await askFor(drawn);
    assert.equal(res.version, 2);
    assert.equal(res.keys.length, 2);
    for (const [i, k] of res.keys.entries()) {
      const dataKey = await unwrapDataKey(k.wrappedKey!, trainerKeys.privateKey);
      assert.equal(sha256(await decryptWithDataKey(await store.cat(k.contentCid), { iv: k.iv! }, dataKey)), contributionHashes[i]);
    }
    // A staked trainer that is no verifier of this dispute is refused, and so is the job's own trainer.
    await assert.rejects(askFor(conns[trainer]), refused(403, /is not a verifier drawn for a dispute of it/));
    await assert.rejects(askFor(conns[other]), refused(403, /is not a verifier drawn for a dispute of it/));
  });

  it("refuses (403) a staked trainer that did not claim the job", async () => {
    await assert.rejects(ask(other, [1n]), refused(403, /job 1 is not claimed by/));
  });

  it("refuses (403) a contribution outside the job's Datanet version", async () => {
    await assert.rejects(
      ask(trainer, [1n, 3n]),
      refused(403, /contribution 3 is not part of Datanet 1 version 2/),
    );
  });

  it("refuses (401) a request signed by someone other than the trainer it names", async () => {
    const message: KeyRelease = {
      trainer: conns[trainer].account!.address,
      jobId: 1n,
      datanetId: 1n,
      contributionIds: [1n],
      trainerPubKey,
      expiry: BigInt(Math.floor(Date.now() / 1000) + 60),
    };
    const sig = await signKeyRelease(
      conns[other].account!,
      keyReleaseDomain(chain.chainId, conns[other].contracts.JobMarket.address),
      message,
    );
    await assert.rejects(postKeyRelease(custodian.url, message, sig), refused(401, /not the trainer's/));
  });

  it("refuses (401) an expired request", async () => {
    await assert.rejects(ask(trainer, [1n], -5), refused(401, /expired/));
  });

  it("answers 400 to a malformed body, naming the field that is wrong", async () => {
    const post = async (body: string) => {
      const res = await fetch(new URL("/v1/key-release", custodian.url), { method: "POST", body });
      return { status: res.status, body: (await res.json()) as { error: string; message: string } };
    };
    assert.deepEqual(await post("{not json"), { status: 400, body: { error: "bad_request", message: "body is not JSON" } });
    const good = {
      trainer: conns[trainer].account!.address,
      jobId: "1",
      datanetId: "1",
      contributionIds: ["1", "2"],
      trainerPubKey,
      expiry: String(Math.floor(Date.now() / 1000) + 60),
    };
    const cases: [unknown, RegExp][] = [
      [[], /^body must be \{request, signature\}$/],
      [{ request: { ...good, trainer: "0x12" }, signature: "0x00" }, /^request\.trainer must be an address$/],
      [{ request: { ...good, contributionIds: ["1", "01"] }, signature: "0x00" }, /^request\.contributionIds\[1\] must be a decimal integer string$/],
      [{ request: { ...good, contributionIds: [] }, signature: "0x00" }, /^request\.contributionIds must be a non-empty array$/],
      [{ request: { ...good, trainerPubKey: "0x1234" }, signature: "0x00" }, /^request\.trainerPubKey is not a secp256k1 public key$/],
      [{ request: good, signature: "sig" }, /^signature must be 0x hex$/],
    ];
    for (const [body, message] of cases) {
      const r = await post(JSON.stringify(body));
      assert.equal(r.status, 400, JSON.stringify(r));
      assert.match(r.body.message, message);
    }
  });

  it("answers 503 with Retry-After (transient, not a refusal) while its chain RPC is down, and serves again when it is back", async () => {
    const proxy = await startCappedRpc(chain.rpcUrl, 10_000n);
    const viaProxy = await connect({ rpcUrl: proxy.url, chainId: chain.chainId, deployments: chain.deploymentsFile });
    const c = await startCustodian({ conn: viaProxy, store, stateDir, port: 0 });
    const askC = () => ask(trainer, [1n], undefined, c.url);
    try {
      await proxy.stop();
      await assert.rejects(askC(), (e: unknown) => {
        refused(503, /could not answer .*could not reach the chain or the content store; try again/)(e);
        assert.equal((e as KeyReleaseDeniedError).retryAfterS, 5);
        return true;
      });
      const raw = await fetch(new URL("/v1/key-release", c.url), {
        method: "POST",
        body: JSON.stringify({ request: { trainer: conns[trainer].account!.address, jobId: "1", datanetId: "1", contributionIds: ["1"], trainerPubKey, expiry: String(Math.floor(Date.now() / 1000) + 60) }, signature: "0x00" }),
      });
      assert.equal(raw.status, 401, "the signature is checked before the chain is read");
    } finally {
      await c.stop();
    }
    // the same custodian on the live chain: the job is still claimed, so it serves
    const live = await startCustodian({ conn: conns[owner], store, stateDir, port: 0 });
    try {
      const res = await ask(trainer, [1n], undefined, live.url);
      assert.equal(res.keys.length, 1);
    } finally {
      await live.stop();
    }
  });

  it("refuses web pages from origins not allowed (403), serves the allowed one with CORS, caps bodies (413)", async () => {
    const web = "http://127.0.0.1:5173";
    const guarded = await startCustodian({
      conn: conns[owner],
      store,
      stateDir,
      port: 0,
      allowedOrigins: [web],
      maxBodyBytes: 4096,
    });
    try {
      const url = (p: string) => new URL(p, guarded.url);
      const foreign = await fetch(url("/v1/key-release"), {
        method: "POST",
        headers: { origin: "https://evil.example", "content-type": "application/json" },
        body: "{}",
      });
      assert.equal(foreign.status, 403);
      assert.match(((await foreign.json()) as { message: string }).message, /web origin https:\/\/evil\.example are not allowed/);
      const info = await fetch(url("/v1/info"), { headers: { origin: web } });
      assert.equal(info.status, 200);
      assert.equal(info.headers.get("access-control-allow-origin"), web);
      assert.equal(((await info.json()) as { publicKey: string }).publicKey, custodian.publicKey);
      assert.equal((await fetch(url("/v1/info"))).status, 200, "a program without an Origin");
      const big = await fetch(url("/v1/key-release"), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ request: { contributionIds: Array.from({ length: 1000 }, (_, i) => String(i)) } }),
      });
      assert.equal(big.status, 413);
      assert.match(((await big.json()) as { message: string }).message, /larger than this service accepts \(4096 bytes\)/);
    } finally {
      await guarded.stop();
    }
  });

  it("decides from the chain across 100,000 blocks behind a provider's 10,000-block eth_getLogs cap, resuming its scans after a restart", async () => {
    await conns[deployer].publicClient.request({ method: "hardhat_mine" as never, params: ["0x186a0"] as never });
    const proxy = await startCappedRpc(chain.rpcUrl, 10_000n);
    const dir = mkdtempSync(join(tmpdir(), "custodian-long-"));
    const viaProxy = await connect({ rpcUrl: proxy.url, chainId: chain.chainId, deployments: chain.deploymentsFile });
    // the same custodian (its key) in a new state folder, so no scan state yet
    copyFileSync(join(stateDir, "custodian-key.json"), join(dir, "custodian-key.json"));
    const start = () => startCustodian({ conn: viaProxy, store, stateDir: dir, port: 0 });
    let c = await start();
    try {
      const askC = () => ask(trainer, [1n, 2n], undefined, c.url);
      const res = await askC();
      assert.equal(res.keys.length, 2);
      assert.ok(proxy.ranges.length > 2 * 10, `paged: ${proxy.ranges.length} eth_getLogs`);
      assert.ok(proxy.ranges.every(([a, b]) => b - a + 1n <= 10_000n));
      assert.equal(proxy.refused, 0);
      await c.stop();
      proxy.ranges.length = 0;
      c = await start(); // a restart resumes from <stateDir>/log-scans
      assert.equal((await askC()).keys.length, 2);
      assert.ok(proxy.ranges.length <= 2, `after a restart: ${proxy.ranges.length} eth_getLogs`);
    } finally {
      await c.stop();
      await proxy.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
