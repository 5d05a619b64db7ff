/**
 * The `external` serving backend: any OpenAI-compatible server that loads LoRA adapters at runtime with
 * vLLM's API (`POST /v1/load_lora_adapter {lora_name, lora_path}`, `/v1/unload_lora_adapter`), e.g. vLLM
 * with `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`, or another trainer node started with an admin token.
 *
 * This node stays in front: it templates and tokenizes the prompt with the base model's tokenizer (its
 * files from IPFS), checks payment, reserves and settles, and cites; the upstream server only generates.
 * A request goes upstream as `POST /v1/completions` with the prompt as token ids (so the prompt the node
 * bills is exactly the one generated from), `model` = the adapter's upstream name (or the base's), streamed
 * with `stream_options.include_usage`; the node's client disconnect closes the upstream connection. The
 * completion tokens billed are the upstream's usage count, or, when a stream ends early, the node's count
 * of the streamed text re-tokenized (vLLM: `continuousUsage` gives its own running count instead);
 * citations use the completion re-tokenized with the same tokenizer.
 *
 * Adapters are loaded upstream on a model's first request (after the payment check), named
 * `tributary-<cid>`, from `ipfs://<cid>` (the node's API accepts that; for vLLM give `adapterPath`, a
 * template such as `/srv/adapters/{cid}` where the upstream finds the adapter), at most `maxAdapters` at
 * once (least recently used unloaded first). Not forwarded (400 on this backend): structured outputs and
 * tool grammars, logprobs.
 */
import type { ServedModel } from "../types.ts";
import type { BackendContext, CheckParams, DeltaInfo, ServingBackend } from "./backend.ts";
import { BaseFilesCache } from "./base-files.ts";
import type { BaseFiles } from "./base-files.ts";
import { BadRequestError, checkPromptFits, ServeError } from "./errors.ts";
import { GenerationAbortedError, withUsage } from "./models.ts";
import type { CompletionRequest, CompletionResult, ModelServerStats } from "./models.ts";
import { ServerBusyError } from "./scheduler.ts";
import type { FinishReason } from "./decode.ts";

export interface ExternalBackendOptions extends BackendContext {
  /** The upstream server's root URL (its API under `/v1`). */
  url: string;
  /** Sent as `Authorization: Bearer` on generation requests (vLLM's --api-key), when given. */
  apiKey?: string;
  /** Sent as `Authorization: Bearer` on the adapter load/unload API (default: apiKey). */
  adminToken?: string;
  /** The upstream's model name for a base model (default: the base's registered name). */
  upstreamModel?: (model: ServedModel) => string;
  /** Where the upstream finds an adapter: `{cid}` is replaced by its CID (default `ipfs://{cid}`). */
  adapterPath?: string;
  /** Adapters loaded upstream at most (default 64; the least recently used is unloaded first). */
  maxAdapters?: number;
  /**
   * Ask for vLLM's `stream_options.continuous_usage_stats` (usage on every chunk), so that an aborted
   * stream is billed the upstream's own count (default false: the node's API and OpenAI refuse the field).
   */
  continuousUsage?: boolean;
  /** Sent with load_lora_adapter: the upstream's base model id (another trainer node serving several bases needs it). */
  upstreamBase?: string;
}

const usage0 = { promptTokens: 0, completionTokens: 0 };

export class ExternalBackend implements ServingBackend {
  readonly name = "external";
  readonly url: string;
  private readonly o: ExternalBackendOptions;
  private readonly files: BaseFilesCache;
  /** Adapters loaded upstream (name -> load), least recently used first. */
  private readonly loaded = new Map<string, Promise<void>>();
  private readonly maxAdapters: number;
  private readonly counts = { queued: 0, active: 0, promptTokens: 0, completionTokens: 0 };

  constructor(o: ExternalBackendOptions) {
    if (!/^https?:\/\//.test(o.url)) throw new Error(`external backend: 'url' must be an http(s) URL, got ${JSON.stringify(o.url)}`);
    this.o = o;
    this.url = o.url.replace(/\/+$/, "");
    this.maxAdapters = o.maxAdapters ?? 64;
    this.files = new BaseFilesCache(o.store, o.cacheDir);
    if (!(this.maxAdapters >= 1)) throw new RangeError(`external backend: maxAdapters must be at least 1, got ${o.maxAdapters}`);
  }

  /** From a route's JSON options (`url`, `apiKey`, `adminToken`, `adapterPath`, `maxAdapters`, `upstreamBase`, `continuousUsage`, `upstreamModel` as a fixed name). */
  static fromOptions(ctx: BackendContext, o: Record<string, unknown>): ExternalBackend {
    const str = (k: string) => (o[k] === undefined ? undefined : typeof o[k] === "string" ? (o[k] as string) : (() => { throw new Error(`external backend: '${k}' must be a string`); })());
    const upstream = str("upstreamModel");
    return new ExternalBackend({
      ...ctx,
      url: str("url") ?? "",
      apiKey: str("apiKey"),
      adminToken: str("adminToken"),
      adapterPath: str("adapterPath"),
      upstreamBase: str("upstreamBase"),
      maxAdapters: typeof o.maxAdapters === "number" ? o.maxAdapters : undefined,
      continuousUsage: o.continuousUsage === true,
      ...(upstream ? { upstreamModel: () => upstream } : {}),
    });
  }

  private base(m: ServedModel): Promise<BaseFiles> {
    return this.files.get(m);
  }

  /** The model name upstream: the adapter's load name, or the base's. */
  upstreamName(m: ServedModel): string {
    if (m.adapterCid) return `tributary-${m.adapterCid}`;
    return this.o.upstreamModel?.(m) ?? m.baseModelName;
  }

  private headers(token: string | undefined): Record<string, string> {
    return { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) };
  }

  private async upstreamError(res: Response, what: string): Promise<ServeError> {
    const text = await res.text().catch(() => "");
    let message = text;
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text;
    } catch {
      // not JSON: the text itself
    }
    if (res.status === 429) {
      const after = Number(res.headers.get("retry-after-ms") ?? Number(res.headers.get("retry-after") ?? 1) * 1000);
      return new ServerBusyError(-1, Number.isFinite(after) && after > 0 ? after : 1000);
    }
    const status = res.status >= 400 && res.status < 500 && res.status !== 401 && res.status !== 403 ? 400 : 502;
    return new ServeError(`The external backend ${this.url} refused ${what} (HTTP ${res.status}): ${message.slice(0, 500)}`, { status, type: status === 400 ? "invalid_request_error" : "server_error", code: "upstream_error", details: { upstream: this.url, upstream_status: res.status }, hint: status === 400 ? "Change the request" : "Check that the upstream server is running and that the node's adminToken/apiKey are its own" });
  }

  private async post(path: string, body: unknown, token: string | undefined, signal?: AbortSignal): Promise<Response> {
    try {
      return await fetch(`${this.url}${path}`, { method: "POST", headers: this.headers(token), body: JSON.stringify(body), signal });
    } catch (e) {
      if (signal?.aborted) throw e;
      throw new ServeError(`The external backend ${this.url} is unreachable: ${(e as Error).message}`, { status: 502, type: "server_error", code: "upstream_unreachable", details: { upstream: this.url }, hint: "Start the upstream server or fix the route's url" });
    }
  }

  /** Loads `m`'s adapter upstream once (unloading the least recently used beyond maxAdapters). */
  private async ensureAdapter(m: ServedModel): Promise<void> {
    if (!m.adapterCid) return;
    const name = this.upstreamName(m);
    const had = this.loaded.get(name);
    if (had) {
      this.loaded.delete(name);
      this.loaded.set(name, had);
      return had;
    }
    const token = this.o.adminToken ?? this.o.apiKey;
    const p = (async () => {
      const path = (this.o.adapterPath ?? "ipfs://{cid}").replaceAll("{cid}", m.adapterCid!);
      const res = await this.post("/v1/load_lora_adapter", { lora_name: name, lora_path: path, ...(m.adapterHash ? { adapter_hash: m.adapterHash } : {}), ...(this.o.upstreamBase ? { base_model: this.o.upstreamBase } : {}) }, token);
      if (res.ok) return void (await res.text());
      const err = await this.upstreamError(res, `loading adapter ${m.adapterCid}`);
      if (res.status === 400 && /already been loaded/.test(err.message)) return; // loaded by an earlier run of this node
      throw err;
    })();
    this.loaded.set(name, p);
    p.catch(() => this.loaded.delete(name));
    while (this.loaded.size > this.maxAdapters) {
      const oldest = this.loaded.keys().next().value!;
      this.loaded.delete(oldest);
      void this.post("/v1/unload_lora_adapter", { lora_name: oldest }, token)
        .then((r) => r.text())
        .catch(() => undefined); // best effort: a later load of it answers "already loaded"
    }
    return p;
  }

  async prepare(m: ServedModel): Promise<void> {
    await this.base(m);
    await this.ensureAdapter(m);
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
    checkPromptFits(promptParam, req.prompt.length, b.context);
    for (const id of req.logitBias?.keys() ?? []) if (!(id >= 0 && id < b.vocab)) throw new BadRequestError("logit_bias", `'logit_bias' names token ${id}; this model's token ids are 0..${b.vocab - 1}`);
    if (req.grammar) throw new BadRequestError(params.grammar ?? "response_format", `'${params.grammar ?? "response_format"}': structured outputs and tool calls are not available for ${m.id} (served by an external backend)`, "unsupported_on_backend");
    if (req.topLogprobs !== null && req.topLogprobs !== undefined) throw new BadRequestError("logprobs", `'logprobs' is not available for ${m.id} (served by an external backend)`, "unsupported_on_backend");
  }

  async complete(m: ServedModel, req: CompletionRequest, onDelta?: (index: number, delta: string, info: DeltaInfo) => void): Promise<CompletionResult> {
    await this.check(m, req);
    const b = await this.base(m);
    await this.ensureAdapter(m);
    const n = req.n ?? 1;
    const seed = req.seed ?? Math.floor(Math.random() * 2 ** 32);
    const texts = Array.from({ length: n }, () => "");
    const finish: (FinishReason | null)[] = Array.from({ length: n }, () => null);
    let upstreamUsage: { prompt_tokens: number; completion_tokens: number } | null = null;
    let started = false;
    const t0 = performance.now();
    let t1 = 0;
    const counted = () => texts.reduce((s, t) => s + (t ? b.tokenizer.encode(t, { bos: false }).length : 0), 0);
    const usage = () => (started ? { promptTokens: req.prompt.length, completionTokens: upstreamUsage?.completion_tokens ?? counted() } : usage0);
    const abort = new AbortController();
    const onAbort = () => abort.abort();
    req.signal?.addEventListener("abort", onAbort);
    this.counts.active++;
    try {
      if (req.signal?.aborted) throw new GenerationAbortedError(usage0);
      const body = {
        model: this.upstreamName(m),
        prompt: req.prompt,
        n,
        max_tokens: req.maxTokens ?? b.context - req.prompt.length,
        temperature: req.temperature ?? 0,
        top_p: req.topP ?? 1,
        seed,
        ...(req.stop?.length ? { stop: req.stop } : {}),
        presence_penalty: req.presencePenalty ?? 0,
        frequency_penalty: req.frequencyPenalty ?? 0,
        ...(req.logitBias?.size ? { logit_bias: Object.fromEntries(req.logitBias) } : {}),
        stream: true,
        stream_options: { include_usage: true, ...(this.o.continuousUsage ? { continuous_usage_stats: true } : {}) },
      };
      const res = await this.post("/v1/completions", body, this.o.apiKey, abort.signal);
      if (!res.ok) throw await this.upstreamError(res, "the completion");
      started = true;
      let buf = "";
      const decoder = new TextDecoder();
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        for (let i; (i = buf.indexOf("\n\n")) >= 0; ) {
          const event = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
          if (!data || data === "[DONE]") continue;
          const j = JSON.parse(data) as { error?: { message?: string }; choices?: { index: number; text?: string; finish_reason?: string | null }[]; usage?: { prompt_tokens: number; completion_tokens: number } | null };
          if (j.error) throw new ServeError(`The external backend ${this.url} failed mid-stream: ${j.error.message ?? data}`, { status: 502, type: "server_error", code: "upstream_error", details: { upstream: this.url } });
          if (j.usage) upstreamUsage = j.usage;
          for (const c of j.choices ?? []) {
            if (!(c.index >= 0 && c.index < n)) continue;
            if (c.text) {
              if (!t1) t1 = performance.now();
              texts[c.index] += c.text;
              onDelta?.(c.index, c.text, { logprobs: [] });
            }
            if (c.finish_reason) finish[c.index] = c.finish_reason === "stop" ? "stop" : "length";
          }
        }
      }
      if (req.signal?.aborted) throw new GenerationAbortedError(usage());
      const u = usage();
      this.counts.promptTokens += u.promptTokens;
      this.counts.completionTokens += u.completionTokens;
      const now = performance.now();
      return {
        choices: texts.map((text, index) => ({ index, text, ids: b.tokenizer.encode(text, { bos: false }), finishReason: finish[index] ?? "length", logprobs: null })),
        ...u,
        queueMs: 0,
        prefillMs: (t1 || now) - t0,
        decodeMs: now - (t1 || now),
        seed,
      };
    } catch (e) {
      if (e instanceof GenerationAbortedError) throw e;
      if (req.signal?.aborted) {
        const u = usage();
        this.counts.promptTokens += u.promptTokens;
        this.counts.completionTokens += u.completionTokens;
        throw new GenerationAbortedError(u);
      }
      throw withUsage(e, usage()); // what was streamed before a failure is still billable
    } finally {
      this.counts.active--;
      req.signal?.removeEventListener("abort", onAbort);
      abort.abort(); // closes the upstream connection if still open
    }
  }

  ticket(): null {
    return null; // the upstream queues (its 429 becomes ours)
  }

  evict(m: ServedModel): void {
    if (!m.adapterCid) return;
    const name = this.upstreamName(m);
    if (!this.loaded.delete(name)) return;
    void this.post("/v1/unload_lora_adapter", { lora_name: name }, this.o.adminToken ?? this.o.apiKey)
      .then((r) => r.text())
      .catch(() => undefined);
  }

  stats(): ModelServerStats {
    return { baseModels: this.files.size, adapters: this.loaded.size, queued: this.counts.queued, running: this.counts.active > 0, active: this.counts.active, promptTokens: this.counts.promptTokens, completionTokens: this.counts.completionTokens };
  }

  async close(): Promise<void> {
    this.files.clear();
    this.loaded.clear();
  }
}
