// Contract addresses from `deployments/<chainId>.json`, written by `scripts/deploy.ts`.
import { existsSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { getAddress, isAddress } from "viem";
import type { Address } from "viem";
import { DeploymentsError } from "./errors.ts";

/** The contracts the SDK talks to, by their deployment names. */
export const CONTRACT_NAMES = [
  "OpenToken",
  "DatanetRegistry",
  "AccessRegistry",
  "TrainerRegistry",
  "JobMarket",
  "ModelRegistry",
  "RewardDistributor",
  "PaymentChannels",
] as const;
export type ContractName = (typeof CONTRACT_NAMES)[number];

export interface Deployments {
  chainId: number;
  /** First block any of the contracts exists at: where log queries start. */
  deployBlock: bigint;
  contracts: Record<ContractName, { address: Address; deployBlock: bigint }>;
  /** The file they were read from. */
  path: string;
}

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
  const doc = raw as {
    chainId?: unknown;
    deployBlock?: unknown;
    contracts?: Record<string, { address?: unknown; deployBlock?: unknown }>;
  };
  if (Number(doc.chainId) !== chainId) {
    throw new DeploymentsError(path, `it is for chain ${String(doc.chainId)}, not ${chainId}`);
  }
  if (typeof doc.contracts !== "object" || doc.contracts === null)
    throw new DeploymentsError(path, "no `contracts` object");
  const contracts = {} as Deployments["contracts"];
  for (const name of CONTRACT_NAMES) {
    const entry = doc.contracts[name];
    if (!entry || typeof entry.address !== "string" || !isAddress(entry.address)) {
      throw new DeploymentsError(path, `no valid address for ${name}`);
    }
    contracts[name] = {
      address: getAddress(entry.address),
      deployBlock: BigInt((entry.deployBlock ?? doc.deployBlock ?? 0) as number | string),
    };
  }
  const deployBlock =
    doc.deployBlock !== undefined
      ? BigInt(doc.deployBlock as number | string)
      : Object.values(contracts).reduce(
          (m, c) => (c.deployBlock < m ? c.deployBlock : m),
          contracts.OpenToken.deployBlock,
        );
  return { chainId, deployBlock, contracts, path };
}
