// Envelope encryption: content under a random AES-256-GCM data key; the data key wrapped per
// recipient with ECIES over secp256k1 (ephemeral ECDH -> HKDF-SHA256 -> AES-256-GCM).
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { CONTENT_ALGORITHM, ECIES_ALGORITHM } from "../schemas/contribution.ts";
import type { EncryptionInfo, WrappedKey } from "../schemas/contribution.ts";
import { AES_KEY_BYTES, aesGcmDecrypt, aesGcmEncrypt, GCM_IV_BYTES, randomBytes } from "./aes.ts";
import { DecryptionError, KeyNotFoundError } from "./errors.ts";
import { keyIdOf, privateKeyBytes, publicKeyBytes, publicKeyOf } from "./keys.ts";
import type { KeyInput } from "./keys.ts";

const HKDF_INFO = utf8ToBytes("tributary/ecies@1");

/** KEK = HKDF-SHA256(ikm = ECDH x-coordinate, salt = ephemeral pub || recipient pub, info). */
function deriveKek(sharedPoint: Uint8Array, ephemeralPublicKey: Uint8Array, recipientPublicKey: Uint8Array): Uint8Array {
  return hkdf(sha256, sharedPoint.subarray(1), concatBytes(ephemeralPublicKey, recipientPublicKey), HKDF_INFO, AES_KEY_BYTES);
}

/** Wraps a 32-byte data key for one recipient public key. */
export async function wrapDataKey(dataKey: Uint8Array, recipientPublicKey: KeyInput): Promise<WrappedKey> {
  if (dataKey.length !== AES_KEY_BYTES) throw new RangeError(`data key must be 32 bytes, got ${dataKey.length}`);
  const recipient = publicKeyBytes(recipientPublicKey);
  const ephemeral = secp256k1.utils.randomSecretKey();
  const ephemeralPublicKey = secp256k1.getPublicKey(ephemeral, true);
  const kek = deriveKek(secp256k1.getSharedSecret(ephemeral, recipient, true), ephemeralPublicKey, recipient);
  const iv = randomBytes(GCM_IV_BYTES);
  const keyId = keyIdOf(recipient);
  const ciphertext = await aesGcmEncrypt(kek, iv, dataKey, utf8ToBytes(keyId));
  return { algorithm: ECIES_ALGORITHM, keyId, ephemeralPublicKey: bytesToHex(ephemeralPublicKey), iv: bytesToHex(iv), ciphertext: bytesToHex(ciphertext) };
}

/** Unwraps a data key with the recipient's private key; DecryptionError if it does not authenticate. */
export async function unwrapDataKey(wrapped: WrappedKey, privateKey: KeyInput): Promise<Uint8Array> {
  const priv = privateKeyBytes(privateKey);
  const recipient = publicKeyOf(priv);
  const ephemeralPublicKey = hexToBytes(wrapped.ephemeralPublicKey);
  let shared: Uint8Array;
  try {
    shared = secp256k1.getSharedSecret(priv, ephemeralPublicKey, true);
  } catch {
    throw new DecryptionError("wrapped-key", wrapped.keyId);
  }
  const kek = deriveKek(shared, ephemeralPublicKey, recipient);
  const key = await aesGcmDecrypt(kek, hexToBytes(wrapped.iv), hexToBytes(wrapped.ciphertext), utf8ToBytes(wrapped.keyId));
  if (key === undefined) throw new DecryptionError("wrapped-key", wrapped.keyId);
  return key;
}

/**
 * Re-wraps a data key for another public key (what a custodian does for a trainer): unwraps it with
 * `privateKey` and wraps the same key for `recipientPublicKey`. The content is never touched.
 */
export async function rewrapDataKey(wrapped: WrappedKey, privateKey: KeyInput, recipientPublicKey: KeyInput): Promise<WrappedKey> {
  const dataKey = await unwrapDataKey(wrapped, privateKey);
  try {
    return await wrapDataKey(dataKey, recipientPublicKey);
  } finally {
    dataKey.fill(0);
  }
}

/** Finds the wrapped key meant for `privateKey` in an envelope's manifest. */
export function wrappedKeyFor(encryption: EncryptionInfo, privateKey: KeyInput): WrappedKey {
  const keyId = keyIdOf(publicKeyOf(privateKey));
  const found = encryption.wrappedKeys.find((w) => w.keyId === keyId);
  if (!found) throw new KeyNotFoundError(keyId, encryption.wrappedKeys.map((w) => w.keyId));
  return found;
}

export interface EncryptedContent {
  /** AES-256-GCM ciphertext with its tag: what gets pinned to IPFS. */
  ciphertext: Uint8Array;
  /** Goes into the contribution manifest's `encryption` field. */
  encryption: EncryptionInfo;
}

/** Encrypts content under a fresh data key, wrapped for each recipient (at least one). */
export async function encryptContent(plaintext: Uint8Array, recipients: readonly KeyInput[]): Promise<EncryptedContent> {
  if (recipients.length === 0) throw new RangeError("encryptContent needs at least one recipient public key");
  const dataKey = randomBytes(AES_KEY_BYTES);
  const iv = randomBytes(GCM_IV_BYTES);
  try {
    const ciphertext = await aesGcmEncrypt(dataKey, iv, plaintext);
    const wrappedKeys = await Promise.all(recipients.map((r) => wrapDataKey(dataKey, r)));
    return { ciphertext, encryption: { algorithm: CONTENT_ALGORITHM, iv: bytesToHex(iv), wrappedKeys } };
  } finally {
    dataKey.fill(0);
  }
}

/** Decrypts content with a data key already unwrapped (e.g. one a custodian re-wrapped and sent). */
export async function decryptWithDataKey(ciphertext: Uint8Array, encryption: Pick<EncryptionInfo, "iv">, dataKey: Uint8Array): Promise<Uint8Array> {
  const plaintext = await aesGcmDecrypt(dataKey, hexToBytes(encryption.iv), ciphertext);
  if (plaintext === undefined) throw new DecryptionError("content");
  return plaintext;
}

/**
 * Decrypts an envelope with a recipient's private key. Throws KeyNotFoundError when nothing is wrapped
 * for that key, DecryptionError when the wrapped key or the content fails authentication.
 */
export async function decryptContent(ciphertext: Uint8Array, encryption: EncryptionInfo, privateKey: KeyInput): Promise<Uint8Array> {
  const dataKey = await unwrapDataKey(wrappedKeyFor(encryption, privateKey), privateKey);
  try {
    return await decryptWithDataKey(ciphertext, encryption, dataKey);
  } finally {
    dataKey.fill(0);
  }
}
