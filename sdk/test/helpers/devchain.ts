// Test fixture: a real Hardhat node on a free port with the protocol deployed, and a content store.
// Deploys with scripts/deploy.ts when it exists; until then with the compiled artifacts directly.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createPublicClient, createWalletClient, http, parseEther } from "viem";
import type { Abi, Address, Hex } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { KuboContentStore } from "../../src/content/index.ts";
import { startIpfsNode } from "../../src/ipfs/index.ts";
import { chainFor } from "../../src/chain/client.ts";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const HARDHAT_CLI = join(REPO_ROOT, "node_modules/hardhat/dist/src/cli.js");

/** Hardhat's default accounts (public test mnemonic): private keys as hex. */
export const TEST_KEYS: Hex[] = Array.from({ length: 8 }, (_, i) => {
  const acc = mnemonicToAccount("test test test test test test test test test test test junk", {
    addressIndex: i,
  });
  return `0x${Buffer.from(acc.getHdKey().privateKey!).toString("hex")}` as Hex;
});

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface DevChain {
  rpcUrl: string;
  chainId: number;
  deploymentsFile: string;
  dir: string;
  stop(): Promise<void>;
}

function artifact(dir: string, name: string): { abi: Abi; bytecode: Hex } {
  const path = join(REPO_ROOT, "artifacts/contracts", dir, `${name}.sol`, `${name}.json`);
  if (!existsSync(path)) throw new Error(`${path} missing: run \`npx hardhat compile\` first`);
  return JSON.parse(readFileSync(path, "utf8"));
}

/** Deploys the eight contracts with roles wired, as scripts/deploy.ts will. Returns the deployments JSON. */
async function deployFromArtifacts(rpcUrl: string, chainId: number) {
  const chain = chainFor(chainId, rpcUrl);
  const account = mnemonicToAccount("test test test test test test test test test test test junk");
  const wallet = createWalletClient({ chain, transport: http(rpcUrl), account });
  const pub = createPublicClient({ chain, transport: http(rpcUrl), pollingInterval: 50 });
  const deployBlock = await pub.getBlockNumber();
  const out: Record<string, { address: Address; deployBlock: number }> = {};
  const deploy = async (dir: string, name: string, args: unknown[]) => {
    const a = artifact(dir, name);
    const hash = await wallet.deployContract({ abi: a.abi, bytecode: a.bytecode, args });
    const r = await pub.waitForTransactionReceipt({ hash });
    out[name] = { address: r.contractAddress!, deployBlock: Number(r.blockNumber) };
    return r.contractAddress!;
  };
  const call = async (dir: string, name: string, functionName: string, args: unknown[]) => {
    const hash = await wallet.writeContract({
      address: out[name].address,
      abi: artifact(dir, name).abi,
      functionName,
      args,
    });
    await pub.waitForTransactionReceipt({ hash });
  };
  const admin = account.address;
  const token = await deploy("token", "OpenToken", [admin]);
  const datanets = await deploy("datanets", "DatanetRegistry", []);
  const models = await deploy("models", "ModelRegistry", [admin]);
  const rewards = await deploy("rewards", "RewardDistributor", [
    token,
    datanets,
    models,
    admin,
    admin,
    { ownerBps: 3000, trainerBps: 2000, protocolBps: 500 },
  ]);
  const access = await deploy("access", "AccessRegistry", [token, datanets, rewards, admin, 30 * 86400]);
  const trainers = await deploy("trainers", "TrainerRegistry", [token, admin, parseEther("100"), 3600]);
  const market = await deploy("jobs", "JobMarket", [
    { token, datanets, access, trainers, models, rewards },
    admin,
    3600,
    1000,
    parseEther("10"),
  ]);
  await deploy("billing", "PaymentChannels", [token, rewards, admin, 3600]);

  const { keccak256, toHex } = await import("viem");
  const id = (r: string) => keccak256(toHex(r));
  await call("access", "AccessRegistry", "grantRole", [id("CONSUMER_ROLE"), market]);
  await call("trainers", "TrainerRegistry", "grantRole", [id("JOB_MARKET_ROLE"), market]);
  await call("models", "ModelRegistry", "grantRole", [id("MINTER_ROLE"), market]);
  await call("rewards", "RewardDistributor", "grantRole", [id("REGISTRAR_ROLE"), market]);
  return { chainId, deployBlock: Number(deployBlock), contracts: out };
}

/** Starts `hardhat node` on a free port and deploys the protocol; deployments go to a temp folder. */
export async function startDevChain(): Promise<DevChain> {
  const port = await freePort();
  const rpcUrl = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), "tributary-chain-"));
  const child: ChildProcess = spawn(
    process.execPath,
    [HARDHAT_CLI, "node", "--hostname", "127.0.0.1", "--port", String(port)],
    {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hardhat node did not start:\n${output}`)), 60_000);
    const onData = (d: Buffer) => {
      output += d;
      if (/Started HTTP/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`hardhat node exited ${code}:\n${output}`));
    });
  });
  child.stdout!.resume();
  child.stderr!.resume();
  const chainId = 31337;
  const deploymentsFile = join(dir, "deployments", `${chainId}.json`);
  mkdirSync(join(dir, "deployments"), { recursive: true });
  writeFileSync(deploymentsFile, JSON.stringify(await deployFromArtifacts(rpcUrl, chainId), null, 2));
  return {
    rpcUrl,
    chainId,
    deploymentsFile,
    dir,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

/** The embedded IPFS node (temp repo, free ports) and a verified Kubo RPC content store on it. */
export async function startContentStore(): Promise<{
  store: KuboContentStore;
  apiUrl: string;
  stop(): Promise<void>;
}> {
  const repo = mkdtempSync(join(tmpdir(), "tributary-ipfs-"));
  const node = await startIpfsNode({ repo, apiPort: 0, gatewayPort: 0 });
  return { store: new KuboContentStore({ url: node.apiUrl }), apiUrl: node.apiUrl, stop: () => node.stop() };
}
