// Runs the local subgraph indexer (the subgraph package's `startIndexer`) with the stack's configuration.
import { layout, loadConfig, rpcUrl } from "../config.ts";
import { readDeployments } from "../chain.ts";
import { findExport, runUntilStopped, type Handle } from "./runner.ts";

type StartIndexer = (opts: Record<string, unknown>) => Promise<Handle & { url?: string }>;

const config = loadConfig();
const startIndexer = await findExport<StartIndexer>("the subgraph indexer", [
  { specifier: "@tributary/subgraph/runner", exportName: "startIndexer" },
  { specifier: "@tributary/subgraph", exportName: "startIndexer" },
]);
await runUntilStopped("indexer", () =>
  startIndexer({
    rpcUrl: rpcUrl(config),
    deployments: readDeployments(config),
    dataDir: layout(config).indexer,
    host: config.host,
    port: config.ports.indexer.port,
  }),
);
