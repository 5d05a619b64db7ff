// UnixFS import parameters: Kubo's CID profiles (IPIP-499), and Kubo's `add` query parameters mapped
// onto them. @helia/unixfs does not apply a `profile:` option, so every parameter is passed explicitly.
import { fixedSize } from "ipfs-unixfs-importer/chunker";
import type { ImporterOptions } from "ipfs-unixfs-importer";
import { balanced, trickle } from "ipfs-unixfs-importer/layout";

/** Importer parameters (everything but progress callbacks). */
export type ImportParams = Omit<Partial<ImporterOptions>, "onProgress">;

export interface ImportProfile {
  cidVersion: 0 | 1;
  rawLeaves: boolean;
  chunkSize: number;
  maxLinks: number;
  shardSplitThresholdBytes: number;
  shardSplitStrategy: "links-bytes" | "block-bytes";
}

/** Kubo's `unixfs-v1-2025` profile: CIDv1, raw leaves, 1 MiB chunks, 1024-link balanced DAG, HAMT over 256 KiB (block size). */
export const UNIXFS_V1_2025: ImportProfile = {
  cidVersion: 1, rawLeaves: true, chunkSize: 1024 * 1024, maxLinks: 1024,
  shardSplitThresholdBytes: 256 * 1024, shardSplitStrategy: "block-bytes",
};

/** Kubo's legacy `unixfs-v0-2015` profile (its implicit default): CIDv0, 256 KiB chunks, 174 links. */
export const UNIXFS_V0_2015: ImportProfile = {
  cidVersion: 0, rawLeaves: false, chunkSize: 256 * 1024, maxLinks: 174,
  shardSplitThresholdBytes: 256 * 1024, shardSplitStrategy: "links-bytes",
};

export function importerOptions(profile: ImportProfile, extra: { trickle?: boolean; wrapWithDirectory?: boolean } = {}): ImportParams {
  return {
    cidVersion: profile.cidVersion,
    rawLeaves: profile.rawLeaves,
    // Without raw leaves Kubo writes leaves as UnixFS `file` nodes.
    leafType: "file",
    reduceSingleLeafToSelf: true,
    chunker: fixedSize({ chunkSize: profile.chunkSize }),
    layout: extra.trickle ? trickle() : balanced({ maxChildrenPerNode: profile.maxLinks }),
    shardSplitThresholdBytes: profile.shardSplitThresholdBytes,
    shardSplitStrategy: profile.shardSplitStrategy,
    shardFanoutBits: 8,
    wrapWithDirectory: extra.wrapWithDirectory ?? false,
  };
}

/** A Kubo `add` parameter the node cannot honour. */
export class UnsupportedAddOptionError extends Error {
  constructor(option: string, value: string, supported: string) {
    super(`Unsupported add option ${option}=${value}: ${supported}.`);
    this.name = "UnsupportedAddOptionError";
  }
}

const truthy = (v: string | null) => v !== null && v !== "false" && v !== "0";

/**
 * Maps Kubo's `/api/v0/add` query (cid-version, raw-leaves, chunker, hash, trickle,
 * wrap-with-directory) onto importer options. Defaults follow unixfs-v1-2025; `cid-version=0`
 * switches to the legacy defaults as Kubo does (raw leaves off unless asked).
 */
export function importerOptionsFromQuery(q: URLSearchParams): ImportParams {
  const version = q.get("cid-version");
  if (version !== null && version !== "0" && version !== "1") throw new UnsupportedAddOptionError("cid-version", version, "use 0 or 1");
  const base = version === "0" ? UNIXFS_V0_2015 : UNIXFS_V1_2025;
  const profile: ImportProfile = { ...base };
  if (q.has("raw-leaves")) profile.rawLeaves = truthy(q.get("raw-leaves"));
  const chunker = q.get("chunker");
  if (chunker !== null && chunker !== "") {
    const m = /^size-(\d+)$/.exec(chunker);
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 2 * 1024 * 1024) {
      throw new UnsupportedAddOptionError("chunker", chunker, "only fixed-size chunkers size-1 .. size-2097152 are supported");
    }
    profile.chunkSize = Number(m[1]);
  }
  const hash = q.get("hash");
  if (hash !== null && hash !== "sha2-256") throw new UnsupportedAddOptionError("hash", hash, "only sha2-256 is supported");
  if (profile.cidVersion === 0 && profile.rawLeaves) profile.cidVersion = 1; // as Kubo: raw leaves need CIDv1
  return importerOptions(profile, { trickle: truthy(q.get("trickle")), wrapWithDirectory: truthy(q.get("wrap-with-directory")) });
}
