// The custodian's secp256k1 key: given (env / keystore), or generated on first run and kept in the
// state folder, readable by its owner only (0600).
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bytesToHex } from "@noble/hashes/utils.js";
import { generateKeyPair, keyIdOf, privateKeyBytes, publicKeyOf } from "../crypto/index.ts";
import type { KeyPair } from "../crypto/index.ts";

export const CUSTODIAN_KEY_FILE = "custodian-key.json";

export class CustodianKeyError extends Error {
  constructor(reason: string, next: string) {
    super(`${reason}. ${next}`);
    this.name = "CustodianKeyError";
  }
}

function pairOf(privateKey: Uint8Array): KeyPair {
  const publicKey = publicKeyOf(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

/**
 * The custodian key: `privateKey` (hex) if given, else the one in `<stateDir>/custodian-key.json`,
 * else a new one written there with mode 0600. `created` says whether it was generated now.
 */
export function loadOrCreateCustodianKey(opts: {
  privateKey?: string;
  stateDir: string;
}): KeyPair & { created: boolean; path?: string } {
  if (opts.privateKey) {
    try {
      return { ...pairOf(privateKeyBytes(opts.privateKey)), created: false };
    } catch {
      throw new CustodianKeyError(
        "The custodian private key is not a valid secp256k1 key",
        "Set TRIBUTARY_CUSTODIAN_KEY to 32 bytes of hex, or unset it to use the key in the state folder.",
      );
    }
  }
  const path = join(opts.stateDir, CUSTODIAN_KEY_FILE);
  if (existsSync(path)) {
    let doc: { privateKey?: string };
    try {
      doc = JSON.parse(readFileSync(path, "utf8"));
      return { ...pairOf(privateKeyBytes(doc.privateKey ?? "")), created: false, path };
    } catch {
      throw new CustodianKeyError(
        `The custodian key file ${path} is unreadable or corrupt`,
        "Restore it from a backup; a new key cannot decrypt existing contributions.",
      );
    }
  }
  mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
  const pair = generateKeyPair();
  const doc = {
    privateKey: bytesToHex(pair.privateKey),
    publicKey: bytesToHex(pair.publicKey),
    keyId: pair.keyId,
  };
  writeFileSync(path, JSON.stringify(doc, null, 2) + "\n", { mode: 0o600, flag: "wx" });
  chmodSync(path, 0o600);
  return { ...pair, created: true, path };
}
