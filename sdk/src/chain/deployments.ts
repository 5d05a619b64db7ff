// Contract addresses as written to `deployments/<chainId>.json` by `scripts/deploy.ts`: the shape and its
// validation. Browser-safe; reading the file lives in `./node.ts`.
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
  "DisputeGame",
  "UsageEpochs",
  "VerifierPool",
  "UsageGame",
] as const;
export type ContractName = (typeof CONTRACT_NAMES)[number];

export interface Deployments {
  chainId: number;
  /** First block any of the contracts exists at: where log queries start. */
  deployBlock: bigint;
  contracts: Record<ContractName, { address: Address; deployBlock: bigint }>;
  /** Where they came from (a file path or a URL). */
  path: string;
}

/**
 * Checks a parsed deployments document for `chainId` (e.g. fetched by a web app); `path` names its source
 * in errors. Throws DeploymentsError saying to run `npm run deploy`.
 */
export function parseDeployments(raw: unknown, chainId: number, path = "deployments"): Deployments {
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
