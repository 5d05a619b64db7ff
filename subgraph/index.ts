// @tributary/subgraph: the local indexer for the Tributary subgraph.
//   const { url, stop } = await startIndexer({ rpcUrl, deployments, dataDir, port });
import { startIndexer as startRunner, type IndexerOptions, type RunningIndexer } from "./runner/indexer.ts";
import { ensureBuilt } from "./scripts/prepare.ts";

export type { Deployments, IndexerOptions, RunningIndexer } from "./runner/indexer.ts";
export { ensureBuilt, prepareSubgraph } from "./scripts/prepare.ts";

/**
 * Indexes `rpcUrl` (default http://127.0.0.1:8545) for the contracts in `deployments` and serves GraphQL at
 * `http://<host>:<port>/subgraphs/name/tributary` (default 127.0.0.1:8000). Without an explicit `manifest`
 * it first builds the Tributary subgraph if a source changed (graph codegen + build, offline).
 */
export async function startIndexer(opts: IndexerOptions = {}): Promise<RunningIndexer> {
  return startRunner({ ...opts, manifest: opts.manifest ?? (await ensureBuilt()) });
}

/** The same as `startIndexer`. */
export const startTributaryIndexer = startIndexer;
