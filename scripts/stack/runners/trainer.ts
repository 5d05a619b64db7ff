// Runs the demo trainer node (the trainer-node package's `startTrainerNode`) as the demo trainer account,
// which the seed staked.
import { demoAccount } from "../accounts.ts";
import { configEnv, layout, loadConfig, rpcUrl, webOrigins } from "../config.ts";
import { startTrainerNode } from "@tributary/trainer-node";
import { runUntilStopped } from "./runner.ts";

const config = loadConfig();
const env = configEnv(config);
/** Optional tuning from the environment (the fault tests compress retries with the last two). */
const num = (name: string): number | undefined => {
  const v = process.env[name];
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!(n > 0)) throw new Error(`${name}=${v} is not a positive number; unset it or give one`);
  return n;
};
/** TRIBUTARY_TRAINER_KERNEL: `wasm` (default: every job replays bit for bit) or `ort` (~4x faster; refuses replay jobs). */
const kernel = process.env.TRIBUTARY_TRAINER_KERNEL || undefined;
if (kernel !== undefined && kernel !== "wasm" && kernel !== "ort") {
  throw new Error(`TRIBUTARY_TRAINER_KERNEL=${kernel} is not a training kernel; use wasm or ort, or unset it`);
}
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
    pollMs: num("TRIBUTARY_TRAINER_POLL_MS"),
    retry: { baseMs: num("TRIBUTARY_TRAINER_RETRY_BASE_MS"), capMs: num("TRIBUTARY_TRAINER_RETRY_CAP_MS") },
    timeScale: num("TRIBUTARY_TRAINER_TIME_SCALE"),
    kernel,
    allowedOrigins: webOrigins(config),
  });
  console.log(`trainer node ${trainer.url}`);
  return trainer;
});
