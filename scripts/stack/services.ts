// The stack, in start order. Adding a service is one entry here: what it needs, how to start it, how
// to tell it is ready, and what to print. Every step runs: a piece that is missing or broken fails the start.
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { addressesWithoutCode, anvilSpawn, chainReady, readDeployments } from "./chain.ts";
import {
  configEnv,
  httpUrl,
  layout,
  repoRoot,
  rpcUrl,
  type PortSetting,
  type StackConfig,
} from "./config.ts";
import { httpGet } from "./probe.ts";
import type { SpawnSpec } from "./proc.ts";
import { readSeedRecord } from "./state.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

export interface StepContext {
  readonly config: StackConfig;
  /** Names of the services that are running (started and ready) so far. */
  readonly running: ReadonlySet<string>;
  /** The running chain's instance id (see `chainInstance` in chain.ts), once the chain is up. */
  readonly chainInstance: string | undefined;
}

export interface Step {
  readonly name: string;
  readonly title: string;
  /** A service keeps running; a task runs to completion. */
  readonly kind: "service" | "task";
  ports?(config: StackConfig): PortSetting[];
  /** Why a task has nothing to do this time (e.g. already seeded). */
  upToDate?(ctx: StepContext): Promise<string | undefined>;
  spawn(ctx: StepContext): SpawnSpec;
  /** One readiness probe: resolves true when ready; false or a throw means "not yet". */
  ready?(ctx: StepContext): Promise<boolean>;
  /** Seconds allowed for readiness (services) or completion (tasks); default: TRIBUTARY_READY_TIMEOUT_S. */
  timeoutS?: number;
  urls?(config: StackConfig): [string, string][];
  /** This service is the chain: the ones with `needsChain` wait for its readiness check before a restart. */
  readonly chain?: boolean;
  /** A service that cannot run without the chain: after a crash it is restarted once the chain answers. */
  readonly needsChain?: boolean;
  /** Folders (or files) derived from chain state, reset when the chain is found to be a new one. */
  chainDerived?(config: StackConfig): string[];
}

function node(script: string, ctx: StepContext, args: string[] = []): SpawnSpec {
  return {
    command: process.execPath,
    args: [script, ...args],
    env: {
      ...configEnv(ctx.config),
      PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH}`,
    },
    cwd: repoRoot,
    ipc: true,
  };
}

/** Latest modification time of the files ending in `ext` under `dir` (0 when none). */
function newestMtime(dir: string, ext: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith(ext)) {
      newest = Math.max(newest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
    }
  }
  return newest;
}

/** A path relative to the repository when it lies inside it. */
function showPath(p: string): string {
  const rel = path.relative(repoRoot, p);
  return rel.startsWith("..") ? p : rel;
}

export const STEPS: readonly Step[] = [
  {
    name: "chain",
    title: "Chain (anvil) JSON-RPC",
    kind: "service",
    chain: true,
    ports: (c) => [c.ports.chain],
    spawn: (ctx) => anvilSpawn(ctx.config),
    ready: (ctx) => chainReady(ctx.config),
    urls: (c) => [["chain RPC", `${rpcUrl(c)}  (chain id ${c.chainId})`]],
    chainDerived: (c) => [layout(c).deploymentsFile],
  },
  {
    name: "ipfs",
    title: "IPFS (embedded Helia)",
    kind: "service",
    ports: (c) => [c.ports.ipfsApi, c.ports.ipfsGateway],
    spawn: (ctx) => node(path.join(here, "runners", "ipfs.ts"), ctx),
    ready: async (ctx) => {
      const url = `${httpUrl(ctx.config, ctx.config.ports.ipfsApi.port)}/api/v0/version`;
      const res = await fetch(url, { method: "POST", signal: AbortSignal.timeout(2000) });
      return res.ok;
    },
    urls: (c) => [
      ["IPFS RPC API", `${httpUrl(c, c.ports.ipfsApi.port)}/api/v0`],
      ["IPFS gateway", `${httpUrl(c, c.ports.ipfsGateway.port)}/ipfs/<cid>`],
    ],
  },
  {
    name: "compile",
    title: "Compile contracts + generate ABIs",
    kind: "task",
    timeoutS: 900,
    upToDate: async () => {
      const abis = path.join(repoRoot, "sdk", "src", "chain", "generated", "abis.ts");
      if (!fs.existsSync(abis)) return undefined;
      const newest = newestMtime(path.join(repoRoot, "contracts"), ".sol");
      return newest <= fs.statSync(abis).mtimeMs ? "contracts unchanged since the last compile" : undefined;
    },
    spawn: (ctx) => ({ ...node(path.join(here, "tasks", "compile.ts"), ctx), ipc: false }),
  },
  {
    name: "deploy",
    title: "Deploy contracts",
    kind: "task",
    timeoutS: 300,
    upToDate: async (ctx) => {
      const deployments = readDeployments(ctx.config);
      if (deployments === undefined) return undefined;
      const stale = await addressesWithoutCode(ctx.config, deployments);
      return stale.length === 0
        ? `contracts already deployed (${showPath(layout(ctx.config).deploymentsFile)})`
        : undefined;
    },
    spawn: (ctx) => {
      const spec = node(path.join(here, "tasks", "deploy.ts"), ctx);
      return {
        ...spec,
        env: { ...spec.env, TRIBUTARY_IPFS_RUNNING: ctx.running.has("ipfs") ? "1" : "0" },
        ipc: false,
      };
    },
  },
  {
    name: "custodian",
    needsChain: true,
    title: "Custodian (key release)",
    kind: "service",
    ports: (c) => [c.ports.custodian],
    spawn: (ctx) => node(path.join(here, "runners", "custodian.ts"), ctx),
    ready: async (ctx) =>
      (await httpGet(`${httpUrl(ctx.config, ctx.config.ports.custodian.port)}/health`)).ok,
    urls: (c) => [["custodian", httpUrl(c, c.ports.custodian.port)]],
    chainDerived: (c) => [layout(c).custodian],
  },
  {
    name: "seed",
    title: "Demo seed",
    kind: "task",
    timeoutS: 300,
    upToDate: async (ctx) => {
      const seed = readSeedRecord(ctx.config);
      return seed && seed.chainInstance === ctx.chainInstance
        ? `demo already seeded at ${seed.seededAt}`
        : undefined;
    },
    spawn: (ctx) => ({ ...node(path.join(repoRoot, "scripts", "seed.ts"), ctx), ipc: false }),
  },
  {
    name: "indexer",
    needsChain: true,
    title: "Subgraph indexer (GraphQL)",
    kind: "service",
    ports: (c) => [c.ports.indexer],
    // The first start builds the subgraph (graph codegen + build) before it serves.
    timeoutS: 300,
    spawn: (ctx) => node(path.join(here, "runners", "indexer.ts"), ctx),
    ready: async (ctx) => {
      const res = await fetch(
        `${httpUrl(ctx.config, ctx.config.ports.indexer.port)}/subgraphs/name/tributary`,
        {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ query: "{ _meta { block { number } } }" }),
          signal: AbortSignal.timeout(2000),
        },
      );
      return res.ok;
    },
    urls: (c) => [["subgraph GraphQL", `${httpUrl(c, c.ports.indexer.port)}/subgraphs/name/tributary`]],
    chainDerived: (c) => [layout(c).indexer],
  },
  {
    name: "trainer",
    needsChain: true,
    title: "Trainer node + API",
    kind: "service",
    ports: (c) => [c.ports.trainer],
    spawn: (ctx) => node(path.join(here, "runners", "trainer.ts"), ctx),
    ready: async (ctx) =>
      (await httpGet(`${httpUrl(ctx.config, ctx.config.ports.trainer.port)}/v1/models`)).ok,
    urls: (c) => [["trainer node API", `${httpUrl(c, c.ports.trainer.port)}/v1`]],
    chainDerived: (c) => [layout(c).trainer],
  },
  {
    name: "web",
    title: "Web app",
    kind: "service",
    ports: (c) => [c.ports.web],
    spawn: (ctx) => {
      const vite = path.join(
        path.dirname(require.resolve("vite/package.json", { paths: [path.join(repoRoot, "frontend")] })),
        "bin",
        "vite.js",
      );
      const spec = node(vite, ctx, [
        "--host",
        ctx.config.host,
        "--port",
        String(ctx.config.ports.web.port),
        "--strictPort",
      ]);
      return { ...spec, cwd: path.join(repoRoot, "frontend"), ipc: false };
    },
    ready: async (ctx) => (await httpGet(httpUrl(ctx.config, ctx.config.ports.web.port))).ok,
    urls: (c) => [["web app", httpUrl(c, c.ports.web.port)]],
  },
];
