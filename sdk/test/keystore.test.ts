// V3 keystores as other wallets write them: the two test vectors of the Web3 Secret Storage Definition
// (ethereum.org, "Web3 secret storage definition", Test vectors: password "testpassword", the same private
// key under PBKDF2-SHA-256 and under scrypt), and KDF parameters no wallet writes refused before any work.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decryptKeystore, deriveKeystoreKey, encryptKeystore, KDF_BOUNDS, WalletError } from "../src/chain/index.ts";

const PASSWORD = "testpassword";
const PRIVATE_KEY = "0x7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d";

// The spec's PBKDF2-SHA-256 vector, as printed there.
const PBKDF2_VECTOR = {
  crypto: {
    cipher: "aes-128-ctr",
    cipherparams: { iv: "6087dab2f9fdbbfaddc31a909735c1e6" },
    ciphertext: "5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",
    kdf: "pbkdf2",
    kdfparams: {
      c: 262144,
      dklen: 32,
      prf: "hmac-sha256",
      salt: "ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd",
    },
    mac: "517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2",
  },
  id: "3198bc9c-6672-5ab3-d995-4942343ae5b6",
  version: 3,
};

// The spec's scrypt vector, as printed there.
const SCRYPT_VECTOR = {
  crypto: {
    cipher: "aes-128-ctr",
    cipherparams: { iv: "83dbcc02d8ccb40e466191a123791e0e" },
    ciphertext: "d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c",
    kdf: "scrypt",
    kdfparams: {
      dklen: 32,
      n: 262144,
      p: 8,
      r: 1,
      salt: "ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19",
    },
    mac: "2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097",
  },
  id: "3198bc9c-6672-5ab3-d995-4942343ae5b6",
  version: 3,
};

const clone = <T>(x: T): T => structuredClone(x);
const refused = (re: RegExp) => (e: unknown) => e instanceof WalletError && re.test(e.message);

describe("keystore: the Web3 Secret Storage test vectors", () => {
  it("decrypts the PBKDF2-SHA-256 vector to the spec's private key", () => {
    assert.equal(decryptKeystore(PBKDF2_VECTOR, PASSWORD), PRIVATE_KEY);
  });

  it("decrypts the scrypt vector to the spec's private key", () => {
    assert.equal(decryptKeystore(SCRYPT_VECTOR, PASSWORD), PRIVATE_KEY);
  });

  it("refuses either vector with another password or a flipped ciphertext bit (MAC)", () => {
    assert.throws(() => decryptKeystore(PBKDF2_VECTOR, "testpassworD"), refused(/Wrong keystore password/));
    const flipped = clone(PBKDF2_VECTOR);
    flipped.crypto.ciphertext = `4${flipped.crypto.ciphertext.slice(1)}`;
    assert.throws(() => decryptKeystore(flipped, PASSWORD), refused(/the MAC does not match/));
  });

  it("derives the spec's intermediate derived key (PBKDF2)", () => {
    assert.equal(
      deriveKeystoreKey(PASSWORD, "pbkdf2", PBKDF2_VECTOR.crypto.kdfparams).toString("hex"),
      "f06d69cdc7da0faffb1008270bca38f5e31891a3a773950e6d0fea48a7188551",
    );
  });

  it("writes keystores with geth's standard scrypt parameters that it reads back", () => {
    const ks = encryptKeystore(PRIVATE_KEY, PASSWORD, { n: 1 << 12, r: 8, p: 1 });
    assert.deepEqual(
      { kdf: ks.crypto.kdf, n: ks.crypto.kdfparams.n, r: ks.crypto.kdfparams.r, p: ks.crypto.kdfparams.p, dklen: ks.crypto.kdfparams.dklen },
      { kdf: "scrypt", n: 4096, r: 8, p: 1, dklen: 32 },
    );
    assert.equal(decryptKeystore(ks, PASSWORD), PRIVATE_KEY);
  });
});

describe("keystore: KDF parameters no wallet writes are refused before any work", () => {
  const scrypt = (kdfparams: Record<string, unknown>) => {
    const ks = clone(SCRYPT_VECTOR) as { crypto: { kdfparams: Record<string, unknown> } };
    Object.assign(ks.crypto.kdfparams, kdfparams);
    return ks;
  };
  const pbkdf2 = (kdfparams: Record<string, unknown>) => {
    const ks = clone(PBKDF2_VECTOR) as { crypto: { kdfparams: Record<string, unknown> } };
    Object.assign(ks.crypto.kdfparams, kdfparams);
    return ks;
  };

  const cases: [string, unknown, RegExp][] = [
    ["scrypt n = 2^31 (hours, terabytes)", scrypt({ n: 2 ** 31 }), /scrypt n 2147483648 is out of bounds \(a whole number from 2 to 1048576\)/],
    ["scrypt n not a power of two", scrypt({ n: 3000 }), /scrypt n 3000 is out of bounds \(a power of two\)/],
    ["scrypt r = 0", scrypt({ r: 0 }), /scrypt r 0 is out of bounds/],
    ["scrypt r huge", scrypt({ r: 1e9 }), /scrypt r 1000000000 is out of bounds/],
    ["scrypt p huge", scrypt({ p: 1 << 20 }), /scrypt p 1048576 is out of bounds/],
    ["scrypt memory over 1 GiB", scrypt({ n: 1 << 20, r: 16, p: 1 }), /scrypt memory \(128 \* n \* r bytes\) 2147483648 is out of bounds/],
    ["scrypt work over 2^24", scrypt({ n: 1 << 20, r: 8, p: 4 }), /scrypt work \(n \* r \* p\) 33554432 is out of bounds/],
    ["scrypt n as a string", scrypt({ n: "262144" }), /scrypt n "262144" is out of bounds/],
    ["pbkdf2 c = 10^12", pbkdf2({ c: 1e12 }), /pbkdf2 c \(iterations\) 1000000000000 is out of bounds \(a whole number from 1 to 10000000\)/],
    ["pbkdf2 c = 0", pbkdf2({ c: 0 }), /pbkdf2 c \(iterations\) 0 is out of bounds/],
    ["dklen 16 (no MAC key)", pbkdf2({ dklen: 16 }), /kdfparams\.dklen 16 is out of bounds \(a whole number from 32 to 64\)/],
    ["dklen 2^30", pbkdf2({ dklen: 2 ** 30 }), /kdfparams\.dklen 1073741824 is out of bounds/],
    ["salt not hex", pbkdf2({ salt: "zz" }), /kdfparams\.salt is not hex/],
    ["salt of 4 KiB", pbkdf2({ salt: "ab".repeat(4096) }), /kdfparams\.salt length 4096 is out of bounds \(1 to 1024 bytes\)/],
  ];
  for (const [name, ks, re] of cases) {
    it(`refuses ${name}, saying which parameter and its bounds`, () => {
      assert.throws(() => decryptKeystore(ks, PASSWORD), refused(re));
      assert.throws(() => decryptKeystore(ks, PASSWORD), refused(/export the key again from your wallet/));
    });
  }

  it("refuses a truncated iv, ciphertext or MAC by name", () => {
    const bad = (f: (k: typeof PBKDF2_VECTOR) => void) => {
      const k = clone(PBKDF2_VECTOR);
      f(k);
      return k;
    };
    assert.throws(() => decryptKeystore(bad((k) => (k.crypto.cipherparams.iv = "6087")), PASSWORD), refused(/cipherparams\.iv length 2 is out of bounds \(16 bytes\)/));
    assert.throws(() => decryptKeystore(bad((k) => (k.crypto.ciphertext = "5318")), PASSWORD), refused(/ciphertext length 2 is out of bounds \(32 bytes\)/));
    assert.throws(() => decryptKeystore(bad((k) => (k.crypto.mac = "")), PASSWORD), refused(/mac length 0 is out of bounds/));
  });

  it("refuses to write a keystore outside the bounds", () => {
    assert.throws(() => encryptKeystore(PRIVATE_KEY, PASSWORD, { n: KDF_BOUNDS.scryptMaxN * 2 }), refused(/scrypt n 2097152 is out of bounds/));
  });
});
