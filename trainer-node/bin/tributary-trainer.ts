#!/usr/bin/env node
// The trainer node as a command: `npx tributary-trainer [options]`. Every option has an environment
// variable (the local stack's names); the operator key comes from the environment only, never a flag.
import { parseAllowedOrigins } from "@tributary/sdk/http";
import { parseArgs } from "node:util";
import { loadAccount } from "@tributary/sdk/chain";
import { parseEther } from "viem";
import { startTrainerNode } from "../src/index.ts";
import type { VerifierOptions } from "../src/index.ts";
import { parseRoutes } from "../src/serve/backend.ts";
import { jobsCommand } from "./jobs.ts";

if (process.argv[2] === "train") {
  // the offline training command (no chain): src/backends/offline-train.ts
  const { offlineTrain, TRAIN_HELP, UsageError } = await import("../src/backends/offline-train.ts");
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    console.log(TRAIN_HELP);
    process.exit(0);
  }
  const abort = new AbortController();
  process.once("SIGINT", () => abort.abort());
  process.once("SIGTERM", () => abort.abort());
  try {
    const m = await offlineTrain(process.argv.slice(3), console.log, abort.signal);
    process.exit(m.stopped ? 130 : 0);
  } catch (err) {
    console.error(`tributary-trainer train: ${(err as Error).message}${err instanceof UsageError ? "\nRun tributary-trainer train --help for the options." : ""}`);
    process.exit(err instanceof UsageError ? 2 : 1);
  }
}

const HELP = `tributary-trainer: claims fine-tuning jobs, trains them, submits and collects; serves the models.
(tributary-trainer train --help: fine-tune a local model with no chain, to check a machine before staking.)

Options (environment variable in brackets):
  --rpc URL            chain RPC [TRIBUTARY_RPC_URL] (default http://127.0.0.1:8545)
  --chain-id N         [TRIBUTARY_CHAIN_ID] (default 31337)
  --deployments FILE   deployments/<chainId>.json [TRIBUTARY_DEPLOYMENTS_FILE] (default deployments/<chain-id>.json)
  --ipfs URL           Kubo RPC API [TRIBUTARY_IPFS_API_URL] (default http://127.0.0.1:5001)
  --custodian URL      [TRIBUTARY_CUSTODIAN_URL] (default http://127.0.0.1:8788)
  --data-dir DIR       job state, checkpoints, model cache [TRIBUTARY_TRAINER_DIR] (default .tributary/trainer)
  --host H --port N    API address [TRIBUTARY_TRAINER_HOST, TRIBUTARY_TRAINER_PORT] (default 127.0.0.1:8787)
  --kernel wasm|ort    training kernel (default wasm: replayable bit for bit; ort is ~4x faster and takes
                       eval jobs only: a node on ort refuses replay jobs, the default on Llama bases)
  --backend engine|torch  training backend (default engine; torch: the PyTorch worker, needs engine/.venv
                       or TRIBUTARY_PYTHON, see trainer-node/torch)
  --threads N          (default: all cores)
  --base-models A,B    only train jobs on these base models
  --serve-only         do not take jobs; serve models only
  --checkpoint-every N optimizer steps between the checkpoints the dispute game commits to (default 10, >= 2)
Verifier mode (docs/contracts.md "Dispute game"; replays run on the wasm kernel):
  --verify             audit submitted jobs (replay jobs by replay, eval jobs by recomputing their held-out
                       loss and attribution), challenge mismatches with the evidence and play the bisection,
                       serve on dispute committees when drawn, draw and settle when due
  --verify-stake OPEN  stake this much OPEN as a verifier (topped up; needed to be drawn; default: none)
  --audit-rate R       share of submitted jobs audited, 0..1 (default 1; 0: serve when drawn only)
  --audit-segments N   random segments replayed per audited job, or "all": the whole run (default 1)
  --verify-device auto|cpu|cuda  where eval jobs on non-Llama bases are recomputed by the torch worker (fp32;
                       needs engine/.venv or TRIBUTARY_PYTHON; default auto: CUDA when torch sees one)
Key: TRIBUTARY_PRIVATE_KEY, or TRIBUTARY_KEYSTORE + TRIBUTARY_KEYSTORE_PASSWORD.
TRIBUTARY_ADMIN_TOKEN enables POST /v1/load_lora_adapter and /v1/unload_lora_adapter for
Authorization: Bearer <token> (adapters from IPFS, served as extra models; unset: those routes are 403).
TRIBUTARY_SERVE_BACKENDS routes base models to other serving backends than the engine, as JSON:
{"<base model name>": {"backend": "external", "url": "http://127.0.0.1:8000", "adminToken": "..."}}.

Jobs (the same options locate the node's data folder and the chain):
  tributary-trainer jobs               the node's jobs: stage, reason, status on chain, deadline
  tributary-trainer jobs retry ID      a failed job the node still holds goes back to its last stage
                                       (the running node acts at its next pass, else at its next start)
  tributary-trainer jobs abandon ID    release the job on chain now (releaseJob: the release fee, less
                                       than a missed deadline); the node stops working on it
  --json                               machine-readable list

Example:
  TRIBUTARY_PRIVATE_KEY=0x... npx tributary-trainer --base-models tributary-austen-4m`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    json: { type: "boolean" },
    rpc: { type: "string" },
    "chain-id": { type: "string" },
    deployments: { type: "string" },
    ipfs: { type: "string" },
    custodian: { type: "string" },
    "data-dir": { type: "string" },
    host: { type: "string" },
    port: { type: "string" },
    kernel: { type: "string" },
    backend: { type: "string" },
    threads: { type: "string" },
    "base-models": { type: "string" },
    "serve-only": { type: "boolean" },
    "checkpoint-every": { type: "string" },
    verify: { type: "boolean" },
    "verify-stake": { type: "string" },
    "audit-rate": { type: "string" },
    "audit-segments": { type: "string" },
    "verify-device": { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const env = process.env;
const fail = (msg: string): never => {
  console.error(`tributary-trainer: ${msg}\nRun with --help for the options.`);
  process.exit(2);
};
const int = (v: string | undefined, name: string, def: number) => {
  if (v === undefined) return def;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : fail(`${name} must be a whole number, got ${v}`);
};
const kernel = values.kernel ?? "wasm";
if (kernel !== "wasm" && kernel !== "ort") fail(`--kernel must be wasm or ort, got ${kernel}`);
const backend = values.backend ?? "engine";
if (backend !== "engine" && backend !== "torch") fail(`--backend must be engine or torch, got ${backend}`);
const chainId = int(values["chain-id"] ?? env.TRIBUTARY_CHAIN_ID, "--chain-id", 31337);
let account;
if (positionals[0] === "jobs") {
  const code = await jobsCommand(positionals.slice(1), {
    dataDir: values["data-dir"] ?? env.TRIBUTARY_TRAINER_DIR ?? ".tributary/trainer",
    rpcUrl: values.rpc ?? env.TRIBUTARY_RPC_URL ?? "http://127.0.0.1:8545",
    chainId,
    deployments: values.deployments ?? env.TRIBUTARY_DEPLOYMENTS_FILE ?? `deployments/${chainId}.json`,
    json: values.json ?? false,
    env,
  });
  process.exit(code);
}
if (positionals.length) fail(`unknown command ${positionals.join(" ")}`);
const checkpointEvery = values["checkpoint-every"] === undefined ? undefined : int(values["checkpoint-every"], "--checkpoint-every", 10);
if (checkpointEvery !== undefined && checkpointEvery < 2) fail(`--checkpoint-every must be at least 2 (each segment needs a state that is never published), got ${checkpointEvery}`);
let verify: VerifierOptions | undefined;
if (values.verify) {
  const rate = values["audit-rate"] === undefined ? 1 : Number(values["audit-rate"]);
  if (!(rate >= 0 && rate <= 1)) fail(`--audit-rate must be a number from 0 to 1, got ${values["audit-rate"]}`);
  const seg = values["audit-segments"] ?? "1";
  const segments = seg === "all" ? "all" : int(seg, "--audit-segments", 1);
  if (segments !== "all" && segments < 1) fail(`--audit-segments must be at least 1 or "all", got ${seg}`);
  let stakeWei: bigint | undefined;
  if (values["verify-stake"] !== undefined) {
    try {
      stakeWei = parseEther(values["verify-stake"]);
    } catch {
      fail(`--verify-stake must be an amount of OPEN (e.g. 100), got ${values["verify-stake"]}`);
    }
  }
  verify = { audit: rate > 0, auditRate: rate, auditSegments: segments, stake: stakeWei };
} else if (values["verify-stake"] !== undefined || values["audit-rate"] !== undefined || values["audit-segments"] !== undefined || values["verify-device"] !== undefined) {
  fail("--verify-stake, --audit-rate, --audit-segments and --verify-device need --verify");
}
const verifyDevice = values["verify-device"];
if (verifyDevice !== undefined && verifyDevice !== "auto" && verifyDevice !== "cpu" && verifyDevice !== "cuda") fail(`--verify-device must be auto, cpu or cuda, got ${verifyDevice}`);
try {
  account = loadAccount({}, env);
} catch (err) {
  fail((err as Error).message);
}
if (!account) fail("no operator key: set TRIBUTARY_PRIVATE_KEY, or TRIBUTARY_KEYSTORE and TRIBUTARY_KEYSTORE_PASSWORD");
try {
  const node = await startTrainerNode({
    rpcUrl: values.rpc ?? env.TRIBUTARY_RPC_URL ?? "http://127.0.0.1:8545",
    chainId,
    deployments: values.deployments ?? env.TRIBUTARY_DEPLOYMENTS_FILE ?? `deployments/${chainId}.json`,
    ipfsApiUrl: values.ipfs ?? env.TRIBUTARY_IPFS_API_URL ?? "http://127.0.0.1:5001",
    custodianUrl: values.custodian ?? env.TRIBUTARY_CUSTODIAN_URL ?? "http://127.0.0.1:8788",
    dataDir: values["data-dir"] ?? env.TRIBUTARY_TRAINER_DIR ?? ".tributary/trainer",
    host: values.host ?? env.TRIBUTARY_TRAINER_HOST ?? "127.0.0.1",
    port: int(values.port ?? env.TRIBUTARY_TRAINER_PORT, "--port", 8787),
    account,
    kernel: kernel as "wasm" | "ort",
    backend: backend as "engine" | "torch",
    threads: values.threads === undefined ? undefined : int(values.threads, "--threads", 1),
    baseModels: values["base-models"]?.split(",").map((s) => s.trim()).filter(Boolean),
    train: !values["serve-only"],
    checkpointEvery,
    verify,
    verifyDevice: verifyDevice as "auto" | "cpu" | "cuda" | undefined,
    adminToken: env.TRIBUTARY_ADMIN_TOKEN || undefined,
    allowedOrigins: parseAllowedOrigins(env.TRIBUTARY_ALLOWED_ORIGINS),
    serveBackends: parseRoutes(env.TRIBUTARY_SERVE_BACKENDS),
  });
  const shutdown = async () => {
    console.log("[trainer] stopping (the running job keeps its checkpoint)");
    await node.stop();
    process.exit(0);
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
} catch (err) {
  fail((err as Error).message);
}
