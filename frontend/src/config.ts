// What the app needs to know about its deployment, served by the Vite server as /tributary-config.json
// (see vite.config.ts), and the same-origin paths under which that server proxies each service.
import { parseDeployments } from "@tributary/sdk/chain/browser";
import type { Deployments } from "@tributary/sdk/chain/browser";
import { PROXY_PATHS } from "./served-config.ts";
import type { AppConfig } from "./served-config.ts";

export { PROXY_PATHS };
export type { AppConfig };

/** The configuration the app runs with: parsed deployments plus the proxied URLs it calls. */
export interface RuntimeConfig extends Omit<AppConfig, "deployments"> {
  deployments: Deployments;
  proxied: { rpc: string; ipfs: string; subgraph: string; trainer: string; custodian: string };
}

export class ConfigError extends Error {
  constructor(reason: string, next: string) {
    super(`${reason}. ${next}`);
    this.name = "ConfigError";
  }
}

/** Checks a served config and binds the proxy paths to `origin` (the page's). */
export function toRuntimeConfig(raw: AppConfig, origin: string): RuntimeConfig {
  if (!raw.deployments) {
    throw new ConfigError(
      `No contracts are deployed for chain ${raw.chainId} (${raw.deploymentsFile} is missing)`,
      "Start the local stack with `npm start`, or run `npm run deploy`, then reload this page.",
    );
  }
  const deployments = parseDeployments(raw.deployments, raw.chainId, raw.deploymentsFile);
  return {
    ...raw,
    deployments,
    proxied: {
      rpc: origin + PROXY_PATHS.rpc,
      // kubo-rpc-client uses a URL path as the API root as it is (it adds /api/v0 only to a bare host).
      ipfs: origin + PROXY_PATHS.ipfs + "/api/v0",
      subgraph: origin + PROXY_PATHS.subgraph,
      trainer: origin + PROXY_PATHS.trainer + "/v1",
      // the custodian's public key, for Approval and Paid Datanets created in the app
      custodian: origin + PROXY_PATHS.custodian,
    },
  };
}

export async function loadRuntimeConfig(origin: string): Promise<RuntimeConfig> {
  let res: Response;
  try {
    res = await fetch(`${origin}/tributary-config.json`, { cache: "no-store" });
  } catch (e) {
    throw new ConfigError(
      `Cannot load the app's configuration: ${String(e)}`,
      "Check that the web server is running.",
    );
  }
  if (!res.ok) {
    throw new ConfigError(
      `The web server answered ${res.status} for /tributary-config.json`,
      "Serve the app with its Vite server (`npm start` or `npm run dev -w frontend`).",
    );
  }
  return toRuntimeConfig((await res.json()) as AppConfig, origin);
}
