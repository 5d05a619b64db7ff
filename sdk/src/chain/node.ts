// Node-only chain helpers: reading `deployments/<chainId>.json` from disk and connecting with it.
import { existsSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { connectChain } from "./client.ts";
import type { ChainConnection, ConnectOptions } from "./client.ts";
import { parseDeployments } from "./deployments.ts";
import type { Deployments } from "./deployments.ts";
import { DeploymentsError } from "./errors.ts";

/** The repository's own `deployments/` folder (this file lives in sdk/src/chain/). */
const REPO_DEPLOYMENTS = fileURLToPath(new URL("../../../deployments/", import.meta.url));

/**
 * Where the deployments of `chainId` are: `location` may be a file or a folder holding `<chainId>.json`;
 * without it, `./deployments/` then the repository's `deployments/`.
 */
export function deploymentsPath(chainId: number, location?: string): string {
  if (location) {
    const abs = isAbsolute(location) ? location : resolve(location);
    return existsSync(abs) && statSync(abs).isDirectory() ? join(abs, `${chainId}.json`) : abs;
  }
  const local = resolve("deployments", `${chainId}.json`);
  return existsSync(local) ? local : join(REPO_DEPLOYMENTS, `${chainId}.json`);
}

/** Reads and checks the deployments of `chainId`. Throws DeploymentsError saying to run `npm run deploy`. */
export function loadDeployments(chainId: number, location?: string): Deployments {
  const path = deploymentsPath(chainId, location);
  if (!existsSync(path)) throw new DeploymentsError(path, `no deployments for chain ${chainId}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new DeploymentsError(path, `not valid JSON (${(e as Error).message})`);
  }
  return parseDeployments(raw, chainId, path);
}

/**
 * Connects to the configured chain, checks its id, and resolves the contract addresses: `deployments`
 * may be the deployments themselves, a file, or a folder holding `<chainId>.json` (default: see
 * `deploymentsPath`). The browser-safe `connectChain` takes the deployments object only.
 */
export async function connect(
  opts: Omit<ConnectOptions, "deployments"> & { deployments?: string | Deployments } = {},
): Promise<ChainConnection> {
  const { deployments, ...base } = opts;
  // TRIBUTARY_LOG_BLOCK_RANGE: the RPC provider's eth_getLogs block cap, when it is below 10,000
  const rest = { ...base, logBlockRange: base.logBlockRange ?? process.env.TRIBUTARY_LOG_BLOCK_RANGE };
  return connectChain(typeof deployments === "object" ? { ...rest, deployments } : rest, (chainId) =>
    loadDeployments(chainId, deployments as string | undefined),
  );
}
