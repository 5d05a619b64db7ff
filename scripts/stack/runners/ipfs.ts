// Runs the embedded IPFS node (sdk-content's `startIpfsNode`) with the stack's configuration.
import { layout, loadConfig, webOrigins } from "../config.ts";
import { startIpfsNode } from "@tributary/sdk/ipfs";
import { runUntilStopped } from "./runner.ts";

const config = loadConfig();
await runUntilStopped("ipfs", async () => {
  const node = await startIpfsNode({
    repo: layout(config).ipfs,
    apiPort: config.ports.ipfsApi.port,
    gatewayPort: config.ports.ipfsGateway.port,
    host: config.host,
    allowedOrigins: webOrigins(config),
    pinningToken: process.env.TRIBUTARY_IPFS_PINNING_TOKEN,
  });
  console.log(`ipfs api ${node.apiUrl} gateway ${node.gatewayUrl}`);
  return node;
});
