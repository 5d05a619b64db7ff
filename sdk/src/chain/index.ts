// Chain layer: connection (chain-id checked), deployments, typed contracts, revert decoding, writes,
// wallets, and the protocol functions the CLI, the seed script, the web app and trainer nodes share.
// Node-only (reads files, node:crypto); the web app imports `@tributary/sdk/chain/browser`.
export * from "./browser.ts";
export * from "./node.ts";
export * from "./keystore.ts";
export * from "./wallet.ts";
export * from "./log-store.ts";
