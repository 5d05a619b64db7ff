// Errors of the envelope encryption layer.

/** Authenticated decryption failed: wrong key, or the ciphertext / wrapped key was altered. */
export class DecryptionError extends Error {
  /** What failed to authenticate. */
  readonly part: "content" | "wrapped-key";
  readonly keyId?: string;
  constructor(part: "content" | "wrapped-key", keyId?: string) {
    super(part === "content"
      ? "Content failed authentication: the ciphertext was tampered with or belongs to a different data key. Fetch it again by CID or ask the contributor to re-upload."
      : `Wrapped data key for ${keyId} failed authentication: wrong private key, or the wrapped key was tampered with. Check you are using the key this envelope was wrapped for.`);
    this.name = "DecryptionError";
    this.part = part;
    this.keyId = keyId;
  }
}

/** The envelope carries no data key wrapped for the private key offered. */
export class KeyNotFoundError extends Error {
  readonly keyId: string;
  readonly available: string[];
  constructor(keyId: string, available: string[]) {
    super(`No data key is wrapped for key ${keyId} (wrapped for: ${available.join(", ") || "none"}). Ask the Datanet's custodian to re-wrap it for your key.`);
    this.name = "KeyNotFoundError";
    this.keyId = keyId;
    this.available = available;
  }
}

/** A key given in the wrong form (not a valid secp256k1 key, wrong length, bad hex). */
export class InvalidKeyError extends Error {
  constructor(what: string, reason: string) {
    super(`Invalid ${what}: ${reason}. Use a 32-byte secp256k1 private key or a 33/65-byte public key, as hex or bytes.`);
    this.name = "InvalidKeyError";
  }
}
