// A contribution: normalised records (JSONL), optionally encrypted, plus the manifest that describes them.
import { z } from "zod";
import { Address, CidString, Hex, Sha256, schemaField, Timestamp, Uint256String } from "./common.ts";

export const ECIES_ALGORITHM = "ECIES-secp256k1-HKDF-SHA256-AES-256-GCM" as const;
export const CONTENT_ALGORITHM = "AES-256-GCM" as const;

/** A data key wrapped for one recipient public key. */
export const WrappedKey = z.object({
  algorithm: z.literal(ECIES_ALGORITHM),
  /** Key id of the recipient's public key. */
  keyId: z.string().min(1),
  /** Ephemeral compressed secp256k1 public key (33 bytes). */
  ephemeralPublicKey: Hex.refine((h) => h.length === 66, "must be 33 bytes"),
  /** AES-GCM nonce (12 bytes). */
  iv: Hex.refine((h) => h.length === 24, "must be 12 bytes"),
  /** The encrypted 32-byte data key with its 16-byte tag. */
  ciphertext: Hex.refine((h) => h.length === 96, "must be 48 bytes (32-byte key + 16-byte tag)"),
});

/** How the content bytes were encrypted: algorithm, nonce and the data key wrapped per recipient. */
export const EncryptionInfo = z.object({
  algorithm: z.literal(CONTENT_ALGORITHM),
  iv: Hex.refine((h) => h.length === 24, "must be 12 bytes"),
  wrappedKeys: z.array(WrappedKey).min(1, "must wrap the data key for at least one recipient"),
});

/**
 * The manifest of a contribution envelope. The content (`contentCid`) is the JSONL of the records,
 * encrypted when `encryption` is present; `contentHash` is the sha256 of the plaintext JSONL, which is
 * what goes on chain and what a trainer checks after decrypting.
 */
export const ContributionManifest = z.object({
  schema: schemaField("contribution"),
  datanetId: Uint256String,
  contributor: Address,
  contentCid: CidString,
  contentHash: Sha256,
  /** Number of records in the JSONL. */
  records: z.number().int().positive(),
  /** Plaintext JSONL size in bytes. */
  bytes: z.number().int().positive(),
  recordKinds: z.array(z.enum(["chat", "prompt-completion", "text"])).min(1),
  source: z.object({
    fileName: z.string().min(1),
    mediaType: z.string().optional(),
    bytes: z.number().int().nonnegative().optional(),
  }).optional(),
  encryption: EncryptionInfo.optional(),
  createdAt: Timestamp,
});

export type WrappedKey = z.infer<typeof WrappedKey>;
export type EncryptionInfo = z.infer<typeof EncryptionInfo>;
export type ContributionManifest = z.infer<typeof ContributionManifest>;
