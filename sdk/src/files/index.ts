// A directory stored as a file set: every file added (and pinned) on its own, plus one JSON document
// (`tributary/file-set@1`) listing path, CID, sha256 and size. Its CID names the directory: base model
// folders (Hugging Face layout) and adapter folders (PEFT layout) travel this way. Reading it back
// verifies each file twice: block by block against its CID (ContentStore.cat) and against the listed
// sha256; the folder appears on disk only once complete (written to a temporary folder, then renamed).
// Files stream both ways (read from disk into the store, and from the store to disk) with the hash and
// size computed as the bytes pass, so a multi-GB model file never has to fit in memory.
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { once } from "node:events";
import { dirname, join, sep } from "node:path";
import type { ContentStore } from "../content/store.ts";
import { FileSetMismatchError, FileSetSchema, readFileSet } from "./set.ts";
import type { FileSet } from "./set.ts";

export { FileSetMismatchError, FileSetSchema, readFileFromSet, readFileSet } from "./set.ts";
export type { FileSet } from "./set.ts";

async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of (await readdir(join(dir, prefix), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else if (e.isFile()) out.push(rel);
  }
  return out;
}

/**
 * Adds the files of `dir` (all, recursively, or only `files`, relative paths) and their file set;
 * returns the file set's CID. Same folder content -> same CID.
 */
export async function addFileSet(
  store: ContentStore,
  dir: string,
  opts: { files?: readonly string[]; extra?: Readonly<Record<string, string | Uint8Array>>; signal?: AbortSignal } = {},
): Promise<{ cid: string; fileSet: FileSet }> {
  const extra = opts.extra ?? {};
  const paths = (opts.files ? [...opts.files] : await listFiles(dir)).filter((p) => !(p.split(sep).join("/") in extra));
  type Source = () => AsyncIterable<Uint8Array>;
  const entries: Array<[string, Source]> = [
    ...paths.map((p): [string, Source] => [p.split(sep).join("/"), () => createReadStream(join(dir, p), { highWaterMark: 1 << 20 })]),
    ...Object.entries(extra).map(([p, v]): [string, Source] => [p, async function* () {
      yield typeof v === "string" ? new TextEncoder().encode(v) : v;
    }]),
  ].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const files: FileSet["files"] = [];
  for (const [path, source] of entries) {
    // hash and count the bytes on their way into the store
    const hash = createHash("sha256");
    let size = 0;
    const counted = async function* () {
      for await (const chunk of source()) {
        const c = chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk as ArrayBuffer);
        hash.update(c);
        size += c.length;
        yield c;
      }
    };
    const { cid } = await store.add(counted(), { signal: opts.signal });
    files.push({ path, cid, sha256: `0x${hash.digest("hex")}`, size });
  }
  const fileSet = FileSetSchema.parse({ schema: "tributary/file-set@1", files });
  const { cid } = await store.add(JSON.stringify(fileSet), { signal: opts.signal });
  return { cid, fileSet };
}

/** The file set a folder made by fetchFileSet holds (its `.file-set` marker), or null. */
async function localFileSet(destDir: string, cid: string): Promise<FileSet | null> {
  const marker = join(destDir, ".file-set");
  if (!existsSync(marker) || !(await stat(marker)).isFile()) return null;
  try {
    const m = JSON.parse(await readFile(marker, "utf8")) as { cid?: string; fileSet?: unknown };
    return m.cid === cid ? FileSetSchema.parse(m.fileSet) : null;
  } catch {
    return null;
  }
}

/**
 * Materialises the file set `cid` as the folder `destDir` (verified), unless `destDir` already holds
 * it (its `.file-set` marker names this CID: then no IPFS access is needed). Returns the file set.
 */
export async function fetchFileSet(store: ContentStore, cid: string, destDir: string, opts: { signal?: AbortSignal } = {}): Promise<FileSet> {
  const cached = await localFileSet(destDir, cid);
  if (cached) return cached;
  const fileSet = await readFileSet(store, cid, opts);
  const tmp = `${destDir}.partial-${process.pid}-${Date.now()}`;
  await rm(tmp, { recursive: true, force: true });
  try {
    for (const f of fileSet.files) {
      const target = join(tmp, f.path);
      await mkdir(dirname(target), { recursive: true });
      // verified block by block by the store, hashed and counted here, written as it arrives
      const out = createWriteStream(target);
      const hash = createHash("sha256");
      let size = 0;
      try {
        for await (const chunk of store.catStream(f.cid, { signal: opts.signal, maxBytes: f.size })) {
          size += chunk.length;
          if (size > f.size) throw new FileSetMismatchError(f.path, `more than the listed ${f.size} bytes`);
          hash.update(chunk);
          if (!out.write(chunk)) await once(out, "drain");
        }
      } finally {
        out.end();
        await once(out, "close");
      }
      if (size !== f.size) throw new FileSetMismatchError(f.path, `size ${size}, listed ${f.size}`);
      const actual = `0x${hash.digest("hex")}`;
      if (actual !== f.sha256) throw new FileSetMismatchError(f.path, `sha256 ${actual}, listed ${f.sha256}`);
    }
    await writeFile(join(tmp, ".file-set"), `${JSON.stringify({ cid, fileSet })}\n`);
    await rm(destDir, { recursive: true, force: true });
    await mkdir(dirname(destDir), { recursive: true });
    await rename(tmp, destDir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return fileSet;
}

/** Whether `destDir` holds the complete file set `cid` (as fetchFileSet leaves it). */
export async function hasFileSet(destDir: string, cid: string): Promise<boolean> {
  return (await localFileSet(destDir, cid)) !== null;
}
