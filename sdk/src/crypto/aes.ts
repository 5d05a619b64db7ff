// AES-256-GCM over WebCrypto (browser and Node >= 19 expose `crypto.subtle`).

export const AES_KEY_BYTES = 32;
export const GCM_IV_BYTES = 12;

/** Copies into a fresh ArrayBuffer-backed array, as WebCrypto wants (and to detach from callers). */
export function own(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes.length);
  out.set(bytes);
  return out;
}

export function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  return crypto.getRandomValues(new Uint8Array(n));
}

function importKey(key: Uint8Array, usage: "encrypt" | "decrypt") {
  if (key.length !== AES_KEY_BYTES) throw new RangeError(`AES-256 key must be 32 bytes, got ${key.length}`);
  return crypto.subtle.importKey("raw", own(key), { name: "AES-GCM" }, false, [usage]);
}

/** Encrypts with AES-256-GCM; the result is ciphertext followed by the 16-byte tag. */
export async function aesGcmEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Promise<Uint8Array> {
  const k = await importKey(key, "encrypt");
  const params = { name: "AES-GCM", iv: own(iv), ...(aad ? { additionalData: own(aad) } : {}) };
  return new Uint8Array(await crypto.subtle.encrypt(params, k, plaintext.buffer instanceof ArrayBuffer ? plaintext as Uint8Array<ArrayBuffer> : own(plaintext)));
}

/** Decrypts AES-256-GCM; returns undefined when authentication fails (wrong key or altered bytes). */
export async function aesGcmDecrypt(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array, aad?: Uint8Array): Promise<Uint8Array | undefined> {
  const k = await importKey(key, "decrypt");
  const params = { name: "AES-GCM", iv: own(iv), ...(aad ? { additionalData: own(aad) } : {}) };
  try {
    return new Uint8Array(await crypto.subtle.decrypt(params, k, ciphertext.buffer instanceof ArrayBuffer ? ciphertext as Uint8Array<ArrayBuffer> : own(ciphertext)));
  } catch (e) {
    if ((e as Error).name === "OperationError") return undefined;
    throw e;
  }
}
