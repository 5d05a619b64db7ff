import assert from "node:assert/strict";
import { createCipheriv, createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { importer } from "ipfs-unixfs-importer";
import { create } from "kubo-rpc-client";
import type { KuboRPCClient } from "kubo-rpc-client";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { importerOptionsFromQuery, RepoLockedError, startIpfsNode } from "../src/ipfs/index.ts";
import { findBlockFile, patternBytes, startTestNode, tempRepo } from "./helpers/node.ts";

// Kubo's published CID vectors (test/cli/cid_profiles_test.go in ipfs/kubo). Inputs are generated as
// there: a ChaCha20 keystream (key = sha256(seed), zero nonce) gives file bytes; directory file names
// are keystream bytes mapped onto the alphabet "abcdefghijklmnopqrstuvwxyz01234567890-_", each file
// holding "x", the last name possibly longer to land exactly on/over the HAMT threshold.
const V1 = {
  small: "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e",
  atMaxLinks: "bafybeihmf37wcuvtx4hpu7he5zl5qaf2ineo2lqlfrapokkm5zzw7zyhvm", // 1024 MiB, seed v1-2025-seed
  overMaxLinks: "bafybeihmzokxxjqwxjcryerhp5ezpcog2wcawfryb2xm64xiakgm4a5jue", // 1025 MiB
  dirBasic: "bafybeic3h7rwruealwxkacabdy45jivq2crwz6bufb5ljwupn36gicplx4", // 4766 files, names 11 (last 21)
  dirHamt: "bafybeiegvuterwurhdtkikfhbxcldohmxp566vpjdofhzmnhv6o4freidu", // 4766 files, names 11 (last 22)
};
const V0 = {
  small: "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD",
  atMaxLinks: "QmUbBALi174SnogsUzLpYbD4xPiBSFANF4iztWCsHbMKh2", // 44544 KiB, seed v0-seed
  overMaxLinks: "QmepeWtdmS1hHXx1oZXsPUv6bMrfRRKfZcoPPU4eEfjnbf", // 44800 KiB
  dirBasic: "QmX5GtRk3TSSEHtdrykgqm4eqMEn3n2XhfkFAis5fjyZmN", // 4096 files, names 30
  dirHamt: "QmeMiJzmhpJAUgynAcxTQYek5PPKgdv3qEvFsdV3XpVnvP", // 4033 files, names 31
};
const MiB = 1024 * 1024;

function keystream(seed: string) {
  return createCipheriv("chacha20", createHash("sha256").update(seed).digest(), Buffer.alloc(16));
}

async function* deterministicFile(size: number, seed: string): AsyncGenerator<Uint8Array> {
  const cipher = keystream(seed);
  const zeros = Buffer.alloc(MiB);
  for (let left = size; left > 0; left -= MiB) yield new Uint8Array(cipher.update(zeros.subarray(0, Math.min(MiB, left))));
}

function deterministicDir(files: number, nameLen: number, lastNameLen: number, seed: string) {
  const alphabet = "abcdefghijklmnopqrstuvwxyz01234567890-_";
  const cipher = keystream(seed);
  return Array.from({ length: files }, (_, i) => {
    let name = "";
    for (const b of cipher.update(Buffer.alloc(i === files - 1 ? lastNameLen : nameLen))) name += alphabet[b % alphabet.length];
    return { path: `dir/${name}`, content: new TextEncoder().encode("x") };
  });
}

async function rootCid(client: KuboRPCClient, entries: ReturnType<typeof deterministicDir>, cidVersion?: 0): Promise<string> {
  let last: string | undefined;
  for await (const r of client.addAll(entries, { pin: false, ...(cidVersion === 0 ? { cidVersion } : {}) })) if (r.path === "dir") last = r.cid.toString();
  return last!;
}

/** Imports with exactly the parameters the node's /api/v0/add uses for `query`, storing nothing. */
async function importedCid(size: number, seed: string, query: string): Promise<string> {
  const discard = { put: async (cid: CID) => cid };
  let last: CID | undefined;
  for await (const r of importer([{ content: deterministicFile(size, seed) }], discard as never, importerOptionsFromQuery(new URLSearchParams(query)))) last = r.cid;
  return last!.toString();
}

describe("Kubo CID profile vectors", () => {
  let node: Awaited<ReturnType<typeof startTestNode>>;
  let client: KuboRPCClient;
  before(async () => {
    node = await startTestNode();
    client = create({ url: node.apiUrl });
  });
  after(() => node.cleanup());

  it("unixfs-v1-2025 is the default: small file and directories through the RPC API", async () => {
    assert.equal((await client.add("hello world")).cid.toString(), V1.small);
    assert.equal(await rootCid(client, deterministicDir(4766, 11, 21, "hamt-unixfs-v1-2025")), V1.dirBasic);
    assert.equal(await rootCid(client, deterministicDir(4766, 11, 22, "hamt-unixfs-v1-2025")), V1.dirHamt);
  });

  it("unixfs-v1-2025 large files: 1024 links wide, rebalanced at 1025 MiB", async () => {
    assert.equal(await importedCid(1024 * MiB, "v1-2025-seed", ""), V1.atMaxLinks);
    assert.equal(await importedCid(1025 * MiB, "v1-2025-seed", ""), V1.overMaxLinks);
  });

  it("cid-version=0 gives Kubo's legacy unixfs-v0-2015 CIDs", async () => {
    assert.equal((await client.add("hello world", { cidVersion: 0 })).cid.toString(), V0.small);
    assert.equal(await importedCid(44544 * 1024, "v0-seed", "cid-version=0"), V0.atMaxLinks);
    assert.equal(await importedCid(44800 * 1024, "v0-seed", "cid-version=0"), V0.overMaxLinks);
    assert.equal(await rootCid(client, deterministicDir(4096, 30, 30, "hamt-unixfs-v0-2015"), 0), V0.dirBasic);
    assert.equal(await rootCid(client, deterministicDir(4033, 31, 31, "hamt-unixfs-v0-2015"), 0), V0.dirHamt);
  });
});

describe("embedded node through kubo-rpc-client", () => {
  let node: Awaited<ReturnType<typeof startTestNode>>;
  let client: KuboRPCClient;
  before(async () => {
    node = await startTestNode();
    client = create({ url: node.apiUrl });
  });
  after(() => node.cleanup());

  it("adds with Kubo's parameters and cats whole files and ranges", async () => {
    const data = patternBytes(3 * MiB + 17, 7);
    const added = await client.add(data);
    assert.equal(added.cid.version, 1);
    assert.equal(added.cid.code, 0x70, "multi-chunk file has a dag-pb root");
    const parts: Uint8Array[] = [];
    for await (const c of client.cat(added.cid)) parts.push(c);
    assert.deepEqual(Buffer.concat(parts), Buffer.from(data));
    const range: Uint8Array[] = [];
    for await (const c of client.cat(added.cid, { offset: MiB - 5, length: 10 })) range.push(c);
    assert.deepEqual(Buffer.concat(range), Buffer.from(data.subarray(MiB - 5, MiB + 5)));
    // chunker and raw-leaves change the DAG; wrap-with-directory wraps it
    const small = await client.add(data, { chunker: "size-262144", rawLeaves: false });
    assert.notEqual(small.cid.toString(), added.cid.toString());
    const wrapped = [];
    for await (const r of client.addAll([{ path: "a.bin", content: data }], { wrapWithDirectory: true })) wrapped.push(r);
    assert.deepEqual(wrapped.map((r) => r.path), ["a.bin", ""]);
    assert.equal(wrapped[0].cid.toString(), added.cid.toString());
    await assert.rejects(client.add(data, { chunker: "rabin-1-2-3" }), /Unsupported add option chunker=rabin/);
  });

  it("pins on add, lists, unpins and reports Kubo-style errors", async () => {
    const a = await client.add("pinned by add");
    const b = await client.add("not pinned", { pin: false });
    const pins = async () => { const out: string[] = []; for await (const p of client.pin.ls()) out.push(`${p.cid}:${p.type}`); return out; };
    assert.ok((await pins()).includes(`${a.cid}:recursive`));
    assert.ok(!(await pins()).some((p) => p.startsWith(b.cid.toString())));
    assert.equal((await client.pin.add(b.cid)).toString(), b.cid.toString());
    await client.pin.add(b.cid); // idempotent, as Kubo
    assert.ok((await pins()).includes(`${b.cid}:recursive`));
    // pin ls for one CID (arg=) answers like the full list, and errors for an unpinned CID.
    const one = async (cid: typeof a.cid) => { const out: string[] = []; for await (const p of client.pin.ls({ paths: [cid] })) out.push(`${p.cid}:${p.type}`); return out; };
    assert.deepEqual(await one(a.cid), [`${a.cid}:recursive`]);
    assert.deepEqual(await one(b.cid), [`${b.cid}:recursive`]);
    await client.pin.rm(b.cid);
    assert.ok(!(await pins()).some((p) => p.startsWith(b.cid.toString())));
    await assert.rejects(one(b.cid), /not pinned/);
    await assert.rejects(client.pin.rm(b.cid), /not pinned/);
    const missing = CID.parse("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy");
    await assert.rejects(client.pin.add(missing), /not on this node/);
    await assert.rejects(async () => { for await (const _ of client.cat(missing)) { /* */ } }, /not found locally/);
  });

  it("serves raw blocks, block stats, version and id", async () => {
    const data = new TextEncoder().encode("a raw leaf");
    const { cid } = await client.add(data);
    const block = await client.block.get(cid);
    assert.deepEqual((await sha256.digest(block)).digest, cid.multihash.digest);
    assert.equal((await client.block.stat(cid)).size, data.length);
    assert.match((await client.version()).version, /^\d+\.\d+\.\d+/);
    const id = await client.id();
    assert.equal(id.id.toString(), node.peerId);
  });

  it("answers bad requests with Kubo's error shape", async () => {
    const get = await fetch(`${node.apiUrl}/api/v0/version`);
    assert.equal(get.status, 405);
    assert.match((await get.json() as { Message: string }).Message, /takes POST/);
    const unknown = await fetch(`${node.apiUrl}/api/v0/dag/put`, { method: "POST" });
    assert.equal(unknown.status, 404);
    assert.deepEqual(Object.keys(await unknown.json() as object).sort(), ["Code", "Message", "Type"]);
    const notMultipart = await fetch(`${node.apiUrl}/api/v0/add`, { method: "POST", body: "plain" });
    assert.equal(notMultipart.status, 400);
    const truncated = await fetch(`${node.apiUrl}/api/v0/add`, {
      method: "POST", headers: { "content-type": "multipart/form-data; boundary=XYZ" },
      body: '--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nno closing boundary',
    });
    assert.equal(truncated.status, 400);
    assert.match((await truncated.json() as { Message: string }).Message, /Malformed multipart body: body ends inside a part/);
    const badCid = await fetch(`${node.apiUrl}/api/v0/block/get?arg=nope`, { method: "POST" });
    assert.equal(badCid.status, 400);
    assert.match((await badCid.json() as { Message: string }).Message, /invalid CID "nope"/);
  });

  it("serves a trustless gateway", async () => {
    const data = patternBytes(2 * MiB + 3, 9);
    const { cid } = await client.add(data);
    const file = await fetch(`${node.gatewayUrl}/ipfs/${cid}`);
    assert.equal(file.status, 200);
    assert.deepEqual(Buffer.from(await file.arrayBuffer()), Buffer.from(data));
    for (const init of [{ url: `${node.gatewayUrl}/ipfs/${cid}?format=raw` }, { url: `${node.gatewayUrl}/ipfs/${cid}`, accept: "application/vnd.ipld.raw" }]) {
      const raw = await fetch(init.url, { headers: init.accept ? { accept: init.accept } : {} });
      assert.equal(raw.headers.get("content-type"), "application/vnd.ipld.raw");
      const bytes = new Uint8Array(await raw.arrayBuffer());
      assert.ok(bytes.length < 1000, "the root block, not the file");
      assert.deepEqual((await sha256.digest(bytes)).digest, cid.multihash.digest);
    }
    assert.equal((await fetch(`${node.gatewayUrl}/ipfs/not-a-cid`)).status, 400);
    assert.equal((await fetch(`${node.gatewayUrl}/ipfs/bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy`)).status, 404);
  });
});

describe("embedded node persistence", () => {
  it("keeps blocks and pins across a restart and locks its repo", async () => {
    const { repo, cleanup } = tempRepo();
    try {
      const first = await startIpfsNode({ repo, apiPort: 0, gatewayPort: 0 });
      await assert.rejects(startIpfsNode({ repo, apiPort: 0, gatewayPort: 0 }), RepoLockedError);
      const data = patternBytes(MiB + 1, 3);
      const { cid } = await create({ url: first.apiUrl }).add(data);
      await first.stop();

      const second = await startIpfsNode({ repo, apiPort: 0, gatewayPort: 0 });
      try {
        const client = create({ url: second.apiUrl });
        const parts: Uint8Array[] = [];
        for await (const c of client.cat(cid)) parts.push(c);
        assert.deepEqual(Buffer.concat(parts), Buffer.from(data));
        const pins: string[] = [];
        for await (const p of client.pin.ls()) pins.push(p.cid.toString());
        assert.deepEqual(pins, [cid.toString()]);
        assert.equal(second.peerId, first.peerId, "identity persists too");
      } finally {
        await second.stop();
      }
    } finally {
      cleanup();
    }
  });

  it("serves a tampered block as stored (verification is the reader's job)", async () => {
    const node = await startTestNode();
    try {
      const data = new TextEncoder().encode("original bytes");
      const { cid } = await create({ url: node.apiUrl }).add(data);
      writeFileSync(findBlockFile(node.repo, data), "altered bytes!");
      const served = await create({ url: node.apiUrl }).block.get(cid);
      assert.equal(new TextDecoder().decode(served), "altered bytes!");
    } finally {
      await node.cleanup();
    }
  });
});
