// Runs the local subgraph indexer (`startTributaryIndexer`: builds the subgraph when its sources changed,
// indexes the chain, serves GraphQL) with the stack's configuration.
import { layout, loadConfig, rpcUrl, webOrigins } from "../config.ts";
import { startTributaryIndexer } from "@tributary/subgraph";
import { runUntilStopped } from "./runner.ts";

const config = loadConfig();
await runUntilStopped("indexer", async () => {
  const indexer = await startTributaryIndexer({
    rpcUrl: rpcUrl(config),
    deployments: layout(config).deploymentsFile,
    dataDir: layout(config).indexer,
    host: config.host,
    port: config.ports.indexer.port,
    allowedOrigins: webOrigins(config),
  });
  console.log(`indexer ${indexer.url}`);
  return indexer;
});
