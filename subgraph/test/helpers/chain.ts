// A real Hardhat node for tests, on a free loopback port, plus the fixture contract compiled with solc.
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { readFileSync, mkdirSync, writeFileSync } from "node:fs";
import {
  createPublicClient,
  createWalletClient,
  http,
  type Abi,
  type Hex,
  type PublicClient,
  type WalletClient,
} from "viem";
import { hardhat } from "viem/chains";

const require = createRequire(import.meta.url);
export const repoRoot = resolve(import.meta.dirname, "../../..");

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => res(typeof a === "object" && a ? a.port : 0));
    });
  });
}

export type TestChain = {
  rpcUrl: string;
  publicClient: PublicClient;
  wallet: WalletClient;
  accounts: Hex[];
  stop(): Promise<void>;
};

/** Starts `hardhat node` (automine) and waits until it answers. */
export async function startChain(): Promise<TestChain> {
  const port = await freePort();
  const cli = resolve(repoRoot, "node_modules/hardhat/dist/src/cli.js");
  const child: ChildProcess = spawn(
    process.execPath,
    [cli, "node", "--hostname", "127.0.0.1", "--port", String(port)],
    {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const rpcUrl = `http://127.0.0.1:${port}`;
  const transport = http(rpcUrl, { retryCount: 0 });
  const publicClient = createPublicClient({ chain: hardhat, transport, pollingInterval: 50 }) as PublicClient;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await publicClient.getBlockNumber();
      break;
    } catch {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill();
        throw new Error(`hardhat node did not start:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const wallet = createWalletClient({ chain: hardhat, transport });
  const accounts = (await wallet.getAddresses()) as Hex[];
  return {
    rpcUrl,
    publicClient,
    wallet,
    accounts,
    stop: () =>
      new Promise<void>((r) => {
        if (child.exitCode !== null) return r();
        child.once("exit", () => r());
        child.kill();
      }),
  };
}

export type Compiled = { abi: Abi; bytecode: Hex };

/** Compiles one Solidity file with the npm solc package (WASM, offline). */
export function compileSolidity(file: string, contract: string): Compiled {
  const solc = require("solc") as { compile(input: string): string };
  const input = {
    language: "Solidity",
    sources: { [file]: { content: readFileSync(file, "utf8") } },
    settings: { outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } } },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input))) as {
    errors?: { severity: string; formattedMessage: string }[];
    contracts: Record<string, Record<string, { abi: Abi; evm: { bytecode: { object: string } } }>>;
  };
  const errors = (out.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length) throw new Error(errors.map((e) => e.formattedMessage).join("\n"));
  const c = out.contracts[file][contract];
  return { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` };
}

export const fixtureDir = resolve(import.meta.dirname, "../../tests/fixture");

/** Compiles the fixture contract and writes its ABI where the fixture subgraph expects it. */
export function prepareFixture(): Compiled {
  const compiled = compileSolidity(resolve(fixtureDir, "Counter.sol"), "Counter");
  mkdirSync(resolve(fixtureDir, "abis"), { recursive: true });
  writeFileSync(resolve(fixtureDir, "abis/Counter.json"), JSON.stringify(compiled.abi, null, 2));
  return compiled;
}

export async function deploy(chain: TestChain, c: Compiled): Promise<{ address: Hex; block: number }> {
  const hash = await chain.wallet.deployContract({
    abi: c.abi,
    bytecode: c.bytecode,
    account: chain.accounts[0],
    chain: hardhat,
  });
  const receipt = await chain.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  return { address: receipt.contractAddress!, block: Number(receipt.blockNumber) };
}
