/**
 * The node's main loop: notices posted jobs (JobPosted events from a persisted block cursor that notices
 * a chain which went back to an older state), then advances one job at a time — the CPU or GPU trains
 * one job at once — resuming unfinished jobs first after a restart, including jobs an earlier run marked
 * failed for a transient cause that the node still holds on chain.
 * Failures are classified (faults.ts): transient ones are retried with capped exponential backoff for as
 * long as the deadline leaves room for the remaining work, then the job is released; deterministic ones
 * release a claimed job at once (a job not claimed yet is skipped). Operator requests
 * (`tributary-trainer jobs retry|abandon`) are picked up at every pass.
 */
import { existsSync } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { getJob } from "@tributary/sdk/chain";
import type { PipelineContext } from "./pipeline.ts";
import { advanceJob, reconcileWithChain, releaseHeldJob } from "./pipeline.ts";
import { backoffMs, classify, DEADLINE_STAGES, nextRetry, systemClock } from "./faults.ts";
import type { BackoffOptions, Clock, Failure, ReleaseCause } from "./faults.ts";
import { TERMINAL_STAGES } from "./store.ts";
import type { JobRecord } from "../types.ts";

export interface LoopOptions {
  /** How often to look for new jobs and finalizable ones (ms). Default 2000. */
  pollMs?: number;
  /** Backoff of transient failures (first wait, cap, jitter). Default 1 s doubling to 60 s. */
  backoff?: BackoffOptions;
  /** The clock retries and polls run on (tests compress outages with a fake or scaled one). */
  clock?: Clock;
}

const msg = (err: unknown) => classify(err).message;

/** Blocks re-read before the cursor when the chain turns out to have gone back to an older state. */
const REWIND_MARGIN = 64n;

export class TrainerLoop {
  private readonly ctx: PipelineContext;
  private readonly pollMs: number;
  private readonly backoff: BackoffOptions;
  private readonly clock: Clock;
  private readonly abort = new AbortController();
  private readonly attempts = new Map<string, { n: number; notBefore: number }>();
  /** Chain time minus the clock (seconds), from the newest head seen: the deadline is in chain time. */
  private chainOffset = 0;
  private resumed = false;
  private scanFailing = false;
  private running: Promise<void> | null = null;

  constructor(ctx: Omit<PipelineContext, "signal">, opts: LoopOptions = {}) {
    this.ctx = { ...ctx, signal: this.abort.signal };
    this.pollMs = opts.pollMs ?? 2000;
    this.backoff = opts.backoff ?? {};
    this.clock = opts.clock ?? systemClock;
  }

  start(): void {
    this.running ??= this.run();
  }

  /** Stops after the current step (training stops at its next optimizer step and keeps its checkpoint). */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  /** Chain time now (seconds), as far as the node can tell while the chain is unreachable. */
  chainNow(): number {
    return this.clock.now() / 1000 + this.chainOffset;
  }

  private async cursor(): Promise<{ nextBlock: bigint; lastHash?: string }> {
    const file = join(this.ctx.dataDir, "cursor.json");
    if (!existsSync(file)) return { nextBlock: BigInt(this.ctx.conn.deployments.deployBlock ?? 0) };
    const c = JSON.parse(await readFile(file, "utf8")) as { nextBlock: string; lastHash?: string };
    return { nextBlock: BigInt(c.nextBlock), lastHash: c.lastHash };
  }

  private async saveCursor(next: bigint, lastHash: string): Promise<void> {
    const file = join(this.ctx.dataDir, "cursor.json");
    await writeFile(`${file}.tmp`, JSON.stringify({ nextBlock: next.toString(), lastHash }));
    await rename(`${file}.tmp`, file);
  }

  /**
   * Records every job posted since the cursor. When the block before the cursor is gone or different (the
   * chain restarted from an older state dump), it reads again from a little before the new head.
   */
  async scan(): Promise<void> {
    const { conn } = this.ctx;
    const pc = conn.publicClient;
    const cursor = await this.cursor();
    const lastHash = cursor.lastHash;
    let from = cursor.nextBlock;
    const head = await pc.getBlock();
    this.chainOffset = Number(head.timestamp) - this.clock.now() / 1000;
    const deployBlock = BigInt(conn.deployments.deployBlock ?? 0);
    if (lastHash && from > deployBlock) {
      const prev = from - 1n <= head.number ? await pc.getBlock({ blockNumber: from - 1n }) : undefined;
      if (prev?.hash !== lastHash) {
        const back = head.number > REWIND_MARGIN ? head.number - REWIND_MARGIN : 0n;
        const to = back > deployBlock ? back : deployBlock;
        this.ctx.log(`the chain went back to block ${head.number} (this node had seen up to ${from - 1n}): it restarted from an older state; reading jobs again from block ${to}`);
        from = to;
      }
    }
    if (head.number < from) return;
    const jm = conn.contracts.JobMarket;
    const events = await pc.getContractEvents({ address: jm.address, abi: jm.abi, eventName: "JobPosted", fromBlock: from, toBlock: head.number });
    for (const e of events) {
      const id = (e.args as { jobId?: bigint }).jobId;
      if (id === undefined) continue;
      const rec = this.ctx.jobs.get(id.toString());
      // a job skipped because the chain did not know it (its post was lost in a rewind) is looked at again
      if (rec?.stage === "skipped" && /not found|does not exist/i.test(rec.reason ?? "")) await this.ctx.jobs.update(rec.jobId, { stage: "seen", reason: undefined });
      else await this.ctx.jobs.ensure(id.toString());
    }
    await this.saveCursor(head.number + 1n, head.hash!);
  }

  /**
   * Once per start: every job marked failed for a transient cause (or by an older node with a fixed retry
   * budget) that this node still holds on chain goes back to the stage it failed in.
   */
  async resumeHeld(): Promise<void> {
    let done = true;
    for (const rec of this.ctx.jobs.list()) {
      if (rec.stage !== "failed" || rec.release || rec.failure?.kind === "deterministic") continue;
      if (rec.failure === undefined && classify(new Error(rec.error ?? "")).kind === "deterministic") continue;
      try {
        await this.retryFailed(rec, "resuming at start");
      } catch (err) {
        done = false; // the chain is unreachable: looked at again next pass
        this.ctx.log(`job ${rec.jobId}: cannot check it on chain yet: ${msg(err)}`);
      }
    }
    this.resumed = done;
  }

  /** Puts a failed job the node still holds back at its last stage; false when it holds it no more. */
  private async retryFailed(rec: JobRecord, why: string): Promise<boolean> {
    const job = await getJob(this.ctx.conn, BigInt(rec.jobId)).catch((err: unknown) => {
      if (classify(err).kind === "transient") throw err;
      return undefined;
    });
    const mine = job?.trainer?.toLowerCase() === this.ctx.conn.account!.address.toLowerCase();
    if (!job || !mine || !["claimed", "submitted", "disputed"].includes(job.status)) return false;
    const stage = job.status === "claimed" ? (rec.failure?.stage && DEADLINE_STAGES.has(rec.failure.stage) ? rec.failure.stage : rec.result ? "pinning" : "claimed") : "submitted";
    this.ctx.log(`job ${rec.jobId}: ${why}: the node still holds it on chain (${job.status}); back to stage ${stage} (it had failed: ${rec.error ?? "no reason recorded"})`);
    await this.ctx.jobs.update(rec.jobId, { stage, error: undefined, dueAt: job.dueAt?.toString() ?? rec.dueAt });
    this.attempts.delete(rec.jobId);
    return true;
  }

  /** The operator's requests (`tributary-trainer jobs retry|abandon <id>`). */
  private async applyRequests(): Promise<void> {
    const { jobs } = this.ctx;
    for (const rec of jobs.list()) {
      if (jobs.request(rec.jobId, "abandon")) {
        if (DEADLINE_STAGES.has(rec.stage) || (rec.stage === "failed" && !rec.release?.at)) {
          await this.release(rec.jobId, { kind: "abandon", reason: "operator", message: "abandoned by the operator (tributary-trainer jobs abandon)" });
        }
        jobs.clearRequest(rec.jobId, "abandon");
      }
      if (jobs.request(rec.jobId, "retry")) {
        jobs.clearRequest(rec.jobId, "retry");
        if (rec.stage === "failed") {
          if (!(await this.retryFailed(rec, "retry asked by the operator"))) this.ctx.log(`job ${rec.jobId}: not retried: the node no longer holds it on chain`);
        } else {
          this.ctx.log(`job ${rec.jobId}: retrying now (operator)`);
          this.attempts.delete(rec.jobId);
        }
      }
    }
  }

  /** Releases a held job; a release the chain cannot take now stays pending and is tried again. */
  private async release(jobId: string, cause: ReleaseCause): Promise<void> {
    try {
      await releaseHeldJob(this.ctx, jobId, cause);
      this.attempts.delete(jobId);
    } catch (err) {
      const a = this.attempts.get(jobId);
      const n = (a?.n ?? 0) + 1;
      const wait = nextRetry({ failures: n, rec: this.ctx.jobs.get(jobId)!, nowSec: this.chainNow(), backoff: this.backoff });
      const waitMs = wait.retry ? wait.waitMs : 60_000;
      this.ctx.log(`job ${jobId}: releasing it failed: ${msg(err)} (trying again in ${Math.round(waitMs / 1000)} s)`);
      this.attempts.set(jobId, { n, notBefore: this.clock.now() + waitMs });
    }
  }

  /** One pass: requests, resumes, scan, then advance every job that is not terminal and not backing off. */
  async tick(): Promise<void> {
    await this.applyRequests();
    if (!this.resumed) await this.resumeHeld();
    try {
      await this.scan();
      if (this.scanFailing) this.ctx.log("watching jobs: the chain answers again");
      this.scanFailing = false;
    } catch (err) {
      // jobs that do not need the chain right now (training) go on; the scan is tried again next pass
      if (!this.scanFailing) this.ctx.log(`watching jobs: ${msg(err)} (${classify(err).kind}; retrying every pass)`);
      this.scanFailing = true;
    }
    for (const job of this.ctx.jobs.list()) {
      if (this.abort.signal.aborted) return;
      const a = this.attempts.get(job.jobId);
      if (a && this.clock.now() < a.notBefore) continue;
      if (job.stage === "failed" && job.release && !job.release.at) {
        await this.release(job.jobId, job.release as ReleaseCause);
        continue;
      }
      if (TERMINAL_STAGES.has(job.stage)) continue;
      try {
        const rec = await advanceJob(this.ctx, job.jobId);
        if (a || rec.failure) {
          if (rec.failure && !TERMINAL_STAGES.has(rec.stage)) this.ctx.log(`job ${job.jobId}: recovered after ${rec.failure.attempts} failed attempt(s) (${rec.failure.source}: ${rec.failure.message})`);
          if (rec.stage !== "failed") await this.ctx.jobs.update(job.jobId, { error: undefined, failure: undefined });
        }
        this.attempts.delete(job.jobId);
      } catch (err) {
        if (this.abort.signal.aborted) return;
        await this.onFailure(job.jobId, err, a?.n ?? 0);
      }
    }
  }

  private async onFailure(jobId: string, err: unknown, before: number): Promise<void> {
    const f: Failure = classify(err);
    const rec = this.ctx.jobs.get(jobId)!;
    const n = before + 1;
    const failure = { ...f, stage: rec.stage, attempts: n, at: new Date(this.clock.now()).toISOString() };
    if (f.kind === "deterministic" && rec.stage === "seen") {
      this.ctx.log(`job ${jobId}: skipped: ${f.message}`);
      await this.ctx.jobs.update(jobId, { stage: "skipped", reason: f.message, failure });
      this.attempts.delete(jobId);
      return;
    }
    if (f.kind === "deterministic" && DEADLINE_STAGES.has(rec.stage)) {
      // a refusal may come from a chain that lost this node's claim (restarted from an older state):
      // then the claim is made again and the step retried, not released
      let now: JobRecord;
      try {
        now = await reconcileWithChain(this.ctx, rec);
      } catch (e) {
        this.ctx.log(`job ${jobId}: ${f.message}; cannot check the claim on chain yet (${msg(e)}); retrying`);
        this.attempts.set(jobId, { n, notBefore: this.clock.now() + backoffMs(n, this.backoff) });
        return;
      }
      if (now.stage === "failed") return;
      if (now.txs.claim !== rec.txs.claim) {
        this.ctx.log(`job ${jobId}: ${f.message}: the claim had vanished from the chain and is made again; retrying`);
        this.attempts.delete(jobId);
        return;
      }
      this.ctx.log(`job ${jobId}: ${f.message} (deterministic, ${f.source}: a retry cannot fix it); releasing the job`);
      await this.ctx.jobs.update(jobId, { error: f.message, failure });
      await this.release(jobId, { kind: "abandon", reason: "deterministic", message: f.message });
      return;
    }
    // transient (or a submitted job, which cannot be released: keep trying at the capped pace)
    const decision = nextRetry({ failures: n, rec, nowSec: this.chainNow(), backoff: this.backoff });
    if (!decision.retry) {
      const why = `${f.source} failing (${f.message}); ${decision.why}`;
      this.ctx.log(`job ${jobId}: ${why}; releasing the job (a release costs less than a missed deadline)`);
      await this.ctx.jobs.update(jobId, { error: f.message, failure });
      await this.release(jobId, { kind: "abandon", reason: "deadline", message: why });
      return;
    }
    this.ctx.log(`job ${jobId}: ${f.message} (${f.kind}, ${f.source}; attempt ${n}; retrying in ${(decision.waitMs / 1000).toFixed(1)} s)`);
    await this.ctx.jobs.update(jobId, { error: `${f.message} (retrying)`, failure });
    this.attempts.set(jobId, { n, notBefore: this.clock.now() + decision.waitMs });
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      try {
        await this.tick();
      } catch (err) {
        if (!this.abort.signal.aborted) this.ctx.log(`watching jobs: ${msg(err)} (retrying)`);
      }
      await this.clock.sleep(this.pollMs, this.abort.signal);
    }
  }
}
