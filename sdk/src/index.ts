// @tributary/sdk: shared TypeScript for Tributary. Browser-safe modules (schemas, records, crypto,
// merkle) are re-exported here; the Node-only embedded IPFS node lives at `@tributary/sdk/ipfs`.
export * from "./schemas/index.ts";
export * from "./records/index.ts";
export * from "./crypto/index.ts";
export * from "./merkle/index.ts";
export * from "./content/index.ts";
