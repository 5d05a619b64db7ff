// @tributary/sdk: shared TypeScript for Tributary. Everything re-exported here is browser-safe
// (no Node built-ins); the Node-only embedded IPFS node lives at `@tributary/sdk/ipfs`.
export * from "./schemas/index.ts";
export * from "./records/index.ts";
export * from "./crypto/index.ts";
export * from "./merkle/index.ts";
export * from "./content/index.ts";
export * from "./contribution/index.ts";
