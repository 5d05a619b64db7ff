// Runs the local subgraph indexer (`startTributaryIndexer`: builds the subgraph when its sources changed,
// indexes the chain, serves GraphQL) with the stack's configuration.
import { layout, loadConfig, rpcUrl } from "../config.ts";
import { findExport, runUntilStopped, type Handle } from "./runner.ts";

type StartIndexer = (opts: Record<string, unknown>) => Promise<Handle & { url: string }>;

const config = loadConfig();
const startIndexer = await findExport<StartIndexer>("the subgraph indexer", [
  { specifier: "@tributary/subgraph", exportName: "startTributaryIndexer" },
]);
await runUntilStopped("indexer", async () => {
  const indexer = await startIndexer({
    rpcUrl: rpcUrl(config),
    deployments: layout(config).deploymentsFile,
    dataDir: layout(config).indexer,
    host: config.host,
    port: config.ports.indexer.port,
  });
  console.log(`indexer ${indexer.url}`);
  return indexer;
});
