// Runs the demo trainer node (the trainer-node package's `startTrainerNode`) as the demo trainer account,
// which the seed staked.
import { demoAccount } from "../accounts.ts";
import { configEnv, layout, loadConfig, rpcUrl } from "../config.ts";
import { startTrainerNode } from "@tributary/trainer-node";
import { runUntilStopped } from "./runner.ts";

const config = loadConfig();
const env = configEnv(config);
await runUntilStopped("trainer", async () => {
  const trainer = await startTrainerNode({
    rpcUrl: rpcUrl(config),
    chainId: config.chainId,
    deployments: layout(config).deploymentsFile,
    ipfsApiUrl: env.TRIBUTARY_IPFS_API_URL,
    custodianUrl: env.TRIBUTARY_CUSTODIAN_URL,
    dataDir: layout(config).trainer,
    host: config.host,
    port: config.ports.trainer.port,
    privateKey: demoAccount("trainer").privateKey,
  });
  console.log(`trainer node ${trainer.url}`);
  return trainer;
});
