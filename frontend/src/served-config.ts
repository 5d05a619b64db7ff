// The shape of /tributary-config.json and the proxy paths: shared by vite.config.ts and the app, so
// this file imports nothing.

/** Same-origin proxy paths (vite.config.ts forwards them to the configured services). */
export const PROXY_PATHS = {
  rpc: "/__rpc",
  ipfs: "/__ipfs",
  subgraph: "/__subgraph",
  trainer: "/__trainer",
  custodian: "/__custodian",
} as const;

/** As served by the Vite server: the services' own URLs (shown to people, given to wallets). */
export interface AppConfig {
  chainId: number;
  rpcUrl: string;
  subgraphUrl: string;
  trainerApiUrl: string;
  ipfsGatewayUrl: string;
  deploymentsFile: string;
  /** The raw `deployments/<chainId>.json`, or null when nothing is deployed yet. */
  deployments: unknown;
}
