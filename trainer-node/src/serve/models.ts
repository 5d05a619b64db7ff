/**
 * ModelServer: the models behind the API. Base model directories and PEFT adapters come from IPFS by
 * CID (verified, cached on disk under `<cacheDir>/models/<cid>` and `<cacheDir>/adapters/<cid>`); each
 * base is loaded once and serves any number of adapters unmerged, the adapters held in an LRU.
 * A generation prefills its prompt once and decodes its n choices (one Sequence each, decode.ts) over
 * copies of that prompt's KV cache. By default generations are batched continuously (scheduler.ts: one
 * step loop per process, the kernel is not re-entrant); with `batching: false` one generation runs at a
 * time and the others wait their turn (the former path, kept as the benchmark's baseline).
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { readdir, rm, stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { readFile } from "node:fs/promises";
import { ChatTokenizer, createKvCache, deriveSeed, forwardCached, loadAdapter, loadModel, selectKernel } from "@tributary/engine";
import type { ChatMessage, Kernel, KvCache, LlamaModel, LoraAdapter } from "@tributary/engine";
import { Sequence } from "./decode.ts";
import { BatchScheduler } from "./scheduler.ts";
import type { SchedulerOptions, Ticket } from "./scheduler.ts";
import type { DecodeOptions, FinishReason, TokenLogprob } from "./decode.ts";
import { GrammarCompiler } from "./grammar/xgrammar.ts";
import type { GrammarSpec } from "./grammar/xgrammar.ts";
import { tokenTable } from "./grammar/vocab.ts";
import type { TokenTable } from "./grammar/vocab.ts";
import { BadRequestError, checkPromptFits, ContentMismatchError, ContentUnavailableError, ServeError } from "./errors.ts";
import type { ContentStore } from "@tributary/sdk/content";
import { fetchFileSet, hasFileSet } from "@tributary/sdk/files";
import type { ServedModel } from "../types.ts";
import type { ServingBackend } from "./backend.ts";

export interface ModelServerOptions {
  /** Where models and adapters come from (a KuboContentStore fits: verified reads plus raw blocks). */
  store: Pick<ContentStore, "cat">;
  /** Disk cache: `models/<cid>/` and `adapters/<cid>/` below it. */
  cacheDir: string;
  /** Kernel for every model; default the engine's `ort` on all cores (created on first use, disposed by close()). */
  kernel?: Kernel;
  /** Adapters kept loaded (default 16); the least recently used is dropped first. */
  maxAdapters?: number;
  /** Bytes of adapter weights kept loaded, all adapters together (default 256 MiB); LRU as maxAdapters. */
  maxAdapterBytes?: number;
  /**
   * Bytes of adapter directories kept in the disk cache (default 4 GiB): beyond it the least recently used
   * directories not in use are deleted (fetched again from IPFS when asked for).
   */
  maxAdapterDiskBytes?: number;
  /**
   * Continuous batching (scheduler.ts, default on): concurrent generations decode together, a token per
   * step, with admission control. false: one generation at a time (the former path, kept as a baseline).
   */
  batching?: boolean | SchedulerOptions;
}

export interface ChatOptions {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  /** Sampling seed; a random one when not given. */
  seed?: number;
  stop?: string[];
  /** Stops generating (the promise rejects with an AbortError) when aborted, e.g. the client went away. */
  signal?: AbortSignal;
}

export interface ChatResult {
  text: string;
  /** The completion's token ids. */
  ids: number[];
  finishReason: "stop" | "length";
  promptTokens: number;
  completionTokens: number;
  /** Time waiting for the generation slot, prefilling the prompt, and decoding (ms). */
  queueMs: number;
  prefillMs: number;
  decodeMs: number;
  seed: number;
}

export interface ModelServerStats {
  baseModels: number;
  adapters: number;
  /** Generations waiting to start (not counting the running ones). */
  queued: number;
  running: boolean;
  /** Generations running (batched: decoding together). */
  active: number;
  /** Tokens computed since start, every outcome included: prompt tokens prefilled, completion tokens generated. */
  promptTokens: number;
  completionTokens: number;
  /** Engine only: the adapter caches (memory and disk) and what switching adapters cost. */
  adapterCache?: AdapterCacheStats;
}

export interface AdapterCacheStats {
  /** Bytes of the adapters in memory. */
  bytes: number;
  /** Adapter requests answered from memory / loaded from the disk cache / fetched from IPFS first. */
  hits: number;
  diskLoads: number;
  fetches: number;
  /** Milliseconds spent loading adapters from disk (parse + check), and fetching from IPFS (fetch + verify), in total. */
  loadMs: number;
  fetchMs: number;
  /** Adapters dropped from memory, directories deleted from disk. */
  evictions: number;
  diskEvictions: number;
  /** Adapter directories on disk and their bytes. */
  diskEntries: number;
  diskBytes: number;
}

/** One generation: a prompt (token ids) and how to decode its choices. */
export interface CompletionRequest {
  prompt: number[];
  /** Choices (default 1), decoded from one shared prefill. */
  n?: number;
  /** Completion tokens per choice; default: up to the context. */
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  /** Token id -> added logit. */
  logitBias?: ReadonlyMap<number, number>;
  /** Top alternatives reported per token; null/absent: no logprobs. */
  topLogprobs?: number | null;
  /** Sampling seed of choice 0 (choice i uses a seed derived from it); a random one when not given. */
  seed?: number;
  stop?: string[];
  /** Constrained decoding (structured output, tool calls). */
  grammar?: GrammarSpec | null;
  signal?: AbortSignal;
  /** A place in the queue taken beforehand (ModelServer.ticket(), so that 429 comes before a response starts). */
  ticket?: Ticket | null;
}

export interface CompletionChoice {
  index: number;
  text: string;
  ids: number[];
  finishReason: FinishReason;
  /** Per generated token, when asked for. */
  logprobs: TokenLogprob[] | null;
}

export interface CompletionResult {
  choices: CompletionChoice[];
  promptTokens: number;
  /** All choices together. */
  completionTokens: number;
  queueMs: number;
  prefillMs: number;
  decodeMs: number;
  seed: number;
}

interface LoadedBase {
  model: LlamaModel;
  tokenizer: ChatTokenizer;
  dir: string;
  table?: Promise<TokenTable>;
  grammar?: Promise<GrammarCompiler>;
}

/** Rejection of an aborted generation; `usage` says what had been computed (it is still billable). */
export class GenerationAbortedError extends Error {
  readonly usage: { promptTokens: number; completionTokens: number };
  constructor(usage: { promptTokens: number; completionTokens: number }) {
    super("generation aborted");
    this.usage = usage;
    this.name = "AbortError";
  }
}

const failedUsage = new WeakMap<object, { promptTokens: number; completionTokens: number }>();

/**
 * What a generation had computed when it ended in `e` (aborted or failed), still billable; null when `e`
 * did not come from a generation (nothing computed).
 */
export function usageOf(e: unknown): { promptTokens: number; completionTokens: number } | null {
  if (e instanceof GenerationAbortedError) return e.usage;
  return typeof e === "object" && e !== null ? (failedUsage.get(e) ?? null) : null;
}

/** Marks a failure with what its generation had computed (for usageOf), e.g. in a backend; returns `e`. */
export function withUsage<E>(e: E, usage: { promptTokens: number; completionTokens: number }): E {
  if (typeof e === "object" && e !== null && !(e instanceof GenerationAbortedError)) failedUsage.set(e, usage);
  return e;
}

const ADAPTER_WEIGHTS = "adapter_model.safetensors";

async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

function normalizeHash(hash: string): string {
  const h = hash.toLowerCase().replace(/^0x/, "");
  if (!/^[0-9a-f]{64}$/.test(h)) throw new ServeError("adapter hash is not a sha256 hex digest", { status: 500, type: "server_error", code: "bad_catalog_entry", details: { adapterHash: hash }, hint: "The catalog must give sha256(adapter_model.safetensors) as 64 hex digits" });
  return h;
}

/** A download failure as the API reports it: altered content (502 content_mismatch) or IPFS unavailable (502). */
function contentError(what: string, cid: string, e: unknown): ServeError {
  if (e instanceof ServeError) return e;
  if (e instanceof Error && e.name === "ContentTamperedError") {
    return new ContentMismatchError(`${what} content failed verification against its CID`, { cid, reason: e.message }, "The IPFS node served altered blocks; fetch from another node");
  }
  return new ContentUnavailableError(what, cid, e);
}

/** Bytes of the files in a directory (recursively). */
async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? await dirBytes(p) : (await stat(p).catch(() => ({ size: 0 }))).size;
  }
  return n;
}

/** Runs async tasks one at a time, in arrival order. */
class Slot {
  private tail: Promise<void> = Promise.resolve();
  queued = 0;
  running = false;
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    this.queued++;
    await prev;
    this.queued--;
    this.running = true;
    try {
      return await fn();
    } finally {
      this.running = false;
      release();
    }
  }
}

function cloneKv(kv: KvCache): KvCache {
  return { k: kv.k.map((a) => a.slice()), v: kv.v.map((a) => a.slice()), length: kv.length, maxLen: kv.maxLen };
}

export class ModelServer implements ServingBackend {
  readonly name = "engine";
  readonly cacheDir: string;
  readonly maxAdapters: number;
  private readonly store: Pick<ContentStore, "cat">;
  private kernelPromise: Promise<Kernel> | undefined;
  private readonly ownsKernel: boolean;
  private readonly bases = new Map<string, Promise<LoadedBase>>();
  readonly maxAdapterBytes: number;
  readonly maxAdapterDiskBytes: number;
  /** Loaded adapters by `<cid>#<hash>` with their bytes, least recently used first. */
  private readonly adapters = new Map<string, { adapter: LoraAdapter; bytes: number }>();
  private adapterBytes = 0;
  /** Adapter directories on disk by CID with their bytes, least recently used first (read from disk once). */
  private disk: Map<string, number> | null = null;
  private diskBytes = 0;
  /** Adapter directories being fetched or loaded (never deleted from disk meanwhile). */
  private readonly diskBusy = new Map<string, number>();
  /** Adapter downloads in flight, by CID. */
  private readonly fetching = new Map<string, Promise<void>>();
  private readonly cacheStats = { hits: 0, diskLoads: 0, fetches: 0, loadMs: 0, fetchMs: 0, evictions: 0, diskEvictions: 0 };
  private readonly adapterLoads = new Map<string, Promise<LoraAdapter>>();
  private readonly slot = new Slot();
  /** Null when batching is off. */
  readonly scheduler: BatchScheduler | null;
  private readonly computed = { promptTokens: 0, completionTokens: 0 };

  constructor(o: ModelServerOptions) {
    this.store = o.store;
    this.cacheDir = o.cacheDir;
    this.maxAdapters = o.maxAdapters ?? 16;
    this.maxAdapterBytes = o.maxAdapterBytes ?? 256 * 2 ** 20;
    this.maxAdapterDiskBytes = o.maxAdapterDiskBytes ?? 4 * 2 ** 30;
    if (!(this.maxAdapters >= 1)) throw new RangeError(`maxAdapters must be at least 1, got ${o.maxAdapters}`);
    if (!(this.maxAdapterBytes > 0 && this.maxAdapterDiskBytes > 0)) throw new RangeError(`maxAdapterBytes and maxAdapterDiskBytes must be positive, got ${o.maxAdapterBytes}, ${o.maxAdapterDiskBytes}`);
    this.scheduler = o.batching === false ? null : new BatchScheduler(o.batching === true || o.batching === undefined ? {} : o.batching);
    this.ownsKernel = !o.kernel;
    if (o.kernel) this.kernelPromise = Promise.resolve(o.kernel);
  }

  private kernel(): Promise<Kernel> {
    this.kernelPromise ??= selectKernel("ort", availableParallelism());
    return this.kernelPromise;
  }

  stats(): ModelServerStats {
    const b = this.scheduler?.stats();
    const queued = this.slot.queued + (b?.queued ?? 0);
    const active = (this.slot.running ? 1 : 0) + (b?.running ?? 0);
    const adapterCache: AdapterCacheStats = { bytes: this.adapterBytes, ...this.cacheStats, diskEntries: this.disk?.size ?? 0, diskBytes: this.diskBytes };
    return { baseModels: this.bases.size, adapters: this.adapters.size, queued, running: active > 0, active, ...this.computed, adapterCache };
  }

  /**
   * Takes a place in the generation queue now, for a complete() call to come (pass it as `req.ticket`):
   * throws 429 (ServerBusyError, with Retry-After) when the queue is full. Null when batching is off.
   */
  ticket(_model?: ServedModel): Ticket | null {
    return this.scheduler?.ticket() ?? null;
  }

  /** CIDs of the adapters in memory, least recently used first. */
  loadedAdapters(): string[] {
    return [...this.adapters.keys()].map((k) => k.split("#")[0]);
  }

  /** Local directory of a base model (downloaded on first use). */
  async baseDir(cid: string): Promise<string> {
    const dest = join(this.cacheDir, "models", cid);
    try {
      await fetchFileSet(this.store as ContentStore, cid, dest);
      return dest;
    } catch (e) {
      throw contentError("base model", cid, e);
    }
  }

  /** Local directory of an adapter, its adapter_model.safetensors checked against `hash` when given. */
  async adapterDir(cid: string, hash?: string): Promise<string> {
    const dest = join(this.cacheDir, "adapters", cid);
    const want = hash === undefined ? undefined : normalizeHash(hash);
    const check = async (dir: string) => {
      if (want === undefined) return;
      const file = join(dir, ADAPTER_WEIGHTS);
      if (!existsSync(file)) throw new ContentMismatchError("adapter directory has no adapter_model.safetensors", { adapterCid: cid }, "The CID must point to a PEFT adapter directory");
      const got = await sha256File(file);
      if (got !== want) {
        throw new ContentMismatchError("adapter content does not match its registered hash; refusing to serve it", { adapterCid: cid, expected: want, actual: got }, "The content under this CID is not the adapter the chain registered: check the model version's adapterCid/adapterHash");
      }
    };
    const disk = await this.diskIndex();
    this.diskBusy.set(cid, (this.diskBusy.get(cid) ?? 0) + 1);
    try {
      if (await hasFileSet(dest, cid)) {
        // verified against its CID when it was fetched: a mismatch here means the claimed hash is wrong
        await check(dest);
        this.touchDisk(cid, disk.get(cid) ?? (await dirBytes(dest)));
        return dest;
      }
      // One fetch per CID at a time: concurrent first requests for an adapter wait for the same download
      // (two fetches into one folder race on its rename).
      let pending = this.fetching.get(cid);
      if (!pending) {
        pending = (async () => {
          const t0 = performance.now();
          try {
            await fetchFileSet(this.store as ContentStore, cid, dest);
          } catch (e) {
            throw contentError("adapter", cid, e);
          }
          this.cacheStats.fetches++;
          this.cacheStats.fetchMs += performance.now() - t0;
        })();
        this.fetching.set(cid, pending);
        void pending.then(
          () => this.fetching.delete(cid),
          () => this.fetching.delete(cid),
        );
      }
      await pending;
      try {
        await check(dest);
      } catch (e) {
        await rm(dest, { recursive: true, force: true });
        throw e;
      }
      this.touchDisk(cid, await dirBytes(dest));
      return dest;
    } finally {
      const left = this.diskBusy.get(cid)! - 1;
      if (left) this.diskBusy.set(cid, left);
      else this.diskBusy.delete(cid);
      await this.trimDisk();
    }
  }

  /** The adapter directories on disk (read once: sizes, least recently modified first). */
  private async diskIndex(): Promise<Map<string, number>> {
    if (this.disk) return this.disk;
    const root = join(this.cacheDir, "adapters");
    const found: { cid: string; bytes: number; at: number }[] = [];
    for (const e of await readdir(root, { withFileTypes: true }).catch(() => [])) {
      if (!e.isDirectory() || e.name.startsWith(".") || e.name.includes(".partial-")) continue; // a fetch under way
      const dir = join(root, e.name);
      found.push({ cid: e.name, bytes: await dirBytes(dir), at: (await stat(dir)).mtimeMs });
    }
    if (this.disk) return this.disk; // another call read it meanwhile
    found.sort((a, b) => a.at - b.at);
    this.disk = new Map(found.map((f) => [f.cid, f.bytes]));
    this.diskBytes = found.reduce((s, f) => s + f.bytes, 0);
    return this.disk;
  }

  private touchDisk(cid: string, bytes: number): void {
    const disk = this.disk!;
    this.diskBytes += bytes - (disk.get(cid) ?? 0);
    disk.delete(cid);
    disk.set(cid, bytes);
  }

  /** Deletes the least recently used adapter directories not in use while the disk cache is over its bound. */
  private async trimDisk(): Promise<void> {
    const disk = this.disk;
    if (!disk || this.diskBytes <= this.maxAdapterDiskBytes) return;
    for (const [cid, bytes] of [...disk]) {
      if (this.diskBytes <= this.maxAdapterDiskBytes) break;
      if (this.diskBusy.has(cid) || disk.size === 1) continue;
      disk.delete(cid);
      this.diskBytes -= bytes;
      this.cacheStats.diskEvictions++;
      await rm(join(this.cacheDir, "adapters", cid), { recursive: true, force: true });
    }
  }

  private base(cid: string): Promise<LoadedBase> {
    let p = this.bases.get(cid);
    if (!p) {
      p = (async () => {
        const dir = await this.baseDir(cid);
        const kernel = await this.kernel();
        return { model: await loadModel(dir, { kernel }), tokenizer: await ChatTokenizer.fromDir(dir), dir };
      })();
      this.bases.set(cid, p);
      p.catch(() => this.bases.delete(cid));
    }
    return p;
  }

  private async adapter(m: ServedModel, base: LoadedBase): Promise<LoraAdapter | null> {
    if (!m.adapterCid) return null;
    const key = `${m.adapterCid}#${m.adapterHash ?? ""}`;
    const hit = this.adapters.get(key);
    if (hit) {
      this.adapters.delete(key);
      this.adapters.set(key, hit);
      this.cacheStats.hits++;
      return hit.adapter;
    }
    let p = this.adapterLoads.get(key);
    if (!p) {
      p = (async () => {
        const dir = await this.adapterDir(m.adapterCid!, m.adapterHash);
        const t0 = performance.now();
        const a = await loadAdapter(dir, base.model.config);
        this.cacheStats.diskLoads++;
        this.cacheStats.loadMs += performance.now() - t0;
        let bytes = 0;
        for (const x of a.modules.values()) bytes += x.A.byteLength + x.B.byteLength;
        this.adapters.set(key, { adapter: a, bytes });
        this.adapterBytes += bytes;
        // least recently used first; the newest stays even when alone over the bound
        while (this.adapters.size > 1 && (this.adapters.size > this.maxAdapters || this.adapterBytes > this.maxAdapterBytes)) this.dropAdapter(this.adapters.keys().next().value!);
        return a;
      })();
      this.adapterLoads.set(key, p);
      p.then(
        () => this.adapterLoads.delete(key),
        () => this.adapterLoads.delete(key),
      );
    }
    return p;
  }

  /** Drops `model`'s adapter from memory (the disk cache stays); generations using it keep their reference. */
  evict(model: ServedModel): void {
    if (model.adapterCid) this.dropAdapter(`${model.adapterCid}#${model.adapterHash ?? ""}`);
  }

  private dropAdapter(key: string): void {
    const a = this.adapters.get(key);
    if (!a) return;
    this.adapters.delete(key);
    this.adapterBytes -= a.bytes;
    this.cacheStats.evictions++;
  }

  /** Fetches and loads what `model` needs (base, adapter) without generating; errors as chat() would throw them. */
  async prepare(model: ServedModel): Promise<void> {
    const base = await this.base(model.baseModelCid);
    await this.adapter(model, base);
  }

  /** The tokenizer of `model`'s base (loads it). */
  async tokenizer(model: ServedModel): Promise<ChatTokenizer> {
    return (await this.base(model.baseModelCid)).tokenizer;
  }

  /** The context length of `model`'s base (loads it). */
  async contextLength(model: ServedModel): Promise<number> {
    return (await this.base(model.baseModelCid)).model.rope.maxPos;
  }

  /** The token table of `model`'s base: each token's bytes and text, and the vocabulary for grammars. */
  async tokens(model: ServedModel): Promise<TokenTable> {
    const base = await this.base(model.baseModelCid);
    base.table ??= (async () => {
      const json = JSON.parse(await readFile(join(base.dir, "tokenizer.json"), "utf8"));
      return tokenTable(json, base.model.config.vocabSize, [...this.eosIds(base)]);
    })();
    return base.table;
  }

  /** The grammar compiler of `model`'s base (built once per tokenizer). */
  async grammar(model: ServedModel): Promise<GrammarCompiler> {
    const base = await this.base(model.baseModelCid);
    base.grammar ??= this.tokens(model).then((t) => GrammarCompiler.create(t.vocab));
    base.grammar.catch(() => (base.grammar = undefined));
    return base.grammar;
  }

  private eosIds(base: LoadedBase): Set<number> {
    return new Set([...base.model.config.eosTokenIds, ...(base.tokenizer.eosId === null ? [] : [base.tokenizer.eosId])]);
  }

  /** One chat completion; `onDelta` receives the text as it is generated. */
  async chat(model: ServedModel, messages: ChatMessage[], opts: ChatOptions = {}, onDelta?: (delta: string) => void): Promise<ChatResult> {
    const tokenizer = await this.tokenizer(model);
    let prompt: number[];
    try {
      prompt = tokenizer.encode(tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }));
    } catch (e) {
      throw new BadRequestError("messages", `the model's chat template rejected the messages: ${(e as Error).message}`);
    }
    const r = await this.complete(model, { prompt, maxTokens: opts.maxTokens, temperature: opts.temperature, topP: opts.topP, seed: opts.seed, stop: opts.stop, signal: opts.signal }, onDelta && ((_, d) => onDelta(d)));
    const c = r.choices[0];
    return { text: c.text, ids: c.ids, finishReason: c.finishReason, promptTokens: r.promptTokens, completionTokens: r.completionTokens, queueMs: r.queueMs, prefillMs: r.prefillMs, decodeMs: r.decodeMs, seed: r.seed };
  }

  /**
   * Generates `req.n` choices for a prompt of token ids: one prefill, then the choices in turns, one token
   * each. `onDelta(index, text)` receives each choice's text as it becomes final.
   */
  /**
   * Checks a request against the model (prompt within the context, logit_bias ids in the vocabulary, the
   * grammar compiles) so that the API can answer 400 before a stream starts; complete() checks the same.
   * `params` name the request fields the prompt and the grammar come from.
   */
  async check(model: ServedModel, req: CompletionRequest, params: { prompt?: string; grammar?: string } = {}): Promise<void> {
    const promptParam = params.prompt ?? "messages";
    const grammarParam = params.grammar ?? "response_format";
    const base = await this.base(model.baseModelCid);
    const prompt = req.prompt;
    const context = base.model.rope.maxPos;
    checkPromptFits(promptParam, prompt.length, context);
    const vocab = base.model.config.vocabSize;
    for (const id of req.logitBias?.keys() ?? []) {
      if (!(id >= 0 && id < vocab)) throw new BadRequestError("logit_bias", `'logit_bias' names token ${id}; this model's token ids are 0..${vocab - 1}`);
    }
    if (req.grammar) {
      let c;
      try {
        c = await (await this.grammar(model)).constraint(req.grammar);
      } catch (e) {
        throw new BadRequestError(grammarParam, `'${grammarParam}': the grammar could not be built from it: ${e instanceof Error ? e.message : String(e)}`, "unsupported_schema");
      }
      c.dispose();
    }
  }

  async complete(model: ServedModel, req: CompletionRequest, onDelta?: (index: number, delta: string, seq: Sequence) => void): Promise<CompletionResult> {
    await this.check(model, req);
    const base = await this.base(model.baseModelCid);
    const adapter = await this.adapter(model, base);
    const prompt = req.prompt;
    const context = base.model.rope.maxPos;
    const n = req.n ?? 1;
    const maxTokens = req.maxTokens ?? context;
    const seed = req.seed ?? Math.floor(Math.random() * 2 ** 32);
    const decode: DecodeOptions = {
      maxTokens,
      temperature: req.temperature ?? 0,
      topP: req.topP ?? 1,
      presencePenalty: req.presencePenalty ?? 0,
      frequencyPenalty: req.frequencyPenalty ?? 0,
      logitBias: req.logitBias ?? new Map(),
      topLogprobs: req.topLogprobs ?? null,
      stop: (req.stop ?? []).filter((s) => s.length > 0),
      eos: this.eosIds(base),
    };
    const grammar = req.grammar ? await this.grammar(model) : null;
    const queued = performance.now();
    if (this.scheduler) return this.completeBatched(base, adapter, req, decode, seed, grammar, onDelta);
    return this.slot.run(async () => {
      const queueMs = performance.now() - queued;
      const seqs: Sequence[] = [];
      let prefilled = false;
      const usage = () => ({ promptTokens: prefilled ? prompt.length : 0, completionTokens: seqs.reduce((s, q) => s + q.ids.length, 0) });
      const check = () => {
        if (req.signal?.aborted) throw new GenerationAbortedError(usage());
      };
      check();
      try {
        const t0 = performance.now();
        const kv = createKvCache(base.model.config, Math.min(context, prompt.length + maxTokens));
        const logits = await forwardCached(base.model, prompt, kv, adapter);
        prefilled = true;
        this.computed.promptTokens += prompt.length;
        const t1 = performance.now();
        for (let i = 0; i < n; i++) {
          const s = i === 0 ? seed : Number(deriveSeed(seed, "choice", i) & 0xffffffffn);
          const constraint = grammar && req.grammar ? await grammar.constraint(req.grammar) : null;
          seqs.push(new Sequence(i, s, decode, i === n - 1 ? kv : cloneKv(kv), i === n - 1 ? logits : logits.slice(), (ids) => base.tokenizer.decode(ids), constraint));
        }
        for (let active = seqs; active.length; active = active.filter((q) => !q.done)) {
          for (const q of active) {
            check();
            const id = await q.choose();
            const had = q.ids.length;
            const delta = q.advance(id);
            this.computed.completionTokens += q.ids.length - had; // as usage counts them: an end-of-turn token is not
            if (delta) {
              onDelta?.(q.index, delta, q);
              check();
            }
            if (!q.done) q.logits = await forwardCached(base.model, [id], q.kv, adapter);
          }
        }
        return {
          choices: seqs.map((q) => ({ index: q.index, text: q.text, ids: q.ids, finishReason: q.finishReason!, logprobs: decode.topLogprobs === null ? null : q.logprobs })),
          ...usage(),
          queueMs,
          prefillMs: t1 - t0,
          decodeMs: performance.now() - t1,
          seed,
        };
      } catch (e) {
        // whatever was computed before a failure is still billable (usageOf)
        if (!(e instanceof GenerationAbortedError) && typeof e === "object" && e !== null) failedUsage.set(e, usage());
        throw e;
      } finally {
        for (const q of seqs) q.dispose();
      }
    });
  }

  /** complete() through the continuous-batching scheduler: prefilled once, decoded a token per step with the other requests. */
  private async completeBatched(base: LoadedBase, adapter: LoraAdapter | null, req: CompletionRequest, decode: DecodeOptions, seed: number, grammar: GrammarCompiler | null, onDelta?: (index: number, delta: string, seq: Sequence) => void): Promise<CompletionResult> {
    const prompt = req.prompt;
    const n = req.n ?? 1;
    const c = base.model.config;
    const kvLen = Math.min(base.model.rope.maxPos, prompt.length + decode.maxTokens);
    const queued = performance.now();
    let t0 = 0;
    let t1 = 0;
    let seqs: Sequence[] = [];
    let prefilled = false;
    const usage = () => ({ promptTokens: prefilled ? prompt.length : 0, completionTokens: seqs.reduce((s, q) => s + q.ids.length, 0) });
    try {
      await this.scheduler!.run(
        {
          model: base.model,
          adapter,
          rows: n,
          prompt,
          kvLen,
          kvBytes: n * c.numLayers * 2 * kvLen * c.numKvHeads * c.headDim * 4,
          signal: req.signal,
          start: async (kv, logits, forwardMs) => {
            t0 = performance.now() - forwardMs;
            prefilled = true;
            this.computed.promptTokens += prompt.length;
            const made: Sequence[] = [];
            try {
              for (let i = 0; i < n; i++) {
                const s = i === 0 ? seed : Number(deriveSeed(seed, "choice", i) & 0xffffffffn);
                const constraint = grammar && req.grammar ? await grammar.constraint(req.grammar) : null;
                made.push(new Sequence(i, s, decode, i === n - 1 ? kv : cloneKv(kv), i === n - 1 ? logits : logits.slice(), (ids) => base.tokenizer.decode(ids), constraint));
              }
            } catch (e) {
              for (const q of made) q.dispose();
              throw e;
            }
            t1 = performance.now();
            return made;
          },
          onToken: (q, delta, added) => {
            this.computed.completionTokens += added; // as usage counts them: an end-of-turn token is not
            if (delta) onDelta?.(q.index, delta, q);
          },
        },
        req.ticket ?? null,
        (s) => (seqs = s),
      );
      return {
        choices: seqs.map((q) => ({ index: q.index, text: q.text, ids: q.ids, finishReason: q.finishReason!, logprobs: decode.topLogprobs === null ? null : q.logprobs })),
        ...usage(),
        queueMs: (t0 || performance.now()) - queued,
        prefillMs: t1 - t0,
        decodeMs: performance.now() - t1,
        seed,
      };
    } catch (e) {
      if (e instanceof Error && e.name === "AbortError") throw new GenerationAbortedError(usage());
      // whatever was computed before a failure is still billable (usageOf)
      if (typeof e === "object" && e !== null) failedUsage.set(e, usage());
      throw e;
    } finally {
      for (const q of seqs) q.dispose();
    }
  }

  /** Drops the loaded models and disposes the kernel if this server created it. */
  async close(): Promise<void> {
    for (const b of this.bases.values()) void b.then((x) => x.grammar?.then((g) => g.dispose())).catch(() => undefined);
    this.adapters.clear();
    this.adapterBytes = 0;
    this.bases.clear();
    if (this.ownsKernel && this.kernelPromise) {
      const k = await this.kernelPromise.catch(() => undefined);
      this.kernelPromise = undefined;
      await k?.dispose();
    }
  }
}
