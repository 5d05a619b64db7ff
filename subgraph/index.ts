// @tributary/subgraph: the local indexer for the Tributary subgraph.
//   const { url, stop } = await startTributaryIndexer({ rpcUrl, deployments, dataDir, port });
import { startIndexer, type IndexerOptions, type RunningIndexer } from "./runner/indexer.ts";
import { ensureBuilt } from "./scripts/prepare.ts";

export {
  startIndexer,
  type Deployments,
  type IndexerOptions,
  type RunningIndexer,
} from "./runner/indexer.ts";
export { ensureBuilt, prepareSubgraph } from "./scripts/prepare.ts";

/** Builds the subgraph if its sources changed, then indexes `rpcUrl` and serves GraphQL (default port 8000). */
export async function startTributaryIndexer(
  opts: Omit<IndexerOptions, "manifest"> = {},
): Promise<RunningIndexer> {
  return startIndexer({ ...opts, manifest: await ensureBuilt() });
}
