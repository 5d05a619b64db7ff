// Chain layer: connection (chain-id checked), deployments, typed contracts, revert decoding, writes,
// wallets, and the protocol functions the CLI, the seed script, the web app and trainer nodes share.
export * from "./errors.ts";
export * from "./deployments.ts";
export * from "./client.ts";
export * from "./revert.ts";
export * from "./write.ts";
export * from "./keystore.ts";
export * from "./wallet.ts";
export * from "./protocol/index.ts";
