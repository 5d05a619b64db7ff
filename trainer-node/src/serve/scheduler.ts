/**
 * Continuous batching of the engine's generations (iteration-level scheduling, as in Orca and vLLM):
 * one step loop per process runs every running sequence's next token in one batched forward pass per
 * base model (engine `forwardBatch`: the base projections once over all rows, LoRA once per group of rows
 * sharing an adapter, attention per row), so requests join and leave the batch between tokens.
 *
 * Each step: (1) the sequences of aborted requests are dropped (their computed tokens reported for
 * billing); (2) every running sequence picks its next token from its logits (its own sampler, grammar and
 * stop rules, decode.ts); (3) waiting requests are admitted in arrival order while they fit, up to
 * `prefillTokens` prompt tokens per step (at least one request; a prompt is prefilled whole); (4) one
 * batched forward per base model computes both the decoding sequences' next logits and the admitted
 * prompts' prefill (prefill rides with the decodes, Sarathi-style, so a new prompt costs the running
 * streams one step's extra rows, never a stall of its own). A sequence's tokens therefore do not depend on
 * what else is in the batch (bit-identical to one-at-a-time decoding on the `wasm` kernel). Prompts are
 * not split into chunks: a chunk after the first would go through the cached attention path, whose sums
 * differ from the fresh-prompt one, and break that identity.
 *
 * Memory is bounded: running sequences may hold at most `maxRunning` rows and `kvBudgetBytes` of KV cache
 * (each sequence reserves its cache for prompt + max_tokens at admission); a request that does not fit
 * waits, and when `maxQueued` requests already wait the next one is refused with 429 and Retry-After.
 */
import { createKvCache, forwardBatch } from "@tributary/engine";
import type { BatchSegment, KvCache, LlamaModel, LoraAdapter } from "@tributary/engine";
import type { Sequence } from "./decode.ts";
import { ServeError } from "./errors.ts";

export interface SchedulerOptions {
  /** Sequences decoded together at most (rows of a step; default 64). */
  maxRunning?: number;
  /** Requests waiting for admission at most; beyond it 429 (default 4 x maxRunning). */
  maxQueued?: number;
  /** KV cache bytes the running sequences may reserve together (default 1 GiB). */
  kvBudgetBytes?: number;
  /** Prompt tokens prefilled per step at most (default 256; a longer prompt takes a step of its own). */
  prefillTokens?: number;
}

/** 429: the node is at its capacity; `retryAfterMs` estimates when a slot frees. */
export class ServerBusyError extends ServeError {
  readonly retryAfterMs: number;
  constructor(queued: number, retryAfterMs: number) {
    super(`The node is serving at its capacity (${queued} requests waiting)`, {
      status: 429,
      type: "requests",
      code: "rate_limit_exceeded",
      details: { queued, retry_after_ms: retryAfterMs },
      hint: `Retry after ${Math.ceil(retryAfterMs / 1000)} s (the Retry-After header)`,
    });
    this.retryAfterMs = retryAfterMs;
  }
}

/** A place in the queue taken before a response starts (so that 429 comes before any byte is sent). */
export interface Ticket {
  release(): void;
  readonly used: boolean;
}

/** A ticket whose `release` gives its place back once (`onRelease`); a second release does nothing. */
export function queueTicket(onRelease: () => void): Ticket {
  let used = false;
  return {
    release: () => {
      if (used) return;
      used = true;
      onRelease();
    },
    get used() {
      return used;
    },
  };
}

/** One request: a prompt prefilled once, then its sequences (n choices) decoded in the batch. */
export interface BatchJob {
  model: LlamaModel;
  adapter: LoraAdapter | null;
  /** Sequences it will run (n). */
  rows: number;
  /** The prompt, prefilled in a step's batched forward. */
  prompt: readonly number[];
  /** Length of the KV cache its prefill fills (prompt + max_tokens, within the context). */
  kvLen: number;
  /** KV bytes its sequences reserve. */
  kvBytes: number;
  signal?: AbortSignal;
  /** Called once the prompt is prefilled into `kv` (by a forward of `forwardMs`): returns the sequences (the last may take `kv` itself). */
  start(kv: KvCache, logits: Float32Array, forwardMs: number): Promise<Sequence[]>;
  /** A sequence took a token: `delta` is the text that became final (possibly ""), `added` its new completion tokens. */
  onToken(q: Sequence, delta: string, added: number): void;
}

interface Running {
  job: BatchJob;
  seqs: Sequence[];
  done: (e?: unknown) => void;
}

interface Waiting {
  job: BatchJob;
  onStart: (seqs: Sequence[]) => void;
  done: (e?: unknown) => void;
}

export class BatchScheduler {
  readonly maxRunning: number;
  readonly maxQueued: number;
  readonly kvBudgetBytes: number;
  readonly prefillTokens: number;
  private readonly waiting: Waiting[] = [];
  private readonly running: Running[] = [];
  private tickets = 0;
  private loop: Promise<void> | null = null;
  /** Smoothed milliseconds from admission to the end of a request (for Retry-After). */
  private jobMs = 1000;
  /** Rows in the last batched step (for stats and benchmarks). */
  lastBatch = 0;
  /** The most rows one step has decoded. */
  peakRows = 0;
  steps = 0;
  /** Milliseconds spent, since start: sampling (tokens, stop rules, stream callbacks), batched forwards (decode and prefill), whole steps. */
  readonly ms = { sample: 0, forward: 0, step: 0 };

  constructor(o: SchedulerOptions = {}) {
    this.maxRunning = o.maxRunning ?? 64;
    this.maxQueued = o.maxQueued ?? 4 * this.maxRunning;
    this.kvBudgetBytes = o.kvBudgetBytes ?? 2 ** 30;
    this.prefillTokens = o.prefillTokens ?? 256;
    if (!(this.maxRunning >= 1 && this.maxQueued >= 0 && this.kvBudgetBytes > 0)) throw new RangeError(`scheduler limits must be positive: ${JSON.stringify(o)}`);
  }

  stats(): { running: number; queued: number; rows: number; kvBytes: number } {
    return { running: this.running.length, queued: this.waiting.length + this.tickets, rows: this.rows(), kvBytes: this.kvBytes() };
  }

  private rows(): number {
    return this.running.reduce((s, r) => s + r.seqs.filter((q) => !q.done).length, 0);
  }

  private kvBytes(): number {
    return this.running.reduce((s, r) => s + r.job.kvBytes, 0);
  }

  /** Estimated wait until a slot frees, in ms. */
  retryAfterMs(): number {
    const ahead = this.waiting.length + this.tickets + 1;
    return Math.max(1000, Math.ceil((this.jobMs * ahead) / this.maxRunning));
  }

  /** Takes a place in the queue now; throws 429 (ServerBusyError) when the queue is full. */
  ticket(): Ticket {
    if (this.waiting.length + this.tickets >= this.maxQueued) throw new ServerBusyError(this.waiting.length + this.tickets, this.retryAfterMs());
    this.tickets++;
    return queueTicket(() => this.tickets--);
  }

  /**
   * Queues `job` (on `ticket`'s place, or a new one: 429 when full) and resolves once its sequences are
   * all done; rejects when the job's signal aborts or its generation fails. `onStart` receives the
   * sequences right after the prefill (so the caller can always tell what was computed).
   */
  async run(job: BatchJob, ticket: Ticket | null, onStart: (seqs: Sequence[]) => void): Promise<void> {
    const t = ticket ?? this.ticket();
    if (t.used) throw new Error("a queue ticket serves one request");
    t.release(); // from now on the job counts as waiting
    let admitted = 0;
    await new Promise<void>((resolve, reject) => {
      this.waiting.push({ job, onStart: (seqs) => ((admitted = performance.now()), onStart(seqs)), done: (e) => (e === undefined ? resolve() : reject(e)) });
      this.kick();
    }).finally(() => {
      if (admitted) this.jobMs = 0.8 * this.jobMs + 0.2 * (performance.now() - admitted);
    });
  }

  private kick(): void {
    this.loop ??= this.steps_()
      .catch((e: unknown) => {
        // a fault of the loop itself (not of one request): fail everything rather than spin on it
        for (const w of this.waiting.splice(0)) w.done(e);
        for (const r of [...this.running]) this.finish(r, e);
      })
      .finally(() => {
        this.loop = null;
        if (this.waiting.length || this.running.length) this.kick();
      });
  }

  private async steps_(): Promise<void> {
    while (this.waiting.length || this.running.length) {
      // let the event loop deliver aborts, new requests and stream writes between steps
      await new Promise<void>((r) => setImmediate(r));
      const t0 = performance.now();
      this.reap();
      await this.step(t0);
      this.ms.step += performance.now() - t0;
      this.steps++;
    }
  }

  private finish(r: Running, e?: unknown): void {
    const i = this.running.indexOf(r);
    if (i >= 0) this.running.splice(i, 1);
    r.done(e);
  }

  /** Drops aborted requests (waiting: nothing computed; running: the caller reports what was). */
  private reap(): void {
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const w = this.waiting[i];
      if (w.job.signal?.aborted) {
        this.waiting.splice(i, 1);
        w.done(abortError());
      }
    }
    for (const r of [...this.running]) if (r.job.signal?.aborted) this.finish(r, abortError());
  }

  /**
   * One step: every running sequence takes its next token; waiting requests are admitted in arrival order
   * while they fit (rows, KV budget) within `prefillTokens` of prompt (at least one); then one batched
   * forward per base model computes the decoding sequences' next logits and the admitted prompts' prefill.
   */
  private async step(t0: number): Promise<void> {
    const decode: { r: Running; q: Sequence; id: number }[] = [];
    for (const r of [...this.running]) {
      try {
        for (const q of r.seqs) {
          if (q.done) continue;
          if (r.job.signal?.aborted) break;
          const id = await q.choose();
          const had = q.ids.length;
          const delta = q.advance(id);
          r.job.onToken(q, delta, q.ids.length - had);
          if (!q.done) decode.push({ r, q, id });
        }
      } catch (e) {
        for (let i = decode.length - 1; i >= 0; i--) if (decode[i].r === r) decode.splice(i, 1);
        this.finish(r, e);
        continue;
      }
      if (r.job.signal?.aborted) {
        for (let i = decode.length - 1; i >= 0; i--) if (decode[i].r === r) decode.splice(i, 1);
        this.finish(r, abortError());
      } else if (r.seqs.every((q) => q.done)) this.finish(r);
    }
    const t1 = performance.now();
    const admitted: Waiting[] = [];
    let rows = this.rows();
    let kvBytes = this.kvBytes();
    for (let budget = this.prefillTokens; this.waiting.length; ) {
      const w = this.waiting[0];
      if (admitted.length && w.job.prompt.length > budget) break;
      const alone = this.running.length === 0 && admitted.length === 0; // always admit one when idle
      if (!alone && (rows + w.job.rows > this.maxRunning || kvBytes + w.job.kvBytes > this.kvBudgetBytes)) break;
      this.waiting.shift();
      admitted.push(w);
      budget -= w.job.prompt.length;
      rows += w.job.rows;
      kvBytes += w.job.kvBytes;
    }
    // one batched forward per base model: decoding rows (one token) and admitted prompts together
    type Part = { segment: BatchSegment; decode?: (typeof decode)[number]; admit?: Waiting };
    const byModel = new Map<LlamaModel, Part[]>();
    const add = (model: LlamaModel, p: Part) => {
      const g = byModel.get(model);
      if (g) g.push(p);
      else byModel.set(model, [p]);
    };
    for (const d of decode) add(d.r.job.model, { segment: { tokens: [d.id], kv: d.q.kv, adapter: d.r.job.adapter }, decode: d });
    for (const w of admitted) add(w.job.model, { segment: { tokens: w.job.prompt, kv: createKvCache(w.job.model.config, w.job.kvLen), adapter: w.job.adapter }, admit: w });
    this.lastBatch = decode.length + admitted.length;
    if (this.lastBatch > this.peakRows) this.peakRows = this.lastBatch;
    for (const [model, parts] of byModel) {
      let logits: Float32Array[];
      const tf = performance.now();
      try {
        logits = await forwardBatch(model, parts.map((p) => p.segment));
      } catch (e) {
        for (const p of parts) {
          if (p.decode && this.running.includes(p.decode.r)) this.finish(p.decode.r, e);
          if (p.admit) p.admit.done(e);
        }
        continue;
      }
      for (const [i, p] of parts.entries()) {
        if (p.decode) p.decode.q.logits = logits[i];
        if (!p.admit) continue;
        const w = p.admit;
        try {
          const seqs = await w.job.start(p.segment.kv, logits[i], performance.now() - tf);
          w.onStart(seqs);
          this.running.push({ job: w.job, seqs, done: w.done });
        } catch (e) {
          w.done(e);
        }
      }
    }
    this.ms.sample += t1 - t0;
    this.ms.forward += performance.now() - t1;
  }
}

function abortError(): Error {
  const e = new Error("generation aborted");
  e.name = "AbortError";
  return e;
}
