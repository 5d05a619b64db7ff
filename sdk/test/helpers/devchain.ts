// Test fixture: a real Hardhat node on a free port with the protocol deployed, and a content store.
// Deploys with scripts/deploy.ts into a temporary deployments folder.
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Hex } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { KuboContentStore } from "../../src/content/index.ts";
import { startIpfsNode } from "../../src/ipfs/index.ts";

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

/** Runs scripts/deploy.ts against the node, writing `<dir>/deployments/<chainId>.json`. */
async function runDeployScript(rpcUrl: string, dir: string): Promise<void> {
  const script = join(REPO_ROOT, "scripts/deploy.ts");
  if (!existsSync(script)) throw new Error(`${script} missing: merge the contracts branch`);
  await new Promise<void>((resolve, reject) => {
    execFile(
      process.execPath,
      [script],
      {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH, TRIBUTARY_RPC_URL: rpcUrl, TRIBUTARY_DEPLOYMENTS_DIR: join(dir, "deployments") },
      },
      (err, stdout, stderr) => (err ? reject(new Error(`deploy failed: ${stdout}${stderr}`)) : resolve()),
    );
  });
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
  await runDeployScript(rpcUrl, dir);
  const deploymentsFile = join(dir, "deployments", `${chainId}.json`);
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
