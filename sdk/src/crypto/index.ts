export * from "./errors.ts";
export * from "./keys.ts";
export { aesGcmDecrypt, aesGcmEncrypt, randomBytes } from "./aes.ts";
export * from "./envelope.ts";
