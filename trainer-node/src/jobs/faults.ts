/**
 * What the node does when a job step fails. Every error is classified:
 * - transient: a dependency that is down or slow (chain RPC, IPFS, custodian, gateway; a timeout, a
 *   refused connection, a 5xx). Retried with capped exponential backoff with jitter for as long as the
 *   job's deadline leaves room for the work that remains; never a fixed number of attempts.
 * - deterministic: a retry gives the same answer (a contract revert, tampered content, a refused key
 *   release, a spec the engine cannot run). A claimed job is released on chain at once, with the cause.
 * The clock and the sleep are injectable (`Clock`), so a test can compress an hour-long outage.
 */
import { ContractRevertError, NotFoundError, RpcUnreachableError, TransactionFailedError } from "@tributary/sdk/chain";
import { ContentStoreError, ContentTamperedError, UnsupportedContentError } from "@tributary/sdk/content";
import { ContentHashMismatchError } from "@tributary/sdk/contribution";
import { KeyReleaseDeniedError } from "@tributary/sdk/custody";
import { FileSetMismatchError } from "@tributary/sdk/files";
import type { JobRecord } from "../types.ts";

/** A job the node will not run; `reason` says why (recorded as stage "skipped"). */
export class SkipJob extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "SkipJob";
  }
}

/** Time as the retry logic sees it: milliseconds since the epoch, and a sleep an abort ends early. */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        signal?.removeEventListener("abort", done);
        resolve();
      }
      signal?.addEventListener("abort", done, { once: true });
    }),
};

/**
 * A clock that runs `scale` times faster than the wall clock (sleeps last 1/scale as long): the fault
 * tests run a real node process on it, so that a few seconds of outage count as minutes of retrying.
 */
export function scaledClock(scale: number, base: Clock = systemClock): Clock {
  if (!(scale > 0)) throw new Error(`the clock scale must be a positive number, got ${scale}`);
  const start = base.now();
  return { now: () => start + (base.now() - start) * scale, sleep: (ms, signal) => base.sleep(ms / scale, signal) };
}

export type FailureKind = "transient" | "deterministic";

/** A classified failure: which kind, which dependency (transient) and the message. */
export interface Failure {
  kind: FailureKind;
  /** chain, ipfs, custodian, gateway (transient) or what refused (deterministic). */
  source: string;
  message: string;
}

const NETWORK = /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|UND_ERR|socket hang up|fetch failed|network|timed? ?out|aborted due to timeout|other side closed|terminated/i;

function chain(err: unknown): string | undefined {
  for (let e: unknown = err, i = 0; e && i < 8; e = (e as { cause?: unknown }).cause, i++) {
    if (e instanceof Error) {
      const name = e.name ?? "";
      if (/HttpRequestError|TimeoutError|RpcRequestError|InternalRpcError|WebSocketRequestError|UnknownNodeError|LimitExceededRpcError/.test(name)) return name;
      if (e instanceof RpcUnreachableError) return name;
    }
  }
  return undefined;
}

function anyMessage(err: unknown, re: RegExp): boolean {
  for (let e: unknown = err, i = 0; e && i < 8; e = (e as { cause?: unknown }).cause, i++) {
    const m = e instanceof Error ? `${e.name} ${e.message} ${(e as NodeJS.ErrnoException).code ?? ""}` : String(e);
    if (re.test(m)) return true;
  }
  return false;
}

/** Messages of the node's own that mean "this job cannot be run as posted". */
export const UNRUNNABLE = /cannot be trained as posted|refusing to train|no assistant message|not a whole number|not supported by this node|not Llama projections/;

/** Sorts an error into transient (retry) or deterministic (release); unknown errors count as transient. */
export function classify(err: unknown): Failure {
  // viem's messages run over many lines (request body, docs link, version): the first says what failed
  const message = (err instanceof Error ? ((err as { shortMessage?: string }).shortMessage ?? err.message) : String(err)).split("\n")[0];
  const det = (source: string): Failure => ({ kind: "deterministic", source, message });
  const tr = (source: string): Failure => ({ kind: "transient", source, message });
  // a job the chain does not know: its post was lost with blocks the chain dropped (restarted from an older state dump)
  if (err instanceof ContractRevertError && err.errorName === "JobNotFound") return tr("chain");
  if (err instanceof ContractRevertError || err instanceof TransactionFailedError) return det("contract");
  if (err instanceof ContentHashMismatchError || err instanceof FileSetMismatchError || err instanceof ContentTamperedError) return det("content");
  if (err instanceof UnsupportedContentError) return det("content");
  if (err instanceof KeyReleaseDeniedError) return err.status >= 500 || err.status === 429 || err.status === 408 ? tr("custodian") : det("custodian");
  if (err instanceof NotFoundError) return tr("chain");
  if (err instanceof Error && UNRUNNABLE.test(err.message)) return det("spec");
  if (err instanceof ContentStoreError) return tr(/gateway/i.test(err.message) ? "gateway" : "ipfs");
  if (chain(err)) return tr("chain");
  if (anyMessage(err, /custodian|key-release/i) && anyMessage(err, NETWORK)) return tr("custodian");
  if (anyMessage(err, /ipfs|kubo|api\/v0|gateway/i)) return tr(anyMessage(err, /gateway/i) ? "gateway" : "ipfs");
  if (anyMessage(err, NETWORK)) return tr("network");
  if (err instanceof SyntaxError && /JSON/.test(err.message)) return tr("network"); // a truncated answer from a dying service
  return tr("unclassified");
}

/** Backoff settings: the first wait, the cap, and the jitter source (tests fix it). */
export interface BackoffOptions {
  /** First wait (ms). Default 1000. */
  baseMs?: number;
  /** Longest wait (ms). Default 60000. */
  capMs?: number;
  /** Uniform [0, 1). Default Math.random. */
  random?: () => number;
}

/** The wait before attempt `n + 1` after `n` failures: exponential, capped, with "equal jitter" (half fixed, half random). */
export function backoffMs(n: number, o: BackoffOptions = {}): number {
  const base = o.baseMs ?? 1000;
  const cap = o.capMs ?? 60_000;
  const exp = Math.min(cap, base * 2 ** Math.max(0, n - 1));
  return Math.round(exp / 2 + (o.random ?? Math.random)() * (exp / 2));
}

/** Fixed seconds for the stages after training (attribution aside): pinning, submitting, a margin. */
export const TAIL_SECONDS = 30;

/**
 * Seconds of work left for a claimed job at its persisted stage: the rest of training at the measured
 * pace (the progress ETA; before training, the fit check's estimate), attribution (the fit check's
 * estimate; a third of training for records made before it had one) unless done, and a fixed tail for pinning and submitting. Zero for jobs that
 * have nothing left before the deadline (submitted: the deadline no longer applies).
 */
export function remainingWorkSeconds(rec: JobRecord): number {
  const train = rec.estimate?.trainSeconds ?? 0;
  const attribute = rec.estimate?.attributeSeconds ?? train * 0.3;
  switch (rec.stage) {
    case "claimed":
    case "fetching":
      return train + attribute + TAIL_SECONDS;
    case "training": {
      const p = rec.progress;
      const left = p && p.totalSteps > 0 ? (p.etaSec > 0 ? p.etaSec : train * (1 - p.step / p.totalSteps)) : train;
      return left + attribute + TAIL_SECONDS;
    }
    case "attributing":
      return attribute + TAIL_SECONDS;
    case "pinning":
      return TAIL_SECONDS;
    default:
      return 0;
  }
}

/** Whether the deadline matters for the job's next step: claimed and not yet submitted. */
export const DEADLINE_STAGES: ReadonlySet<JobRecord["stage"]> = new Set(["claimed", "fetching", "training", "attributing", "pinning"]);

/**
 * The retry decision after a transient failure: wait `waitMs`, or give up when even the wait would leave
 * less time before the deadline than the remaining work needs. `nowSec` is chain time (seconds).
 */
export function nextRetry(opts: { failures: number; rec: JobRecord; nowSec: number; backoff?: BackoffOptions }): { retry: true; waitMs: number } | { retry: false; why: string } {
  const waitMs = backoffMs(opts.failures, opts.backoff);
  const { rec } = opts;
  if (!DEADLINE_STAGES.has(rec.stage) || rec.dueAt === undefined) return { retry: true, waitMs };
  const left = Number(rec.dueAt) - opts.nowSec;
  const need = remainingWorkSeconds(rec);
  if (left - waitMs / 1000 < need) {
    return { retry: false, why: `${Math.max(0, Math.round(left))} s are left before the deadline and the remaining work needs about ${Math.round(need)} s` };
  }
  return { retry: true, waitMs };
}

/**
 * Why the node gives a claimed job back. `abandon` (the only kind on chain today) is `releaseJob`: the
 * trainer pays the release fee, less than a missed deadline. A no-fault kind (a provable cause such as a
 * withdrawn contribution) slots in here with its own chain call.
 */
export type ReleaseKind = "abandon";

export interface ReleaseCause {
  kind: ReleaseKind;
  /** deterministic (what failed), deadline (an outage left no room to finish), operator (`jobs abandon`). */
  reason: "deterministic" | "deadline" | "operator";
  message: string;
}
