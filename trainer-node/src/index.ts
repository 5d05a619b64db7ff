/**
 * @tributary/trainer-node: a trainer operator's daemon. `startTrainerNode` connects to the chain with the
 * operator's key, watches for jobs, trains them (src/jobs) and serves the trained models through an
 * OpenAI-compatible API with job progress and Prometheus metrics (src/serve). State lives in `dataDir`
 * (job records, job folders with checkpoints, the block cursor, the model cache): a restarted node picks
 * up where it stopped.
 */
import { mkdir } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { privateKeyToAccount } from "viem/accounts";
import type { Hex, LocalAccount } from "viem";
import { Registry, Gauge } from "prom-client";
import { connect } from "@tributary/sdk/chain";
import { KuboContentStore } from "@tributary/sdk/content";
import { selectKernel } from "@tributary/engine";
import { citationProvider } from "./jobs/citations.ts";
import { scaledClock } from "./jobs/faults.ts";
import type { BackoffOptions, Clock } from "./jobs/faults.ts";
import { TrainerLoop } from "./jobs/loop.ts";
import { JobStore } from "./jobs/store.ts";
import { Verifier } from "./jobs/verify.ts";
import type { VerifierOptions } from "./jobs/verify.ts";
import { Billing, chainCatalog, createServing, startApi, UsageRecorder } from "./serve/index.ts";
import type { BackendRoute } from "./serve/index.ts";

export type { JobEvent, JobProgress, JobRecord, JobStage, JobsView, ModelCatalog, ServedModel } from "./types.ts";
export { JobStore } from "./jobs/store.ts";
export { TrainerLoop } from "./jobs/loop.ts";
export { advanceJob, releaseHeldJob } from "./jobs/pipeline.ts";
export { Verifier } from "./jobs/verify.ts";
export type { AuditRecord, VerifierContext, VerifierOptions } from "./jobs/verify.ts";
export { classify, nextRetry, remainingWorkSeconds, scaledClock, systemClock } from "./jobs/faults.ts";
export type { BackoffOptions, Clock, Failure, ReleaseCause } from "./jobs/faults.ts";

export interface TrainerNodeOptions {
  rpcUrl: string;
  chainId: number;
  /** Path of `deployments/<chainId>.json`. */
  deployments: string;
  /** Kubo RPC API of the IPFS node (`http://127.0.0.1:5001`). */
  ipfsApiUrl: string;
  /** The custodian that releases data keys to the trainer of a claimed job. */
  custodianUrl: string;
  dataDir: string;
  /** API interface and port (default 127.0.0.1:8787). */
  host?: string;
  port?: number;
  /** The operator's key (or `account`): signs claims, submissions and key-release requests. Never logged. */
  privateKey?: Hex;
  account?: LocalAccount;
  /** Training kernel: `wasm` (default) makes every job replayable bit for bit; `ort` is ~4x faster. */
  kernel?: "wasm" | "ort";
  /** Training backend: `engine` (default, the kernel above) or `torch` (the PyTorch worker, src/backends). */
  backend?: "engine" | "torch";
  threads?: number;
  /** Base model names this node trains (default: any registered one it can fetch). */
  baseModels?: string[];
  /** Optimizer steps between the checkpoints the dispute game's tree commits to (default 10, at least 2). */
  checkpointEvery?: number;
  /** Training FLOP/s for the deadline check before claiming (default: measured on the last job). */
  trainFlops?: number;
  /** Milliseconds between looks for new jobs (default 2000). */
  pollMs?: number;
  /** How often vouchers of paid inference are redeemed on chain (ms, default 60000; they are also redeemed at stop). */
  redeemEveryMs?: number;
  /** How often usage epochs (per-request revenue split by citations) are committed (ms, default 600000; also at stop). */
  usageCommitEveryMs?: number;
  /** Backoff of transient failures (default 1 s doubling to a 60 s cap, with jitter; bounded by each job's deadline). */
  retry?: BackoffOptions;
  /** The clock of retries and polls (tests: a scaled or fake one). */
  clock?: Clock;
  /** Tests only: run retries and polls on a clock this many times faster than the wall clock. */
  timeScale?: number;
  /** Whether to take jobs (default true); false serves models only. */
  train?: boolean;
  /**
   * Verifier mode (`--verify`): audit submitted jobs (replay, or eval recomputation), challenge mismatches, serve on dispute committees
   * (src/jobs/verify.ts). Replays run on a wasm kernel of their own. Passes run every `pollMs`.
   */
  verify?: VerifierOptions;
  /**
   * Where a verifier's torch worker recomputes eval jobs on bases the engine cannot load (`--verify-device`; default
   * auto: CUDA when torch sees one). Always fp32; its python is TRIBUTARY_PYTHON or engine/.venv, its threads `threads`.
   */
  verifyDevice?: "auto" | "cpu" | "cuda";
  /** Enables the runtime adapter API (`/v1/load_lora_adapter`) for this bearer token (TRIBUTARY_ADMIN_TOKEN). */
  adminToken?: string;
  /** Web origins whose pages may call the API (TRIBUTARY_ALLOWED_ORIGINS); default none. */
  allowedOrigins?: readonly string[];
  /** Base models served by another backend than the engine (TRIBUTARY_SERVE_BACKENDS; serve/backend.ts). */
  serveBackends?: Record<string, BackendRoute>;
  log?: (line: string) => void;
}

export interface TrainerNode {
  url: string;
  jobs: JobStore;
  stop(): Promise<void>;
}

export async function startTrainerNode(o: TrainerNodeOptions): Promise<TrainerNode> {
  const log = o.log ?? ((l: string) => console.log(`[trainer] ${l}`));
  const account = o.account ?? (o.privateKey ? privateKeyToAccount(o.privateKey) : undefined);
  if (!account) throw new Error("The trainer node needs the operator's key: set TRIBUTARY_PRIVATE_KEY, or TRIBUTARY_KEYSTORE and TRIBUTARY_KEYSTORE_PASSWORD");
  const conn = await connect({ rpcUrl: o.rpcUrl, chainId: o.chainId, deployments: o.deployments, account });
  const store = new KuboContentStore({ url: o.ipfsApiUrl });
  await mkdir(o.dataDir, { recursive: true });
  const jobs = await JobStore.open(join(o.dataDir, "jobs"));
  const threads = o.threads ?? availableParallelism();
  const trainKernel = await selectKernel(o.kernel ?? "wasm", threads);
  const registry = new Registry();
  const byStage = new Gauge({ name: "tributary_trainer_jobs", help: "Jobs known to the node, by stage", labelNames: ["stage"], registers: [registry] });
  const tokensPerSec = new Gauge({ name: "tributary_trainer_training_tokens_per_second", help: "Training throughput of the running job", registers: [registry] });
  const countStages = () => {
    byStage.reset();
    for (const j of jobs.list()) byStage.inc({ stage: j.stage });
  };
  countStages();
  jobs.subscribe((e) => (e.type === "stage" ? countStages() : tokensPerSec.set(e.progress.tokensPerSec)));
  const models = createServing({ store, cacheDir: o.dataDir, routes: o.serveBackends });
  const billing = await Billing.open({ conn, file: join(o.dataDir, "vouchers.json"), redeemEveryMs: o.redeemEveryMs, log });
  const usage = new UsageRecorder({ conn, store, dataDir: o.dataDir, commitEveryMs: o.usageCommitEveryMs ?? 600_000, redeem: () => billing.redeemAll(), log });
  const api = await startApi({ host: o.host ?? "127.0.0.1", port: o.port ?? 8787, catalog: chainCatalog(conn), models, jobs, registry, billing, usage, adminToken: o.adminToken, allowedOrigins: o.allowedOrigins, citations: citationProvider({ jobs, dataDir: o.dataDir, tokenizer: (m) => models.tokenizer(m) }) });
  const loop = new TrainerLoop({ conn, store, custodianUrl: o.custodianUrl, dataDir: o.dataDir, jobs, kernel: trainKernel, backend: o.backend, baseModels: o.baseModels, trainFlops: o.trainFlops, checkpointEvery: o.checkpointEvery, log }, { pollMs: o.pollMs, backoff: o.retry, clock: o.clock ?? (o.timeScale ? scaledClock(o.timeScale) : undefined) });
  if (o.train !== false) loop.start();
  let verifier: { stop(): Promise<void> } | null = null;
  let verifyKernel: Awaited<ReturnType<typeof selectKernel>> | null = null;
  if (o.verify) {
    // replays run on their own wasm kernel (bit-exact), whatever the node trains on, beside the training loop
    verifyKernel = await selectKernel("wasm", threads);
    verifier = runVerifier(new Verifier({ conn, store, custodianUrl: o.custodianUrl, dataDir: o.dataDir, kernel: verifyKernel, torch: { device: o.verifyDevice ?? "auto", ...(o.threads ? { threads: o.threads } : {}) }, log }, o.verify), o.pollMs ?? 2000, log);
    log(`verifier mode: ${o.verify.audit === false ? "no audits" : `auditing ${Math.round((o.verify.auditRate ?? 1) * 100)}% of submitted replay jobs (${o.verify.auditSegments ?? 1} segment(s) each)`}, serving when drawn${o.verify.stake ? `, stake ${o.verify.stake} wei` : ""}`);
  }
  log(`trainer ${account.address} on chain ${conn.chainId}; API ${api.url}/v1; training on ${o.backend === "torch" ? "torch" : `${trainKernel.name} x${threads}`}${o.train === false ? " (not taking jobs)" : ""}`);
  let stopped = false;
  return {
    url: api.url,
    jobs,
    async stop() {
      if (stopped) return;
      stopped = true;
      await loop.stop();
      await verifier?.stop();
      await verifyKernel?.dispose();
      await api.stop();
      await usage.close();
      await billing.close();
      await models.close();
      await trainKernel.dispose();
    },
  };
}

/** Runs verifier passes every `pollMs` until stopped; a failed pass is logged and retried at the next one. */
function runVerifier(v: Verifier, pollMs: number, log: (l: string) => void): { stop(): Promise<void> } {
  let stopped = false;
  let wake: (() => void) | null = null;
  const running = (async () => {
    while (!stopped) {
      try {
        await v.tick();
      } catch (err) {
        log(`verifier: pass failed (retried at the next one): ${(err as Error).message}`);
      }
      if (stopped) break;
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, pollMs);
      });
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake?.();
      await running;
    },
  };
}
