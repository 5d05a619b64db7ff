/**
 * Serving backends: what generates the tokens behind the OpenAI API. The API (api.ts) does the same work
 * for every backend (request parsing, the chat template and tokenization, the payment check before
 * anything is fetched, reservation and settlement, citations, SSE); a backend only turns a prompt of
 * token ids into completions for one served model (base + optional adapter).
 *
 * Backends:
 * - `engine` (models.ts, `ModelServer`): the TypeScript engine, CPU, small models, continuous batching.
 * - `llama-cpp` (llamacpp.ts): llama.cpp through node-llama-cpp, the base and adapters exported to GGUF by
 *   the engine, a pool of contexts per adapter.
 * - `external` (external.ts): any OpenAI-compatible server that loads LoRA adapters at runtime through
 *   vLLM's `/v1/load_lora_adapter` API (vLLM, SGLang behind a shim, or another trainer node).
 * - `torch` (torch.ts): the node's torch worker (transformers + PEFT; CUDA when present), for bases the
 *   engine cannot load (Qwen2, Gemma, ...) or sizes beyond the CPU; a pool of worker processes. A base
 *   without a route whose config.json is not a Llama architecture goes there automatically when the node
 *   has the worker's Python (`torch` option below; false turns that off).
 *
 * Adding one: write `serve/<name>.ts` with a class implementing `ServingBackend` and a factory
 * `(ctx, options) => ServingBackend`, and add one line to `BACKEND_FACTORIES` below. A node then routes a
 * base model to it by name (`createServing({ routes: { "<base model name>": { backend: "<name>", ... } } })`,
 * or `TRIBUTARY_SERVE_BACKENDS` on the node).
 */
import type { ChatTokenizer, Kernel } from "@tributary/engine";
import type { ContentStore } from "@tributary/sdk/content";
import type { ServedModel } from "../types.ts";
import { BadRequestError } from "./errors.ts";
import { ExternalBackend } from "./external.ts";
import { LlamaCppBackend } from "./llamacpp.ts";
import type { TokenLogprob } from "./decode.ts";
import type { TokenTable } from "./grammar/vocab.ts";
import { ModelServer } from "./models.ts";
import { TorchBackend, wantsTorch } from "./torch.ts";
import { torchUnavailable } from "../backends/torch-worker.ts";
import type { CompletionRequest, CompletionResult, ModelServerStats } from "./models.ts";
import type { Ticket } from "./scheduler.ts";

/** What a backend reports with each streamed delta (the engine passes its Sequence). */
export interface DeltaInfo {
  /** Logprobs of the tokens generated so far (empty when not asked for). */
  readonly logprobs: readonly TokenLogprob[];
}

/** Parameter names for check()'s 400s: which request field the prompt and the grammar come from. */
export interface CheckParams {
  prompt?: string;
  grammar?: string;
}

/** One serving backend. Each method takes the served model (base + optional adapter) it is about. */
export interface ServingBackend {
  /** Its registered name (`engine`, `external`, ...). */
  readonly name: string;
  /** Fetches and loads what `model` needs (called after the payment check, never before); errors as complete() would throw them. */
  prepare(model: ServedModel): Promise<void>;
  /** The tokenizer of `model`'s base (chat template, prompt encoding, citations). */
  tokenizer(model: ServedModel): Promise<ChatTokenizer>;
  /** Token bytes and text of `model`'s base (logprobs, grammars). */
  tokens(model: ServedModel): Promise<TokenTable>;
  /** Context length of `model`'s base, in tokens. */
  contextLength(model: ServedModel): Promise<number>;
  /** Checks a request so that the API answers 400 before a stream starts (complete() checks the same). */
  check(model: ServedModel, req: CompletionRequest, params?: CheckParams): Promise<void>;
  /**
   * Generates `req.n` choices for a prompt of token ids; `onDelta(index, text, info)` receives each choice's
   * text as it becomes final. Rejects with GenerationAbortedError (models.ts) when `req.signal` aborts, and
   * marks other failures with what was computed (usageOf), so that every outcome is billed.
   */
  complete(model: ServedModel, req: CompletionRequest, onDelta?: (index: number, delta: string, info: DeltaInfo) => void): Promise<CompletionResult>;
  /** A place in this backend's queue for a complete() to come (429 when full); null when it has no queue. */
  ticket(model: ServedModel): Ticket | null;
  /** Drops `model`'s adapter from memory (runtime unload). */
  evict(model: ServedModel): void;
  stats(): ModelServerStats;
  close(): Promise<void>;
}

/** What every backend factory receives from the node. */
export interface BackendContext {
  /** Models and adapters by CID (verified reads). */
  store: Pick<ContentStore, "cat">;
  /** The node's data directory (`models/<cid>`, `adapters/<cid>` below it). */
  cacheDir: string;
  /** Kernel for engine models (default: created by the engine backend). */
  kernel?: Kernel;
}

export type BackendFactory = (ctx: BackendContext, options: Record<string, unknown>) => ServingBackend;

/** The registered backends: one line each. */
export const BACKEND_FACTORIES: Record<string, BackendFactory> = {
  engine: (ctx, o) => new ModelServer({ ...ctx, ...(o as object) }),
  external: (ctx, o) => ExternalBackend.fromOptions(ctx, o),
  "llama-cpp": (ctx, o) => LlamaCppBackend.fromOptions(ctx, o),
  torch: (ctx, o) => TorchBackend.fromOptions(ctx, o),
};

/** A base model routed to a backend: `backend` names a factory, the other fields are its options. */
export interface BackendRoute {
  backend: string;
  [option: string]: unknown;
}

export interface ServingOptions extends BackendContext {
  /**
   * Base models (by registered name or base model CID) served by another backend than the engine, e.g.
   * `{ "llama-3-8b": { backend: "external", url: "http://127.0.0.1:8000", adminToken: "..." } }`.
   */
  routes?: Record<string, BackendRoute>;
  /** Options of the default engine backend (ModelServerOptions less the context). */
  engine?: Record<string, unknown>;
  /**
   * The automatic route: a base without a route that the engine cannot load (config.json not a Llama
   * architecture, torch.ts `engineLoads`) is served by a torch backend with these options (TorchBackendOptions
   * less the context). Default: on with default options when the node has the torch worker's Python; false: off.
   */
  torch?: Record<string, unknown> | false;
}

/** A backend chosen per base at its first prepare(), for bases without a route (createServing's `torch`). */
export interface AutoRoute {
  backend: ServingBackend;
  /** Whether `m`'s base goes to `backend` (may fetch the base; a failure leaves the base on the engine). */
  wants(m: ServedModel): Promise<boolean>;
}

/**
 * Routes each served model to the backend of its base model (the engine unless a route says otherwise).
 * Implements ServingBackend itself, so the API serves one object whatever the mix.
 */
export class Serving implements ServingBackend {
  readonly name = "router";
  /** The default backend (the engine). */
  readonly engine: ServingBackend;
  private readonly routed = new Map<string, ServingBackend>();
  private readonly auto: AutoRoute | null;
  /** Base CIDs whose automatic route is decided or being decided (routed, or left on the engine). */
  private readonly decided = new Map<string, Promise<void>>();

  constructor(engine: ServingBackend, routes: Map<string, ServingBackend> = new Map(), auto: AutoRoute | null = null) {
    this.engine = engine;
    this.routed = routes;
    this.auto = auto;
  }

  /** The backend serving `model` (its base's route, else the engine). */
  backendOf(model: ServedModel): ServingBackend {
    return this.routed.get(model.baseModelName) ?? this.routed.get(model.baseModelCid) ?? this.engine;
  }

  /** Decides the automatic route of `m`'s base once (before its first prepare: after the payment check). */
  private async route(m: ServedModel): Promise<void> {
    const auto = this.auto;
    if (!auto || this.routed.has(m.baseModelName) || this.routed.has(m.baseModelCid)) return;
    let p = this.decided.get(m.baseModelCid);
    if (!p) {
      p = auto.wants(m).then(
        (wants) => void (wants && this.routed.set(m.baseModelCid, auto.backend)),
        () => void this.decided.delete(m.baseModelCid), // unreadable base: the engine reports it; decided again next time
      );
      this.decided.set(m.baseModelCid, p);
    }
    await p;
  }

  async prepare(m: ServedModel) {
    await this.route(m);
    return this.backendOf(m).prepare(m);
  }
  tokenizer(m: ServedModel) {
    return this.backendOf(m).tokenizer(m);
  }
  tokens(m: ServedModel) {
    return this.backendOf(m).tokens(m);
  }
  contextLength(m: ServedModel) {
    return this.backendOf(m).contextLength(m);
  }
  check(m: ServedModel, req: CompletionRequest, params?: CheckParams) {
    return this.backendOf(m).check(m, req, params);
  }
  complete(m: ServedModel, req: CompletionRequest, onDelta?: (index: number, delta: string, info: DeltaInfo) => void) {
    return this.backendOf(m).complete(m, req, onDelta);
  }
  ticket(m: ServedModel) {
    return this.backendOf(m).ticket(m);
  }
  evict(m: ServedModel) {
    this.backendOf(m).evict(m);
  }

  /** Sums over the backends (the adapter cache counters are the engine's). */
  stats(): ModelServerStats {
    const all = [this.engine, ...new Set(this.routed.values())].map((b) => b.stats());
    const sum = (k: "baseModels" | "adapters" | "queued" | "active" | "promptTokens" | "completionTokens") => all.reduce((s, x) => s + x[k], 0);
    const adapterCache = all[0].adapterCache;
    return { baseModels: sum("baseModels"), adapters: sum("adapters"), queued: sum("queued"), running: all.some((x) => x.running), active: sum("active"), promptTokens: sum("promptTokens"), completionTokens: sum("completionTokens"), ...(adapterCache ? { adapterCache } : {}) };
  }

  async close(): Promise<void> {
    for (const b of new Set([...this.routed.values(), this.engine, ...(this.auto ? [this.auto.backend] : [])])) await b.close();
  }
}

/** Builds the node's backends: the engine by default, and one backend per route (by factory name). */
export function createServing(o: ServingOptions): Serving {
  const ctx: BackendContext = { store: o.store, cacheDir: o.cacheDir, ...(o.kernel ? { kernel: o.kernel } : {}) };
  const make = (backend: string, options: Record<string, unknown>, where: string) => {
    const f = BACKEND_FACTORIES[backend];
    if (!f) throw new BadRequestError(null, `${where}: unknown serving backend '${backend}'; known: ${Object.keys(BACKEND_FACTORIES).join(", ")}`, "unknown_backend");
    return f(ctx, options);
  };
  const routes = new Map<string, ServingBackend>();
  for (const [base, { backend, ...options }] of Object.entries(o.routes ?? {})) routes.set(base, make(backend, options, `route '${base}'`));
  const auto = o.torch !== false && (o.torch !== undefined || torchUnavailable() === null) ? { backend: make("torch", o.torch ?? {}, "torch"), wants: (m: ServedModel) => wantsTorch(ctx, m) } : null;
  return new Serving(make("engine", o.engine ?? {}, "engine"), routes, auto);
}

/**
 * Parses `TRIBUTARY_SERVE_BACKENDS`: JSON `{ "<base model name or CID>": { "backend": "<name>", ...options } }`.
 * Throws a message that says what is wrong.
 */
export function parseRoutes(json: string | undefined): Record<string, BackendRoute> {
  if (!json?.trim()) return {};
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch (e) {
    throw new Error(`TRIBUTARY_SERVE_BACKENDS is not JSON (${(e as Error).message}); give {"<base model name>": {"backend": "external", "url": "http://..."}}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error('TRIBUTARY_SERVE_BACKENDS must be a JSON object {"<base model name>": {"backend": "<name>", ...}}');
  for (const [base, r] of Object.entries(v)) {
    const backend = (r as { backend?: unknown } | null)?.backend;
    if (typeof backend !== "string" || !BACKEND_FACTORIES[backend]) throw new Error(`TRIBUTARY_SERVE_BACKENDS['${base}'].backend must be one of ${Object.keys(BACKEND_FACTORIES).join(", ")}`);
  }
  return v as Record<string, BackendRoute>;
}
