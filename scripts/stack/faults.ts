// Fault injection on the real local stack: the supervisor (in this process) runs anvil, IPFS, the
// custodian, the indexer and the trainer node as child processes; a scenario posts a job, SIGKILLs one
// service when the job reaches a stage, lets the supervisor bring it back after its restart pause, and
// checks the job still finalizes with the adapter hash of an undisturbed run (wasm kernel: bit for bit),
// with exactly one claim and one submission on chain. Used by test/faults.test.ts (a sample) and
// bench/faults.ts (the whole matrix).
import fs from "node:fs";
import path from "node:path";
import { parseEther, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  connect,
  getDatanet,
  getJob,
  grantAccess,
  postJob,
  type ChainConnection,
} from "@tributary/sdk/chain";
import { KuboContentStore } from "@tributary/sdk/content";
import { demoAccount } from "./accounts.ts";
import { httpUrl, layout, loadConfig, rpcUrl, type StackConfig } from "./config.ts";
import { STEPS } from "./services.ts";
import { Supervisor, type RestartPolicy } from "./supervisor.ts";

export const SERVICES = ["chain", "ipfs", "custodian", "trainer", "indexer"] as const;
export type Service = (typeof SERVICES)[number];
export const STAGES = [
  "claiming",
  "fetching",
  "training",
  "attributing",
  "pinning",
  "submitting",
  "finalizing",
] as const;
export type FaultStage = (typeof STAGES)[number];

export interface ScenarioResult {
  service: Service | "none";
  stage: FaultStage | "none";
  jobId: string;
  survived: boolean;
  /** Whether the kill landed at the stage (a stage the job passed too fast is killed at the next one). */
  killedAt?: string;
  /** Most failed attempts of one failure the node recorded, and over how long (its clock, seconds). */
  failedAttempts: number;
  failingSeconds: number;
  adapterHash?: string;
  claims: number;
  submissions: number;
  wallSeconds: number;
  extraSeconds?: number;
  error?: string;
}

export interface JobFile {
  stage: string;
  result?: { adapterHash: string };
  error?: string;
  failure?: { attempts: number; at: string; source: string };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The stage of the node's record a kill waits for (read from the record file: the API may be the one down). */
function reached(stage: FaultStage, rec: JobFile | undefined): boolean {
  if (!rec) return false;
  switch (stage) {
    case "claiming":
      return true; // the node has noticed the job: the claim is under way
    case "submitting":
      return (
        (rec.stage === "pinning" && !!rec.result) || rec.stage === "submitted" || rec.stage === "finalized"
      );
    case "finalizing":
      return rec.stage === "submitted" || rec.stage === "finalized";
    default: {
      const order = [
        "seen",
        "claimed",
        "fetching",
        "training",
        "attributing",
        "pinning",
        "submitted",
        "finalized",
      ];
      return order.indexOf(rec.stage) >= order.indexOf(stage);
    }
  }
}

export interface FaultStackOptions {
  /** Env of the stack (ports, home): scripts/stack/test/helpers.ts testEnv(). */
  env: Record<string, string>;
  /** The supervisor's restart pause (the outage each kill causes). Default 2 s, no doubling. */
  restart?: Partial<RestartPolicy>;
  /** The trainer node's clock speed-up for retries (a 3 s outage counts as 90 s at 30). Default 30. */
  timeScale?: number;
  /** Epochs of each job (20 records of the cooking Datanet, batch 2). Default 2. */
  epochs?: number;
  log?: (line: string) => void;
}

export class FaultStack {
  readonly config: StackConfig;
  readonly sup: Supervisor;
  readonly lines: string[] = [];
  private builder!: ChainConnection;
  private store!: KuboContentStore;
  private datanet = { id: 1n, version: 0 };
  private readonly epochs: number;
  private readonly log: (line: string) => void;

  constructor(opts: FaultStackOptions) {
    Object.assign(process.env, opts.env, {
      TRIBUTARY_TRAINER_POLL_MS: "250",
      TRIBUTARY_TRAINER_RETRY_BASE_MS: "1000",
      TRIBUTARY_TRAINER_RETRY_CAP_MS: "60000",
      TRIBUTARY_TRAINER_TIME_SCALE: String(opts.timeScale ?? 30),
    });
    this.config = loadConfig(process.env);
    this.epochs = opts.epochs ?? 2;
    this.log = opts.log ?? (() => {});
    this.sup = new Supervisor(this.config, {
      steps: STEPS.filter((s) => s.name !== "web"),
      out: (l) => {
        this.lines.push(l);
        this.log(l);
      },
      restart: { baseMs: 2000, capMs: 2000, fastMs: 1000, maxFastCrashes: 5, ...opts.restart },
    });
  }

  async start(): Promise<void> {
    await this.sup.start(false);
    for (const s of SERVICES)
      if (!this.sup.process(s)) throw new Error(`${s} did not start: ${this.lines.join("\n")}`);
    const deployments = layout(this.config).deploymentsFile;
    this.builder = await connect({
      rpcUrl: rpcUrl(this.config),
      chainId: this.config.chainId,
      deployments,
      account: privateKeyToAccount(demoAccount("builder").privateKey as Hex),
      pollingInterval: 100,
    });
    const alice = await connect({
      rpcUrl: rpcUrl(this.config),
      chainId: this.config.chainId,
      deployments,
      account: privateKeyToAccount(demoAccount("alice").privateKey as Hex),
      pollingInterval: 100,
    });
    this.store = new KuboContentStore({ url: httpUrl(this.config, this.config.ports.ipfsApi.port) });
    // the seed's grant allows 5 jobs; the matrix posts more
    await grantAccess(alice, {
      datanetId: 1n,
      account: this.builder.account!.address,
      expiresAt: BigInt(Math.floor(Date.now() / 1000) + 30 * 86400),
      uses: 1000,
    });
    this.datanet = { id: 1n, version: (await getDatanet(this.builder, 1n)).version };
  }

  stop(): Promise<void> {
    return this.sup.stop().then(() => this.sup.release());
  }

  private spec() {
    return {
      baseModel: "tributary-austen-4m",
      method: "lora",
      lora: { r: 4, alpha: 8, dropout: 0, targetModules: ["q_proj", "v_proj"] },
      training: {
        learningRate: 5e-3,
        epochs: this.epochs,
        batchSize: 2,
        warmupRatio: 0,
        seed: 11,
        maxSeqLength: 96,
      },
      data: [{ datanetId: this.datanet.id.toString(), version: this.datanet.version }],
      evalSplit: 0,
    };
  }

  private record(jobId: string): JobFile | undefined {
    try {
      return JSON.parse(
        fs.readFileSync(path.join(layout(this.config).trainer, "jobs", `${jobId}.json`), "utf8"),
      ) as JobFile;
    } catch {
      return undefined;
    }
  }

  /** An RPC call that waits for the chain to answer (it may be restarting). */
  private async rpc<T>(method: string, params: unknown[] = []): Promise<T> {
    for (;;) {
      try {
        const res = await fetch(rpcUrl(this.config), {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
          signal: AbortSignal.timeout(3000),
        });
        const body = (await res.json()) as { result: T; error?: { message: string } };
        if (body.error) throw new Error(body.error.message);
        return body.result;
      } catch {
        await sleep(200);
      }
    }
  }

  private async retry<T>(f: () => Promise<T>, what: string, ms = 60_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      try {
        return await f();
      } catch (err) {
        if (Date.now() > end) throw new Error(`${what}: ${(err as Error).message}`, { cause: err });
        await sleep(300);
      }
    }
  }

  /** JobClaimed and ResultSubmitted events of the job on the chain as it is now. */
  private async counts(jobId: bigint): Promise<{ claims: number; submissions: number }> {
    const jm = this.builder.contracts.JobMarket;
    const from = BigInt(this.builder.deployments.deployBlock ?? 0);
    const ev = (eventName: "JobClaimed" | "ResultSubmitted") =>
      this.builder.publicClient.getContractEvents({
        address: jm.address,
        abi: jm.abi,
        eventName,
        args: { jobId } as never,
        fromBlock: from,
      });
    return { claims: (await ev("JobClaimed")).length, submissions: (await ev("ResultSubmitted")).length };
  }

  /** The indexer's view of the job (after a restart it must match the chain). */
  private async indexed(jobId: bigint): Promise<{ status: string; adapterHash: string | null } | undefined> {
    const res = await fetch(
      `${httpUrl(this.config, this.config.ports.indexer.port)}/subgraphs/name/tributary`,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: `{ job(id: "${jobId}") { status adapterHash } }` }),
        signal: AbortSignal.timeout(3000),
      },
    );
    const body = (await res.json()) as {
      data?: { job: { status: string; adapterHash: string | null } | null };
    };
    return body.data?.job ?? undefined;
  }

  /** One job, with `service` SIGKILLed when it reaches `stage` (none: the undisturbed reference). */
  async scenario(
    service: Service | "none",
    stage: FaultStage | "none",
    reference?: { hash: string; seconds: number },
    opts: { timeoutMs?: number; holdUntil?: (rec: JobFile) => boolean } = {},
  ): Promise<ScenarioResult> {
    const timeoutMs = opts.timeoutMs ?? 600_000;
    const began = Date.now();
    const spec = this.spec();
    let posted = await this.retry(
      () => postJob(this.builder, this.store, { spec, budget: parseEther("10"), duration: 3600 }),
      "posting the job",
    );
    const jobId = posted.jobId;
    const id = jobId.toString();
    const result: ScenarioResult = {
      service,
      stage,
      jobId: id,
      survived: false,
      claims: 0,
      submissions: 0,
      wallSeconds: 0,
      failedAttempts: 0,
      failingSeconds: 0,
    };
    let firstFailure: number | undefined;
    let unhold: (() => void) | undefined;
    const end = began + timeoutMs;
    let killed = service === "none";
    let lastAdvance = 0;
    try {
      for (;;) {
        if (Date.now() > end)
          throw new Error(`timed out; the node's record: ${JSON.stringify(this.record(id))}`);
        const rec = this.record(id);
        if (rec?.failure) {
          const at = Date.parse(rec.failure.at);
          firstFailure ??= at;
          result.failedAttempts = Math.max(result.failedAttempts, rec.failure.attempts);
          result.failingSeconds = Math.max(result.failingSeconds, (at - firstFailure) / 1000);
        }
        if (unhold && rec && opts.holdUntil?.(rec)) {
          this.log(`[faults] job ${id}: letting ${service} restart (record: ${JSON.stringify(rec.failure)})`);
          unhold();
          unhold = undefined;
        }
        if (!killed && stage !== "none" && reached(stage, rec)) {
          const proc = this.sup.process(service);
          if (proc) {
            if (opts.holdUntil) unhold = this.sup.holdRestart(service);
            result.killedAt = rec?.stage;
            process.kill(proc.child.pid!, "SIGKILL");
            this.log(`[faults] job ${id}: SIGKILL ${service} at ${stage} (record stage ${rec?.stage})`);
            killed = true;
            await sleep(300); // let the supervisor see the exit
          }
        }
        if (killed && rec?.stage === "finalized") break;
        if (killed && (rec?.stage === "failed" || rec?.stage === "skipped"))
          throw new Error(
            `the job ended ${rec.stage}: ${rec.error ?? ""} ${JSON.stringify(rec.failure ?? "")}`,
          );
        if (killed && Date.now() - lastAdvance > 1000) {
          lastAdvance = Date.now();
          // a poster whose job vanished with the chain's lost blocks posts it again
          const job = await getJob(this.builder, jobId).catch((err: Error) =>
            /not found|does not exist|JobNotFound/i.test(err.message) ? null : undefined,
          );
          if (job === null) {
            this.log(`[faults] job ${id} vanished with the chain's lost blocks; posting it again`);
            posted = await this.retry(
              () => postJob(this.builder, this.store, { spec, budget: parseEther("10"), duration: 3600 }),
              "posting the job again",
            );
            if (posted.jobId !== jobId)
              throw new Error(`the reposted job got id ${posted.jobId}, not ${jobId}`);
          } else if (job && job.status === "submitted" && job.challengeEndsAt !== undefined) {
            // the challenge window passes at once (chain time moves on)
            const block = await this.builder.publicClient.getBlock().catch(() => undefined);
            if (block && block.timestamp <= job.challengeEndsAt) {
              await this.rpc("evm_increaseTime", [Number(job.challengeEndsAt - block.timestamp) + 1]);
              await this.rpc("evm_mine");
            }
          }
        }
        await sleep(stage === "none" || killed ? 100 : 15);
      }
      const rec = this.record(id)!;
      const onChain = await this.retry(() => getJob(this.builder, jobId), "reading the job");
      result.adapterHash = rec.result?.adapterHash;
      Object.assign(result, await this.retry(() => this.counts(jobId), "reading events"));
      const problems: string[] = [];
      if (onChain.status !== "finalized") problems.push(`on chain the job is ${onChain.status}`);
      if (onChain.result?.adapterHash !== result.adapterHash)
        problems.push(
          `on-chain adapter hash ${onChain.result?.adapterHash} != the node's ${result.adapterHash}`,
        );
      if (reference && result.adapterHash !== reference.hash)
        problems.push(
          `adapter hash ${result.adapterHash} differs from the undisturbed run's ${reference.hash}`,
        );
      if (result.claims !== 1 || result.submissions !== 1)
        problems.push(
          `${result.claims} claims and ${result.submissions} submissions on chain (want 1 and 1)`,
        );
      if (service === "indexer") {
        // the restarted indexer catches up with the chain
        const view = await this.retry(
          async () => {
            const v = await this.indexed(jobId);
            if (v?.status !== "Finalized") throw new Error(`the subgraph says ${JSON.stringify(v)}`);
            return v;
          },
          "the subgraph catching up",
          60_000,
        ).catch((err: Error) => ({ status: err.message, adapterHash: null }));
        if (
          view.status !== "Finalized" ||
          view.adapterHash?.toLowerCase() !== onChain.result?.adapterHash.toLowerCase()
        )
          problems.push(`subgraph inconsistent with the chain: ${JSON.stringify(view)}`);
      }
      if (problems.length) throw new Error(problems.join("; "));
      result.survived = true;
    } catch (err) {
      result.error = (err as Error).message;
    } finally {
      unhold?.();
    }
    result.wallSeconds = (Date.now() - began) / 1000;
    if (reference) result.extraSeconds = Math.round((result.wallSeconds - reference.seconds) * 10) / 10;
    // every service back before the next scenario
    for (const s of SERVICES)
      await this.retry(
        async () => {
          if (!this.sup.isRunning(s)) throw new Error(`${s} not running`);
        },
        `${s} back`,
        60_000,
      ).catch(() => {});
    return result;
  }
}
