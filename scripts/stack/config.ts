// Where the local stack lives and listens. Every value has an env override (TRIBUTARY_*), so two stacks
// (e.g. a test next to a developer's) can run side by side.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { StackError } from "./errors.ts";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** A port a service listens on, with the env var that moves it. */
export interface PortSetting {
  readonly env: string;
  readonly port: number;
}

export interface StackConfig {
  readonly host: string;
  readonly home: string;
  readonly chainId: number;
  readonly deploymentsDir: string;
  /** Seconds a service may take to answer its readiness check. */
  readonly readyTimeoutS: number;
  readonly ports: {
    readonly chain: PortSetting;
    readonly ipfsApi: PortSetting;
    readonly ipfsGateway: PortSetting;
    readonly custodian: PortSetting;
    readonly indexer: PortSetting;
    readonly trainer: PortSetting;
    readonly web: PortSetting;
  };
}

const DEFAULT_PORTS = {
  chain: ["TRIBUTARY_CHAIN_PORT", 8545],
  ipfsApi: ["TRIBUTARY_IPFS_API_PORT", 5001],
  ipfsGateway: ["TRIBUTARY_IPFS_GATEWAY_PORT", 8080],
  custodian: ["TRIBUTARY_CUSTODIAN_PORT", 8788],
  indexer: ["TRIBUTARY_INDEXER_PORT", 8000],
  trainer: ["TRIBUTARY_TRAINER_PORT", 8787],
  web: ["TRIBUTARY_WEB_PORT", 5173],
} as const;

function intFromEnv(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new StackError(`${name}=${raw} is not a valid value`, {
      hint: `set ${name} to a whole number from ${min} to ${max}, or unset it (default ${fallback})`,
    });
  }
  return value;
}

/** Reads the stack's configuration from the environment (defaults: loopback, `.tributary/`, design ports). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): StackConfig {
  const ports = Object.fromEntries(
    Object.entries(DEFAULT_PORTS).map(([key, [name, port]]) => [
      key,
      { env: name, port: intFromEnv(env, name, port, 1, 65535) },
    ]),
  ) as unknown as StackConfig["ports"];
  const home = path.resolve(env.TRIBUTARY_HOME || path.join(repoRoot, ".tributary"));
  return {
    host: env.TRIBUTARY_HOST || "127.0.0.1",
    home,
    chainId: intFromEnv(env, "TRIBUTARY_CHAIN_ID", 31337, 1, 2 ** 32 - 1),
    deploymentsDir: path.resolve(env.TRIBUTARY_DEPLOYMENTS_DIR || path.join(repoRoot, "deployments")),
    readyTimeoutS: intFromEnv(env, "TRIBUTARY_READY_TIMEOUT_S", 60, 1, 3600),
    ports,
  };
}

/** The env a child process gets so that it reads the same configuration (see `loadConfig`). */
export function configEnv(config: StackConfig): Record<string, string> {
  const env: Record<string, string> = {
    TRIBUTARY_HOST: config.host,
    TRIBUTARY_HOME: config.home,
    TRIBUTARY_CHAIN_ID: String(config.chainId),
    TRIBUTARY_DEPLOYMENTS_DIR: config.deploymentsDir,
    TRIBUTARY_RPC_URL: rpcUrl(config),
    TRIBUTARY_IPFS_API_URL: httpUrl(config, config.ports.ipfsApi.port),
    TRIBUTARY_IPFS_GATEWAY_URL: httpUrl(config, config.ports.ipfsGateway.port),
    TRIBUTARY_CUSTODIAN_URL: httpUrl(config, config.ports.custodian.port),
    TRIBUTARY_INDEXER_URL: httpUrl(config, config.ports.indexer.port),
    // the web app's pages may call the local services (sdk/src/http/guard.ts); no other site's may
    TRIBUTARY_ALLOWED_ORIGINS: webOrigins(config).join(","),
  };
  for (const setting of Object.values(config.ports)) env[setting.env] = String(setting.port);
  return env;
}

/** The web app's origins (as the stack prints it, and as localhost), which the services allow. */
export function webOrigins(config: StackConfig): string[] {
  const printed = httpUrl(config, config.ports.web.port);
  const local = `http://localhost:${config.ports.web.port}`;
  return printed === local ? [printed] : [printed, local];
}

/** host:port as a URL host (IPv6 literals in brackets; 0.0.0.0 is reached through loopback). */
export function httpUrl(config: StackConfig, port: number): string {
  let host = config.host;
  if (host === "0.0.0.0") host = "127.0.0.1";
  if (host === "::") host = "::1";
  if (host.includes(":")) host = `[${host}]`;
  return `http://${host}:${port}`;
}

export function rpcUrl(config: StackConfig): string {
  return httpUrl(config, config.ports.chain.port);
}

/** The files and folders under the stack's home. */
export function layout(config: StackConfig) {
  const h = config.home;
  return {
    home: h,
    chainState: path.join(h, "chain", "state.json"),
    ipfs: path.join(h, "ipfs"),
    custodian: path.join(h, "custodian"),
    indexer: path.join(h, "indexer"),
    trainer: path.join(h, "trainer"),
    logs: path.join(h, "logs"),
    run: path.join(h, "run"),
    stackFile: path.join(h, "stack.json"),
    deploymentsFile: path.join(config.deploymentsDir, `${config.chainId}.json`),
  };
}

export function logFile(config: StackConfig, service: string): string {
  return path.join(layout(config).logs, `${service}.log`);
}
