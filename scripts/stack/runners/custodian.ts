// Runs the demo datanets' custodian (sdk's `startCustodian`) with the stack's configuration. Its key is
// the demo custodian account's (a public dev key), so the seed can encrypt for it before it is asked.
import { demoAccount } from "../accounts.ts";
import { configEnv, layout, loadConfig, rpcUrl, webOrigins } from "../config.ts";
import { connect } from "@tributary/sdk/chain";
import { KuboContentStore } from "@tributary/sdk/content";
import { startCustodian } from "@tributary/sdk/custody";
import { runUntilStopped } from "./runner.ts";

const config = loadConfig();
const env = configEnv(config);
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
    allowedOrigins: webOrigins(config),
    log: (line: string) => console.log(`${new Date().toISOString()} ${line}`),
  });
  console.log(`custodian ${c.url} public key ${c.publicKey} (${c.keyId})`);
  return c;
});
