/**
 * The node's main loop: notices posted jobs (JobPosted events from a persisted block cursor), then
 * advances one job at a time — the CPU or GPU trains one job at once — resuming unfinished jobs first
 * after a restart. Errors a retry can fix (RPC, IPFS or custodian unreachable) are retried with
 * backoff; the others (reverts, tampered content, refused keys) fail the job with the reason.
 */
import { existsSync } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { PipelineContext } from "./pipeline.ts";
import { advanceJob, isPermanent } from "./pipeline.ts";
import { TERMINAL_STAGES } from "./store.ts";

export interface LoopOptions {
  /** How often to look for new jobs and finalizable ones (ms). Default 2000. */
  pollMs?: number;
  /** Transient failures of one job before it is marked failed. Default 5. */
  maxAttempts?: number;
}

export class TrainerLoop {
  private readonly ctx: PipelineContext;
  private readonly pollMs: number;
  private readonly maxAttempts: number;
  private readonly abort = new AbortController();
  private readonly attempts = new Map<string, { n: number; notBefore: number }>();
  private running: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  constructor(ctx: Omit<PipelineContext, "signal">, opts: LoopOptions = {}) {
    this.ctx = { ...ctx, signal: this.abort.signal };
    this.pollMs = opts.pollMs ?? 2000;
    this.maxAttempts = opts.maxAttempts ?? 5;
  }

  start(): void {
    this.running ??= this.run();
  }

  /** Stops after the current step (training stops at its next optimizer step and keeps its checkpoint). */
  async stop(): Promise<void> {
    this.abort.abort();
    this.wake?.();
    await this.running;
  }

  private async cursor(): Promise<bigint> {
    const file = join(this.ctx.dataDir, "cursor.json");
    if (!existsSync(file)) return BigInt(this.ctx.conn.deployments.deployBlock ?? 0);
    return BigInt((JSON.parse(await readFile(file, "utf8")) as { nextBlock: string }).nextBlock);
  }

  private async saveCursor(next: bigint): Promise<void> {
    const file = join(this.ctx.dataDir, "cursor.json");
    await writeFile(`${file}.tmp`, JSON.stringify({ nextBlock: next.toString() }));
    await rename(`${file}.tmp`, file);
  }

  /** Records every job posted since the cursor. */
  async scan(): Promise<void> {
    const { conn } = this.ctx;
    const from = await this.cursor();
    const head = await conn.publicClient.getBlockNumber();
    if (head < from) return;
    const jm = conn.contracts.JobMarket;
    const events = await conn.publicClient.getContractEvents({ address: jm.address, abi: jm.abi, eventName: "JobPosted", fromBlock: from, toBlock: head });
    for (const e of events) {
      const id = (e.args as { jobId?: bigint }).jobId;
      if (id !== undefined) await this.ctx.jobs.ensure(id.toString());
    }
    await this.saveCursor(head + 1n);
  }

  /** One pass: scan, then advance every job that is not terminal and not backing off. */
  async tick(): Promise<void> {
    await this.scan();
    for (const job of this.ctx.jobs.list()) {
      if (this.abort.signal.aborted) return;
      if (TERMINAL_STAGES.has(job.stage)) continue;
      const a = this.attempts.get(job.jobId);
      if (a && Date.now() < a.notBefore) continue;
      try {
        await advanceJob(this.ctx, job.jobId);
        this.attempts.delete(job.jobId);
      } catch (err) {
        if (this.abort.signal.aborted) return;
        const msg = err instanceof Error ? err.message : String(err);
        const n = (a?.n ?? 0) + 1;
        if (isPermanent(err) || n >= this.maxAttempts) {
          this.ctx.log(`job ${job.jobId}: failed: ${msg}`);
          await this.ctx.jobs.update(job.jobId, { stage: "failed", error: msg });
          this.attempts.delete(job.jobId);
        } else {
          const wait = this.pollMs * 2 ** n;
          this.ctx.log(`job ${job.jobId}: ${msg} (attempt ${n} of ${this.maxAttempts}; retrying in ${Math.round(wait / 1000)} s)`);
          await this.ctx.jobs.update(job.jobId, { error: `${msg} (retrying)` });
          this.attempts.set(job.jobId, { n, notBefore: Date.now() + wait });
        }
      }
    }
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      try {
        await this.tick();
      } catch (err) {
        if (!this.abort.signal.aborted) this.ctx.log(`watching jobs: ${err instanceof Error ? err.message : String(err)} (retrying)`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.pollMs);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }
}
