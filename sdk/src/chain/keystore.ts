// Ethereum V3 keystore files (the format geth, MetaMask exports and Foundry's `cast wallet` use).
// Key derivation is scrypt (or PBKDF2-HMAC-SHA256 when reading), the key is AES-128-CTR encrypted with the
// first 16 bytes of the derived key, and the MAC is keccak256(derivedKey[16..32] ++ ciphertext).
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

function deriveKey(
  password: string,
  kdf: KeystoreV3["crypto"]["kdf"],
  p: KeystoreV3["crypto"]["kdfparams"],
): Buffer {
  const salt = Buffer.from(p.salt, "hex");
  if (kdf === "scrypt") {
    const N = p.n ?? 0,
      r = p.r ?? 0,
      par = p.p ?? 0;
    return scryptSync(password.normalize("NFKC"), salt, p.dklen, {
      N,
      r,
      p: par,
      maxmem: 256 * N * r + 1024 * 1024,
    });
  }
  if (kdf === "pbkdf2") {
    if (p.prf !== "hmac-sha256")
      throw new WalletError(
        `Keystore PBKDF2 PRF ${p.prf} is not supported`,
        "Re-export the key with scrypt.",
      );
    return pbkdf2Sync(password.normalize("NFKC"), salt, p.c ?? 0, p.dklen, "sha256");
  }
  throw new WalletError(
    `Keystore KDF ${String(kdf)} is not supported`,
    "Use a V3 keystore with scrypt or pbkdf2.",
  );
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
  const derived = deriveKey(password, "scrypt", kdfparams);
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
  const derived = deriveKey(password, c.kdf, c.kdfparams);
  const ciphertext = Buffer.from(c.ciphertext, "hex");
  const expected = Buffer.from(c.mac, "hex");
  const actual = mac(derived, ciphertext);
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
    throw new WalletError(
      "Wrong keystore password (the MAC does not match)",
      "Check TRIBUTARY_KEYSTORE_PASSWORD.",
    );
  }
  const decipher = createDecipheriv(
    "aes-128-ctr",
    derived.subarray(0, 16),
    Buffer.from(c.cipherparams.iv, "hex"),
  );
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
