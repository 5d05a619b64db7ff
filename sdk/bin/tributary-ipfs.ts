#!/usr/bin/env node
// tributary-ipfs: runs the embedded IPFS node (Kubo RPC subset, trustless gateway, pinning service).
import { parseArgs } from "node:util";
import { parseAllowedOrigins } from "../src/http/guard.ts";
import { DEFAULT_MAX_ADD_BYTES, DEFAULT_REPO, startIpfsNode } from "../src/ipfs/index.ts";

const usage = `Usage: tributary-ipfs [options]

Runs an offline IPFS node (Helia, blocks and pins on disk) on loopback:
Kubo RPC API subset, trustless gateway and an IPFS Pinning Service API.

Options:
  --repo <dir>            repository directory (env TRIBUTARY_IPFS_REPO, default ${DEFAULT_REPO})
  --host <addr>           interface to listen on (env TRIBUTARY_IPFS_HOST, default 127.0.0.1)
  --api-port <n>          RPC API port (env TRIBUTARY_IPFS_API_PORT, default 5001; 0 = any free port)
  --gateway-port <n>      gateway port (env TRIBUTARY_IPFS_GATEWAY_PORT, default 8080; 0 = any free port)
  --pinning-token <t>     bearer token for the pinning service (env TRIBUTARY_IPFS_PINNING_TOKEN);
                          required when --host is not a loopback address
  --allowed-origins <l>   comma-separated web origins whose pages may call the API, e.g.
                          http://127.0.0.1:5173 (env TRIBUTARY_ALLOWED_ORIGINS; default none)
  --max-add-bytes <n>     largest add request in bytes (env TRIBUTARY_IPFS_MAX_ADD_BYTES,
                          default ${DEFAULT_MAX_ADD_BYTES})
  --json                  print the URLs as one JSON line once ready
  -h, --help              show this help
`;

function port(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    console.error(`tributary-ipfs: ${name} must be a port number from 0 to 65535, got "${value}"`);
    process.exit(2);
  }
  return n;
}

function bytes(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) {
    console.error(`tributary-ipfs: ${name} must be a positive whole number of bytes, got "${value}"`);
    process.exit(2);
  }
  return n;
}

let args;
try {
  args = parseArgs({
    options: {
      repo: { type: "string" }, host: { type: "string" }, "api-port": { type: "string" }, "gateway-port": { type: "string" },
      "pinning-token": { type: "string" }, "allowed-origins": { type: "string" }, "max-add-bytes": { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
  }).values;
} catch (e) {
  console.error(`tributary-ipfs: ${(e as Error).message}\n\n${usage}`);
  process.exit(2);
}
if (args.help) {
  process.stdout.write(usage);
  process.exit(0);
}

const env = process.env;
try {
  const node = await startIpfsNode({
    repo: args.repo ?? env.TRIBUTARY_IPFS_REPO,
    host: args.host ?? env.TRIBUTARY_IPFS_HOST,
    apiPort: port("--api-port", args["api-port"] ?? env.TRIBUTARY_IPFS_API_PORT, 5001),
    gatewayPort: port("--gateway-port", args["gateway-port"] ?? env.TRIBUTARY_IPFS_GATEWAY_PORT, 8080),
    pinningToken: args["pinning-token"] ?? env.TRIBUTARY_IPFS_PINNING_TOKEN,
    allowedOrigins: parseAllowedOrigins(args["allowed-origins"] ?? env.TRIBUTARY_ALLOWED_ORIGINS),
    maxAddBytes: bytes("--max-add-bytes", args["max-add-bytes"] ?? env.TRIBUTARY_IPFS_MAX_ADD_BYTES),
  });
  const info = { apiUrl: node.apiUrl, gatewayUrl: node.gatewayUrl, pinningServiceUrl: node.pinningServiceUrl, peerId: node.peerId, repo: node.repo };
  if (args.json) console.log(JSON.stringify(info));
  else {
    console.log(`IPFS node ${node.peerId} (offline), repo ${node.repo}`);
    console.log(`  RPC API          ${node.apiUrl}/api/v0`);
    console.log(`  Gateway          ${node.gatewayUrl}/ipfs/<cid>`);
    console.log(`  Pinning service  ${node.pinningServiceUrl}/pins`);
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await node.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
} catch (e) {
  console.error(`tributary-ipfs: ${(e as Error).message}`);
  process.exit(1);
}
