// Ethereum V3 keystore files (the format geth, MetaMask exports and Foundry's `cast wallet` use).
// Key derivation is scrypt (or PBKDF2-HMAC-SHA256 when reading), the key is AES-128-CTR encrypted with the
// first 16 bytes of the derived key, and the MAC is keccak256(derivedKey[16..32] ++ ciphertext). Checked
// against the Web3 Secret Storage Definition's test vectors (sdk/test/keystore.test.ts); KDF parameters
// outside KDF_BOUNDS are refused before any work.
// node:crypto provides scrypt, PBKDF2 and AES; viem provides keccak256.
import {
  createCipheriv,
  createDecipheriv,
  pbkdf2Sync,
  randomBytes,
  randomUUID,
  scryptSync,
  timingSafeEqual,
} from "node:crypto";
import { scrypt as nobleScrypt } from "@noble/hashes/scrypt.js";
import { bytesToHex, hexToBytes, keccak256 } from "viem";
import type { Hex } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import { WalletError } from "./errors.ts";

export interface KeystoreV3 {
  version: 3;
  id: string;
  address: string;
  crypto: {
    cipher: "aes-128-ctr";
    cipherparams: { iv: string };
    ciphertext: string;
    kdf: "scrypt" | "pbkdf2";
    kdfparams: { dklen: number; salt: string; n?: number; r?: number; p?: number; c?: number; prf?: string };
    mac: string;
  };
}

/** scrypt cost; geth's "standard" is 2^18 (~1 s). Tests pass a smaller `n`. */
export const DEFAULT_SCRYPT_N = 1 << 18;

/**
 * Bounds on the KDF parameters a keystore may ask for. Files from geth, MetaMask, Foundry, ethers and
 * web3.js sit well inside them (geth "standard": scrypt n=2^18 r=8 p=1; its PBKDF2 c=2^18); beyond them
 * a file could make a decrypt take minutes or gigabytes of memory, so it is refused before any work.
 */
export const KDF_BOUNDS = {
  /** scrypt n: a power of two in [2, 2^20]. */
  scryptMaxN: 1 << 20,
  scryptMaxR: 32,
  scryptMaxP: 16,
  /** scrypt memory, 128 * n * r bytes: at most 1 GiB. */
  scryptMaxMemory: 1 << 30,
  /** scrypt work, n * r * p: at most 2^24 (8x geth's standard). */
  scryptMaxWork: 1 << 24,
  /** PBKDF2 iterations: 1 to 10 million. */
  pbkdf2MaxC: 10_000_000,
  /** Derived key length: at least 32 (AES key + MAC key), at most 64 bytes. */
  minDklen: 32,
  maxDklen: 64,
  /** Salt: 1 to 1024 bytes of hex. */
  maxSaltBytes: 1024,
} as const;

const CORRUPT_HINT = "The keystore is corrupt or was not written by a known wallet; export the key again from your wallet.";

function outOfBounds(what: string, value: unknown, bound: string): WalletError {
  return new WalletError(`Keystore ${what} ${JSON.stringify(value)} is out of bounds (${bound})`, CORRUPT_HINT);
}

function checkInt(what: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max)
    throw outOfBounds(what, v, `a whole number from ${min} to ${max}`);
  return v;
}

function hexBytes(what: string, v: unknown, min: number, max: number): Buffer {
  if (typeof v !== "string" || !/^(?:0x)?(?:[0-9a-fA-F]{2})*$/.test(v))
    throw new WalletError(`Keystore ${what} is not hex`, CORRUPT_HINT);
  const b = Buffer.from(v.replace(/^0x/, ""), "hex");
  if (b.length < min || b.length > max)
    throw outOfBounds(`${what} length`, b.length, min === max ? `${min} bytes` : `${min} to ${max} bytes`);
  return b;
}

/** The key a keystore's KDF derives from the password, after checking its parameters against KDF_BOUNDS. */
export function deriveKeystoreKey(
  password: string,
  kdf: KeystoreV3["crypto"]["kdf"],
  p: KeystoreV3["crypto"]["kdfparams"],
): Buffer {
  if (!p || typeof p !== "object") throw new WalletError("Keystore kdfparams is missing", CORRUPT_HINT);
  const B = KDF_BOUNDS;
  const dklen = checkInt("kdfparams.dklen", p.dklen, B.minDklen, B.maxDklen);
  const salt = hexBytes("kdfparams.salt", p.salt, 1, B.maxSaltBytes);
  if (kdf === "scrypt") {
    const N = checkInt("scrypt n", p.n, 2, B.scryptMaxN);
    if ((N & (N - 1)) !== 0) throw outOfBounds("scrypt n", N, "a power of two");
    const r = checkInt("scrypt r", p.r, 1, B.scryptMaxR);
    const par = checkInt("scrypt p", p.p, 1, B.scryptMaxP);
    const memory = 128 * N * r;
    if (memory > B.scryptMaxMemory)
      throw outOfBounds("scrypt memory (128 * n * r bytes)", memory, `at most ${B.scryptMaxMemory}`);
    if (N * r * par > B.scryptMaxWork)
      throw outOfBounds("scrypt work (n * r * p)", N * r * par, `at most ${B.scryptMaxWork}`);
    const pw = password.normalize("NFKC");
    // OpenSSL (node:crypto) enforces RFC 7914's N < 2^(16 r); geth's scrypt does not, and the spec's own test
    // vector (n=2^18, r=1) is beyond it: such files go through @noble/hashes' scrypt (slower, same result).
    if (Math.log2(N) < 16 * r) return scryptSync(pw, salt, dklen, { N, r, p: par, maxmem: memory + 1024 * 1024 });
    return Buffer.from(nobleScrypt(pw, salt, { N, r, p: par, dkLen: dklen, maxmem: memory + 1024 * 1024 }));
  }
  if (kdf === "pbkdf2") {
    if (p.prf !== "hmac-sha256")
      throw new WalletError(`Keystore PBKDF2 PRF ${p.prf} is not supported`, "Re-export the key with scrypt.");
    const c = checkInt("pbkdf2 c (iterations)", p.c, 1, B.pbkdf2MaxC);
    return pbkdf2Sync(password.normalize("NFKC"), salt, c, dklen, "sha256");
  }
  throw new WalletError(`Keystore KDF ${String(kdf)} is not supported`, "Use a V3 keystore with scrypt or pbkdf2.");
}

function mac(derived: Buffer, ciphertext: Buffer): Buffer {
  return Buffer.from(hexToBytes(keccak256(Buffer.concat([derived.subarray(16, 32), ciphertext]))));
}

/** Encrypts a private key into a V3 keystore with scrypt. */
export function encryptKeystore(
  privateKey: Hex,
  password: string,
  opts: { n?: number; r?: number; p?: number } = {},
): KeystoreV3 {
  const salt = randomBytes(32);
  const iv = randomBytes(16);
  const kdfparams = {
    dklen: 32,
    salt: salt.toString("hex"),
    n: opts.n ?? DEFAULT_SCRYPT_N,
    r: opts.r ?? 8,
    p: opts.p ?? 1,
  };
  const derived = deriveKeystoreKey(password, "scrypt", kdfparams);
  const cipher = createCipheriv("aes-128-ctr", derived.subarray(0, 16), iv);
  const ciphertext = Buffer.concat([cipher.update(hexToBytes(privateKey)), cipher.final()]);
  return {
    version: 3,
    id: randomUUID(),
    address: privateKeyToAddress(privateKey).slice(2).toLowerCase(),
    crypto: {
      cipher: "aes-128-ctr",
      cipherparams: { iv: iv.toString("hex") },
      ciphertext: ciphertext.toString("hex"),
      kdf: "scrypt",
      kdfparams,
      mac: mac(derived, ciphertext).toString("hex"),
    },
  };
}

/** Decrypts a V3 keystore; WalletError on a wrong password or a malformed file (never echoing secrets). */
export function decryptKeystore(keystore: unknown, password: string): Hex {
  const ks = keystore as Partial<KeystoreV3> & { Crypto?: KeystoreV3["crypto"] };
  const c = ks?.crypto ?? ks?.Crypto;
  if (ks?.version !== 3 || !c || !c.kdfparams || typeof c.ciphertext !== "string") {
    throw new WalletError("Not an Ethereum V3 keystore", "Pass a keystore JSON file (version 3).");
  }
  if (c.cipher !== "aes-128-ctr")
    throw new WalletError(`Keystore cipher ${c.cipher} is not supported`, "Use an aes-128-ctr keystore.");
  const iv = hexBytes("cipherparams.iv", c.cipherparams?.iv, 16, 16);
  const ciphertext = hexBytes("ciphertext", c.ciphertext, 32, 32);
  const expected = hexBytes("mac", c.mac, 32, 32);
  const derived = deriveKeystoreKey(password, c.kdf, c.kdfparams);
  const actual = mac(derived, ciphertext);
  if (!timingSafeEqual(expected, actual)) {
    throw new WalletError(
      "Wrong keystore password (the MAC does not match)",
      "Check TRIBUTARY_KEYSTORE_PASSWORD.",
    );
  }
  const decipher = createDecipheriv("aes-128-ctr", derived.subarray(0, 16), iv);
  const key = bytesToHex(Buffer.concat([decipher.update(ciphertext), decipher.final()]));
  if (
    ks.address &&
    privateKeyToAddress(key).slice(2).toLowerCase() !== ks.address.toLowerCase().replace(/^0x/, "")
  ) {
    throw new WalletError(
      "The keystore's key does not match its address",
      "The file is corrupt; restore it from a backup.",
    );
  }
  return key;
}
