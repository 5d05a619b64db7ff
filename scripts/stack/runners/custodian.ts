// Runs the demo datanets' custodian (sdk's `startCustodian`) with the stack's configuration. Its key is
// the demo custodian account's (a public dev key), so the seed can encrypt for it before it is asked.
import { demoAccount } from "../accounts.ts";
import { configEnv, layout, loadConfig, rpcUrl } from "../config.ts";
import { findExport, runUntilStopped, type Handle } from "./runner.ts";

type StartCustodian = (
  opts: Record<string, unknown>,
) => Promise<Handle & { url: string; publicKey: string; keyId: string }>;
type Connect = (opts: Record<string, unknown>) => Promise<unknown>;
type StoreClass = new (opts: { url: string }) => unknown;

const config = loadConfig();
const env = configEnv(config);
const startCustodian = await findExport<StartCustodian>("the custodian", [
  { specifier: "@tributary/sdk/custody", exportName: "startCustodian" },
]);
const connect = await findExport<Connect>("the chain client", [
  { specifier: "@tributary/sdk/chain", exportName: "connect" },
]);
const KuboContentStore = await findExport<StoreClass>("the Kubo content store", [
  { specifier: "@tributary/sdk/content", exportName: "KuboContentStore" },
]);
await runUntilStopped("custodian", async () => {
  const c = await startCustodian({
    conn: await connect({
      rpcUrl: rpcUrl(config),
      chainId: config.chainId,
      deployments: layout(config).deploymentsFile,
    }),
    store: new KuboContentStore({ url: env.TRIBUTARY_IPFS_API_URL! }),
    stateDir: layout(config).custodian,
    privateKey: demoAccount("custodian").privateKey,
    host: config.host,
    port: config.ports.custodian.port,
    log: (line: string) => console.log(`${new Date().toISOString()} ${line}`),
  });
  console.log(`custodian ${c.url} public key ${c.publicKey} (${c.keyId})`);
  return c;
});
