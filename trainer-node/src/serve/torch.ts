/**
 * The `torch` serving backend: the node's torch worker (trainer-node/torch, `generate` in PROTOCOL.md) for
 * bases the engine cannot load (non-Llama families such as Qwen2 or Gemma) or is too slow for (sizes
 * beyond the CPU: the worker uses CUDA when it has it).
 *
 * The node stays in front as with every backend: it templates and tokenizes with the base's tokenizer
 * (the engine's `ChatTokenizer` on the base's `tokenizer.json`/`tokenizer_config.json`, fetched from IPFS
 * by CID and cached under `<cacheDir>/models/<cid>`), checks payment, reserves, settles and cites; the
 * worker generates from the prompt's token ids (`prompt_ids`) with the base and the adapter directory
 * (fetched and checked against its registered hash as the engine does, in `prepare()`, after the payment
 * check). The completion's ids are the worker's own, so billing and citations use exactly what was
 * generated. A client that goes away sends the worker a `cancel`: the tokens generated until then are billed.
 *
 * A pool of `workers` processes (default 1; each keeps its last two base/adapter combinations loaded)
 * serves one generation each at a time; a request goes to an idle worker, preferring one that has its
 * model loaded, else waits (FIFO). At most `maxQueued` requests wait (default 4 x workers); beyond it 429
 * with Retry-After, as on the engine.
 *
 * The worker decodes greedy or with temperature/top-p (seeded) and stop strings. Refused with a 400 naming
 * the parameter (never ignored): `n` > 1, `logprobs`, structured outputs and tool grammars,
 * `presence_penalty`, `frequency_penalty`, `logit_bias`.
 *
 * Choosing it: a route `{ "backend": "torch", ... }` (createServing's `routes` or `TRIBUTARY_SERVE_BACKENDS`),
 * or automatically (backend.ts): a base without a route whose config.json the engine cannot load
 * (`engineLoads` below) goes to torch when the node has the worker's Python (`torchUnavailable()` is null).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ChatTokenizer } from "@tributary/engine";
import type { ContentStore } from "@tributary/sdk/content";
import { fetchFileSet } from "@tributary/sdk/files";
import { TorchWorker, TorchWorkerError, torchUnavailable } from "../backends/torch-worker.ts";
import type { ServedModel } from "../types.ts";
import type { BackendContext, CheckParams, DeltaInfo, ServingBackend } from "./backend.ts";
import { BadRequestError, checkPromptFits, ContentUnavailableError, ServeError } from "./errors.ts";
import { tokenTable } from "./grammar/vocab.ts";
import type { TokenTable } from "./grammar/vocab.ts";
import { GenerationAbortedError, ModelServer, withUsage } from "./models.ts";
import type { CompletionRequest, CompletionResult, ModelServerStats } from "./models.ts";
import { queueTicket, ServerBusyError } from "./scheduler.ts";
import type { Ticket } from "./scheduler.ts";

export interface TorchBackendOptions extends BackendContext {
  /** Worker processes, each running one generation at a time (default 1). */
  workers?: number;
  /** Requests waiting for a worker at most; beyond it 429 (default 4 x workers). */
  maxQueued?: number;
  /** The worker's Python (default: TRIBUTARY_PYTHON, else engine/.venv). */
  python?: string;
  device?: "auto" | "cpu" | "cuda";
  precision?: "auto" | "fp32" | "bf16" | "fp16";
  /** CPU threads per worker (default: torch's choice). */
  threads?: number;
  /** The base NF4-quantized as a QLoRA job trains it (for the QLoRA adapters of these bases). */
  nf4?: boolean;
  /** stderr lines of the workers (library warnings, tracebacks). */
  onStderr?: (line: string) => void;
}

/** A base's files as the torch backend needs them (any architecture transformers loads). */
interface TorchBase {
  dir: string;
  tokenizer: ChatTokenizer;
  table: TokenTable;
  context: number;
  vocab: number;
}

/** One worker process of the pool. */
interface Slot {
  worker: Promise<TorchWorker> | null;
  busy: boolean;
  /** Models it loaded, most recent last (the worker keeps the last two). */
  recent: string[];
}

const usage0 = { promptTokens: 0, completionTokens: 0 };

/**
 * Whether the engine loads a base with this config.json: a Llama architecture (`architectures[0]`
 * LlamaForCausalLM or absent, `model_type` llama or absent). Other families (qwen2, gemma, mistral with
 * its sliding window, ...) are what the node serves with torch when no route says otherwise.
 */
export function engineLoads(config: { model_type?: unknown; architectures?: unknown }): boolean {
  const arch = Array.isArray(config.architectures) ? config.architectures[0] : undefined;
  return (arch === undefined || arch === "LlamaForCausalLM") && (config.model_type === undefined || config.model_type === "llama");
}

/** The base's directory (fetched from IPFS, verified, cached) and its config.json. */
async function fetchBase(ctx: BackendContext, m: ServedModel): Promise<{ dir: string; config: Record<string, unknown> }> {
  const dir = join(ctx.cacheDir, "models", m.baseModelCid);
  try {
    await fetchFileSet(ctx.store as ContentStore, m.baseModelCid, dir);
  } catch (e) {
    throw e instanceof ServeError ? e : new ContentUnavailableError("base model", m.baseModelCid, e);
  }
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(await readFile(join(dir, "config.json"), "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new ServeError(`base model ${m.baseModelName} (${m.baseModelCid}) has no readable config.json: ${(e as Error).message}`, { status: 502, type: "server_error", code: "model_unloadable", hint: "The base model's CID must point to a Hugging Face model directory" });
  }
  return { dir, config };
}

/** For createServing's automatic route: true when `m`'s base is one the engine cannot load (fetches the base). */
export async function wantsTorch(ctx: BackendContext, m: ServedModel): Promise<boolean> {
  return !engineLoads((await fetchBase(ctx, m)).config);
}

export class TorchBackend implements ServingBackend {
  readonly name = "torch";
  readonly workers: number;
  readonly maxQueued: number;
  private readonly o: TorchBackendOptions;
  /** Fetches and verifies adapter directories (and bounds them on disk) like the engine backend. */
  private readonly fetcher: ModelServer;
  private readonly bases = new Map<string, Promise<TorchBase>>();
  private readonly adapters = new Set<string>();
  private readonly fetching = new Map<string, Promise<string>>();
  private readonly slots: Slot[];
  private readonly waiting: { key: string; take: (s: Slot) => void }[] = [];
  private tickets = 0;
  /** Smoothed milliseconds a generation holds a worker (for Retry-After). */
  private jobMs = 1000;
  private closed = false;
  private readonly counts = { active: 0, promptTokens: 0, completionTokens: 0 };

  constructor(o: TorchBackendOptions) {
    this.o = o;
    this.workers = o.workers ?? 1;
    this.maxQueued = o.maxQueued ?? 4 * this.workers;
    if (!(Number.isInteger(this.workers) && this.workers >= 1)) throw new RangeError(`torch backend: workers must be a whole number of at least 1, got ${o.workers}`);
    if (!(Number.isInteger(this.maxQueued) && this.maxQueued >= 0)) throw new RangeError(`torch backend: maxQueued must be a whole number of at least 0, got ${o.maxQueued}`);
    this.slots = Array.from({ length: this.workers }, () => ({ worker: null, busy: false, recent: [] }));
    this.fetcher = new ModelServer({ store: o.store, cacheDir: o.cacheDir, batching: false });
  }

  /** From a route's JSON options (`workers`, `maxQueued`, `python`, `device`, `precision`, `threads`, `nf4`). */
  static fromOptions(ctx: BackendContext, o: Record<string, unknown>): TorchBackend {
    const num = (k: string) => (o[k] === undefined ? undefined : typeof o[k] === "number" ? (o[k] as number) : (() => { throw new Error(`torch backend: '${k}' must be a number`); })());
    const oneOf = <T extends string>(k: string, allowed: readonly T[]) => {
      if (o[k] === undefined) return undefined;
      if (!allowed.includes(o[k] as T)) throw new Error(`torch backend: '${k}' must be one of ${allowed.join(", ")}, got ${JSON.stringify(o[k])}`);
      return o[k] as T;
    };
    if (o.python !== undefined && typeof o.python !== "string") throw new Error("torch backend: 'python' must be a path");
    if (o.nf4 !== undefined && typeof o.nf4 !== "boolean") throw new Error("torch backend: 'nf4' must be true or false");
    return new TorchBackend({ ...ctx, workers: num("workers"), maxQueued: num("maxQueued"), threads: num("threads"), python: o.python as string | undefined, device: oneOf("device", ["auto", "cpu", "cuda"] as const), precision: oneOf("precision", ["auto", "fp32", "bf16", "fp16"] as const), nf4: o.nf4 as boolean | undefined });
  }

  private base(m: ServedModel): Promise<TorchBase> {
    let p = this.bases.get(m.baseModelCid);
    if (!p) {
      p = (async () => {
        const { dir, config } = await fetchBase(this.o, m);
        const vocab = config.vocab_size;
        const context = config.max_position_embeddings;
        if (typeof vocab !== "number" || typeof context !== "number") throw new ServeError(`base model ${m.baseModelName}: config.json lacks vocab_size or max_position_embeddings`, { status: 502, type: "server_error", code: "model_unloadable", hint: "Register a Hugging Face causal LM directory" });
        let tokenizer: ChatTokenizer;
        let tokenizerJson: unknown;
        try {
          tokenizer = await ChatTokenizer.fromDir(dir);
          tokenizerJson = JSON.parse(await readFile(join(dir, "tokenizer.json"), "utf8"));
        } catch (e) {
          throw new ServeError(`the node cannot read the tokenizer of base model ${m.baseModelName}: ${(e as Error).message}`, { status: 502, type: "server_error", code: "tokenizer_unsupported", hint: "The node templates and tokenizes prompts itself; the base needs a tokenizer.json the engine's tokenizer reads" });
        }
        const eos = config.eos_token_id;
        const eosIds = [...(Array.isArray(eos) ? (eos as number[]) : typeof eos === "number" ? [eos] : []), ...(tokenizer.eosId === null ? [] : [tokenizer.eosId])];
        return { dir, tokenizer, table: tokenTable(tokenizerJson, vocab, [...new Set(eosIds)]), context, vocab };
      })();
      this.bases.set(m.baseModelCid, p);
      p.catch(() => this.bases.delete(m.baseModelCid));
    }
    return p;
  }

  /** The adapter's directory (fetched and checked against its registered hash once, then from disk). */
  private async adapterDir(m: ServedModel): Promise<string | undefined> {
    if (!m.adapterCid) return undefined;
    // one fetch per adapter at a time: ModelServer.adapterDir's fetches of one CID would race on its folder
    const key = `${m.adapterCid}#${m.adapterHash ?? ""}`;
    let p = this.fetching.get(key);
    if (!p) {
      p = this.fetcher.adapterDir(m.adapterCid, m.adapterHash).finally(() => this.fetching.delete(key));
      this.fetching.set(key, p);
    }
    const dir = await p;
    this.adapters.add(m.adapterCid);
    return dir;
  }

  async prepare(m: ServedModel): Promise<void> {
    const missing = torchUnavailable(this.o.python);
    if (missing) throw new ServeError(`the torch backend is not available on this node: ${missing}`, { status: 503, type: "server_error", code: "backend_unavailable", hint: "Build the worker's Python env on the node, or route this base model to another backend" });
    await this.base(m);
    await this.adapterDir(m);
  }

  async tokenizer(m: ServedModel) {
    return (await this.base(m)).tokenizer;
  }

  async tokens(m: ServedModel) {
    return (await this.base(m)).table;
  }

  async contextLength(m: ServedModel) {
    return (await this.base(m)).context;
  }

  async check(m: ServedModel, req: CompletionRequest, params: CheckParams = {}): Promise<void> {
    const promptParam = params.prompt ?? "messages";
    const b = await this.base(m);
    const unsupported = (param: string, why: string) => new BadRequestError(param, `'${param}' ${why} (${m.id} is served by the torch backend, which does not support it); leave it out`, "unsupported_on_backend");
    checkPromptFits(promptParam, req.prompt.length, b.context);
    if ((req.n ?? 1) > 1) throw unsupported("n", `asks for ${req.n} choices: the torch worker generates one choice per request; send ${req.n} requests with different seeds instead`);
    if (req.topLogprobs !== null && req.topLogprobs !== undefined) throw unsupported("logprobs", "asks for token logprobs, which the torch worker does not report");
    if (req.grammar) throw unsupported(params.grammar ?? "response_format", "needs constrained decoding (structured outputs, tool calls), which the torch worker does not do");
    if (req.presencePenalty) throw unsupported("presence_penalty", "is not applied by the torch worker's sampler");
    if (req.frequencyPenalty) throw unsupported("frequency_penalty", "is not applied by the torch worker's sampler");
    if (req.logitBias?.size) throw unsupported("logit_bias", "is not applied by the torch worker's sampler");
    if (req.stop && req.stop.length > 16) throw new BadRequestError("stop", `'stop' gives ${req.stop.length} strings; at most 16`);
  }

  private idle(): number {
    return this.slots.filter((s) => !s.busy).length;
  }

  /** Estimated wait until a worker frees, in ms. */
  private retryAfterMs(): number {
    return Math.max(1000, Math.ceil((this.jobMs * (this.waiting.length + this.tickets + 1)) / this.workers));
  }

  /** 429 when `maxQueued` requests already wait for a worker (an idle worker takes one more). */
  private admit(): void {
    const queued = this.waiting.length + this.tickets;
    if (queued >= this.maxQueued + this.idle()) throw new ServerBusyError(queued, this.retryAfterMs());
  }

  ticket(): Ticket {
    this.admit();
    this.tickets++;
    return queueTicket(() => this.tickets--);
  }

  /** An idle worker (one that has `key` loaded first), or a place in the queue; rejects when `signal` aborts first. */
  private acquire(key: string, signal?: AbortSignal): Promise<Slot> {
    const free = this.slots.filter((s) => !s.busy);
    const slot = free.find((s) => s.recent.includes(key)) ?? free.find((s) => s.worker === null || s.recent.length === 0) ?? free[0];
    if (slot) {
      slot.busy = true;
      return Promise.resolve(slot);
    }
    return new Promise((resolve, reject) => {
      const entry = {
        key,
        take: (s: Slot) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(s);
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new GenerationAbortedError(usage0));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  private release(slot: Slot): void {
    const next = this.waiting.shift();
    if (next) next.take(slot); // stays busy: handed over
    else slot.busy = false;
  }

  private worker(slot: Slot): Promise<TorchWorker> {
    if (!slot.worker) {
      slot.worker = TorchWorker.start({ python: this.o.python, onStderr: this.o.onStderr }).catch((e: unknown) => {
        slot.worker = null;
        throw new ServeError(`the torch worker did not start: ${(e as Error).message}`, { status: 503, type: "server_error", code: "backend_unavailable", hint: "Check the node's torch env (engine/scripts/python-venv.sh or TRIBUTARY_PYTHON)" });
      });
    }
    return slot.worker;
  }

  async complete(m: ServedModel, req: CompletionRequest, onDelta?: (index: number, delta: string, info: DeltaInfo) => void): Promise<CompletionResult> {
    await this.check(m, req);
    const b = await this.base(m);
    const adapterDir = await this.adapterDir(m);
    if (req.ticket) {
      if (req.ticket.used) throw new Error("a queue ticket serves one request");
      req.ticket.release(); // from now on the request counts as waiting
    } else this.admit();
    if (req.signal?.aborted) throw new GenerationAbortedError(usage0);
    const key = `${m.baseModelCid}/${m.adapterCid ?? ""}`;
    const queued = performance.now();
    const slot = await this.acquire(key, req.signal);
    const seed = req.seed ?? Math.floor(Math.random() * 2 ** 31);
    let generated = 0;
    let started = false;
    const usage = () => (started ? { promptTokens: req.prompt.length, completionTokens: generated } : usage0);
    const t0 = performance.now();
    let t1 = 0;
    this.counts.active++;
    try {
      const w = await this.worker(slot);
      if (req.signal?.aborted) throw new GenerationAbortedError(usage0);
      started = true;
      const r = await w.generate(
        {
          model_dir: b.dir,
          ...(adapterDir ? { adapter_dir: adapterDir } : {}),
          nf4: this.o.nf4 ?? false,
          prompt_ids: req.prompt,
          max_tokens: Math.max(1, Math.min(req.maxTokens ?? b.context, b.context - req.prompt.length)),
          temperature: req.temperature ?? 0,
          top_p: req.topP ?? 1,
          seed,
          stop: (req.stop ?? []).filter((s) => s.length > 0),
          precision: this.o.precision ?? "auto",
          device: this.o.device ?? "auto",
          ...(this.o.threads ? { threads: this.o.threads } : {}),
        },
        {
          signal: req.signal,
          onToken: (tokenId, text) => {
            if (tokenId !== null) generated++;
            if (!t1) t1 = performance.now();
            if (text) onDelta?.(0, text, { logprobs: [] });
          },
        },
      );
      slot.recent = [...slot.recent.filter((k) => k !== key), key].slice(-2);
      generated = r.completion_tokens;
      const u = usage();
      this.counts.promptTokens += u.promptTokens;
      this.counts.completionTokens += u.completionTokens;
      if (r.finish_reason === "cancelled" || req.signal?.aborted) throw new GenerationAbortedError(u);
      const now = performance.now();
      this.jobMs = 0.8 * this.jobMs + 0.2 * (now - t0);
      return {
        choices: [{ index: 0, text: r.text, ids: r.token_ids, finishReason: r.finish_reason, logprobs: null }],
        ...u,
        queueMs: t0 - queued,
        prefillMs: (t1 || now) - t0,
        decodeMs: now - (t1 || now),
        seed,
      };
    } catch (e) {
      if (e instanceof GenerationAbortedError) throw e;
      const u = usage();
      if (req.signal?.aborted) throw new GenerationAbortedError(u);
      if (e instanceof TorchWorkerError) {
        if (e.transient) {
          // the worker may be gone (killed, out of host memory): the next request starts a fresh one
          const w = slot.worker;
          slot.worker = null;
          slot.recent = [];
          void w?.then((x) => x.close(1000)).catch(() => undefined);
        }
        throw withUsage(new ServeError(`the torch worker failed: ${e.message}`, { status: e.transient ? 503 : 500, type: "server_error", code: "backend_error", hint: e.transient ? "Retry the request" : "The model or adapter cannot be served by the torch worker as registered" }), u);
      }
      throw withUsage(e, u);
    } finally {
      this.counts.active--;
      this.release(slot);
    }
  }

  evict(m: ServedModel): void {
    if (m.adapterCid) this.adapters.delete(m.adapterCid); // the workers drop it as other models load (they keep two)
  }

  stats(): ModelServerStats {
    return { baseModels: this.bases.size, adapters: this.adapters.size, queued: this.waiting.length + this.tickets, running: this.counts.active > 0, active: this.counts.active, promptTokens: this.counts.promptTokens, completionTokens: this.counts.completionTokens };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.slots) {
      const w = await s.worker?.catch(() => null);
      s.worker = null;
      await w?.close();
    }
    this.bases.clear();
    await this.fetcher.close();
  }
}
