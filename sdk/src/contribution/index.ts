// The contribution flow shared by the web app, the CLI and trainer nodes: normalise a file into
// records, hash the JSONL, encrypt it for the Datanet's custodian, store it, and write the manifest;
// and the reverse, with every check (CID verification, decryption, content hash) on the way back.
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { ContentStore } from "../content/store.ts";
import { decryptContent, decryptWithDataKey, encryptContent } from "../crypto/envelope.ts";
import type { KeyInput } from "../crypto/keys.ts";
import { normaliseFile, normaliseJsonl, recordsToJsonl } from "../records/normalise.ts";
import type { NormaliseOptions } from "../records/normalise.ts";
import type { ContributionManifest, EncryptionInfo } from "../schemas/contribution.ts";
import { parseContributionManifest } from "../schemas/index.ts";
import type { RecordKind, TrainingRecord } from "../schemas/records.ts";

export interface PreparedContribution {
  records: TrainingRecord[];
  recordKinds: RecordKind[];
  /** Plaintext JSONL size in bytes. */
  bytes: number;
  /** sha256 of the plaintext JSONL (what goes on chain). */
  contentHash: `0x${string}`;
  /** What gets stored: ciphertext when encrypted, else the JSONL. */
  payload: Uint8Array;
  encryption?: EncryptionInfo;
  source: { fileName: string; bytes: number };
}

/** The stored content does not hash to the manifest's contentHash. */
export class ContentHashMismatchError extends Error {
  readonly expected: string;
  readonly actual: string;
  constructor(expected: string, actual: string) {
    super(`Contribution content hashes to ${actual}, but its manifest says ${expected}. Do not train on it; report the contribution.`);
    this.name = "ContentHashMismatchError";
    this.expected = expected;
    this.actual = actual;
  }
}

export function sha256Hex(bytes: Uint8Array): `0x${string}` {
  return `0x${bytesToHex(sha256(bytes))}`;
}

/**
 * Normalises an uploaded file and seals it: encrypted for `recipients` (the custodian's public key)
 * or plaintext when none are given (open Datanets).
 */
export async function prepareContribution(
  fileName: string,
  content: string | Uint8Array,
  opts: { recipients?: readonly KeyInput[]; normalise?: NormaliseOptions } = {},
): Promise<PreparedContribution> {
  const file = normaliseFile(fileName, content, opts.normalise);
  const jsonl = new TextEncoder().encode(recordsToJsonl(file.records));
  const base = {
    records: file.records, recordKinds: file.kinds, bytes: jsonl.length, contentHash: sha256Hex(jsonl),
    source: { fileName, bytes: file.inputBytes },
  };
  if (!opts.recipients || opts.recipients.length === 0) return { ...base, payload: jsonl };
  const { ciphertext, encryption } = await encryptContent(jsonl, opts.recipients);
  return { ...base, payload: ciphertext, encryption };
}

/** Stores the payload and the manifest; returns the manifest and both CIDs. */
export async function uploadContribution(
  store: ContentStore,
  prepared: PreparedContribution,
  meta: { datanetId: bigint | string; contributor: string; createdAt?: Date; onProgress?: (bytes: number) => void },
): Promise<{ manifest: ContributionManifest; manifestCid: string; contentCid: string }> {
  const { cid: contentCid } = await store.add(prepared.payload, { onProgress: meta.onProgress });
  const manifest = parseContributionManifest({
    datanetId: meta.datanetId.toString(),
    contributor: meta.contributor,
    contentCid,
    contentHash: prepared.contentHash,
    records: prepared.records.length,
    bytes: prepared.bytes,
    recordKinds: prepared.recordKinds,
    source: prepared.source,
    ...(prepared.encryption ? { encryption: prepared.encryption } : {}),
    createdAt: (meta.createdAt ?? new Date()).toISOString(),
  });
  const { cid: manifestCid } = await store.add(JSON.stringify(manifest));
  return { manifest, manifestCid, contentCid };
}

export type ContributionKey = { privateKey: KeyInput } | { dataKey: Uint8Array };

/**
 * Reads a contribution back: the manifest (by CID or as given), the content verified against its
 * CID, decrypted with a private key or an already unwrapped data key, and checked against the
 * manifest's content hash before the records are parsed.
 */
export async function readContribution(
  store: ContentStore,
  manifestOrCid: ContributionManifest | string,
  key?: ContributionKey,
): Promise<{ manifest: ContributionManifest; records: TrainingRecord[] }> {
  const manifest = typeof manifestOrCid === "string"
    ? parseContributionManifest(JSON.parse(new TextDecoder().decode(await store.cat(manifestOrCid))))
    : manifestOrCid;
  const payload = await store.cat(manifest.contentCid);
  let jsonl: Uint8Array;
  if (manifest.encryption) {
    if (!key) throw new TypeError(`Contribution ${manifest.contentCid} is encrypted: pass the private key or data key to read it.`);
    jsonl = "dataKey" in key
      ? await decryptWithDataKey(payload, manifest.encryption, key.dataKey)
      : await decryptContent(payload, manifest.encryption, key.privateKey);
  } else jsonl = payload;
  const actual = sha256Hex(jsonl);
  if (actual !== manifest.contentHash.toLowerCase()) throw new ContentHashMismatchError(manifest.contentHash, actual);
  return { manifest, records: normaliseJsonl(manifest.contentCid, new TextDecoder().decode(jsonl)) };
}
