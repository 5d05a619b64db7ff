// secp256k1 key pairs and key ids for envelope encryption.
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { InvalidKeyError } from "./errors.ts";

export type KeyInput = Uint8Array | string;

export interface KeyPair {
  privateKey: Uint8Array;
  /** Compressed (33-byte) public key. */
  publicKey: Uint8Array;
  keyId: string;
}

function toBytes(what: string, key: KeyInput): Uint8Array {
  if (key instanceof Uint8Array) return key;
  const hex = key.startsWith("0x") || key.startsWith("0X") ? key.slice(2) : key;
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new InvalidKeyError(what, "not hex");
  return hexToBytes(hex.toLowerCase());
}

/** A private key as bytes (accepts hex with or without 0x, e.g. an Ethereum private key). */
export function privateKeyBytes(key: KeyInput): Uint8Array {
  const bytes = toBytes("private key", key);
  if (bytes.length !== 32 || !secp256k1.utils.isValidSecretKey(bytes)) {
    throw new InvalidKeyError("private key", `expected a 32-byte secp256k1 scalar, got ${bytes.length} bytes`);
  }
  return bytes;
}

/** A public key in compressed form (accepts compressed or uncompressed, bytes or hex). */
export function publicKeyBytes(key: KeyInput): Uint8Array {
  const bytes = toBytes("public key", key);
  try {
    return secp256k1.Point.fromBytes(bytes).toBytes(true);
  } catch {
    throw new InvalidKeyError("public key", `not a point on secp256k1 (${bytes.length} bytes)`);
  }
}

/** Key id: `k1:` + the first 16 bytes of sha256(compressed public key), hex. */
export function keyIdOf(publicKey: KeyInput): string {
  return `k1:${bytesToHex(sha256(publicKeyBytes(publicKey)).subarray(0, 16))}`;
}

export function publicKeyOf(privateKey: KeyInput): Uint8Array {
  return secp256k1.getPublicKey(privateKeyBytes(privateKey), true);
}

export function generateKeyPair(): KeyPair {
  const privateKey = secp256k1.utils.randomSecretKey();
  const publicKey = secp256k1.getPublicKey(privateKey, true);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}
