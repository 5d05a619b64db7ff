/**
 * The trainer node's HTTP API (Hono on Node): OpenAI-compatible `GET /v1/models[/{id}]`,
 * `POST /v1/chat/completions` and `POST /v1/completions` (SSE streaming; n choices, logprobs, structured
 * outputs and tool calls by constrained decoding), the node's jobs (`/v1/jobs`, live SSE events),
 * Prometheus `/metrics` and `/healthz`. Errors use OpenAI's shape `{error: {message, type, param, code}}`.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { IncomingMessage } from "node:http";
import { createHttpGuard } from "@tributary/sdk/http";
import { Hono } from "hono";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { routePath } from "hono/route";
import { streamSSE } from "hono/streaming";
import type { SSEStreamingApi } from "hono/streaming";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Metric } from "prom-client";
import type { JobEvent, JobsView, ModelCatalog, ServedModel } from "../types.ts";
import { BadRequestError, ModelNotFoundError, ServeError } from "./errors.ts";
import type { Authorization, Billing } from "./billing.ts";
import type { PaidUse, UsageRecorder } from "./usage.ts";
import type { GrammarSpec } from "./grammar/xgrammar.ts";
import type { TokenLogprob } from "./decode.ts";
import { usageOf } from "./models.ts";
import { ServerBusyError } from "./scheduler.ts";
import type { CompletionChoice, CompletionRequest, CompletionResult } from "./models.ts";
import type { ServingBackend } from "./backend.ts";
import { chatGrammar, chatPrompt, readAnswer } from "./prompt.ts";
import type { AnswerView } from "./prompt.ts";
import { parseChatRequest, parseCompletionRequest, parseLoadAdapterRequest, parseUnloadAdapterRequest } from "./validate.ts";
import type { ChatRequest, SamplingRequest } from "./validate.ts";

export interface ApiOptions {
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 8787, the trainer API port of the local stack; 0 picks a free one). */
  port?: number;
  catalog: ModelCatalog;
  /** The backends behind the API (a ModelServer, or createServing() routing base models to backends). */
  models: ServingBackend;
  jobs: JobsView;
  /** Registry for /metrics; the API adds its metrics to it (default: a new one). */
  registry?: Registry;
  /** Largest request body accepted (default 4 MiB). */
  maxBodyBytes?: number;
  /** Interval of SSE keep-alive comments (default 15000 ms). */
  keepAliveMs?: number;
  /** Paid inference: model versions with a price need a voucher (see billing.ts). Absent: everything is free. */
  billing?: Billing;
  /** Inference-time attribution: the spans of a completion found in the model's training data (citations.ts). */
  citations?: (model: ServedModel, ids: number[]) => Promise<unknown[] | null>;
  /**
   * Use pays, per request: every settled paid request is recorded for the usage epochs (usage.ts); a committed
   * epoch's records are served to the verifiers drawn for a challenge of it.
   */
  usage?: { record(u: PaidUse): Promise<void>; recordsFor?: UsageRecorder["recordsFor"] };
  /**
   * Enables vLLM's runtime adapter API (`POST /v1/load_lora_adapter`, `/v1/unload_lora_adapter`) for
   * callers sending `Authorization: Bearer <adminToken>`; absent: those routes answer 403.
   */
  adminToken?: string;
  /**
   * Web origins (scheme://host:port) whose pages may call the API, e.g. the web app's; default none. A
   * request from another page (Origin/Referer, Sec-Fetch-Site) or for another Host while listening on
   * loopback (DNS rebinding) gets 403; programs without an Origin are served (the SDK's shared guard).
   */
  allowedOrigins?: readonly string[];
}

export interface ApiServer {
  url: string;
  app: Hono;
  registry: Registry;
  stop(): Promise<void>;
}

const TERMINAL = new Set(["finalized", "failed", "skipped"]);

function errorBody(message: string, type: string, param: string | null = null, code: string | null = null) {
  return { error: { message, type, param, code } };
}

function metric<T extends Metric>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

function apiMetrics(registry: Registry, models: ServingBackend) {
  const registers = [registry];
  return {
    requests: metric(registry, "tributary_api_requests_total", () => new Counter({ name: "tributary_api_requests_total", help: "HTTP requests answered, by route and status", labelNames: ["method", "route", "status"], registers })),
    latency: metric(registry, "tributary_api_request_duration_seconds", () => new Histogram({ name: "tributary_api_request_duration_seconds", help: "Time to the response headers (streams: to the first byte), by route", labelNames: ["method", "route"], buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers })),
    completionTokens: metric(registry, "tributary_generated_tokens_total", () => new Counter({ name: "tributary_generated_tokens_total", help: "Completion tokens generated, by model", labelNames: ["model"], registers })),
    promptTokens: metric(registry, "tributary_prompt_tokens_total", () => new Counter({ name: "tributary_prompt_tokens_total", help: "Prompt tokens processed, by model", labelNames: ["model"], registers })),
    tokensPerSec: metric(registry, "tributary_generation_tokens_per_second", () => new Gauge({ name: "tributary_generation_tokens_per_second", help: "Decode speed of the last completion (completion tokens / decode seconds), by model", labelNames: ["model"], registers })),
    firstToken: metric(registry, "tributary_time_to_first_token_seconds", () => new Histogram({ name: "tributary_time_to_first_token_seconds", help: "From the request to the first generated text (queue, load, prefill, first token)", buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers })),
    loadedAdapters: metric(registry, "tributary_loaded_adapters", () => new Gauge({ name: "tributary_loaded_adapters", help: "LoRA adapters held in memory", registers, collect() { this.set(models.stats().adapters); } })),
    loadedBases: metric(registry, "tributary_loaded_base_models", () => new Gauge({ name: "tributary_loaded_base_models", help: "Base models held in memory", registers, collect() { this.set(models.stats().baseModels); } })),
    queued: metric(registry, "tributary_generation_queue", () => new Gauge({ name: "tributary_generation_queue", help: "Completions waiting for the generation slot", registers, collect() { this.set(models.stats().queued); } })),
  };
}

function modelEntry(m: ServedModel, runtime = false) {
  return {
    id: m.id,
    object: "model" as const,
    created: m.created,
    owned_by: m.owner ?? "tributary",
    tributary: {
      kind: runtime ? "runtime-adapter" : m.adapterCid ? "model-version" : "base-model",
      base_model: m.baseModelName,
      base_model_id: m.baseModelId,
      base_model_cid: m.baseModelCid,
      adapter_cid: m.adapterCid ?? null,
      adapter_hash: m.adapterHash ?? null,
      model_id: m.modelId ?? null,
    },
  };
}

export async function startApi(o: ApiOptions): Promise<ApiServer> {
  const registry = o.registry ?? new Registry();
  const m = apiMetrics(registry, o.models);
  const keepAliveMs = o.keepAliveMs ?? 15000;
  const streams = new Set<AbortController>();
  const app = new Hono();
  // adapters loaded at runtime (POST /v1/load_lora_adapter), served over a base model of the catalog
  const runtime = new Map<string, ServedModel>();
  const catalog: ModelCatalog = {
    list: async () => [...(await o.catalog.list()), ...runtime.values()],
    resolve: async (id) => runtime.get(id) ?? (await o.catalog.resolve(id)),
  };
  const entry = (m: ServedModel) => modelEntry(m, runtime.get(m.id) === m);

  const guard = createHttpGuard({
    allowedOrigins: o.allowedOrigins,
    listenHost: o.host ?? "127.0.0.1",
    headers: ["content-type", "authorization", "x-tributary-voucher"],
  });
  app.use("*", async (c, next) => {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    if (incoming) {
      const why = guard.check(incoming);
      if (why) return c.json(errorBody(why, "permission_error", null, "forbidden_origin"), 403);
      const origin = c.req.header("origin");
      if (origin !== undefined) {
        c.header("access-control-allow-origin", guard.allowedOrigins.includes("*") ? "*" : origin);
        c.header("vary", "Origin");
        if (c.req.method === "OPTIONS") {
          return c.body(null, 204, {
            "access-control-allow-methods": "GET, POST",
            "access-control-allow-headers": "content-type, authorization, x-tributary-voucher",
            "access-control-max-age": "600",
          });
        }
      }
    }
    await next();
  });

  app.use("*", async (c, next) => {
    const t0 = performance.now();
    await next();
    const route = routePath(c, -1); // the matched handler's pattern, or this middleware's "/*" when none matched
    const label = route === "*" || route === "/*" ? "unmatched" : route;
    m.requests.inc({ method: c.req.method, route: label, status: String(c.res.status) });
    m.latency.observe({ method: c.req.method, route: label }, (performance.now() - t0) / 1000);
  });

  app.notFound((c) => c.json(errorBody(`No route ${c.req.method} ${c.req.path}`, "invalid_request_error", null, "unknown_route"), 404));
  app.onError((err, c) => {
    if (err instanceof ServerBusyError) {
      c.header("Retry-After", String(Math.ceil(err.retryAfterMs / 1000)));
      c.header("retry-after-ms", String(err.retryAfterMs));
    }
    if (err instanceof ServeError) return c.json({ ...errorBody(err.message, err.type, err.param, err.code), ...(Object.keys(err.details).length ? { tributary: err.details } : {}) }, err.status as 400);
    console.error(`[api] ${c.req.method} ${c.req.path}:`, err);
    return c.json(errorBody(`Internal error: ${err instanceof Error ? err.message : String(err)}`, "server_error", null, "internal_error"), 500);
  });

  app.get("/healthz", (c) => c.json({ ok: true, ...o.models.stats() }));

  app.get("/metrics", async (c) => c.body(await registry.metrics(), 200, { "content-type": registry.contentType }));

  app.get("/v1/models", async (c) => c.json({ object: "list", data: (await catalog.list()).map(entry) }));

  app.get("/v1/models/:id", async (c) => {
    const id = c.req.param("id");
    const model = await catalog.resolve(id);
    if (!model) throw new ModelNotFoundError(id, (await catalog.list()).map((x) => x.id));
    return c.json(entry(model));
  });

  const limit = bodyLimit({ maxSize: o.maxBodyBytes ?? 4 * 2 ** 20, onError: (c) => c.json(errorBody("The request body is too large", "invalid_request_error", null, "body_too_large"), 413) });
  const readJson = async (c: Context) => {
    try {
      return JSON.parse(await c.req.text()) as unknown;
    } catch (e) {
      throw new BadRequestError(null, `the request body is not valid JSON: ${(e as Error).message}`, "invalid_json");
    }
  };

  /** The admin token check of the runtime adapter API (403 when disabled, 401 on a wrong token). */
  const admin = (c: Context) => {
    if (!o.adminToken) {
      throw new ServeError("Runtime adapter loading is disabled on this node", { status: 403, type: "permission_error", code: "admin_disabled", hint: "Start the node with an admin token (TRIBUTARY_ADMIN_TOKEN) and send it as Authorization: Bearer <token>" });
    }
    const digest = (x: string) => createHash("sha256").update(x).digest();
    const given = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")?.[1] ?? "";
    if (!timingSafeEqual(digest(given), digest(o.adminToken))) {
      throw new ServeError("This route needs the node's admin token", { status: 401, type: "authentication_error", code: "invalid_admin_token", hint: "Send Authorization: Bearer <the node's TRIBUTARY_ADMIN_TOKEN>" });
    }
  };

  // vLLM's runtime LoRA API: an adapter directory on IPFS, served as model `lora_name` over a base model
  app.post("/v1/load_lora_adapter", limit, async (c) => {
    admin(c);
    const { name, cid, baseModel: baseId, adapterHash: hash } = parseLoadAdapterRequest(await readJson(c));
    const taken = async () => runtime.has(name) || (await o.catalog.resolve(name)) !== undefined;
    if (await taken()) throw new BadRequestError("lora_name", `The lora adapter '${name}' has already been loaded`, "adapter_exists");
    const bases = (await o.catalog.list()).filter((m) => !m.adapterCid);
    const base = baseId ? bases.find((b) => b.id === baseId) : bases.length === 1 ? bases[0] : undefined;
    if (!base) throw new BadRequestError("base_model", baseId ? `'${baseId}' is not a base model of this node (${bases.map((b) => b.id).join(", ") || "none"})` : `this node serves ${bases.length} base models; name one in 'base_model' (${bases.map((b) => b.id).join(", ")})`);
    const model: ServedModel = { id: name, baseModelId: base.baseModelId, baseModelName: base.baseModelName, baseModelCid: base.baseModelCid, adapterCid: cid, ...(hash !== undefined ? { adapterHash: hash } : {}), owner: "runtime", created: Math.floor(Date.now() / 1000) };
    await o.models.prepare(model); // fetched, verified and loaded now: errors come back here, not on first use
    if (await taken()) throw new BadRequestError("lora_name", `The lora adapter '${name}' has already been loaded`, "adapter_exists");
    runtime.set(name, model);
    return c.text(`Success: LoRA adapter '${name}' added successfully.`);
  });

  app.post("/v1/unload_lora_adapter", limit, async (c) => {
    admin(c);
    const name = parseUnloadAdapterRequest(await readJson(c));
    const model = runtime.get(name);
    if (!model) throw new ServeError(`The lora adapter '${name}' cannot be found`, { status: 404, type: "invalid_request_error", param: "lora_name", code: "adapter_not_found", hint: "Only adapters loaded with POST /v1/load_lora_adapter can be unloaded" });
    runtime.delete(name);
    o.models.evict(model); // running generations keep their reference until they end
    return c.text(`Success: LoRA adapter '${name}' removed successfully.`);
  });

  app.post("/v1/chat/completions", limit, async (c) => {
    const t0 = performance.now();
    const req = parseChatRequest(await readJson(c));
    const { model, paid } = await resolveModel(c, req);
    const tokenizer = await o.models.tokenizer(model);
    const prompt = tokenizer.encode(chatPrompt(tokenizer, req));
    return generation(c, t0, { kind: "chat", model, paid, req, chat: req, prompt, grammar: chatGrammar(req), promptText: "" });
  });

  app.post("/v1/completions", limit, async (c) => {
    const t0 = performance.now();
    const req = parseCompletionRequest(await readJson(c));
    const { model, paid } = await resolveModel(c, req);
    const tokenizer = await o.models.tokenizer(model);
    let prompt: number[];
    if (typeof req.prompt === "string") prompt = tokenizer.encode(req.prompt, { bos: tokenizer.addBos });
    else {
      const vocab = (await o.models.tokens(model)).vocab.vocabSize;
      const bad = req.prompt.find((id) => id >= vocab);
      if (bad !== undefined) throw new BadRequestError("prompt", `'prompt' holds token id ${bad}; this model's token ids are 0..${vocab - 1}`);
      prompt = req.prompt;
    }
    const promptText = req.echo ? (typeof req.prompt === "string" ? req.prompt : tokenizer.decode(req.prompt)) : "";
    return generation(c, t0, { kind: "text", model, paid, req, chat: null, prompt, grammar: null, promptText });
  });

  /** The requested model, paid for (402 before anything is fetched or loaded) and prepared. */
  async function resolveModel(c: Context, req: SamplingRequest): Promise<{ model: ServedModel; paid: Authorization | null }> {
    const model = await catalog.resolve(req.model);
    if (!model) throw new ModelNotFoundError(req.model, (await catalog.list()).map((x) => x.id));
    // a priced model version is served against a voucher: checked before the model is fetched or loaded
    // (the deposit must hold at least the asked completion tokens; the full maximum is reserved once the
    // prompt is tokenized)
    const paid = o.billing && model.modelId ? await o.billing.authorize(model.modelId, c.req.header("x-tributary-voucher"), 1 + (req.maxTokens ?? 1) * req.n) : null;
    await o.models.prepare(model); // fetch/load failures become a JSON error before any stream starts
    return { model, paid };
  }

  /** Runs one chat or text completion request and answers it (JSON or SSE), billed and cited. */
  async function generation(c: Context, t0: number, g: { kind: "chat" | "text"; model: ServedModel; paid: Authorization | null; req: SamplingRequest; chat: ChatRequest | null; prompt: number[]; grammar: GrammarSpec | null; promptText: string }) {
    const { model, req, chat, paid } = g;
    const table = await o.models.tokens(model);
    const id = `${g.kind === "chat" ? "chatcmpl" : "cmpl"}-${randomBytes(12).toString("hex")}`;
    const object = g.kind === "chat" ? "chat.completion" : "text_completion";
    const chunkObject = g.kind === "chat" ? "chat.completion.chunk" : "text_completion";
    const created = Math.floor(Date.now() / 1000);
    const maxTokens = req.maxTokens ?? (await o.models.contextLength(model));
    const creq: CompletionRequest = {
      prompt: g.prompt,
      n: req.n,
      maxTokens,
      temperature: req.temperature,
      topP: req.topP,
      seed: req.seed,
      stop: req.stop,
      presencePenalty: req.presencePenalty,
      frequencyPenalty: req.frequencyPenalty,
      logitBias: req.logitBias,
      topLogprobs: req.topLogprobs,
      grammar: g.grammar,
    };
    await o.models.check(model, creq, { prompt: chat ? "messages" : "prompt", grammar: chat && chat.responseFormat.type === "text" ? "tools" : "response_format" });
    // the request's maximum (prompt + every choice up to its limit or the context) is held against the
    // channel's deposit while it runs; settled exactly once with what was computed, whatever the outcome
    const room = (await o.models.contextLength(model)) - g.prompt.length;
    // a place in the generation queue, before anything is reserved or sent (429 with Retry-After when full)
    const ticket = o.models.ticket(model);
    try {
      if (paid) o.billing!.reserve(paid, g.prompt.length + req.n * Math.min(maxTokens, room));
    } catch (e) {
      ticket?.release();
      throw e;
    }
    creq.ticket = ticket;
    let billed: Promise<Record<string, string> | null> | null = null;
    const bill = (r: { promptTokens: number; completionTokens: number }) =>
      (billed ??= (async () => {
        if (!paid || !o.billing) return null;
        const b = await o.billing.settle(paid, r.promptTokens + r.completionTokens);
        return { channel_id: paid.channelId, price_per_1k_tokens: paid.pricePer1k.toString(), cost: b.cost.toString(), owed: b.owed.toString() };
      })());
    const nothing = { promptTokens: 0, completionTokens: 0 };
    /** Bills (and counts) what a failed or aborted generation had computed, then rethrows. */
    const failed = async (e: unknown): Promise<never> => {
      ticket?.release(); // a no-op when the generation took its place
      const u = usageOf(e);
      if (u) account(u);
      await bill(u ?? nothing);
      throw e;
    };
    let first = true;
    const firstToken = () => {
      if (first) m.firstToken.observe((performance.now() - t0) / 1000);
      first = false;
    };
    const account = (r: { promptTokens: number; completionTokens: number; decodeMs?: number }) => {
      m.promptTokens.inc({ model: model.id }, r.promptTokens);
      m.completionTokens.inc({ model: model.id }, r.completionTokens);
      if (r.decodeMs && r.completionTokens > 1) m.tokensPerSec.set({ model: model.id }, (r.completionTokens - 1) / (r.decodeMs / 1000));
    };
    const usage = (r: { promptTokens: number; completionTokens: number }) => ({ prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, total_tokens: r.promptTokens + r.completionTokens });
    const cite = async (choices: CompletionChoice[]) => {
      if (!o.citations) return null;
      if (choices.length === 1) return o.citations(model, choices[0].ids);
      const all: unknown[] = [];
      for (const ch of choices) for (const x of (await o.citations(model, ch.ids)) ?? []) all.push({ ...(x as object), index: ch.index });
      return all;
    };
    const extras = async (r: CompletionResult) => {
      const billing = await bill(r);
      const citations = await cite(r.choices);
      if (paid?.settled && o.usage) await o.usage.record({ modelId: model.modelId!, channelId: paid.channelId, cost: paid.settled.cost, owed: paid.settled.owed, completions: r.choices.map((ch) => ch.ids), citations });
      return { ...(billing ? { billing } : {}), ...(citations ? { citations } : {}) };
    };
    const tokenEntry = (t: { id: number; logprob: number }) => ({ token: table.text[t.id], logprob: t.logprob, bytes: [...table.bytes[t.id]] });
    const chatLogprobs = (lps: readonly TokenLogprob[]) => ({ content: lps.map((t) => ({ ...tokenEntry(t), top_logprobs: t.top.map(tokenEntry) })), refusal: null });
    const textLogprobs = (lps: readonly TokenLogprob[], offset: number) => {
      const text_offset: number[] = [];
      let at = offset;
      for (const t of lps) {
        text_offset.push(at);
        at += table.text[t.id].length;
      }
      return { tokens: lps.map((t) => table.text[t.id]), token_logprobs: lps.map((t) => t.logprob), top_logprobs: req.topLogprobs ? lps.map((t) => Object.fromEntries(t.top.map((x) => [table.text[x.id], x.logprob]))) : null, text_offset };
    };
    // tool calls get their ids when first seen (streamed) or read (JSON)
    const callIds: string[][] = Array.from({ length: req.n }, () => []);
    const callId = (index: number, k: number) => (callIds[index][k] ??= `call_${randomBytes(12).toString("hex")}`);
    const finishOf = (ch: CompletionChoice, view: AnswerView) => (view.calls.some((x) => x.complete) ? (chat!.toolChoice.mode === "function" ? "stop" : "tool_calls") : ch.finishReason);

    if (!req.stream) {
      const r = await o.models.complete(model, creq, () => firstToken()).catch(failed);
      account(r);
      const extra = await extras(r);
      const choices = r.choices.map((ch) => {
        if (!chat) return { index: ch.index, text: g.promptText + ch.text, logprobs: ch.logprobs ? textLogprobs(ch.logprobs, g.promptText.length) : null, finish_reason: ch.finishReason };
        const view = readAnswer(ch.text, chat, true);
        const calls = view.calls.map((x, k) => ({ id: callId(ch.index, k), type: "function" as const, function: { name: x.name, arguments: x.arguments } }));
        return {
          index: ch.index,
          message: { role: "assistant", content: calls.length && !view.content ? null : view.content, refusal: null, ...(calls.length ? { tool_calls: calls } : {}) },
          logprobs: ch.logprobs ? chatLogprobs(ch.logprobs) : null,
          finish_reason: finishOf(ch, view),
        };
      });
      return c.json({
        id,
        object,
        created,
        model: model.id,
        choices,
        usage: usage(r),
        system_fingerprint: null,
        tributary: { seed: r.seed, base_model: model.baseModelName, adapter_cid: model.adapterCid ?? null, queue_ms: r.queueMs, prefill_ms: r.prefillMs, decode_ms: r.decodeMs, ...extra },
      });
    }

    const chunk = (choices: unknown[], more: Record<string, unknown> = {}) => JSON.stringify({ id, object: chunkObject, created, model: model.id, system_fingerprint: null, choices, ...more });
    const forced = chat !== null && (chat.toolChoice.mode === "required" || chat.toolChoice.mode === "function");
    return streamSSE(c, async (stream) => {
      const abort = new AbortController();
      streams.add(abort);
      stream.onAbort(() => abort.abort());
      // deltas arrive synchronously from the generation loop; writes are chained in order, and a
      // failed write (the client went away) stops the generation
      let writes = Promise.resolve();
      const send = (data: string) => {
        writes = writes.then(() => stream.writeSSE({ data })).catch(() => abort.abort());
      };
      // per choice: the text streamed so far, what of its view was sent, and logprobs not yet sent
      const acc = Array.from({ length: req.n }, () => ({ text: "", content: 0, calls: [] as number[], logprobs: 0, offset: g.promptText.length }));
      const pendingLogprobs = (seqLogprobs: readonly TokenLogprob[] | null | undefined, i: number) => {
        if (!seqLogprobs) return null;
        const lps = seqLogprobs.slice(acc[i].logprobs);
        acc[i].logprobs = seqLogprobs.length;
        if (g.kind === "chat") return chatLogprobs(lps);
        const out = textLogprobs(lps, acc[i].offset);
        for (const t of lps) acc[i].offset += table.text[t.id].length;
        return out;
      };
      const emitView = (i: number, view: AnswerView, lps: readonly TokenLogprob[] | null | undefined) => {
        const a = acc[i];
        const deltas: Record<string, unknown>[] = [];
        if (view.content.length > a.content) {
          deltas.push({ content: view.content.slice(a.content) });
          a.content = view.content.length;
        }
        view.calls.forEach((x, k) => {
          if (a.calls[k] === undefined) {
            deltas.push({ tool_calls: [{ index: k, id: callId(i, k), type: "function", function: { name: x.name, arguments: "" } }] });
            a.calls[k] = 0;
          }
          if (x.arguments.length > a.calls[k]) {
            deltas.push({ tool_calls: [{ index: k, function: { arguments: x.arguments.slice(a.calls[k]) } }] });
            a.calls[k] = x.arguments.length;
          }
        });
        deltas.forEach((d, j) => send(chunk([{ index: i, delta: d, logprobs: j === deltas.length - 1 ? pendingLogprobs(lps, i) : null, finish_reason: null }])));
      };
      try {
        for (let i = 0; i < req.n; i++) {
          if (g.kind === "chat") send(chunk([{ index: i, delta: { role: "assistant", content: forced ? null : "" }, logprobs: null, finish_reason: null }]));
          else if (g.promptText) send(chunk([{ index: i, text: g.promptText, logprobs: null, finish_reason: null }]));
        }
        let r: CompletionResult;
        try {
          r = await o.models.complete(model, { ...creq, signal: abort.signal }, (i, delta, seq) => {
            firstToken();
            if (!chat) return send(chunk([{ index: i, text: delta, logprobs: pendingLogprobs(seq.logprobs.length ? seq.logprobs : null, i), finish_reason: null }]));
            acc[i].text += delta;
            emitView(i, readAnswer(acc[i].text, chat, false), creq.topLogprobs === null ? null : seq.logprobs);
          });
        } catch (e) {
          return await failed(e);
        }
        // billed even if the client has gone by now: it was generated
        account(r);
        await bill(r);
        await writes;
        if (abort.signal.aborted) return;
        const extra = await extras(r);
        r.choices.forEach((ch, k) => {
          const last = k === r.choices.length - 1 && Object.keys(extra).length ? { tributary: extra } : {};
          if (!chat) {
            send(chunk([{ index: ch.index, text: "", logprobs: pendingLogprobs(ch.logprobs, ch.index), finish_reason: ch.finishReason }], last));
            return;
          }
          const view = readAnswer(ch.text, chat, true);
          emitView(ch.index, view, ch.logprobs);
          const rest = ch.logprobs && ch.logprobs.length > acc[ch.index].logprobs ? pendingLogprobs(ch.logprobs, ch.index) : null;
          send(chunk([{ index: ch.index, delta: {}, logprobs: rest, finish_reason: finishOf(ch, view) }], last));
        });
        if (req.includeUsage) send(chunk([], { usage: usage(r) }));
        send("[DONE]");
        await writes;
      } catch (e) {
        if (!abort.signal.aborted) {
          const err = e instanceof ServeError ? errorBody(e.message, e.type, e.param, e.code) : errorBody(`Internal error: ${(e as Error).message}`, "server_error", null, "internal_error");
          await writes;
          await stream.writeSSE({ data: JSON.stringify(err) });
        }
      } finally {
        ticket?.release(); // a no-op when the generation took its place
        await bill(nothing); // a no-op when billed above
        streams.delete(abort);
      }
    });
  }

  // A challenged usage epoch's records, for the verifiers drawn to recompute it (a signed request; see usage.ts)
  app.get("/v1/usage/epochs/:id/records", async (c) => {
    const id = c.req.param("id");
    if (!/^[1-9][0-9]{0,30}$/.test(id)) throw new BadRequestError("id", `epoch id ${JSON.stringify(id)} is not a positive whole number`, "invalid_epoch");
    if (!o.usage?.recordsFor) throw new ServeError("This node does not record usage epochs", { status: 404, type: "invalid_request_error", code: "no_usage_epochs", hint: "Ask the node that committed the epoch (its provider)" });
    const r = await o.usage.recordsFor(BigInt(id), { verifier: c.req.header("x-tributary-verifier"), at: c.req.header("x-tributary-at"), signature: c.req.header("x-tributary-signature") });
    if (!r.ok) {
      const type = r.status === 404 ? "invalid_request_error" : r.status === 401 ? "authentication_error" : "permission_error";
      throw new ServeError(`Usage records of epoch ${id} are served only to its drawn verifiers: ${r.reason}`, { status: r.status, type, code: "usage_records_refused", hint: "Sign the request with the wallet of a verifier drawn for a challenge of this epoch (the SDK's usageRecordsAuth)" });
    }
    return c.json({ object: "usage_records", epoch_id: id, records: r.records });
  });

  app.get("/v1/jobs", (c) => c.json({ object: "list", data: o.jobs.list() }));

  app.get("/v1/jobs/:id", (c) => {
    const job = o.jobs.get(c.req.param("id"));
    if (!job) return c.json(errorBody(`No job ${c.req.param("id")} on this node`, "invalid_request_error", "id", "job_not_found"), 404);
    return c.json(job);
  });

  app.get("/v1/jobs/:id/events", (c) => {
    const jobId = c.req.param("id");
    const pending: JobEvent[] = [];
    let wake: (() => void) | undefined;
    // subscribe before reading the record, so no event between the two is lost
    const unsubscribe = o.jobs.subscribe((e) => {
      if ((e.type === "stage" ? e.job.jobId : e.jobId) !== jobId) return;
      pending.push(e);
      wake?.();
    });
    const job = o.jobs.get(jobId);
    if (!job) {
      unsubscribe();
      return c.json(errorBody(`No job ${jobId} on this node`, "invalid_request_error", "id", "job_not_found"), 404);
    }
    return streamSSE(c, async (stream: SSEStreamingApi) => {
      const abort = new AbortController();
      streams.add(abort);
      stream.onAbort(() => abort.abort());
      abort.signal.addEventListener("abort", () => wake?.());
      const ping = setInterval(() => void stream.write(": keep-alive\n\n").catch(() => undefined), keepAliveMs);
      try {
        const send = (e: JobEvent) => stream.writeSSE({ event: e.type, data: JSON.stringify(e) });
        await send({ type: "stage", job });
        let done = TERMINAL.has(job.stage);
        while (!done && !abort.signal.aborted) {
          if (!pending.length) await new Promise<void>((r) => (wake = r));
          wake = undefined;
          while (pending.length && !done) {
            const e = pending.shift()!;
            await send(e);
            if (e.type === "stage" && TERMINAL.has(e.job.stage)) done = true;
          }
        }
      } finally {
        clearInterval(ping);
        unsubscribe();
        streams.delete(abort);
      }
    });
  });

  const server = serve({ fetch: app.fetch, port: o.port ?? 8787, hostname: o.host ?? "127.0.0.1" });
  await new Promise<void>((resolve, reject) => {
    if (server.listening) return resolve();
    server.once("listening", () => resolve());
    server.once("error", reject);
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    app,
    registry,
    async stop() {
      for (const s of streams) s.abort();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
    },
  };
}
