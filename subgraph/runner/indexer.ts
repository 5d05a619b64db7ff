// The local indexer: a built subgraph + a chain follower + the entity store + the GraphQL server.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ChainFollower } from "./follower.ts";
import { buildGraphQLSchema } from "./graphql-schema.ts";
import { loadSubgraph, ManifestError, type Subgraph } from "./manifest.ts";
import type { Logger } from "./processor.ts";
import { serveGraphQL } from "./server.ts";
import { EntityStore } from "./store.ts";

/** `deployments/<chainId>.json` as the contracts' deploy step writes it. */
export type Deployments = {
  chainId: number;
  deployBlock?: number;
  contracts: Record<string, { address: string; deployBlock?: number }>;
};

export type IndexerOptions = {
  /** JSON-RPC endpoint (default http://127.0.0.1:8545). */
  rpcUrl?: string;
  /** The built subgraph's manifest (default subgraph/build/subgraph.yaml). */
  manifest?: string;
  /** Addresses and start blocks that override the manifest's, per data source name (object or file path). */
  deployments?: Deployments | string;
  /** Where the entity store lives (default .tributary/subgraph). */
  dataDir?: string;
  host?: string;
  /** GraphQL port (default 8000; 0 picks a free one). */
  port?: number;
  subgraphName?: string;
  /** Web origins (scheme://host:port) whose pages may query GraphQL, e.g. the web app's; default none. */
  allowedOrigins?: readonly string[];
  /** Cap on a GraphQL POST body in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** Query limits (defaults 255 levels, complexity 1,000,000; see serveGraphQL). */
  maxDepth?: number;
  maxComplexity?: number;
  /** Poll interval without a head subscription (default 200 ms). */
  pollMs?: number;
  /** Safety-net poll interval while the `newHeads` subscription is open (default 5000 ms). */
  subscribedPollMs?: number;
  /** WebSocket URL for the head subscription (default: rpcUrl as ws://); false polls only. */
  wsUrl?: string | false;
  logger?: Logger;
};

export type RunningIndexer = {
  url: string;
  subgraph: Subgraph;
  store: EntityStore;
  follower: ChainFollower;
  /** Resolves once every block up to `block` is indexed (rejects after `timeoutMs` or on an indexing error). */
  waitForBlock(block: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
};

export class IndexerTimeoutError extends Error {
  constructor(block: number, head: number, ms: number) {
    super(
      `block ${block} was not indexed within ${ms} ms (indexed up to ${head}); check the chain and the logs`,
    );
    this.name = "IndexerTimeoutError";
  }
}

const packageDir = resolve(import.meta.dirname, "..");

export const defaultLogger: Logger = (level, message) => {
  if (level === "debug") return;
  const line = `[subgraph] ${level}: ${message}`;
  if (level === "error" || level === "warn") console.error(line);
  else console.log(line);
};

export function applyDeployments(subgraph: Subgraph, deployments: Deployments): void {
  for (const ds of subgraph.dataSources) {
    const c = deployments.contracts[ds.name];
    if (!c) continue;
    ds.address = c.address.toLowerCase();
    ds.startBlock = c.deployBlock ?? deployments.deployBlock ?? ds.startBlock;
  }
}

export async function startIndexer(opts: IndexerOptions = {}): Promise<RunningIndexer> {
  const logger = opts.logger ?? defaultLogger;
  const subgraph = loadSubgraph(opts.manifest ?? join(packageDir, "build", "subgraph.yaml"));
  if (opts.deployments) {
    if (typeof opts.deployments === "string" && !existsSync(opts.deployments)) {
      throw new ManifestError(
        `no deployments file at ${opts.deployments}`,
        "deploy the contracts first (npm run deploy)",
      );
    }
    const d =
      typeof opts.deployments === "string"
        ? (JSON.parse(readFileSync(opts.deployments, "utf8")) as Deployments)
        : opts.deployments;
    if (!d.contracts)
      throw new ManifestError("the deployments file has no `contracts`", "run the deploy step again");
    applyDeployments(subgraph, d);
    for (const ds of subgraph.dataSources) {
      if (!d.contracts[ds.name])
        logger("warn", `deployments has no ${ds.name}: indexing ${ds.address} from the manifest`);
    }
  }
  const addresses = subgraph.dataSources.map((ds) => `${ds.name}@${ds.address}:${ds.startBlock}`).join(",");
  const deployment = createHash("sha256").update(subgraph.buildHash).update(addresses).digest("hex");
  const store = new EntityStore(join(resolve(opts.dataDir ?? ".tributary/subgraph"), "store.sqlite"));
  if (store.getMeta("deployment") !== deployment) {
    if (store.getMeta("deployment"))
      logger("info", "the subgraph build or its addresses changed; re-indexing from the start");
    store.reset();
    store.setMeta("deployment", deployment);
  }
  const follower = new ChainFollower({
    rpcUrl: opts.rpcUrl ?? "http://127.0.0.1:8545",
    subgraph,
    store,
    logger,
    pollMs: opts.pollMs,
    subscribedPollMs: opts.subscribedPollMs,
    wsUrl: opts.wsUrl,
  });
  const { server, url } = await serveGraphQL({
    schema: buildGraphQLSchema(subgraph.schema),
    context: {
      store,
      schema: subgraph.schema,
      deployment,
      hasIndexingErrors: () => follower.failure !== null,
      blockNumberOfHash: (hash) => follower.blockNumberOfHash(hash).catch(() => null),
    },
    host: opts.host ?? "127.0.0.1",
    allowedOrigins: opts.allowedOrigins,
    maxBodyBytes: opts.maxBodyBytes,
    maxDepth: opts.maxDepth,
    maxComplexity: opts.maxComplexity,
    port: opts.port ?? 8000,
    subgraphName: opts.subgraphName ?? "tributary",
  });
  follower.start();
  return {
    url,
    subgraph,
    store,
    follower,
    waitForBlock: (block, timeoutMs = 10_000) =>
      new Promise<void>((res, rej) => {
        const check = () => {
          if ((store.head()?.number ?? -1) >= block) return (done(), res());
          if (follower.failure) return (done(), rej(follower.failure));
        };
        const off = follower.onSynced(check);
        const timer = setTimeout(() => {
          done();
          rej(new IndexerTimeoutError(block, store.head()?.number ?? -1, timeoutMs));
        }, timeoutMs);
        const done = () => {
          off();
          clearTimeout(timer);
        };
        check();
      }),
    stop: async () => {
      await follower.stop();
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      store.close();
    },
  };
}
