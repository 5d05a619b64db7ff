import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import {
  ContentStoreError, ContentTamperedError, gatewayBlockGetter, KuboContentStore, PinningServiceClient, PinningServiceError,
  RemotePinningContentStore, UnsupportedContentError, verifiedCat,
} from "../src/content/index.ts";
import { findBlockFile, patternBytes, startTestNode } from "./helpers/node.ts";

const MiB = 1024 * 1024;

describe("KuboContentStore against the embedded node", () => {
  let node: Awaited<ReturnType<typeof startTestNode>>;
  let store: KuboContentStore;
  before(async () => {
    node = await startTestNode();
    store = new KuboContentStore({ url: node.apiUrl });
  });
  after(() => node.cleanup());

  it("adds with the unixfs-v1-2025 profile and reads back verified, whole and streamed", async () => {
    // Kubo's published vector for "hello world" under unixfs-v1-2025.
    assert.deepEqual(await store.add("hello world"), { cid: "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e", size: 11 });
    const data = patternBytes(4 * MiB + 99, 11);
    const seen: number[] = [];
    async function* chunks() { for (let i = 0; i < data.length; i += 300_000) yield data.subarray(i, i + 300_000); }
    const added = await store.add(chunks(), { onProgress: (n) => seen.push(n) });
    assert.equal(added.size, data.length);
    assert.equal(seen.at(-1), data.length);
    assert.deepEqual(Buffer.from(await store.cat(added.cid)), Buffer.from(data));
    let streamed = 0;
    for await (const c of store.catStream(added.cid)) streamed += c.length;
    assert.equal(streamed, data.length);
    assert.deepEqual(Buffer.from(await store.catUnverified(added.cid)), Buffer.from(data));
    await assert.rejects(store.cat(added.cid, { maxBytes: MiB }), (e: unknown) => e instanceof UnsupportedContentError && /over the limit/.test(e.message));
  });

  it("fails a verified read of a tampered block with ContentTamperedError naming the CID", async () => {
    const data = patternBytes(3 * MiB, 21);
    const { cid } = await store.add(data);
    const leaf = data.subarray(MiB, 2 * MiB); // the second 1 MiB raw leaf
    const file = findBlockFile(node.repo, leaf);
    const altered = Buffer.from(readFileSync(file));
    altered[12345] ^= 0xff;
    writeFileSync(file, altered);
    const unverified = await store.catUnverified(cid);
    assert.equal(unverified[MiB + 12345], leaf[12345] ^ 0xff, "the node serves the altered bytes");
    await assert.rejects(store.cat(cid), (e: unknown) => {
      assert.ok(e instanceof ContentTamperedError);
      assert.equal(e.cid, cid);
      assert.notEqual(e.block, cid);
      assert.match(e.message, new RegExp(`Content ${cid} failed verification`));
      return true;
    });
    // The same check holds when blocks come from the trustless gateway.
    await assert.rejects(verifiedCat(gatewayBlockGetter(node.gatewayUrl), cid), ContentTamperedError);
    // A tampered single-block file: the root itself fails.
    const small = new TextEncoder().encode("tiny file");
    const one = await store.add(small);
    writeFileSync(findBlockFile(node.repo, small), "tinY file");
    await assert.rejects(store.cat(one.cid), (e: unknown) => e instanceof ContentTamperedError && e.block === one.cid);
  });

  it("verifies CIDv0 files with UnixFS (non-raw) leaves", async () => {
    const data = patternBytes(MiB + 7, 13);
    const added = await store.client.add(data, { cidVersion: 0 });
    assert.match(added.cid.toString(), /^Qm/);
    assert.deepEqual(Buffer.from(await store.cat(added.cid)), Buffer.from(data));
  });

  it("reads verified through the gateway's raw blocks", async () => {
    const data = patternBytes(2 * MiB + 5, 5);
    const { cid } = await store.add(data);
    assert.deepEqual(Buffer.from(await verifiedCat(gatewayBlockGetter(node.gatewayUrl), cid)), Buffer.from(data));
  });

  it("pins, unpins, answers has and lists pins", async () => {
    const { cid } = await store.add("pin me", { pin: false });
    assert.ok(await store.has(cid));
    assert.ok(!(await store.listPins()).includes(cid));
    await store.pin(cid);
    assert.ok((await store.listPins()).includes(cid));
    await store.unpin(cid);
    assert.ok(!(await store.listPins()).includes(cid));
    assert.equal(await store.has("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"), false);
  });

  it("rejects bad CIDs and directories, and explains an unreachable node", async () => {
    await assert.rejects(store.cat("not-a-cid"), UnsupportedContentError);
    const dir = [];
    for await (const r of store.client.addAll([{ path: "d/a.txt", content: "a" }])) dir.push(r);
    await assert.rejects(store.cat(dir.at(-1)!.cid), /is a UnixFS directory/);
    const dead = new KuboContentStore({ url: "http://127.0.0.1:9" });
    await assert.rejects(dead.add("x"), (e: unknown) => e instanceof ContentStoreError && /Check the IPFS node is running/.test(e.message));
  });
});

describe("IPFS Pinning Service API", () => {
  let node: Awaited<ReturnType<typeof startTestNode>>;
  let local: KuboContentStore;
  before(async () => {
    node = await startTestNode({ pinningToken: "secret" });
    local = new KuboContentStore({ url: node.apiUrl });
  });
  after(() => node.cleanup());

  it("pins, lists, gets and removes through the spec's endpoints", async () => {
    const psa = new PinningServiceClient({ endpoint: node.pinningServiceUrl, accessToken: "secret" });
    const { cid } = await local.add("remote pin", { pin: false });
    const status = await psa.add({ cid, name: "contribution-1" });
    assert.equal(status.status, "pinned");
    assert.equal(status.pin.cid, cid);
    assert.ok(status.delegates.length >= 1);
    assert.ok((await local.listPins()).includes(cid), "backed by a real pin");
    assert.equal((await psa.get(status.requestid)).pin.name, "contribution-1");
    const listed = await psa.list({ cid: [cid] });
    assert.equal(listed.count, 1);
    assert.equal((await psa.list({ name: "contribution", match: "partial" })).count, 1);
    await psa.remove(status.requestid);
    assert.equal((await psa.list({ cid: [cid] })).count, 0);
    assert.ok(!(await local.listPins()).includes(cid));
    await assert.rejects(psa.get(status.requestid), (e: unknown) => e instanceof PinningServiceError && e.status === 404);
  });

  it("never releases a pin it did not create, and hands its own pin on to a twin request", async () => {
    const psa = new PinningServiceClient({ endpoint: node.pinningServiceUrl, accessToken: "secret" });
    const kept = await local.add("pinned through the RPC API"); // pinned by add
    const r = await psa.add({ cid: kept.cid });
    await psa.remove(r.requestid);
    assert.ok((await local.listPins()).includes(kept.cid), "the RPC pin stays");
    const { cid } = await local.add("pinned twice remotely", { pin: false });
    const first = await psa.add({ cid });
    const second = await psa.add({ cid });
    assert.equal("ownsPin" in first, false, "internal bookkeeping is not sent");
    await psa.remove(first.requestid);
    assert.ok((await local.listPins()).includes(cid), "still pinned for the second request");
    await psa.remove(second.requestid);
    assert.ok(!(await local.listPins()).includes(cid));
  });

  it("fails a pin for content it does not have, and refuses a missing token", async () => {
    const psa = new PinningServiceClient({ endpoint: node.pinningServiceUrl, accessToken: "secret" });
    const failed = await psa.add({ cid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy" });
    assert.equal(failed.status, "failed");
    await assert.rejects(psa.waitForPinned(failed.requestid), /could not pin/);
    const anon = new PinningServiceClient({ endpoint: node.pinningServiceUrl });
    await assert.rejects(anon.list(), (e: unknown) => e instanceof PinningServiceError && e.status === 401 && e.reason === "UNAUTHORIZED");
    await assert.rejects(psa.add({ cid: "nope" }), (e: unknown) => e instanceof PinningServiceError && e.status === 400);
  });

  it("keeps a ContentStore's pins on the remote service", async () => {
    const psa = new PinningServiceClient({ endpoint: node.pinningServiceUrl, accessToken: "secret" });
    const store = new RemotePinningContentStore(local, psa);
    const { cid } = await store.add("pinned remotely");
    assert.ok(await store.has(cid));
    assert.ok((await store.listPins()).includes(cid));
    assert.equal(new TextDecoder().decode(await store.cat(cid)), "pinned remotely");
    await store.pin(cid); // already pinned: no second request
    assert.equal((await psa.list({ cid: [cid] })).count, 1);
    await store.unpin(cid);
    assert.equal(await store.has(cid), false);
  });
});
