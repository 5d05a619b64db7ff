// The measured throughput published with the trainer profile (src/jobs/profile.ts) on a real chain and
// IPFS node: the profile's other fields kept, nothing sent for a figure within 10% on the same kernel, a
// new profile for a real change or another kernel, a profile made for an operator who had none.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { privateKeyToAccount } from "viem/accounts";
import { catJson, connect, getTrainer, registerTrainer } from "@tributary/sdk/chain";
import type { ChainConnection } from "@tributary/sdk/chain";
import { startContentStore, startDevChain, TEST_KEYS } from "../../sdk/test/helpers/devchain.ts";
import type { DevChain } from "../../sdk/test/helpers/devchain.ts";
import { publishThroughput } from "../src/jobs/profile.ts";

describe("trainer profile: published throughput", () => {
  let chain: DevChain;
  let ipfs: Awaited<ReturnType<typeof startContentStore>>;
  let op: ChainConnection;
  let other: ChainConnection;
  const at = "2026-12-03T12:00:00.000Z";

  before(async () => {
    chain = await startDevChain();
    ipfs = await startContentStore();
    const conn = (k: number) => connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, deployments: chain.deploymentsFile, account: privateKeyToAccount(TEST_KEYS[k]), pollingInterval: 50 });
    op = await conn(5);
    other = await conn(6);
  });

  after(async () => {
    await ipfs?.stop();
    await chain?.stop();
  });

  const profileOf = async (c: ChainConnection) => {
    const { profileCid } = await getTrainer(c, c.account!.address);
    return { cid: profileCid, doc: (await catJson(ipfs.store, profileCid, "profile")) as Record<string, unknown> };
  };

  it("adds the throughput to the operator's profile, keeping its endpoint and hardware", async () => {
    await registerTrainer(op, ipfs.store, { endpoint: "http://127.0.0.1:8787/v1", hardware: "cpu (test)", baseModels: ["tributary-austen-4m"] });
    const r = await publishThroughput(op, ipfs.store, { kernel: "ort", flops: 8e9, measuredAt: at });
    assert.ok(r.profileCid);
    const { cid, doc } = await profileOf(op);
    assert.equal(cid, r.profileCid, "the chain points at the new profile");
    assert.equal(doc.schema, "tributary/trainer-profile@1");
    assert.equal(doc.endpoint, "http://127.0.0.1:8787/v1");
    assert.equal(doc.hardware, "cpu (test)");
    assert.deepEqual(doc.baseModels, ["tributary-austen-4m"]);
    assert.deepEqual(doc.throughput, { kernel: "ort", flops: 8e9, measuredAt: at });
  });

  it("sends nothing for a figure within 10% on the same kernel; publishes a real change or another kernel", async () => {
    const before = (await profileOf(op)).cid;
    const same = await publishThroughput(op, ipfs.store, { kernel: "ort", flops: 8.5e9, measuredAt: at });
    assert.equal(same.profileCid, null);
    assert.match(same.reason, /within 10%/);
    assert.equal((await profileOf(op)).cid, before, "no transaction");
    const faster = await publishThroughput(op, ipfs.store, { kernel: "ort", flops: 1.2e10, measuredAt: at });
    assert.ok(faster.profileCid);
    assert.equal(((await profileOf(op)).doc.throughput as { flops: number }).flops, 1.2e10);
    const wasm = await publishThroughput(op, ipfs.store, { kernel: "wasm", flops: 1.2e10, measuredAt: at });
    assert.ok(wasm.profileCid, "another kernel is a new figure even at the same speed");
    assert.equal(((await profileOf(op)).doc.throughput as { kernel: string }).kernel, "wasm");
    assert.equal((await profileOf(op)).doc.endpoint, "http://127.0.0.1:8787/v1", "still kept");
  });

  it("makes a profile for an operator who published none, and refuses a figure that is not a speed", async () => {
    assert.equal((await getTrainer(other, other.account!.address)).profileCid, "");
    await publishThroughput(other, ipfs.store, { kernel: "torch", flops: 3e11, measuredAt: at });
    const { doc } = await profileOf(other);
    assert.equal(doc.schema, "tributary/trainer-profile@1");
    assert.deepEqual(doc.throughput, { kernel: "torch", flops: 3e11, measuredAt: at });
    await assert.rejects(publishThroughput(other, ipfs.store, { kernel: "torch", flops: Number.NaN, measuredAt: at }), /not a positive number/);
    await assert.rejects(publishThroughput(other, ipfs.store, { kernel: "torch", flops: 0, measuredAt: at }), /not a positive number/);
  });
});
