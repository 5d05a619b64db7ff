// Vite config of the web app. The local stack (scripts/stack) starts `vite` here with the TRIBUTARY_*
// variables; this file turns them into (1) `/tributary-config.json`, which the app loads at start (chain id,
// contract addresses, service URLs), and (2) same-origin proxies to each service, so the browser needs no
// CORS from the chain, IPFS, the subgraph or the trainer node.
import fs from "node:fs";
import path from "node:path";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";
import type { Connect, Plugin, ProxyOptions } from "vite";
import { QUERIES_DIR, writeGenerated } from "./scripts/codegen.ts";
import { PROXY_PATHS } from "./src/served-config.ts";
import type { AppConfig } from "./src/served-config.ts";

const repoRoot = path.resolve(import.meta.dirname, "..");
const env = process.env;
const host =
  env.TRIBUTARY_HOST && !["0.0.0.0", "::"].includes(env.TRIBUTARY_HOST) ? env.TRIBUTARY_HOST : "127.0.0.1";
const url = (name: string, port: string | undefined, fallback: number) =>
  env[name] || `http://${host.includes(":") ? `[${host}]` : host}:${port || fallback}`;

const chainId = Number(env.TRIBUTARY_CHAIN_ID || 31337);
const services = {
  rpcUrl: url("TRIBUTARY_RPC_URL", env.TRIBUTARY_CHAIN_PORT, 8545),
  ipfsApiUrl: url("TRIBUTARY_IPFS_API_URL", env.TRIBUTARY_IPFS_API_PORT, 5001),
  ipfsGatewayUrl: url("TRIBUTARY_IPFS_GATEWAY_URL", env.TRIBUTARY_IPFS_GATEWAY_PORT, 8080),
  custodianUrl: url("TRIBUTARY_CUSTODIAN_URL", env.TRIBUTARY_CUSTODIAN_PORT, 8788),
  indexerUrl: url("TRIBUTARY_INDEXER_URL", env.TRIBUTARY_INDEXER_PORT, 8000),
  trainerUrl: url("TRIBUTARY_TRAINER_URL", env.TRIBUTARY_TRAINER_PORT, 8787),
};
const deploymentsFile = path.join(
  path.resolve(env.TRIBUTARY_DEPLOYMENTS_DIR || path.join(repoRoot, "deployments")),
  `${chainId}.json`,
);

/** Read on every request, so a redeploy shows after a page reload without restarting Vite. */
function appConfig(): AppConfig {
  let deployments: unknown = null;
  try {
    deployments = JSON.parse(fs.readFileSync(deploymentsFile, "utf8"));
  } catch {
    // No deployments yet: the app says so and how to fix it.
  }
  return {
    chainId,
    rpcUrl: services.rpcUrl,
    subgraphUrl: `${services.indexerUrl}/subgraphs/name/tributary`,
    trainerApiUrl: `${services.trainerUrl}/v1`,
    ipfsGatewayUrl: services.ipfsGatewayUrl,
    deploymentsFile,
    deployments,
  };
}

function configEndpoint(): Plugin {
  const serve: Connect.NextHandleFunction = (req, res, next) => {
    if (req.url?.split("?")[0] !== "/tributary-config.json") return next();
    res.setHeader("content-type", "application/json");
    res.setHeader("cache-control", "no-store");
    res.end(JSON.stringify(appConfig()));
  };
  return {
    name: "tributary-config",
    configureServer: (server) => void server.middlewares.use(serve),
    configurePreviewServer: (server) => void server.middlewares.use(serve),
  };
}

/** Typed queries (src/generated/graphql.ts) from the subgraph's documents: at start, and on each edit in dev. */
function graphqlCodegen(): Plugin {
  return {
    name: "tributary-graphql-codegen",
    buildStart: () => void writeGenerated(),
    configureServer(server) {
      server.watcher.add(QUERIES_DIR);
      server.watcher.on("change", (file) => {
        if (!file.startsWith(QUERIES_DIR) || !file.endsWith(".graphql")) return;
        try {
          writeGenerated();
        } catch (e) {
          server.config.logger.error(String((e as Error).message));
        }
      });
    },
  };
}

const proxy = (target: string, to = ""): ProxyOptions => ({
  target,
  changeOrigin: true,
  rewrite: (p) => to + p.replace(/^\/__[a-z]+/, "") || "/",
});
const proxies: Record<string, ProxyOptions> = {
  [PROXY_PATHS.rpc]: proxy(services.rpcUrl),
  [PROXY_PATHS.ipfs]: proxy(services.ipfsApiUrl),
  [PROXY_PATHS.subgraph]: proxy(services.indexerUrl, "/subgraphs/name/tributary"),
  [PROXY_PATHS.trainer]: proxy(services.trainerUrl),
  [PROXY_PATHS.custodian]: proxy(services.custodianUrl),
};

export default defineConfig({
  plugins: [graphqlCodegen(), react(), configEndpoint()],
  server: { proxy: proxies },
  preview: { proxy: proxies },
  build: {
    chunkSizeWarningLimit: 4096,
    rollupOptions: {
      // The SDK's modules only declare things (no import-time effects), so a page bundles only the SDK
      // functions it calls, not everything its barrel files re-export.
      treeshake: { moduleSideEffects: (id) => !/[\\/]sdk[\\/]src[\\/]/.test(id) },
    },
  },
});
