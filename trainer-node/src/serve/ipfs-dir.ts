/**
 * Verified download of a UnixFS directory (a Hugging Face model or a PEFT adapter) from IPFS to disk.
 * The directory's own blocks are fetched raw and hashed against their CIDs before they are decoded
 * (dag-pb + UnixFS, decoded here: the SDK reads files only), each file through the store's verified
 * `catStream`. The files land in a temporary sibling that is renamed into place at the end, so a
 * crash never leaves a partial directory under the final name.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { toCid, verifyBlock } from "@tributary/sdk/content";
import type { BlockGetter, ContentStore } from "@tributary/sdk/content";
import { ContentMismatchError } from "./errors.ts";

/** What a directory download needs: raw blocks (verified here) and verified file reads. */
export type DirectorySource = Pick<ContentStore, "catStream"> & { getBlock: BlockGetter };

const DAG_PB = 0x70;
const RAW = 0x55;
const UNIXFS_DIRECTORY = 1;
const UNIXFS_HAMT = 5;

interface Link {
  cid: string;
  name: string;
}

function varint(buf: Uint8Array, pos: number): [number, number] {
  let value = 0;
  let mul = 1;
  for (;;) {
    if (pos >= buf.length) throw new Error("truncated varint");
    const b = buf[pos++];
    value += (b & 0x7f) * mul;
    if (b < 0x80) return [value, pos];
    mul *= 128;
    if (mul > 2 ** 56) throw new Error("varint too long");
  }
}

/** Protobuf fields of one message: [field number, wire type, bytes or varint value]. */
function* fields(buf: Uint8Array): Generator<[number, number, Uint8Array | number]> {
  let pos = 0;
  while (pos < buf.length) {
    let key: number;
    [key, pos] = varint(buf, pos);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      let v: number;
      [v, pos] = varint(buf, pos);
      yield [field, wire, v];
    } else if (wire === 2) {
      let len: number;
      [len, pos] = varint(buf, pos);
      if (pos + len > buf.length) throw new Error("truncated field");
      yield [field, wire, buf.subarray(pos, pos + len)];
      pos += len;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
}

const B32 = "abcdefghijklmnopqrstuvwxyz234567";

/** A binary CID as its base32 string (CIDv0 multihashes become the equivalent CIDv1 dag-pb). */
export function cidBytesToString(bytes: Uint8Array): string {
  const b = bytes[0] === 0x12 && bytes[1] === 0x20 && bytes.length === 34 ? Uint8Array.of(0x01, DAG_PB, ...bytes) : bytes;
  let out = "b";
  let bits = 0;
  let value = 0;
  for (const byte of b) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

/** Decodes a dag-pb UnixFS directory node: its links (name, CID). */
export function decodeDirectory(block: Uint8Array, cid: string): Link[] {
  const links: Link[] = [];
  let type: number | undefined;
  try {
    for (const [field, wire, value] of fields(block)) {
      if (field === 2 && wire === 2) {
        let hash: Uint8Array | undefined;
        let name = "";
        for (const [f, w, v] of fields(value as Uint8Array)) {
          if (f === 1 && w === 2) hash = v as Uint8Array;
          else if (f === 2 && w === 2) name = new TextDecoder("utf-8", { fatal: true }).decode(v as Uint8Array);
        }
        if (!hash) throw new Error("a link without a hash");
        links.push({ cid: cidBytesToString(hash), name });
      } else if (field === 1 && wire === 2) {
        for (const [f, w, v] of fields(value as Uint8Array)) if (f === 1 && w === 0) type = v as number;
      }
    }
  } catch (e) {
    throw new ContentMismatchError("not a valid dag-pb node", { cid, reason: (e as Error).message }, "Pass the CID of a UnixFS directory");
  }
  if (type === UNIXFS_HAMT) throw new ContentMismatchError("sharded (HAMT) directories are not supported", { cid }, "Add the model directory without sharding (it has only a few files)");
  if (type !== UNIXFS_DIRECTORY) throw new ContentMismatchError("not a UnixFS directory", { cid, unixfsType: type ?? null }, "Pass the CID of the model or adapter directory, not of a file inside it");
  return links;
}

function safeName(name: string, cid: string): string {
  if (!name || name === "." || name === ".." || name.includes("/") || name.includes("\\") || name.includes("\0")) {
    throw new ContentMismatchError("directory entry with an unsafe name", { cid, name }, "The directory cannot be written to disk as it is");
  }
  return name;
}

async function writeTree(src: DirectorySource, cidStr: string, dest: string, budget: { files: number; bytes: number; maxBytes: number }, signal?: AbortSignal): Promise<void> {
  const cid = toCid(cidStr);
  if (cid.code !== DAG_PB) throw new ContentMismatchError("not a UnixFS directory", { cid: cidStr, codec: `0x${cid.code.toString(16)}` }, "Pass the CID of a directory");
  const block = await src.getBlock(cid, { signal });
  await verifyBlock(cid, block);
  const links = decodeDirectory(block, cidStr);
  await mkdir(dest, { recursive: true });
  for (const link of links) {
    const name = safeName(link.name, cidStr);
    const child = toCid(link.cid);
    let isDir = false;
    if (child.code === DAG_PB) {
      // a dag-pb child is a file or a subdirectory: look at its (verified) root block
      const b = await src.getBlock(child, { signal });
      await verifyBlock(child, b);
      for (const [f, w, v] of fields(b)) {
        if (f === 1 && w === 2) for (const [ff, ww, vv] of fields(v as Uint8Array)) if (ff === 1 && ww === 0) isDir = vv === UNIXFS_DIRECTORY || vv === UNIXFS_HAMT;
      }
    } else if (child.code !== RAW) {
      throw new ContentMismatchError("directory entry with an unknown codec", { cid: cidStr, name, codec: `0x${child.code.toString(16)}` }, "Only UnixFS (dag-pb and raw) content is read");
    }
    if (isDir) {
      await writeTree(src, link.cid, join(dest, name), budget, signal);
      continue;
    }
    if (++budget.files > 1000) throw new ContentMismatchError("directory has too many files", { cid: cidStr }, "A model directory has a few files");
    const chunks = src.catStream(link.cid, { signal, maxBytes: Math.max(1, budget.maxBytes - budget.bytes) });
    await pipeline(
      async function* () {
        for await (const chunk of chunks) {
          budget.bytes += chunk.length;
          yield chunk;
        }
      },
      createWriteStream(join(dest, name)),
    );
  }
}

export interface FetchDirectoryOptions {
  signal?: AbortSignal;
  /** Refuse directories larger than this in all (default 64 GiB). */
  maxBytes?: number;
  /** Runs on the complete temporary copy before it is renamed into place; throw to refuse it. */
  check?: (tmpDir: string) => Promise<void>;
}

/**
 * Downloads directory `cid` to `dest` (which must not exist yet), verified; returns `dest`. If `dest`
 * already exists (an earlier or concurrent download), it is kept as it is.
 */
export async function fetchDirectory(src: DirectorySource, cid: string, dest: string, opts: FetchDirectoryOptions = {}): Promise<string> {
  if (existsSync(dest)) return dest;
  await mkdir(dirname(dest), { recursive: true });
  const tmp = join(dirname(dest), `.tmp-${randomBytes(6).toString("hex")}`);
  try {
    await writeTree(src, cid, tmp, { files: 0, bytes: 0, maxBytes: opts.maxBytes ?? 64 * 2 ** 30 }, opts.signal);
    await opts.check?.(tmp);
    if (existsSync(dest)) return dest;
    try {
      await rename(tmp, dest);
    } catch (e) {
      if (!existsSync(dest)) throw e; // another process renamed its copy into place first: keep that one
    }
    return dest;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
