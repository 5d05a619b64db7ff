// The account that signs: from a raw private key (TRIBUTARY_PRIVATE_KEY) or a V3 keystore file.
import { readFileSync } from "node:fs";
import { isHex } from "viem";
import type { Hex, LocalAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { WalletError } from "./errors.ts";
import { decryptKeystore } from "./keystore.ts";

export interface WalletOptions {
  /** 0x-prefixed 32-byte hex private key. */
  privateKey?: string;
  /** Path to a V3 keystore JSON file. */
  keystore?: string;
  /** The keystore's password. */
  password?: string;
}

/** Normalises a hex private key; never puts the key in an error message. */
export function parsePrivateKey(key: string): Hex {
  const hex = (key.trim().startsWith("0x") ? key.trim() : `0x${key.trim()}`) as Hex;
  if (!isHex(hex) || hex.length !== 66) {
    throw new WalletError(
      "The private key is not 32 bytes of hex",
      "Set TRIBUTARY_PRIVATE_KEY to a 0x-prefixed 64-digit hex key.",
    );
  }
  return hex;
}

/**
 * The signing account, or undefined when neither a key nor a keystore is configured.
 * Options win over the environment (TRIBUTARY_PRIVATE_KEY, TRIBUTARY_KEYSTORE, TRIBUTARY_KEYSTORE_PASSWORD).
 */
export function loadAccount(
  opts: WalletOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): LocalAccount | undefined {
  const keystore = opts.keystore ?? env.TRIBUTARY_KEYSTORE;
  const privateKey = opts.privateKey ?? (keystore ? undefined : env.TRIBUTARY_PRIVATE_KEY);
  if (privateKey) return privateKeyToAccount(parsePrivateKey(privateKey));
  if (!keystore) return undefined;
  const password = opts.password ?? env.TRIBUTARY_KEYSTORE_PASSWORD;
  if (password === undefined) {
    throw new WalletError(
      `Keystore ${keystore} needs a password`,
      "Set TRIBUTARY_KEYSTORE_PASSWORD (or pass --password-file).",
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(keystore, "utf8"));
  } catch (e) {
    throw new WalletError(
      `Cannot read keystore ${keystore} (${(e as NodeJS.ErrnoException).code ?? "invalid JSON"})`,
      "Check the path points to a V3 keystore JSON file.",
    );
  }
  return privateKeyToAccount(decryptKeystore(json, password));
}
