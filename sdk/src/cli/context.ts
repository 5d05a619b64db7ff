// What every command shares: global options (with environment defaults), the chain connection, the
// content store, output (human or --json) and error reporting.
import { readFileSync } from "node:fs";
import { formatEther, parseEther } from "viem";
import type { Command } from "commander";
import { DEFAULT_CHAIN_ID, DEFAULT_RPC_URL } from "../chain/client.ts";
import { connect } from "../chain/node.ts";
import type { ChainConnection } from "../chain/client.ts";
import { bigintReplacer } from "../chain/protocol/content.ts";
import { loadAccount } from "../chain/wallet.ts";
import { KuboContentStore } from "../content/index.ts";

export const DEFAULT_IPFS_API = "http://127.0.0.1:5001";

export interface GlobalOptions {
  rpc: string;
  chainId: string;
  deployments?: string;
  ipfs: string;
  keystore?: string;
  passwordFile?: string;
  confirmations: string;
  json?: boolean;
}

/** Adds the global options to the program; each has an environment default. */
export function addGlobalOptions(program: Command, env: NodeJS.ProcessEnv): Command {
  return program
    .option(
      "--rpc <url>",
      "JSON-RPC endpoint (env TRIBUTARY_RPC_URL)",
      env.TRIBUTARY_RPC_URL ?? DEFAULT_RPC_URL,
    )
    .option(
      "--chain-id <id>",
      "expected chain id (env TRIBUTARY_CHAIN_ID)",
      env.TRIBUTARY_CHAIN_ID ?? String(DEFAULT_CHAIN_ID),
    )
    .option(
      "--deployments <path>",
      "deployments file or folder (env TRIBUTARY_DEPLOYMENTS or TRIBUTARY_DEPLOYMENTS_DIR; default deployments/<chainId>.json)",
      env.TRIBUTARY_DEPLOYMENTS ?? env.TRIBUTARY_DEPLOYMENTS_DIR,
    )
    .option(
      "--ipfs <url>",
      "IPFS (Kubo RPC) API (env TRIBUTARY_IPFS_API)",
      env.TRIBUTARY_IPFS_API ?? DEFAULT_IPFS_API,
    )
    .option(
      "--keystore <file>",
      "V3 keystore file to sign with (env TRIBUTARY_KEYSTORE; or set TRIBUTARY_PRIVATE_KEY)",
      env.TRIBUTARY_KEYSTORE,
    )
    .option(
      "--password-file <file>",
      "file holding the keystore password (default env TRIBUTARY_KEYSTORE_PASSWORD)",
    )
    .option(
      "--confirmations <n>",
      "confirmations to wait for after each transaction",
      env.TRIBUTARY_CONFIRMATIONS ?? "1",
    )
    .option("--json", "machine-readable JSON output");
}

export class CliContext {
  readonly opts: GlobalOptions;
  readonly env: NodeJS.ProcessEnv;
  private connection?: Promise<ChainConnection>;
  private contentStore?: KuboContentStore;

  constructor(opts: GlobalOptions, env: NodeJS.ProcessEnv) {
    this.opts = opts;
    this.env = env;
  }

  /** The chain connection (chain id checked); signs when a wallet is configured. */
  conn(): Promise<ChainConnection> {
    this.connection ??= (async () => {
      const password = this.opts.passwordFile
        ? readFileSync(this.opts.passwordFile, "utf8").replace(/\r?\n$/, "")
        : undefined;
      const account = loadAccount({ keystore: this.opts.keystore, password }, this.env);
      const chainId = Number(this.opts.chainId);
      if (!Number.isSafeInteger(chainId) || chainId <= 0)
        throw new UsageError(
          `--chain-id ${this.opts.chainId} is not a chain id`,
          "Pass a positive integer, e.g. 31337.",
        );
      return connect({
        rpcUrl: this.opts.rpc,
        chainId,
        deployments: this.opts.deployments,
        account,
        confirmations: Number(this.opts.confirmations),
      });
    })();
    return this.connection;
  }

  store(): KuboContentStore {
    this.contentStore ??= new KuboContentStore({ url: this.opts.ipfs });
    return this.contentStore;
  }

  /** Prints a result: JSON with --json, else `human(result)` or key/value lines. */
  print(result: unknown, human?: (r: never) => string): void {
    if (this.opts.json) {
      process.stdout.write(JSON.stringify(result, bigintReplacer) + "\n");
      return;
    }
    process.stdout.write(
      (human ? human(result as never) : keyValues(result as Record<string, unknown>)) + "\n",
    );
  }

  /** Progress output goes to stderr, and only for people (not --json, only on a terminal). */
  get interactive(): boolean {
    return !this.opts.json && Boolean(process.stderr.isTTY);
  }
}

/** Bad arguments: what is wrong and what to pass instead. */
export class UsageError extends Error {
  constructor(reason: string, next: string) {
    super(`${reason}. ${next}`);
    this.name = "UsageError";
  }
}

export function show(v: unknown): string {
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return v.map(show).join(", ");
  if (v && typeof v === "object") return JSON.stringify(v, bigintReplacer);
  return String(v);
}

export function keyValues(o: Record<string, unknown>): string {
  const entries = Object.entries(o).filter(([, v]) => v !== undefined);
  const w = Math.max(...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `${k.padEnd(w)}  ${show(v)}`).join("\n");
}

export function table(rows: ReadonlyArray<object>, columns: string[]): string {
  if (rows.length === 0) return "(none)";
  const cells = rows.map((r) => columns.map((c) => show((r as Record<string, unknown>)[c] ?? "")));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  return [line(columns), ...cells.map(line)].join("\n");
}

/** An OPEN amount in tokens ("12.5") to wei. */
export function parseOpen(s: string, what = "amount"): bigint {
  if (!/^\d+(\.\d{1,18})?$/.test(s))
    throw new UsageError(
      `${what} "${s}" is not an OPEN amount`,
      "Pass a decimal number of OPEN, e.g. 10 or 2.5.",
    );
  return parseEther(s);
}

export const open = (wei: bigint) => `${formatEther(wei)} OPEN`;

export function parseId(s: string, what = "id"): bigint {
  if (!/^\d+$/.test(s)) throw new UsageError(`${what} "${s}" is not a number`, "Pass a decimal id, e.g. 1.");
  return BigInt(s);
}

/** Ids given as separate arguments and/or comma-separated. */
export function parseIds(values: string[] | undefined, what: string): bigint[] {
  return (values ?? [])
    .flatMap((v) => v.split(","))
    .filter(Boolean)
    .map((v) => parseId(v.trim(), what));
}

export function parseAddress(s: string, what = "account"): `0x${string}` {
  if (!/^0x[0-9a-fA-F]{40}$/.test(s))
    throw new UsageError(`${what} "${s}" is not an address`, "Pass a 0x-prefixed 20-byte address.");
  return s as `0x${string}`;
}

/** Seconds from "3600", "90s", "30m", "12h", "7d". */
export function parseDuration(s: string, what = "duration"): number {
  const m = /^(\d+)([smhd]?)$/.exec(s);
  if (!m)
    throw new UsageError(
      `${what} "${s}" is not a duration`,
      "Pass seconds or a number with s, m, h or d, e.g. 2h.",
    );
  return Number(m[1]) * { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "" | "s" | "m" | "h" | "d"];
}

const withExample = new WeakSet<Command>();
export const hasExample = (cmd: Command): boolean => withExample.has(cmd);

/** Appends an "Example:" section to a command's help. */
export function example(cmd: Command, ...lines: string[]): Command {
  withExample.add(cmd);
  return cmd.addHelpText("after", `\nExample:\n${lines.map((l) => `  $ ${l}`).join("\n")}`);
}

/** A 32-byte hex value (a hash, a root, a channel id). */
export function parseBytes32(s: string, what = "value"): `0x${string}` {
  if (!/^0x[0-9a-fA-F]{64}$/.test(s))
    throw new UsageError(`${what} ${s} is not 32 bytes of hex`, `Pass 0x followed by 64 hex digits.`);
  return s as `0x${string}`;
}

/** Reads and parses a JSON file; a UsageError naming the file when it cannot. */
export function readJsonFile(file: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new UsageError(`Cannot read ${what} ${file}: ${(e as Error).message}`, `Pass a JSON ${what} file.`);
  }
}
