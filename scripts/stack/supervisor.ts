// The supervisor behind `npm start`: starts the steps of services.ts in order, keeps every service
// consistent with the chain it finds, prints where everything is, and stops it all cleanly. A service
// that crashes is restarted with backoff (and says so); one that keeps crashing right after its start is
// given up on. While the chain is down the services that need it wait for it instead of the stack stopping.
import fs from "node:fs";
import path from "node:path";
import { demoAccounts, DEV_MNEMONIC } from "./accounts.ts";
import { addressesWithoutCode, chainInstance, quarantineBadState, readDeployments } from "./chain.ts";
import { layout, logFile, type StackConfig } from "./config.ts";
import { PortInUseError, ServiceNotReadyError, StackError, TaskFailedError } from "./errors.ts";
import { portIsFree, sleep } from "./probe.ts";
import { describeExit, reapStale, startProcess, stopProcess, tailLog, type Managed } from "./proc.ts";
import { STEPS, type Step, type StepContext } from "./services.ts";
import { readSeedRecord, seedFile, wipeHome, writeJson } from "./state.ts";

export interface RestartPolicy {
  /** First wait before a restart (ms); doubles per crash in a row, up to `capMs`. Default 1000. */
  readonly baseMs: number;
  readonly capMs: number;
  /** A run shorter than this (ms) is a fast crash; `maxFastCrashes` of them in a row give up. */
  readonly fastMs: number;
  readonly maxFastCrashes: number;
}

export const DEFAULT_RESTART: RestartPolicy = {
  baseMs: 1000,
  capMs: 30_000,
  fastMs: 10_000,
  maxFastCrashes: 5,
};

export interface SupervisorOptions {
  readonly steps?: readonly Step[];
  readonly out?: (line: string) => void;
  readonly restart?: Partial<RestartPolicy>;
}

class Aborted extends Error {}

function supervisorPidFile(config: StackConfig): string {
  return path.join(layout(config).run, "supervisor.pid");
}

/** Records this process as the home's supervisor; refuses when another live supervisor holds it. */
function claimHome(config: StackConfig): void {
  const file = supervisorPidFile(config);
  try {
    const pid = Number(fs.readFileSync(file, "utf8").trim());
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
    if (pid !== process.pid && cmdline.includes("index.ts")) {
      throw new StackError(`another stack is already running from ${config.home} (pid ${pid})`, {
        hint: `stop it first (Ctrl-C in its terminal, or kill -INT ${pid}), or use another TRIBUTARY_HOME`,
      });
    }
  } catch (err) {
    if (err instanceof StackError) throw err;
    // no pid file, or its process is gone
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${process.pid}\n`);
}

/** A path relative to the working directory when it lies below it, else absolute. */
function show(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith("..") ? rel : p;
}

export class Supervisor {
  readonly config: StackConfig;
  readonly steps: readonly Step[];
  private readonly out: (line: string) => void;
  private readonly started: { step: Step; proc: Managed }[] = [];
  private readonly running = new Set<string>();
  private instance: string | undefined;
  private readonly restart: RestartPolicy;
  /** Per service: crashes in a row, and of those, fast ones in a row. */
  private readonly crashes = new Map<string, { inRow: number; fast: number }>();
  private readonly startedAt = new Map<Managed, number>();
  private readonly holds = new Map<string, Promise<void>>();
  private onStop!: () => void;
  private readonly stopSignal = new Promise<void>((r) => (this.onStop = r));
  private aborted = false;
  private stopping: Promise<void> | undefined;

  constructor(config: StackConfig, opts: SupervisorOptions) {
    this.config = config;
    this.steps = opts.steps ?? STEPS;
    this.out = opts.out ?? ((line) => console.log(line));
    this.restart = { ...DEFAULT_RESTART, ...opts.restart };
  }

  /**
   * Keeps a crashed service down until the returned function is called (the fault tests make an outage
   * as long as they need). A restart already waiting for its backoff waits for this too.
   */
  holdRestart(name: string): () => void {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    this.holds.set(name, held);
    return () => {
      if (this.holds.get(name) === held) this.holds.delete(name);
      release();
    };
  }

  /** Whether the service is up (started and answering its readiness check). */
  isRunning(name: string): boolean {
    return this.running.has(name);
  }

  /** The running process of a service (tests and the fault benchmark kill it). */
  process(name: string): Managed | undefined {
    return this.started.find((s) => s.step.name === name && !s.proc.exit)?.proc;
  }

  private ctx(): StepContext {
    return { config: this.config, running: this.running, chainInstance: this.instance };
  }

  /** Starts every step; resolves once all services are ready (or throws, after stopping what started). */
  async start(fresh: boolean): Promise<void> {
    const paths = layout(this.config);
    claimHome(this.config);
    // Services left running by a supervisor that was killed hard go first (before --fresh deletes their state).
    await reapStale(paths.run, (line) => this.out(`[stack] ${line}`));
    if (fresh) {
      wipeHome(this.config);
      this.out(`[stack] --fresh: removed ${paths.home}`);
      claimHome(this.config);
    }
    for (const dir of [paths.home, paths.logs, paths.run]) fs.mkdirSync(dir, { recursive: true });
    try {
      await this.checkPorts();
      for (const step of this.steps) {
        if (this.aborted) throw new Aborted();
        await this.runStep(step);
      }
    } catch (err) {
      await this.stop();
      if (err instanceof Aborted)
        throw new StackError("start-up interrupted; everything that had started is stopped");
      throw err;
    }
  }

  /** Fails early, before anything starts, when a port of a step that would run is taken. */
  private async checkPorts(): Promise<void> {
    for (const step of this.steps) await this.checkStepPorts(step);
  }

  private async checkStepPorts(step: Step): Promise<void> {
    for (const setting of step.ports?.(this.config) ?? []) {
      if (!(await portIsFree(setting.port, this.config.host))) {
        throw new PortInUseError(setting.port, this.config.host, step.name, setting.env);
      }
    }
  }

  private async runStep(step: Step): Promise<void> {
    const ctx = this.ctx();
    if (step.kind === "task") {
      const upToDate = await step.upToDate?.(ctx);
      if (upToDate) {
        this.out(`[stack] ✓ ${step.name}: ${upToDate}`);
        return;
      }
    }
    if (step.name === "chain") {
      const moved = quarantineBadState(this.config);
      if (moved)
        this.out(
          `[stack] ! the saved chain state could not be read; moved it to ${moved} and starting an empty chain`,
        );
    }
    await this.checkStepPorts(step);
    const log = logFile(this.config, step.name);
    const began = Date.now();
    this.out(`[stack] … ${step.name}: starting (log: ${show(log)})`);
    const proc = startProcess(step.name, step.spawn(ctx), log, layout(this.config).run);
    const timeoutMs = (step.timeoutS ?? this.config.readyTimeoutS) * 1000;
    if (step.kind === "task") {
      this.started.push({ step, proc });
      const exit = await this.raceExit(proc, timeoutMs);
      this.started.pop();
      if (exit === "timeout") {
        await stopProcess(proc, 2000);
        throw new TaskFailedError(step.name, `still running after ${timeoutMs / 1000} s`, log, tailLog(log));
      }
      if (exit.code !== 0) throw new TaskFailedError(step.name, describeExit(exit), log, tailLog(log));
      this.out(`[stack] ✓ ${step.name}: done in ${((Date.now() - began) / 1000).toFixed(1)} s`);
      return;
    }
    this.started.push({ step, proc });
    this.startedAt.set(proc, began);
    const deadline = Date.now() + timeoutMs;
    let lastError = "no answer";
    for (;;) {
      if (this.aborted) throw new Aborted();
      if (proc.exit) {
        this.started.pop();
        throw new ServiceNotReadyError(
          step.name,
          `it exited (${describeExit(proc.exit)})`,
          log,
          tailLog(log),
        );
      }
      try {
        if (await step.ready!(ctx)) break;
      } catch (err) {
        if (err instanceof StackError) throw err;
        lastError = (err as Error).message;
      }
      if (Date.now() > deadline) {
        throw new ServiceNotReadyError(
          step.name,
          `no ready answer within ${timeoutMs / 1000} s (${lastError})`,
          log,
          tailLog(log),
        );
      }
      await sleep(200);
    }
    this.running.add(step.name);
    this.out(`[stack] ✓ ${step.name}: ready in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    this.watch(step, proc);
    if (step.name === "chain") await this.reconcileWithChain();
  }

  private watch(step: Step, proc: Managed): void {
    void proc.exited.then((exit) => this.onUnexpectedExit(step, proc, describeExit(exit)));
  }

  private async raceExit(proc: Managed, timeoutMs: number) {
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      proc.exited,
      new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), timeoutMs))),
      new Promise<"aborted">((r) => {
        const poll = setInterval(() => this.aborted && (clearInterval(poll), r("aborted")), 100);
        proc.exited.then(() => clearInterval(poll));
      }),
    ]);
    clearTimeout(timer);
    if (result === "aborted") {
      await stopProcess(proc, 5000);
      throw new Aborted();
    }
    return result;
  }

  private onUnexpectedExit(step: Step, proc: Managed, how: string): void {
    if (this.stopping) return;
    this.running.delete(step.name);
    const ranMs = Date.now() - (this.startedAt.get(proc) ?? 0);
    this.startedAt.delete(proc);
    const c = this.crashes.get(step.name) ?? { inRow: 0, fast: 0 };
    const fast = ranMs < this.restart.fastMs;
    const next = { inRow: fast ? c.inRow + 1 : 1, fast: fast ? c.fast + 1 : 0 };
    this.crashes.set(step.name, next);
    this.out(
      `[stack] ! ${step.name} stopped unexpectedly (${how}) after ${(ranMs / 1000).toFixed(1)} s; see ${proc.logFile}`,
    );
    const tail = tailLog(proc.logFile, 8);
    if (tail) this.out(tail.replace(/^/gm, "    "));
    if (next.fast >= this.restart.maxFastCrashes) {
      this.out(
        `[stack] ! ${step.name} crashed ${next.fast} times in a row within ${this.restart.fastMs / 1000} s of starting; giving up on it (read ${proc.logFile}, fix the cause, then restart the stack)`,
      );
      if (step.name === "chain")
        this.out("[stack] ! without the chain the other services wait; the stack keeps running");
      return;
    }
    const waitMs = Math.min(this.restart.capMs, this.restart.baseMs * 2 ** (next.inRow - 1));
    this.out(
      `[stack] ↻ ${step.name}: restarting in ${(waitMs / 1000).toFixed(1)} s (crash ${next.inRow} in a row)`,
    );
    void this.restartService(step, proc, waitMs);
  }

  /** Whether the step needs the chain to run (it waits for it before a restart). */
  private needsChain(step: Step): boolean {
    return step.needsChain ?? false;
  }

  private async chainUp(): Promise<boolean> {
    const chain = this.steps.find((s) => s.chain);
    if (!chain?.ready) return true;
    try {
      return await chain.ready(this.ctx());
    } catch {
      return false;
    }
  }

  /** Starts a crashed service again after `waitMs` (and, for one that needs the chain, once the chain answers). */
  private async restartService(step: Step, old: Managed, waitMs: number): Promise<void> {
    await sleep(waitMs);
    const hold = this.holds.get(step.name);
    if (hold) {
      this.out(`[stack] … ${step.name}: restart held (fault test)`);
      await Promise.race([hold, this.stopSignal]);
    }
    if (this.stopping) return;
    if (this.needsChain(step) && !(await this.chainUp())) {
      this.out(`[stack] … ${step.name}: waiting for the chain before restarting`);
      while (!(await this.chainUp())) {
        if (this.stopping) return;
        await sleep(500);
      }
    }
    if (this.stopping) return;
    if (step.name === "chain") {
      const moved = quarantineBadState(this.config);
      if (moved) this.out(`[stack] ! the saved chain state could not be read; moved it to ${moved}`);
    }
    const log = logFile(this.config, step.name);
    const began = Date.now();
    const proc = startProcess(step.name, step.spawn(this.ctx()), log, layout(this.config).run);
    const slot = this.started.find((s) => s.proc === old);
    if (slot) slot.proc = proc;
    else this.started.push({ step, proc });
    this.startedAt.set(proc, began);
    const deadline = Date.now() + (step.timeoutS ?? this.config.readyTimeoutS) * 1000;
    this.watch(step, proc);
    for (;;) {
      if (this.stopping || proc.exit) return; // a crash during start-up is handled by watch()
      try {
        if (await step.ready!(this.ctx())) break;
      } catch {
        /* not yet */
      }
      if (Date.now() > deadline) {
        this.out(`[stack] ! ${step.name}: no ready answer after its restart; stopping it to try again`);
        await stopProcess(proc, 2000);
        return;
      }
      await sleep(200);
    }
    this.running.add(step.name);
    this.out(`[stack] ✓ ${step.name}: restarted, ready in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    if (step.name === "chain") {
      const found = await chainInstance(this.config, { create: false }).catch(() => undefined);
      if (this.instance && found !== this.instance) {
        this.out(
          "[stack] ! the restarted chain is not the one the stack used (its saved state was lost); stop the stack and `npm start` again to redeploy and reseed",
        );
      }
    }
  }

  /**
   * Keeps state derived from the chain consistent with the chain that is running: when the chain is a
   * different one than last time (its saved state was lost) or the deployments name contracts that have
   * no code, the deployments, the seed marker and every service's chain-derived store are reset, so that
   * deploy and seed run again and indexes rebuild from the new chain.
   */
  private async reconcileWithChain(): Promise<void> {
    const paths = layout(this.config);
    const found = await chainInstance(this.config, { create: false });
    this.instance = found ?? (await chainInstance(this.config, { create: true }));
    const previous = (() => {
      try {
        return JSON.parse(fs.readFileSync(paths.stackFile, "utf8")) as { chainInstance?: string };
      } catch {
        return undefined;
      }
    })();
    let reason: string | undefined;
    if (previous?.chainInstance && previous.chainInstance !== found) {
      reason = `the chain is not the one this stack used before (${found ? "another chain's id" : "a new, empty chain"}): its saved state ${show(paths.chainState)} was lost or replaced`;
    } else {
      const deployments = readDeployments(this.config);
      if (deployments !== undefined) {
        const noCode = await addressesWithoutCode(this.config, deployments);
        if (noCode.length > 0) {
          reason = `${show(paths.deploymentsFile)} names ${noCode.length} contract address(es) with no code on this chain (e.g. ${noCode[0]})`;
        }
      }
      const seed = readSeedRecord(this.config);
      if (!reason && seed && seed.chainInstance !== this.instance)
        reason = "the demo seed was made on another chain";
    }
    if (reason) {
      const reset = [paths.deploymentsFile, seedFile(this.config)];
      for (const step of this.steps) reset.push(...(step.chainDerived?.(this.config) ?? []));
      const existing = [...new Set(reset)].filter((p) => fs.existsSync(p));
      this.out(`[stack] ! ${reason}.`);
      this.out(
        `[stack] ! Redeploying and reseeding; resetting state derived from the old chain: ${existing.map(show).join(", ") || "(none present)"}`,
      );
      for (const p of existing) fs.rmSync(p, { recursive: true, force: true });
    }
    writeJson(paths.stackFile, {
      version: 1,
      chainId: this.config.chainId,
      chainInstance: this.instance,
      startedAt: new Date().toISOString(),
    });
  }

  /** Releases the home folder claimed by `start` (call after `stop`). */
  release(): void {
    const file = supervisorPidFile(this.config);
    try {
      if (fs.readFileSync(file, "utf8").trim() === String(process.pid)) fs.rmSync(file);
    } catch {
      /* not claimed */
    }
  }

  /** Stops services in reverse start order (the chain last, so it saves its state after the rest). */
  stop(): Promise<void> {
    this.aborted = true;
    this.onStop();
    this.stopping ??= (async () => {
      for (const { step, proc } of [...this.started].reverse()) {
        if (proc.exit) continue;
        const exit = await stopProcess(proc);
        this.running.delete(step.name);
        this.out(`[stack] stopped ${step.name} (${describeExit(exit)})`);
      }
    })();
    return this.stopping;
  }

  /** A table of the running services and the funded demo accounts. */
  summary(): string {
    const rows: [string, string][] = [];
    for (const step of this.steps)
      if (this.running.has(step.name)) rows.push(...(step.urls?.(this.config) ?? []));
    const width = Math.max(...rows.map(([k]) => k.length));
    const lines = ["", "Tributary local stack is up:", ""];
    for (const [k, v] of rows) lines.push(`  ${k.padEnd(width)}  ${v}`);
    const seed = readSeedRecord(this.config);
    if (seed) {
      lines.push(
        "",
        `  demo data: ${seed.datanets.map((d) => `datanet #${d.id} "${d.name}" (${d.approved}/${d.contributions} approved)`).join(", ")}`,
      );
    }
    lines.push("", "Funded demo accounts (10,000 ETH each; OPEN from the seed):", "");
    for (const a of demoAccounts()) lines.push(`  ${a.role.padEnd(9)} ${a.address}  ${a.what}`);
    lines.push(
      "",
      `  These derive from the public dev mnemonic "${DEV_MNEMONIC}".`,
      "  Their private keys (local test keys, never use on a real network):",
    );
    for (const a of demoAccounts()) lines.push(`  ${a.role.padEnd(9)} ${a.privateKey}`);
    lines.push(
      "",
      `State: ${this.config.home}   Logs: ${layout(this.config).logs}`,
      "Press Ctrl-C to stop (state is kept; `npm start -- --fresh` starts over).",
      "",
    );
    return lines.join("\n");
  }
}
