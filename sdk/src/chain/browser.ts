// Browser-safe chain layer (no Node built-ins): connection from a deployments object, typed contracts,
// revert decoding, writes, and the protocol functions. `@tributary/sdk/chain` adds the Node-only parts
// (deployments files, keystores, wallets from the environment).
export * from "./errors.ts";
export * from "./deployments.ts";
export * from "./client.ts";
export * from "./logs.ts";
export * from "./revert.ts";
export * from "./write.ts";
export * from "./protocol/index.ts";
