// Deploys the Tributary protocol to any EVM chain and wires it together, writing
// deployments/<chainId>.json ({chainId, deployBlock, contracts: {Name: {address, deployBlock}}}).
//
//   TRIBUTARY_RPC_URL=http://127.0.0.1:8545 TRIBUTARY_PRIVATE_KEY=0x... node scripts/deploy.ts
//
// Idempotent: when deployments/<chainId>.json exists and every address in it holds code, nothing is sent.
// Defaults: the local node on 127.0.0.1:8545 and Hardhat's first development account. Keys are never logged.
// TRIBUTARY_OPEN_TOKEN=0x... uses an existing OPEN token instead of deploying OpenToken. Chain id 31337 gets
// short local windows (10 min challenge, 1 h channel timeout); other chains get 1-day windows.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  createPublicClient,
  createWalletClient,
  getAddress,
  http,
  parseEther,
  type Abi,
  type Account,
  type Address,
  type Chain,
  type Hex,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Hardhat's first development account (public, funded on every Hardhat node and anvil). */
export const DEFAULT_DEV_KEY: Hex = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
export const DEFAULT_RPC_URL = "http://127.0.0.1:8545";

/** Contracts in deployment order, with their artifact source paths. */
export const CONTRACTS = {
  OpenToken: "contracts/token/OpenToken.sol",
  DatanetRegistry: "contracts/datanets/DatanetRegistry.sol",
  ModelRegistry: "contracts/models/ModelRegistry.sol",
  RewardDistributor: "contracts/rewards/RewardDistributor.sol",
  AccessRegistry: "contracts/access/AccessRegistry.sol",
  TrainerRegistry: "contracts/trainers/TrainerRegistry.sol",
  JobMarket: "contracts/jobs/JobMarket.sol",
  UsageEpochs: "contracts/rewards/UsageEpochs.sol",
  PaymentChannels: "contracts/billing/PaymentChannels.sol",
  VerifierPool: "contracts/disputes/VerifierPool.sol",
  DisputeGame: "contracts/disputes/DisputeGame.sol",
  UsageGame: "contracts/disputes/UsageGame.sol",
} as const;
export type ContractName = keyof typeof CONTRACTS;

/** Protocol parameters; the defaults suit a local chain (short windows so a demo finishes quickly). */
export interface DeployParams {
  minStake: bigint;
  unstakeCooldown: bigint;
  challengeWindow: number;
  dataFeeBps: number;
  slashAmount: bigint;
  paidAccessDuration: bigint;
  closeTimeout: number;
  split: { ownerBps: number; trainerBps: number; protocolBps: number };
  /** The job dispute game's fixed parameters (IDisputeGame.Params): bond, verifier fee/penalty, clocks; the usage game takes the same fee, penalty and clocks. */
  disputes: {
    challengeBond: bigint;
    verifierFee: bigint;
    verifierPenalty: bigint;
    moveTime: number;
    commitTime: number;
    revealTime: number;
    lookahead: number;
    emergencyDelay: number;
  };
  /** The verifier pool both games draw from (VerifierPool): the least stake drawn, and the exit delay (longer than a whole dispute). */
  verifiers: { minStake: bigint; exitDelay: number };
  /** Usage epochs (UsageEpochs, UsageGame): seconds before an epoch is claimable, before uncommitted revenue may be released, the provider's bond per epoch and a challenger's bond. */
  usage: { challengeWindow: number; releaseDelay: number; providerBond: bigint; challengeBond: bigint };
  treasury?: Address;
  /** An existing OPEN token to use instead of deploying `OpenToken` (real networks). */
  token?: Address;
  baseModel: { name: string; cid: string };
}

export const LOCAL_PARAMS: DeployParams = {
  minStake: parseEther("100"),
  unstakeCooldown: 86_400n,
  challengeWindow: 600,
  dataFeeBps: 1_000,
  slashAmount: parseEther("50"),
  paidAccessDuration: 30n * 86_400n,
  closeTimeout: 3_600,
  split: { ownerBps: 2_000, trainerBps: 1_000, protocolBps: 500 },
  disputes: {
    challengeBond: parseEther("10"),
    verifierFee: parseEther("1"),
    verifierPenalty: parseEther("2"),
    moveTime: 600,
    commitTime: 600,
    revealTime: 600,
    lookahead: 4,
    emergencyDelay: 3_600,
  },
  verifiers: { minStake: parseEther("100"), exitDelay: 86_400 },
  usage: { challengeWindow: 600, releaseDelay: 86_400, providerBond: parseEther("10"), challengeBond: parseEther("10") },
  baseModel: {
    name: process.env.TRIBUTARY_BASE_MODEL_NAME ?? "tributary/tiny-llama",
    cid: process.env.TRIBUTARY_BASE_MODEL_CID ?? "unpinned:tributary/tiny-llama",
  },
};

/** Parameters for public networks: windows long enough for people to react. */
export const NETWORK_PARAMS: DeployParams = {
  ...LOCAL_PARAMS,
  unstakeCooldown: 7n * 86_400n,
  challengeWindow: 86_400,
  closeTimeout: 86_400,
  // Research brief: 24 h per move, commit 12 h, reveal 6 h, a lookahead of 4 epochs (128 blocks), an exit delay
  // longer than the longest dispute, a 3-day emergency timelock.
  disputes: {
    ...LOCAL_PARAMS.disputes,
    moveTime: 86_400,
    commitTime: 43_200,
    revealTime: 21_600,
    lookahead: 128,
    emergencyDelay: 3 * 86_400,
  },
  verifiers: { minStake: parseEther("100"), exitDelay: 21 * 86_400 },
  usage: { challengeWindow: 86_400, releaseDelay: 7 * 86_400, providerBond: parseEther("10"), challengeBond: parseEther("10") },
};

/** Local chains (Hardhat node, anvil: chain id 31337) get short windows; others the network parameters. */
export function paramsFor(chainId: number, env: NodeJS.ProcessEnv = process.env): DeployParams {
  const base = chainId === 31337 ? LOCAL_PARAMS : NETWORK_PARAMS;
  const token = env.TRIBUTARY_OPEN_TOKEN;
  if (token !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(token)) {
    throw new DeployError("TRIBUTARY_OPEN_TOKEN is not an address", { token }, "Set it to the OPEN token's 0x address or unset it");
  }
  return token ? { ...base, token: getAddress(token) } : base;
}

export interface Deployment {
  chainId: number;
  deployBlock: number;
  deployer: Address;
  contracts: Record<ContractName, { address: Address; deployBlock: number }>;
  baseModels: { id: number; name: string; cid: string }[];
}

/** A deploy step failed; the message says which and what to do. */
export class DeployError extends Error {
  override name = "DeployError";
  readonly details: Record<string, unknown>;
  constructor(message: string, details: Record<string, unknown>, hint: string) {
    super(`${message}. ${hint}`);
    this.details = details;
  }
}

interface Artifact {
  abi: Abi;
  bytecode: Hex;
}

/** Reads a compiled artifact; fails with a hint when `npm run compile` has not run. */
export function readArtifact(name: ContractName): Artifact {
  const file = join(root, "artifacts", CONTRACTS[name], `${name}.json`);
  if (!existsSync(file)) {
    throw new DeployError(`Artifact for ${name} not found`, { file }, "Run `npm run compile` first");
  }
  const { abi, bytecode } = JSON.parse(readFileSync(file, "utf8")) as Artifact;
  return { abi, bytecode };
}

type Wallet = WalletClient<Transport, Chain | undefined, Account>;

/**
 * Deploys and wires every contract with `wallet` as admin, governor, minter and the dispute game's emergency role.
 * Waits for each transaction, so it works on automining and interval-mining nodes alike.
 */
export async function deployProtocol(
  wallet: Wallet,
  publicClient: PublicClient,
  params: DeployParams = LOCAL_PARAMS,
  log: (line: string) => void = () => {},
): Promise<Deployment> {
  const admin = wallet.account.address;
  const chainId = await publicClient.getChainId();
  const contracts = {} as Deployment["contracts"];

  const deploy = async (name: ContractName, args: unknown[]): Promise<Address> => {
    const { abi, bytecode } = readArtifact(name);
    const hash = await wallet.deployContract({ abi, bytecode, args, account: wallet.account, chain: wallet.chain });
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success" || !receipt.contractAddress) {
      throw new DeployError(`Deploying ${name} failed`, { hash }, "Check the node's logs and the deployer's balance");
    }
    contracts[name] = { address: getAddress(receipt.contractAddress), deployBlock: Number(receipt.blockNumber) };
    log(`${name.padEnd(17)} ${contracts[name].address} (block ${receipt.blockNumber})`);
    return contracts[name].address;
  };
  const send = async (name: ContractName, functionName: string, args: unknown[]): Promise<void> => {
    const hash = await wallet.writeContract({
      address: contracts[name].address,
      abi: readArtifact(name).abi,
      functionName,
      args,
      account: wallet.account,
      chain: wallet.chain,
    });
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") {
      throw new DeployError(`${name}.${functionName} failed`, { hash }, "Check the node's logs");
    }
  };
  const role = async (name: ContractName, roleName: string): Promise<Hex> =>
    (await publicClient.readContract({
      address: contracts[name].address,
      abi: readArtifact(name).abi,
      functionName: roleName,
    })) as Hex;

  let token: Address;
  if (params.token) {
    const code = await publicClient.getCode({ address: params.token });
    if (!code || code === "0x") {
      throw new DeployError("No contract at the given OPEN token address", { token: params.token }, "Check TRIBUTARY_OPEN_TOKEN and the network");
    }
    token = params.token;
    contracts.OpenToken = { address: token, deployBlock: Number(await publicClient.getBlockNumber()) };
    log(`OpenToken         ${token} (existing)`);
  } else {
    token = await deploy("OpenToken", [admin]);
  }
  const datanets = await deploy("DatanetRegistry", []);
  const models = await deploy("ModelRegistry", [admin]);
  const rewards = await deploy("RewardDistributor", [
    token,
    datanets,
    models,
    admin,
    params.treasury ?? admin,
    params.split,
  ]);
  const access = await deploy("AccessRegistry", [token, datanets, rewards, admin, params.paidAccessDuration]);
  const trainers = await deploy("TrainerRegistry", [token, admin, params.minStake, params.unstakeCooldown]);
  const market = await deploy("JobMarket", [
    { token, datanets, access, trainers, models, rewards },
    admin,
    params.challengeWindow,
    params.dataFeeBps,
    params.slashAmount,
  ]);
  // Voucher revenue goes to UsageEpochs, which holds it for the models whose owners switched usage epochs on
  // (split per request by citations) and passes the rest straight to the RewardDistributor.
  const usage = await deploy("UsageEpochs", [
    token,
    rewards,
    models,
    admin,
    params.usage.challengeWindow,
    params.usage.releaseDelay,
    params.usage.providerBond,
  ]);
  const channels = await deploy("PaymentChannels", [token, usage, admin, params.closeTimeout]);
  // One pool of staked verifiers for both games: jobs (replay and eval disputes) and usage epochs.
  const pool = await deploy("VerifierPool", [token, params.verifiers.minStake, params.verifiers.exitDelay]);
  const game = await deploy("DisputeGame", [token, market, rewards, pool, admin, params.disputes]);
  const d = params.disputes;
  const usageGame = await deploy("UsageGame", [
    token,
    usage,
    pool,
    admin,
    {
      challengeBond: params.usage.challengeBond,
      verifierFee: d.verifierFee,
      verifierPenalty: d.verifierPenalty,
      commitTime: d.commitTime,
      revealTime: d.revealTime,
      lookahead: d.lookahead,
      emergencyDelay: d.emergencyDelay,
    },
  ]);

  // Wiring: the job market consumes access uses, slashes and tracks trainers, mints models, registers rewards.
  await send("AccessRegistry", "grantRole", [await role("AccessRegistry", "CONSUMER_ROLE"), market]);
  await send("TrainerRegistry", "grantRole", [await role("TrainerRegistry", "JOB_MARKET_ROLE"), market]);
  await send("ModelRegistry", "grantRole", [await role("ModelRegistry", "MINTER_ROLE"), market]);
  await send("RewardDistributor", "grantRole", [await role("RewardDistributor", "REGISTRAR_ROLE"), market]);
  // Disputes are opened and closed by the dispute game only (wired once; no arbiter role).
  await send("JobMarket", "setDisputeGame", [game]);
  await send("UsageEpochs", "setPaymentChannels", [channels]);
  // Usage-epoch challenges are decided by the usage game's committees (no arbiter); both games draw from the pool.
  await send("UsageEpochs", "setUsageGame", [usageGame]);
  await send("VerifierPool", "setGames", [[game, usageGame]]);
  // Every model transfer first pays the previous owner the owner share accrued to it.
  await send("ModelRegistry", "setTransferHook", [rewards]);
  await send("ModelRegistry", "registerBaseModel", [params.baseModel.name, params.baseModel.cid]);
  log(`BaseModel #1      ${params.baseModel.name} (${params.baseModel.cid})`);

  const deployBlock = Math.min(...Object.values(contracts).map((c) => c.deployBlock));
  return {
    chainId,
    deployBlock,
    deployer: admin,
    contracts,
    baseModels: [{ id: 1, name: params.baseModel.name, cid: params.baseModel.cid }],
  };
}

/** deployments/<chainId>.json, or under TRIBUTARY_DEPLOYMENTS_DIR when set (tests use a temporary folder). */
export function deploymentPath(chainId: number): string {
  return join(process.env.TRIBUTARY_DEPLOYMENTS_DIR ?? join(root, "deployments"), `${chainId}.json`);
}

/** The recorded deployment for `chainId` if every one of its contracts still has code on the chain. */
export async function liveDeployment(publicClient: PublicClient, chainId: number): Promise<Deployment | undefined> {
  const file = deploymentPath(chainId);
  if (!existsSync(file)) return undefined;
  const recorded = JSON.parse(readFileSync(file, "utf8")) as Deployment;
  for (const name of Object.keys(CONTRACTS) as ContractName[]) {
    const entry = recorded.contracts?.[name];
    if (!entry) return undefined;
    const code = await publicClient.getCode({ address: entry.address });
    if (!code || code === "0x") return undefined;
  }
  return recorded;
}

async function main(): Promise<void> {
  const url = process.env.TRIBUTARY_RPC_URL ?? DEFAULT_RPC_URL;
  const key = (process.env.TRIBUTARY_PRIVATE_KEY ?? DEFAULT_DEV_KEY) as Hex;
  if (!/^0x[0-9a-fA-F]{64}$/.test(key)) {
    throw new DeployError(
      "TRIBUTARY_PRIVATE_KEY is not a 32-byte hex key",
      { length: key.length },
      "Set it to 0x followed by 64 hex digits, or unset it to use the local development account",
    );
  }
  const account = privateKeyToAccount(key);
  const publicClient = createPublicClient({ transport: http(url) }) as PublicClient;
  let chainId: number;
  try {
    chainId = await publicClient.getChainId();
  } catch (cause) {
    throw new DeployError(
      `No chain answers at ${url}`,
      { url, cause: String(cause) },
      "Start one (`npx hardhat node --hostname 127.0.0.1 --port 8545`) or set TRIBUTARY_RPC_URL",
    );
  }
  const existing = await liveDeployment(publicClient, chainId);
  if (existing) {
    console.log(`Already deployed on chain ${chainId} (${deploymentPath(chainId)}); nothing to do.`);
    return;
  }
  const chain = { id: chainId, name: `chain-${chainId}`, nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [url] } } } as const satisfies Chain;
  const wallet = createWalletClient({ account, chain, transport: http(url) });
  console.log(`Deploying Tributary to chain ${chainId} at ${url} from ${account.address}`);
  const deployment = await deployProtocol(wallet, publicClient, paramsFor(chainId), (line) => console.log(`  ${line}`));
  mkdirSync(dirname(deploymentPath(chainId)), { recursive: true });
  writeFileSync(deploymentPath(chainId), `${JSON.stringify(deployment, null, 2)}\n`);
  console.log(`Wrote ${deploymentPath(chainId)}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? `${error.name}: ${error.message}` : error);
    process.exit(1);
  });
}
