// Runs the embedded IPFS node (sdk-content's `startIpfsNode`) with the stack's configuration.
import { layout, loadConfig } from "../config.ts";
import { findExport, runUntilStopped, type Handle } from "./runner.ts";

type StartIpfsNode = (opts: {
  repo: string;
  apiPort: number;
  gatewayPort: number;
  host?: string;
}) => Promise<Handle & { apiUrl: string; gatewayUrl: string }>;

const config = loadConfig();
const startIpfsNode = await findExport<StartIpfsNode>("the embedded IPFS node", [
  { specifier: "@tributary/sdk/ipfs", exportName: "startIpfsNode" },
]);
await runUntilStopped("ipfs", async () => {
  const node = await startIpfsNode({
    repo: layout(config).ipfs,
    apiPort: config.ports.ipfsApi.port,
    gatewayPort: config.ports.ipfsGateway.port,
    host: config.host,
  });
  console.log(`ipfs api ${node.apiUrl} gateway ${node.gatewayUrl}`);
  return node;
});
