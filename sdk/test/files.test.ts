import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FileSetMismatchError, addFileSet, fetchFileSet, hasFileSet, readFileSet } from "../src/files/index.ts";
import { startContentStore } from "./helpers/devchain.ts";

describe("file sets (folders on IPFS)", () => {
  let ipfs: Awaited<ReturnType<typeof startContentStore>>;
  const src = mkdtempSync(join(tmpdir(), "fileset-src-"));
  before(async () => {
    ipfs = await startContentStore();
    mkdirSync(join(src, "sub"));
    writeFileSync(join(src, "config.json"), '{"hidden_size": 8}\n');
    writeFileSync(join(src, "sub", "weights.bin"), Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) & 255)));
  });
  after(async () => ipfs?.stop());

  it("round-trips a folder, nested files included, and names it by one CID", async () => {
    const { cid, fileSet } = await addFileSet(ipfs.store, src);
    assert.deepEqual(fileSet.files.map((f) => f.path), ["config.json", "sub/weights.bin"]);
    assert.equal((await addFileSet(ipfs.store, src)).cid, cid, "same content, same CID");
    const dest = join(mkdtempSync(join(tmpdir(), "fileset-dst-")), "model");
    await fetchFileSet(ipfs.store, cid, dest);
    assert.deepEqual(readFileSync(join(dest, "sub", "weights.bin")), readFileSync(join(src, "sub", "weights.bin")));
    assert.equal(readFileSync(join(dest, "config.json"), "utf8"), '{"hidden_size": 8}\n');
    assert.ok(await hasFileSet(dest, cid));
    assert.equal(await hasFileSet(dest, "bafyother"), false);
  });

  it("streams a file larger than the process's peak memory both ways (384 MiB through a process that peaks well below it)", async () => {
    const big = mkdtempSync(join(tmpdir(), "fileset-big-"));
    const MiB = 1024 * 1024;
    const size = 384 * MiB;
    const hash = createHash("sha256");
    const fd = openSync(join(big, "model.safetensors"), "w");
    const block = Buffer.alloc(4 * MiB);
    for (let i = 0; i < size / block.length; i++) {
      for (let j = 0; j < block.length; j += 4) block.writeUInt32LE((i * 2654435761 + j * 40503) >>> 0, j);
      writeSync(fd, block);
      hash.update(block);
    }
    closeSync(fd);
    const dest = join(big, "fetched");
    try {
      const child = fileURLToPath(new URL("./helpers/fileset-child.ts", import.meta.url));
      const { stdout } = await promisify(execFile)(process.execPath, [child, ipfs.apiUrl, big, dest], { encoding: "utf8", maxBuffer: 1 << 20 });
      const r = JSON.parse(stdout.trim().split("\n").pop()!) as { files: { path: string; size: number; sha256: string }[]; maxRssBytes: number };
      assert.deepEqual(r.files.map((f) => [f.path, f.size, f.sha256]), [["model.safetensors", size, `0x${hash.digest("hex")}`]]);
      assert.equal(statSync(join(dest, "model.safetensors")).size, size);
      assert.ok(r.maxRssBytes < size * 0.75, `peak RSS ${(r.maxRssBytes / MiB).toFixed(0)} MiB for a ${size / MiB} MiB file`);
    } finally {
      rmSync(big, { recursive: true, force: true });
    }
  });

  it("refuses a file whose bytes do not match the listed sha256, and leaves no folder behind", async () => {
    const { fileSet } = await addFileSet(ipfs.store, src);
    const forged = { ...fileSet, files: fileSet.files.map((f, i) => (i === 0 ? { ...f, sha256: `0x${"ab".repeat(32)}` } : f)) };
    const { cid } = await ipfs.store.add(JSON.stringify(forged));
    const dest = join(mkdtempSync(join(tmpdir(), "fileset-bad-")), "model");
    await assert.rejects(fetchFileSet(ipfs.store, cid, dest), (e: unknown) => e instanceof FileSetMismatchError && /config\.json: sha256 0x[0-9a-f]+, listed 0xabab/.test(e.message));
    assert.equal(existsSync(dest), false);
  });

  it("refuses a document that is not a file set, saying what is wrong", async () => {
    const { cid } = await ipfs.store.add(JSON.stringify({ schema: "tributary/file-set@1", files: [{ path: "../etc/passwd", cid: "x", sha256: "0x00", size: 1 }] }));
    await assert.rejects(readFileSet(ipfs.store, cid), /must be a relative path inside the folder/);
  });
});
