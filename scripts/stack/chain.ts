// The local chain: anvil (from the `@foundry-rs/anvil` npm package), persisted with `--state`.
// Hardhat's node keeps nothing across restarts; anvil dumps its state (accounts, code, storage, blocks,
// receipts and logs) on SIGINT/SIGTERM and every `STATE_INTERVAL_S` seconds, and loads it on start.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { DEV_MNEMONIC } from "./accounts.ts";
import { layout, rpcUrl, type StackConfig } from "./config.ts";
import { StackError } from "./errors.ts";
import { jsonRpc } from "./probe.ts";
import type { SpawnSpec } from "./proc.ts";

const require = createRequire(import.meta.url);

/** Periodic state dumps bound what a hard crash (SIGKILL, power loss) can lose. */
export const STATE_INTERVAL_S = 5;

const PLATFORM_PACKAGES: Record<string, string | undefined> = {
  "linux-x64": "@foundry-rs/anvil-linux-amd64",
  "linux-arm64": "@foundry-rs/anvil-linux-arm64",
  "darwin-x64": "@foundry-rs/anvil-darwin-amd64",
  "darwin-arm64": "@foundry-rs/anvil-darwin-arm64",
  "win32-x64": "@foundry-rs/anvil-win32-amd64",
};

/** Path of the native anvil binary (spawned directly so that signals reach it, not a wrapper). */
export function anvilBinary(): string {
  const key = `${process.platform}-${process.arch}`;
  const pkg = PLATFORM_PACKAGES[key];
  if (!pkg) {
    throw new StackError(`anvil has no build for ${key}`, {
      hint: "run the stack on linux/macOS (x64 or arm64) or windows x64",
    });
  }
  try {
    const dir = path.dirname(require.resolve(`${pkg}/package.json`));
    const bin = path.join(dir, "bin", process.platform === "win32" ? "anvil.exe" : "anvil");
    if (fs.existsSync(bin)) return bin;
  } catch {
    /* fall through */
  }
  throw new StackError(`the anvil binary (${pkg}) is not installed`, {
    hint: "run `npm install` at the repository root (anvil comes from the @foundry-rs/anvil package)",
  });
}

/**
 * Moves a state file anvil cannot load (e.g. truncated by a crash mid-write) out of the way, so the
 * chain starts empty and the consistency check redeploys. Returns the new path when it moved one.
 */
export function quarantineBadState(config: StackConfig): string | undefined {
  const file = layout(config).chainState;
  if (!fs.existsSync(file)) return undefined;
  try {
    JSON.parse(fs.readFileSync(file, "utf8"));
    return undefined;
  } catch {
    const moved = `${file}.unreadable-${Date.now()}`;
    fs.renameSync(file, moved);
    return moved;
  }
}

export function anvilSpawn(config: StackConfig): SpawnSpec {
  const file = layout(config).chainState;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  return {
    command: anvilBinary(),
    args: [
      "--host",
      config.host,
      "--port",
      String(config.ports.chain.port),
      "--chain-id",
      String(config.chainId),
      "--mnemonic",
      DEV_MNEMONIC,
      "--accounts",
      "10",
      "--balance",
      "10000",
      "--state",
      file,
      "--state-interval",
      String(STATE_INTERVAL_S),
    ],
  };
}

export async function chainReady(config: StackConfig): Promise<boolean> {
  const id = await jsonRpc<string>(rpcUrl(config), "eth_chainId");
  if (Number(id) !== config.chainId) {
    throw new StackError(
      `the node at ${rpcUrl(config)} reports chain id ${Number(id)}, not ${config.chainId}`,
    );
  }
  return true;
}

/**
 * Where the stack keeps its chain instance id: storage slot 0 of an address no contract uses
 * ("tributary-stack-id"). The genesis hash cannot serve: anvil re-creates the genesis block when it
 * loads a dumped state, so the hash changes from the second restart on, while storage is kept.
 */
export const INSTANCE_SLOT_ADDRESS = "0x7472696275746172792d737461636b2d69640000";
const ZERO_WORD = `0x${"0".repeat(64)}`;

/**
 * The id of the running chain: a random 32-byte word the stack writes into the chain's own state the
 * first time it sees it (`create`), and reads back on every later start. A chain whose saved state was
 * lost has none (or, once marked, a different one).
 */
export async function chainInstance(
  config: StackConfig,
  opts: { create: boolean },
): Promise<string | undefined> {
  const url = rpcUrl(config);
  const word = await jsonRpc<string>(url, "eth_getStorageAt", [INSTANCE_SLOT_ADDRESS, "0x0", "latest"]);
  if (word && BigInt(word) !== 0n) return word;
  if (!opts.create) return undefined;
  const id = `0x${randomBytes(32).toString("hex")}`;
  await jsonRpc<boolean>(url, "anvil_setStorageAt", [INSTANCE_SLOT_ADDRESS, "0x0", id]).catch(async () =>
    jsonRpc<boolean>(url, "hardhat_setStorageAt", [INSTANCE_SLOT_ADDRESS, "0x0", id]),
  );
  const check = await jsonRpc<string>(url, "eth_getStorageAt", [INSTANCE_SLOT_ADDRESS, "0x0", "latest"]);
  if (check === ZERO_WORD || BigInt(check) !== BigInt(id)) {
    throw new StackError(`could not mark the chain at ${url} with an instance id`, {
      hint: "the stack needs anvil (or a Hardhat node): check TRIBUTARY_CHAIN_PORT points at the stack's own chain",
    });
  }
  return id;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/**
 * Contract addresses named by a deployments file. Values under keys named `address` (any depth) count,
 * or, when there are none, every address-like string value of the file.
 */
export function deploymentAddresses(deployments: unknown): string[] {
  const named: string[] = [];
  const all: string[] = [];
  const walk = (value: unknown, key: string) => {
    if (typeof value === "string") {
      if (!ADDRESS.test(value)) return;
      all.push(value);
      if (/address$/i.test(key) && !/^(deployer|admin|owner|from)/i.test(key)) named.push(value);
    } else if (Array.isArray(value)) {
      value.forEach((v) => walk(v, key));
    } else if (value && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) walk(v, k);
    }
  };
  walk(deployments, "");
  return [...new Set(named.length > 0 ? named : all)];
}

export function readDeployments(config: StackConfig): unknown | undefined {
  const file = layout(config).deploymentsFile;
  if (!fs.existsSync(file)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (cause) {
    throw new StackError(`cannot read ${file}`, { cause, hint: `delete it and run \`npm start\` again` });
  }
}

/** The addresses of a deployments file that have no code on the running chain. */
export async function addressesWithoutCode(config: StackConfig, deployments: unknown): Promise<string[]> {
  const missing: string[] = [];
  for (const address of deploymentAddresses(deployments)) {
    const code = await jsonRpc<string>(rpcUrl(config), "eth_getCode", [address, "latest"]);
    if (!code || code === "0x") missing.push(address);
  }
  return missing;
}
