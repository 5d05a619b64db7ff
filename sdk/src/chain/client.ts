// Connecting to a chain: viem clients for a configured RPC and chain id, checked against the node,
// and typed contract handles (address + ABI) from the deployments. Browser-safe: the Node-only
// `connect` in `./node.ts` reads the deployments file and calls `connectChain`.
import { createPublicClient, createWalletClient, defineChain, http } from "viem";
import { parseAccount } from "viem/accounts";
import type { Account, Address, Chain, PublicClient, Transport, WalletClient } from "viem";
import {
  accessRegistryAbi,
  datanetRegistryAbi,
  disputeGameAbi,
  jobMarketAbi,
  modelRegistryAbi,
  openTokenAbi,
  paymentChannelsAbi,
  rewardDistributorAbi,
  trainerRegistryAbi,
  usageEpochsAbi,
  usageGameAbi,
  verifierPoolAbi,
} from "./generated/abis.ts";
import type { ContractName, Deployments } from "./deployments.ts";
import { DeploymentsError, RpcUnreachableError, WrongChainError } from "./errors.ts";
import { withErrors } from "./revert.ts";
import { DEFAULT_LOG_FINALITY, logBlockRange, memoryLogStore, type LogStore } from "./logs.ts";

export const DEFAULT_RPC_URL = "http://127.0.0.1:8545";
/** Hardhat's and anvil's default chain id. */
export const DEFAULT_CHAIN_ID = 31337;

const ABIS = {
  OpenToken: openTokenAbi,
  DatanetRegistry: datanetRegistryAbi,
  AccessRegistry: accessRegistryAbi,
  TrainerRegistry: trainerRegistryAbi,
  JobMarket: jobMarketAbi,
  ModelRegistry: modelRegistryAbi,
  RewardDistributor: rewardDistributorAbi,
  PaymentChannels: paymentChannelsAbi,
  DisputeGame: disputeGameAbi,
  UsageEpochs: usageEpochsAbi,
  VerifierPool: verifierPoolAbi,
  UsageGame: usageGameAbi,
} as const;
type Abis = typeof ABIS;

/** A deployed contract: where it is and its ABI (with every error the protocol can raise). */
export interface ContractHandle<N extends ContractName> {
  name: N;
  address: Address;
  abi: Abis[N];
}
export type Contracts = { [N in ContractName]: ContractHandle<N> };

export interface ConnectOptions {
  rpcUrl?: string;
  chainId?: number;
  /** The contract addresses (`parseDeployments` of a fetched `deployments/<chainId>.json`). */
  deployments?: Deployments;
  /**
   * Signs transactions; without it the connection is read-only. As in viem: a local account (a key), a
   * JSON-RPC account, or just an address (a JSON-RPC account of the transport's wallet, e.g. a browser
   * wallet behind a custom transport: the node or wallet signs, no key is held here).
   */
  account?: Account | Address;
  /** Confirmations every write waits for (default 1). */
  confirmations?: number;
  /** Receipt polling interval in ms (default 250; local nodes mine instantly). */
  pollingInterval?: number;
  /** Most blocks one eth_getLogs asks for (default 10,000; lower it for a provider with a smaller cap). */
  logBlockRange?: bigint | number | string;
  /** Blocks below the head taken as final by log scans (default 64). */
  logFinality?: bigint;
  /** Where log scans keep what they read (default: in memory, for this connection). */
  logStore?: LogStore;
}

export interface ChainConnection {
  chainId: number;
  rpcUrl: string;
  chain: Chain;
  publicClient: PublicClient<Transport, Chain>;
  walletClient?: WalletClient<Transport, Chain, Account>;
  account?: Account;
  deployments: Deployments;
  contracts: Contracts;
  confirmations: number;
  /** How protocol reads scan event logs (see `scanEvents`). */
  logs: { blockRange: bigint; finality: bigint; store?: LogStore };
}

/** A viem chain definition for an id and RPC we are told about (local chains have no registry entry). */
export function chainFor(chainId: number, rpcUrl: string): Chain {
  return defineChain({
    id: chainId,
    name: chainId === DEFAULT_CHAIN_ID ? "Tributary local" : `chain ${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
}

/** Asks the node its chain id; WrongChainError when it is not `expected`. */
export async function checkChainId(
  publicClient: PublicClient,
  expected: number,
  rpcUrl: string,
): Promise<void> {
  let actual: number;
  try {
    actual = await publicClient.getChainId();
  } catch (e) {
    throw new RpcUnreachableError(rpcUrl, e);
  }
  if (actual !== expected) throw new WrongChainError(expected, actual, rpcUrl);
}

/**
 * Connects to the configured chain, checks its id, and binds the contracts of `opts.deployments` (or of
 * what `resolveDeployments` returns for the chain id).
 */
export async function connectChain(
  opts: ConnectOptions,
  resolveDeployments?: (chainId: number) => Deployments,
): Promise<ChainConnection> {
  const rpcUrl = opts.rpcUrl ?? DEFAULT_RPC_URL;
  const chainId = opts.chainId ?? DEFAULT_CHAIN_ID;
  const chain = chainFor(chainId, rpcUrl);
  const transport = http(rpcUrl, { retryCount: 0, timeout: 30_000 });
  const pollingInterval = opts.pollingInterval ?? 250;
  const publicClient = createPublicClient({ chain, transport, pollingInterval }) as PublicClient<
    Transport,
    Chain
  >;
  await checkChainId(publicClient, chainId, rpcUrl);
  const deployments = opts.deployments ?? resolveDeployments?.(chainId);
  if (!deployments)
    throw new DeploymentsError(
      "(none given)",
      `no deployments for chain ${chainId} were passed to connectChain`,
    );
  const contracts = {} as Record<ContractName, ContractHandle<ContractName>>;
  for (const name of Object.keys(ABIS) as ContractName[]) {
    contracts[name] = {
      name,
      address: deployments.contracts[name].address,
      abi: withErrors(ABIS[name]) as Abis[ContractName],
    };
  }
  const account = opts.account === undefined ? undefined : parseAccount(opts.account);
  const walletClient = account ? createWalletClient({ chain, transport, account, pollingInterval }) : undefined;
  return {
    chainId,
    rpcUrl,
    chain,
    publicClient,
    walletClient,
    account,
    deployments,
    contracts: contracts as Contracts,
    confirmations: opts.confirmations ?? 1,
    logs: {
      blockRange: logBlockRange(opts.logBlockRange),
      finality: opts.logFinality ?? DEFAULT_LOG_FINALITY,
      store: opts.logStore ?? memoryLogStore(),
    },
  };
}
