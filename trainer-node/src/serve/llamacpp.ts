/**
 * The `llama-cpp` serving backend: llama.cpp through node-llama-cpp, for bases the engine is too slow for.
 * The base model (a Hugging Face directory on IPFS, as registered) is exported once to GGUF by the engine
 * (`llamaToGguf`, f32 by default) and each adapter (fetched and checked against its registered hash as the
 * engine backend does) to a GGUF LoRA (`loraToGguf`), cached under `<cacheDir>/gguf/`.
 *
 * llama.cpp applies LoRA adapters per context, so the backend keeps a pool of contexts keyed by adapter
 * (each with `sequencesPerContext` sequences): requests for the same adapter share a context and
 * llama.cpp batches their sequences; a request whose adapter's context is full waits for a sequence of
 * that context. At most `maxContexts` contexts live at once (an idle one, least recently used, is disposed
 * for a new adapter). llama.cpp keeps every adapter it loaded on the model until the model is disposed, so
 * after `recycleAfterAdapters` distinct adapters the model is reloaded (once its running requests end) to
 * free that memory (requests for adapters already applied keep being served meanwhile).
 *
 * The GGUF export goes through the engine (the base is read into memory as f32 once, when first asked
 * for), so this suits bases the node can hold in memory; a registered GGUF base is not handled yet.
 *
 * The prompt arrives as token ids from the base's own tokenizer (the GGUF carries the same vocabulary), so
 * prompts, billing and citations are the same as on the engine. Greedy decoding gives the engine's tokens
 * (f32 export; see test/serve-llamacpp.test.ts); sampled decoding uses llama.cpp's sampler (same
 * distribution, not the same draws). Not available here (400): structured outputs and tool grammars,
 * logprobs.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { adapterTensors, llamaToGguf, loadAdapter, loadModel, loraToGguf, modelTensors, toAdapterConfigJson, toHfConfig } from "@tributary/engine";
import type { HfTokenizerFiles, LlamaHfConfig, LoraAdapterConfig } from "@tributary/engine";
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import type * as NodeLlamaCpp from "node-llama-cpp";
import type { ServedModel } from "../types.ts";
import type { BackendContext, CheckParams, DeltaInfo, ServingBackend } from "./backend.ts";
import { BaseFilesCache } from "./base-files.ts";
import type { BaseFiles } from "./base-files.ts";
import { BadRequestError, checkPromptFits, ServeError } from "./errors.ts";
import { GenerationAbortedError, ModelServer, withUsage } from "./models.ts";
import type { CompletionRequest, CompletionResult, ModelServerStats } from "./models.ts";
import type { FinishReason } from "./decode.ts";

export interface LlamaCppBackendOptions extends BackendContext {
  /** llama.cpp build: "auto" (CUDA, Vulkan or Metal when the machine has one, else CPU) or false (CPU; default). */
  gpu?: "auto" | false;
  /** CPU threads per context (default: llama.cpp's choice). */
  threads?: number;
  /** Sequences (concurrent requests) per adapter context (default 4). */
  sequencesPerContext?: number;
  /** Contexts alive at once, one per adapter in use (default 8). */
  maxContexts?: number;
  /** Distinct adapters applied before the model is reloaded to free their memory (default 32). */
  recycleAfterAdapters?: number;
  /** Storage type of the exported GGUF weights (default f32: the engine's greedy tokens). */
  dtype?: "f32" | "bf16";
}

interface Pool {
  key: string;
  context: LlamaContext;
  busy: number;
  waiters: (() => void)[];
}

interface Base {
  files: BaseFiles;
  gguf: string;
  model: LlamaModel | null;
  loading: Promise<LlamaModel> | null;
  /** Adapters applied to the loaded model (llama.cpp frees them only with the model). */
  applied: Set<string>;
  pools: Map<string, Pool>;
  /** Requests holding a sequence. */
  active: number;
  /** Requests waiting for a context (or a recycle) of this base. */
  idle: (() => void)[];
  recycles: number;
  /** Serializes pool decisions (locked()). */
  lock: Promise<void>;
}

const usage0 = { promptTokens: 0, completionTokens: 0 };

export class LlamaCppBackend implements ServingBackend {
  readonly name = "llama-cpp";
  private readonly o: LlamaCppBackendOptions;
  private readonly files: BaseFilesCache;
  /** Fetches and verifies adapter directories (and bounds them on disk) like the engine backend. */
  private readonly fetcher: ModelServer;
  private llamaP: Promise<Llama> | null = null;
  private lib: typeof NodeLlamaCpp | null = null;
  private readonly bases = new Map<string, Promise<Base>>();
  private readonly adapterGguf = new Map<string, Promise<string>>();
  private readonly counts = { queued: 0, active: 0, promptTokens: 0, completionTokens: 0 };
  readonly sequencesPerContext: number;
  readonly maxContexts: number;
  readonly recycleAfterAdapters: number;

  constructor(o: LlamaCppBackendOptions) {
    this.o = o;
    this.files = new BaseFilesCache(o.store, o.cacheDir);
    this.fetcher = new ModelServer({ store: o.store, cacheDir: o.cacheDir, batching: false });
    this.sequencesPerContext = o.sequencesPerContext ?? 4;
    this.maxContexts = o.maxContexts ?? 8;
    this.recycleAfterAdapters = o.recycleAfterAdapters ?? 32;
    if (!(this.sequencesPerContext >= 1 && this.maxContexts >= 1 && this.recycleAfterAdapters >= 1)) throw new RangeError(`llama-cpp backend: sequencesPerContext, maxContexts and recycleAfterAdapters must be at least 1`);
  }

  static fromOptions(ctx: BackendContext, o: Record<string, unknown>): LlamaCppBackend {
    const num = (k: string) => (o[k] === undefined ? undefined : typeof o[k] === "number" ? (o[k] as number) : (() => { throw new Error(`llama-cpp backend: '${k}' must be a number`); })());
    if (o.gpu !== undefined && o.gpu !== "auto" && o.gpu !== false) throw new Error(`llama-cpp backend: 'gpu' must be "auto" or false`);
    if (o.dtype !== undefined && o.dtype !== "f32" && o.dtype !== "bf16") throw new Error(`llama-cpp backend: 'dtype' must be "f32" or "bf16"`);
    return new LlamaCppBackend({ ...ctx, gpu: o.gpu as "auto" | false | undefined, dtype: o.dtype as "f32" | "bf16" | undefined, threads: num("threads"), sequencesPerContext: num("sequencesPerContext"), maxContexts: num("maxContexts"), recycleAfterAdapters: num("recycleAfterAdapters") });
  }

  private llama(): Promise<Llama> {
    this.llamaP ??= (async () => {
      this.lib = await import("node-llama-cpp");
      const { getLlama, LlamaLogLevel } = this.lib;
      try {
        return await getLlama({ gpu: this.o.gpu ?? false, build: "never", logLevel: LlamaLogLevel.error });
      } catch (e) {
        throw new ServeError(`llama.cpp is not available on this node: ${(e as Error).message}`, { status: 503, type: "server_error", code: "backend_unavailable", hint: "node-llama-cpp ships prebuilt binaries for common platforms; route this base model to the engine or an external backend" });
      }
    })();
    this.llamaP.catch(() => (this.llamaP = null));
    return this.llamaP;
  }

  private base(m: ServedModel): Promise<Base> {
    let p = this.bases.get(m.baseModelCid);
    if (!p) {
      p = (async () => {
        const files = await this.files.get(m);
        const dir = join(this.o.cacheDir, "gguf", m.baseModelCid);
        const gguf = join(dir, `model-${this.o.dtype ?? "f32"}.gguf`);
        if (!existsSync(gguf)) {
          const model = await loadModel(files.dir);
          const tokenizer: HfTokenizerFiles = {
            tokenizerJson: JSON.parse(await readFile(join(files.dir, "tokenizer.json"), "utf8")),
            tokenizerConfig: existsSync(join(files.dir, "tokenizer_config.json")) ? JSON.parse(await readFile(join(files.dir, "tokenizer_config.json"), "utf8")) : {},
          };
          const tensors = [...modelTensors(model)].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
          await mkdir(dir, { recursive: true });
          await writeFile(`${gguf}.partial`, llamaToGguf({ config: toHfConfig(model.config) as LlamaHfConfig, tensors, tokenizer, dtype: this.o.dtype ?? "f32", name: m.baseModelName }));
          await rename(`${gguf}.partial`, gguf);
        }
        return { files, gguf, model: null, loading: null, applied: new Set<string>(), pools: new Map(), active: 0, idle: [], recycles: 0, lock: Promise.resolve() };
      })();
      this.bases.set(m.baseModelCid, p);
      p.catch(() => this.bases.delete(m.baseModelCid));
    }
    return p;
  }

  /** The GGUF LoRA of `m`'s adapter (fetched, checked against its hash, exported once). */
  private adapterFile(m: ServedModel, b: Base): Promise<string> {
    const key = `${m.adapterCid}#${m.adapterHash ?? ""}`;
    let p = this.adapterGguf.get(key);
    if (!p) {
      p = (async () => {
        const dir = await this.fetcher.adapterDir(m.adapterCid!, m.adapterHash);
        const out = join(this.o.cacheDir, "gguf", "adapters", `${m.adapterCid}-${this.o.dtype ?? "f32"}.gguf`);
        if (!existsSync(out)) {
          const adapter = await loadAdapter(dir, b.files.config);
          const tensors = [...adapterTensors(adapter, b.files.config)].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
          await mkdir(join(this.o.cacheDir, "gguf", "adapters"), { recursive: true });
          await writeFile(`${out}.partial`, loraToGguf({ config: toHfConfig(b.files.config) as LlamaHfConfig, adapterConfig: toAdapterConfigJson(adapter.config) as LoraAdapterConfig, tensors, dtype: this.o.dtype ?? "f32" }));
          await rename(`${out}.partial`, out);
        }
        return out;
      })();
      this.adapterGguf.set(key, p);
      p.catch(() => this.adapterGguf.delete(key));
    }
    return p;
  }

  private async model(b: Base): Promise<LlamaModel> {
    if (b.model) return b.model;
    b.loading ??= (async () => (await this.llama()).loadModel({ modelPath: b.gguf }))();
    try {
      b.model = await b.loading;
      return b.model;
    } finally {
      b.loading = null;
    }
  }

  private wake(b: Base): void {
    for (const w of b.idle.splice(0)) w();
  }

  /**
   * A sequence of the context for `m`'s adapter: the adapter's context when it has a free sequence (same-
   * adapter requests go together), else a new context (disposing an idle one beyond maxContexts, reloading
   * the model after recycleAfterAdapters adapters), else waits for one.
   */
  private async acquire(m: ServedModel, b: Base, signal?: AbortSignal): Promise<{ pool: Pool; seq: LlamaContextSequence }> {
    const key = m.adapterCid ? `${m.adapterCid}#${m.adapterHash ?? ""}` : "";
    const lora = m.adapterCid ? await this.adapterFile(m, b) : null;
    this.counts.queued++;
    try {
      for (;;) {
        if (signal?.aborted) throw new GenerationAbortedError(usage0);
        // decisions and changes to the pools one at a time (a recycle or a new context awaits llama.cpp)
        const got = await this.locked(b, async () => {
          for (;;) {
            const pool = b.pools.get(key);
            if (pool && pool.context.sequencesLeft > 0) {
              b.pools.delete(key);
              b.pools.set(key, pool); // most recently used last
              pool.busy++;
              b.active++;
              return { pool, seq: pool.context.getSequence() };
            }
            if (!pool) {
              const fresh = key !== "" && !b.applied.has(key);
              if (fresh && b.applied.size >= this.recycleAfterAdapters) {
                // free the adapters llama.cpp holds: reload the model once nothing runs on it
                if (b.active === 0 && b.model) {
                  for (const p of b.pools.values()) await p.context.dispose();
                  b.pools.clear();
                  const old = b.model;
                  b.model = null;
                  b.applied.clear();
                  b.recycles++;
                  await old.dispose();
                  continue;
                }
              } else if (b.pools.size < this.maxContexts || this.disposeIdle(b)) {
                const model = await this.model(b);
                const context = await model.createContext({ sequences: this.sequencesPerContext, contextSize: Math.min(b.files.context, 4096), ...(this.o.threads ? { threads: this.o.threads } : {}), ...(lora ? { lora: { adapters: [{ filePath: lora }] } } : {}) });
                if (key) b.applied.add(key);
                b.pools.set(key, { key, context, busy: 0, waiters: [] });
                continue;
              }
            }
            // wait (registered now, under the lock, so no release is missed) for a sequence of this
            // adapter's context, or for any context to go idle
            const wait = new Promise<void>((resolve) => {
              const done = () => {
                signal?.removeEventListener("abort", done);
                resolve();
              };
              if (pool) pool.waiters.push(done);
              else b.idle.push(done);
              signal?.addEventListener("abort", done, { once: true });
            });
            return { wait }; // wrapped: an async function returning a promise would wait for it under the lock
          }
        });
        if ("wait" in got) await got.wait;
        else return got;
      }
    } finally {
      this.counts.queued--;
    }
  }

  /** Runs `fn` alone among the calls for base `b`. */
  private async locked<T>(b: Base, fn: () => Promise<T>): Promise<T> {
    const prev = b.lock;
    let release!: () => void;
    b.lock = new Promise<void>((r) => (release = r));
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** OpenAI's logit_bias as llama.cpp's: added to the logit; -100 or below bans the token. */
  private tokenBias(b: Base, bias: ReadonlyMap<number, number>) {
    const tb = new this.lib!.TokenBias(b.model!.tokenizer);
    for (const [id, v] of bias) tb.set(id as Token, v <= -100 ? "never" : { logit: v });
    return tb;
  }

  /** Disposes the least recently used context with nothing running (sync bookkeeping, async dispose). */
  private disposeIdle(b: Base): boolean {
    for (const [k, p] of b.pools) {
      if (p.busy === 0) {
        b.pools.delete(k);
        void p.context.dispose();
        return true;
      }
    }
    return false;
  }

  private release(b: Base, pool: Pool, seq: LlamaContextSequence): void {
    seq.dispose();
    pool.busy--;
    b.active--;
    for (const w of pool.waiters.splice(0)) w(); // all retry: a waiter may have gone (aborted)
    if (pool.busy === 0 || b.active === 0) this.wake(b);
  }

  async prepare(m: ServedModel): Promise<void> {
    const b = await this.base(m);
    if (m.adapterCid) await this.adapterFile(m, b);
    await this.model(b);
  }

  async tokenizer(m: ServedModel) {
    return (await this.files.get(m)).tokenizer;
  }

  async tokens(m: ServedModel) {
    return (await this.files.get(m)).table;
  }

  async contextLength(m: ServedModel) {
    return Math.min((await this.files.get(m)).context, 4096);
  }

  async check(m: ServedModel, req: CompletionRequest, params: CheckParams = {}): Promise<void> {
    const promptParam = params.prompt ?? "messages";
    const f = await this.files.get(m);
    const context = Math.min(f.context, 4096);
    checkPromptFits(promptParam, req.prompt.length, context);
    const unsupported = (param: string, what: string) => new BadRequestError(param, `${what} not available for ${m.id} (served by llama.cpp)`, "unsupported_on_backend");
    if (req.grammar) throw unsupported(params.grammar ?? "response_format", "structured outputs and tool calls are");
    if (req.topLogprobs !== null && req.topLogprobs !== undefined) throw unsupported("logprobs", "'logprobs' is");
  }

  async complete(m: ServedModel, req: CompletionRequest, onDelta?: (index: number, delta: string, info: DeltaInfo) => void): Promise<CompletionResult> {
    await this.check(m, req);
    const b = await this.base(m);
    const n = req.n ?? 1;
    const seed = req.seed ?? Math.floor(Math.random() * 2 ** 32);
    const maxTokens = Math.min(req.maxTokens ?? Infinity, (await this.contextLength(m)) - req.prompt.length);
    const stops = (req.stop ?? []).filter((s) => s.length > 0);
    const ids: number[][] = Array.from({ length: n }, () => []);
    let prefilled = false;
    const usage = () => ({ promptTokens: prefilled ? req.prompt.length : 0, completionTokens: ids.reduce((s, x) => s + x.length, 0) });
    const queued = performance.now();
    let t0 = 0;
    let t1 = 0;
    this.counts.active++;
    const one = async (i: number): Promise<{ text: string; finish: FinishReason }> => {
      const { pool, seq } = await this.acquire(m, b, req.signal);
      try {
        t0 ||= performance.now();
        const tok = b.files.tokenizer;
        let text = "";
        let sent = 0;
        let finish: FinishReason = "length";
        const emit = (final: boolean) => {
          // text is final up to a partial UTF-8 character or a possible start of a stop string
          let end = text.length;
          if (!final) {
            if (text.endsWith("\uFFFD")) end = text.length - 1;
            for (const s of stops) for (let k = Math.min(s.length - 1, end); k > 0; k--) if (text.endsWith(s.slice(0, k))) end = Math.min(end, text.length - k);
          }
          if (end > sent) {
            onDelta?.(i, text.slice(sent, end), { logprobs: [] });
            sent = end;
          }
        };
        if (maxTokens > 0) {
          const gen = seq.evaluate(req.prompt as Token[], {
            temperature: req.temperature ?? 0,
            topP: req.topP ?? 1,
            seed: i === 0 ? seed : (seed + i) >>> 0,
            yieldEogToken: true,
            ...(req.logitBias?.size ? { tokenBias: () => this.tokenBias(b, req.logitBias!) } : {}),
            ...(req.presencePenalty || req.frequencyPenalty ? { repeatPenalty: { punishTokens: () => ids[i] as Token[], penalty: 1, presencePenalty: req.presencePenalty ?? 0, frequencyPenalty: req.frequencyPenalty ?? 0 } } : {}),
          });
          for await (const t of gen) {
            prefilled = true;
            t1 ||= performance.now();
            if (req.signal?.aborted) break;
            if (b.files.eos.has(t as number)) {
              finish = "stop";
              break;
            }
            ids[i].push(t as number);
            text = tok.decode(ids[i]);
            const hit = stops.map((s) => text.indexOf(s)).filter((k) => k >= 0);
            if (hit.length) {
              text = text.slice(0, Math.min(...hit));
              finish = "stop";
              break;
            }
            emit(false);
            if (ids[i].length >= maxTokens) break;
          }
        }
        if (req.signal?.aborted) throw new GenerationAbortedError(usage());
        emit(true);
        return { text, finish };
      } finally {
        await seq.clearHistory().catch(() => undefined);
        this.release(b, pool, seq);
      }
    };
    try {
      const out = await Promise.all(Array.from({ length: n }, (_, i) => one(i)));
      const now = performance.now();
      const u = usage();
      return {
        choices: out.map((c, index) => ({ index, text: c.text, ids: ids[index], finishReason: c.finish, logprobs: null })),
        ...u,
        queueMs: (t0 || now) - queued,
        prefillMs: (t1 || now) - (t0 || now),
        decodeMs: now - (t1 || now),
        seed,
      };
    } catch (e) {
      if (e instanceof GenerationAbortedError) throw new GenerationAbortedError(usage());
      throw withUsage(e, usage());
    } finally {
      this.counts.active--;
      const u = usage();
      this.counts.promptTokens += u.promptTokens;
      this.counts.completionTokens += u.completionTokens;
    }
  }

  ticket(): null {
    return null; // requests wait for a sequence of their adapter's context
  }

  evict(m: ServedModel): void {
    if (!m.adapterCid) return;
    const key = `${m.adapterCid}#${m.adapterHash ?? ""}`;
    for (const bp of this.bases.values()) {
      void bp.then((b) => {
        const p = b.pools.get(key);
        if (p && p.busy === 0) {
          b.pools.delete(key);
          void p.context.dispose();
        }
      }).catch(() => undefined);
    }
  }

  /** Contexts alive, adapters applied, model reloads: for tests and benchmarks. */
  async poolStats(m: ServedModel): Promise<{ contexts: number; applied: number; recycles: number; loaded: boolean }> {
    const b = await this.base(m);
    return { contexts: b.pools.size, applied: b.applied.size, recycles: b.recycles, loaded: b.model !== null };
  }

  stats(): ModelServerStats {
    return { baseModels: this.bases.size, adapters: this.adapterGguf.size, queued: this.counts.queued, running: this.counts.active > 0, active: this.counts.active, promptTokens: this.counts.promptTokens, completionTokens: this.counts.completionTokens };
  }

  async close(): Promise<void> {
    for (const bp of this.bases.values()) {
      const b = await bp.catch(() => null);
      if (!b) continue;
      for (const p of b.pools.values()) await p.context.dispose().catch(() => undefined);
      await b.model?.dispose().catch(() => undefined);
    }
    this.bases.clear();
    const l = await this.llamaP?.catch(() => null);
    this.llamaP = null;
    await l?.dispose();
    await this.fetcher.close();
  }
}
