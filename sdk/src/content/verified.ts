// Verified reading of UnixFS files from any source of raw blocks: every block is hashed and compared
// with its CID before it is decoded or returned, so a lying node cannot slip in altered bytes.
import * as dagPb from "@ipld/dag-pb";
import { UnixFS } from "ipfs-unixfs";
import { CID } from "multiformats/cid";
import { identity } from "multiformats/hashes/identity";
import { sha256 } from "multiformats/hashes/sha2";
import { ContentTamperedError, UnsupportedContentError } from "./errors.ts";

export const RAW_CODE = 0x55;
export const DAG_PB_CODE = 0x70;

/** Returns the raw bytes of one block (unverified); the reader checks them. */
export type BlockGetter = (cid: CID, opts?: { signal?: AbortSignal }) => Promise<Uint8Array>;

export interface VerifiedReadOptions {
  /** Blocks fetched ahead of the one being returned (default 8). */
  prefetch?: number;
  /** Refuse files larger than this many bytes. */
  maxBytes?: number;
  signal?: AbortSignal;
}

export function toCid(cid: CID | string): CID {
  if (typeof cid !== "string") return cid;
  try {
    return CID.parse(cid.replace(/^\/ipfs\//, ""));
  } catch (e) {
    throw new UnsupportedContentError(cid, `not a valid CID (${(e as Error).message})`);
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Checks that `bytes` hash to `cid`'s multihash (sha2-256 or identity); throws ContentTamperedError if not. */
export async function verifyBlock(cid: CID, bytes: Uint8Array, root: CID = cid): Promise<void> {
  const code = cid.multihash.code;
  let digest: Uint8Array;
  if (code === sha256.code) digest = (await sha256.digest(bytes)).digest;
  else if (code === identity.code) digest = identity.digest(bytes).digest;
  else throw new UnsupportedContentError(root.toString(), `block ${cid} uses hash function 0x${code.toString(16)}; only sha2-256 and identity are verified`);
  if (!equalBytes(digest, cid.multihash.digest)) throw new ContentTamperedError(root.toString(), cid.toString());
}

/** Fetches and verifies one block. */
export async function getVerifiedBlock(getBlock: BlockGetter, cid: CID, root: CID = cid, signal?: AbortSignal): Promise<Uint8Array> {
  const bytes = await getBlock(cid, { signal });
  await verifyBlock(cid, bytes, root);
  return bytes;
}

interface Decoded {
  /** File bytes held in this node itself. */
  data?: Uint8Array;
  /** Children in order, with the file size each must produce. */
  children: Array<{ cid: CID; size?: bigint }>;
  fileSize: bigint;
}

function decode(cid: CID, bytes: Uint8Array, root: CID): Decoded {
  if (cid.code === RAW_CODE) return { data: bytes, children: [], fileSize: BigInt(bytes.length) };
  if (cid.code !== DAG_PB_CODE) throw new UnsupportedContentError(root.toString(), `block ${cid} has codec 0x${cid.code.toString(16)}`);
  let node: dagPb.PBNode;
  let fs: UnixFS;
  try {
    node = dagPb.decode(bytes);
    if (node.Data === undefined) throw new Error("no UnixFS data");
    fs = UnixFS.unmarshal(node.Data);
  } catch (e) {
    throw new UnsupportedContentError(root.toString(), `block ${cid} is not valid UnixFS (${(e as Error).message})`);
  }
  if (fs.type !== "file" && fs.type !== "raw") {
    throw new UnsupportedContentError(root.toString(), `${cid.equals(root) ? "it" : `block ${cid}`} is a UnixFS ${fs.type}`);
  }
  if (node.Links.length !== fs.blockSizes.length) {
    throw new UnsupportedContentError(root.toString(), `block ${cid} has ${node.Links.length} links but ${fs.blockSizes.length} block sizes`);
  }
  return {
    data: fs.data !== undefined && fs.data.length > 0 ? fs.data : undefined,
    children: node.Links.map((l, i) => ({ cid: l.Hash, size: fs.blockSizes[i] })),
    fileSize: fs.fileSize(),
  };
}

/**
 * Streams a UnixFS file's bytes in order, verifying every block against its CID. Children are
 * fetched up to `prefetch` blocks ahead. Throws ContentTamperedError naming the CID on any mismatch.
 */
export async function* verifiedFileStream(getBlock: BlockGetter, cidInput: CID | string, opts: VerifiedReadOptions = {}): AsyncGenerator<Uint8Array> {
  const root = toCid(cidInput);
  const prefetch = Math.max(1, opts.prefetch ?? 8);
  const signal = opts.signal;
  const fetch = (cid: CID) => getVerifiedBlock(getBlock, cid, root, signal);
  const rootNode = decode(root, await fetch(root), root);
  if (opts.maxBytes !== undefined && rootNode.fileSize > BigInt(opts.maxBytes)) {
    throw new UnsupportedContentError(root.toString(), `it is ${rootNode.fileSize} bytes, over the limit of ${opts.maxBytes}`);
  }
  let emitted = 0n;

  // Depth-first in order. Each level keeps a window of child fetches in flight.
  async function* walk(node: Decoded, at: CID): AsyncGenerator<Uint8Array> {
    const start = emitted;
    if (node.data) {
      emitted += BigInt(node.data.length);
      yield node.data;
    }
    const pending: Array<Promise<Uint8Array>> = [];
    let next = 0;
    const fill = () => {
      while (next < node.children.length && pending.length < prefetch) {
        const p = fetch(node.children[next++].cid);
        p.catch(() => {}); // surfaced when awaited in order
        pending.push(p);
      }
    };
    fill();
    for (let i = 0; i < node.children.length; i++) {
      const child = node.children[i];
      const bytes = await pending.shift()!;
      fill();
      const before = emitted;
      yield* walk(decode(child.cid, bytes, root), child.cid);
      if (child.size !== undefined && emitted - before !== child.size) {
        throw new UnsupportedContentError(root.toString(), `block ${child.cid} holds ${emitted - before} bytes but its parent ${at} says ${child.size}`);
      }
    }
    if (emitted - start !== node.fileSize) {
      throw new UnsupportedContentError(root.toString(), `block ${at} holds ${emitted - start} bytes but declares ${node.fileSize}`);
    }
  }
  yield* walk(rootNode, root);
}

/** Collects a stream of chunks into one array. */
export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const c of chunks) {
    parts.push(c);
    total += c.length;
  }
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Reads a whole UnixFS file, verified. */
export async function verifiedCat(getBlock: BlockGetter, cid: CID | string, opts: VerifiedReadOptions = {}): Promise<Uint8Array> {
  return collect(verifiedFileStream(getBlock, cid, opts));
}
