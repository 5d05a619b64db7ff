// `npm start -w subgraph`: build the subgraph if needed, index the local chain, serve GraphQL.
//   node bin/indexer.ts [--rpc http://127.0.0.1:8545] [--deployments ../deployments/31337.json]
//                       [--data-dir ../.tributary/subgraph] [--host 127.0.0.1] [--port 8000]
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseAllowedOrigins } from "@tributary/sdk/http";
import { startIndexer } from "../index.ts";

const root = resolve(import.meta.dirname, "../..");
const { values } = parseArgs({
  options: {
    rpc: { type: "string", default: process.env.TRIBUTARY_RPC_URL ?? "http://127.0.0.1:8545" },
    deployments: { type: "string" },
    "data-dir": { type: "string", default: join(root, ".tributary", "subgraph") },
    host: { type: "string", default: process.env.TRIBUTARY_SUBGRAPH_HOST ?? "127.0.0.1" },
    port: { type: "string", default: process.env.TRIBUTARY_SUBGRAPH_PORT ?? "8000" },
  },
});
const fallback = join(root, "deployments", "31337.json");
const deployments = values.deployments ?? (existsSync(fallback) ? fallback : undefined);
if (!deployments) console.warn("[subgraph] no deployments file: indexing the addresses in subgraph.yaml");
const indexer = await startIndexer({
  rpcUrl: values.rpc,
  deployments,
  dataDir: values["data-dir"],
  host: values.host,
  port: Number(values.port),
  // web pages may query only from these origins (comma-separated), e.g. http://127.0.0.1:5173
  allowedOrigins: parseAllowedOrigins(process.env.TRIBUTARY_ALLOWED_ORIGINS),
});
console.log(`[subgraph] GraphQL at ${indexer.url} (indexing ${values.rpc})`);
const shutdown = () => void indexer.stop().then(() => process.exit(0));
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
