// Runs the demo datanets' custodian (sdk-chain's `startCustodian`) with the stack's configuration.
import { demoAccount } from "../accounts.ts";
import { configEnv, layout, loadConfig, rpcUrl } from "../config.ts";
import { readDeployments } from "../chain.ts";
import { findExport, runUntilStopped, type Handle } from "./runner.ts";

type StartCustodian = (opts: Record<string, unknown>) => Promise<Handle & { url?: string }>;

const config = loadConfig();
const startCustodian = await findExport<StartCustodian>("the custodian", [
  { specifier: "@tributary/sdk/custodian", exportName: "startCustodian" },
]);
const env = configEnv(config);
await runUntilStopped("custodian", () =>
  startCustodian({
    rpcUrl: rpcUrl(config),
    chainId: config.chainId,
    deployments: readDeployments(config),
    deploymentsFile: layout(config).deploymentsFile,
    dataDir: layout(config).custodian,
    host: config.host,
    port: config.ports.custodian.port,
    privateKey: demoAccount("custodian").privateKey,
    ipfsApiUrl: env.TRIBUTARY_IPFS_API_URL,
  }),
);
