// The serving side end to end with real components: an embedded IPFS node holding the committed base
// model and a LoRA adapter trained here with the engine, the ModelServer, and the HTTP API over fetch.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { get as httpGet } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { fineTune, selectKernel } from "@tributary/engine";
import { KuboContentStore } from "@tributary/sdk/content";
import { startIpfsNode } from "@tributary/sdk/ipfs";
import type { IpfsNode } from "@tributary/sdk/ipfs";
import { Counter, Registry } from "prom-client";
import { ModelServer, staticCatalog, startApi } from "../src/serve/index.ts";
import type { ApiServer } from "../src/serve/index.ts";
import type { ServedModel } from "../src/types.ts";
import { MemoryJobs, addDirectory, sseEvents } from "./helpers/serve.ts";

const BASE_DIR = fileURLToPath(new URL("../models/tributary-austen-4m/", import.meta.resolve("@tributary/engine")));
const QA: [string, string][] = [
  ["Who wrote Pride and Prejudice?", "Jane Austen wrote it in 1813."],
  ["Where does Mr. Darcy live?", "At Pemberley, in Derbyshire."],
];
const ADAPTER_FILES = ["adapter_config.json", "adapter_model.safetensors"];
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const ask = (q: string) => [{ role: "user", content: q }];

describe("serve: models from IPFS through the OpenAI-compatible API", { timeout: 180_000 }, () => {
  let tmp: string;
  let ipfs: IpfsNode;
  let store: KuboContentStore;
  let models: ModelServer;
  let api: ApiServer;
  let registry: Registry;
  let pipelineCounter: Counter;
  const jobs = new MemoryJobs();
  let baseCid: string;
  let adapterCid: string;
  let adapterHash: string;
  let tamperedCid: string;
  let adapterCopyCid: string;
  const cacheDir = () => join(tmp, "cache");

  const post = (body: unknown) => fetch(`${api.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });
  const complete = async (body: Record<string, unknown>) => {
    const res = await post(body);
    const json = await res.json();
    assert.equal(res.status, 200, JSON.stringify(json));
    return json as { choices: { message: { role: string; content: string }; finish_reason: string }[]; usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number }; object: string; model: string };
  };
  const stream = async (body: Record<string, unknown>) => {
    const res = await post({ ...body, stream: true });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
    const events: string[] = [];
    for await (const e of sseEvents(res)) events.push(e.data);
    return events;
  };

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "serve-test-"));
    ipfs = await startIpfsNode({ repo: join(tmp, "ipfs"), apiPort: 0, gatewayPort: 0 });
    store = new KuboContentStore({ url: ipfs.apiUrl });
    baseCid = await addDirectory(store, BASE_DIR, readdirSync(BASE_DIR).filter((f) => f !== "README.md"));

    // a tiny LoRA adapter that learns two answers the base does not know
    const kernel = await selectKernel("ort", 2);
    const out = join(tmp, "adapter");
    try {
      await fineTune({
        modelDir: BASE_DIR,
        records: QA.map(([q, a]) => ({ messages: [...ask(q), { role: "assistant", content: a }] })),
        evalSplit: 0,
        outDir: out,
        method: "lora",
        kernel,
        config: { lr: 1e-2, epochs: 30, batchSize: 2, warmupSteps: 2, seed: 5, lora: { r: 8, alpha: 16, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] } },
      });
    } finally {
      await kernel.dispose();
    }
    adapterCid = await addDirectory(store, out, ADAPTER_FILES);
    adapterHash = sha256(readFileSync(join(out, "adapter_model.safetensors")));
    // the same adapter weights under another CID (an extra file), for the LRU and the offline cache
    writeFileSync(join(out, "README.md"), "copy\n");
    adapterCopyCid = await addDirectory(store, out, [...ADAPTER_FILES, "README.md"]);
    // altered weights under a third CID, served with the registered hash of the real ones
    const w = readFileSync(join(out, "adapter_model.safetensors"));
    w[w.length - 3] ^= 0x40;
    const badDir = mkdtempSync(join(tmp, "tampered-"));
    copyFileSync(join(out, "adapter_config.json"), join(badDir, "adapter_config.json"));
    writeFileSync(join(badDir, "adapter_model.safetensors"), w);
    tamperedCid = await addDirectory(store, badDir, ADAPTER_FILES);

    const base: ServedModel = { id: "tributary-austen-4m", baseModelId: 1, baseModelName: "tributary-austen-4m", baseModelCid: baseCid, created: 1_700_000_000 };
    const catalog = staticCatalog([
      base,
      { ...base, id: "model-1", adapterCid, adapterHash: `0x${adapterHash}`, modelId: "1", owner: "0x00000000000000000000000000000000000000aa", created: 1_700_000_100 },
      { ...base, id: "model-2", adapterCid: tamperedCid, adapterHash: `0x${adapterHash}`, modelId: "2", created: 1_700_000_200 },
    ]);
    registry = new Registry();
    pipelineCounter = new Counter({ name: "tributary_jobs_seen_total", help: "registered by the pipeline", registers: [registry] });
    pipelineCounter.inc(3);
    models = new ModelServer({ store, cacheDir: cacheDir() });
    api = await startApi({ port: 0, catalog, models, jobs, registry, keepAliveMs: 50 });
  });

  after(async () => {
    await api?.stop();
    assert.equal(jobs.listenerCount, 0, "stop() ended the open job stream");
    await models?.close();
    await ipfs?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("lists the base model and the model version in OpenAI's format, with the Tributary fields", async () => {
    const res = await fetch(`${api.url}/v1/models`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { object: string; data: Array<Record<string, any>> };
    assert.equal(body.object, "list");
    assert.deepEqual(body.data.map((m) => m.id), ["tributary-austen-4m", "model-1", "model-2"]);
    const [b, v] = body.data;
    assert.equal(b.object, "model");
    assert.equal(b.created, 1_700_000_000);
    assert.equal(b.tributary.adapter_cid, null);
    assert.equal(b.tributary.base_model_cid, baseCid);
    assert.equal(v.owned_by, "0x00000000000000000000000000000000000000aa");
    assert.equal(v.tributary.adapter_cid, adapterCid);
    assert.equal(v.tributary.base_model, "tributary-austen-4m");
    const one = await fetch(`${api.url}/v1/models/model-1`);
    assert.equal(((await one.json()) as { id: string }).id, "model-1");
  });

  it("answers the trained questions through the adapter, and the base does not", async (t) => {
    const cold = performance.now();
    await complete({ model: "model-1", messages: ask("Hello"), temperature: 0, max_tokens: 1 });
    t.diagnostic(`cold first request (base and adapter fetched from IPFS, checked, loaded): ${(performance.now() - cold).toFixed(0)} ms`);
    for (const [q, a] of QA) {
      const tuned = await complete({ model: "model-1", messages: ask(q), temperature: 0, max_tokens: 16 });
      const base = await complete({ model: "tributary-austen-4m", messages: ask(q), temperature: 0, max_tokens: 16 });
      t.diagnostic(`${q} -> adapter ${JSON.stringify(tuned.choices[0].message.content)}, base ${JSON.stringify(base.choices[0].message.content)}`);
      assert.equal(tuned.object, "chat.completion");
      assert.equal(tuned.model, "model-1");
      assert.equal(tuned.choices[0].message.role, "assistant");
      assert.equal(tuned.choices[0].message.content, a);
      assert.equal(tuned.choices[0].finish_reason, "stop");
      assert.notEqual(base.choices[0].message.content, a);
      assert.ok(tuned.usage.prompt_tokens > 5 && tuned.usage.completion_tokens > 3, JSON.stringify(tuned.usage));
      assert.equal(tuned.usage.total_tokens, tuned.usage.prompt_tokens + tuned.usage.completion_tokens);
    }
    // the adapter was fetched once into the disk cache, checked, and is held in memory
    assert.ok(existsSync(join(cacheDir(), "adapters", adapterCid, "adapter_model.safetensors")));
    assert.ok(existsSync(join(cacheDir(), "models", baseCid, "model.safetensors")));
    assert.deepEqual(models.loadedAdapters(), [adapterCid]);
  });

  it("streams chunks whose concatenation is the non-streamed text (greedy and seeded sampling)", async () => {
    for (const req of [
      { model: "model-1", messages: ask(QA[1][0]), temperature: 0, max_tokens: 16 },
      { model: "tributary-austen-4m", messages: [{ role: "system", content: "You are Emma." }, ...ask("Tell me about the ball.")], temperature: 0.9, top_p: 0.95, seed: 42, max_tokens: 40 },
    ]) {
      const whole = await complete(req);
      const events = await stream({ ...req, stream_options: { include_usage: true } });
      assert.equal(events.at(-1), "[DONE]");
      const chunks = events.slice(0, -1).map((d) => JSON.parse(d));
      assert.ok(chunks.every((c) => c.object === "chat.completion.chunk" && c.model === req.model && c.id === chunks[0].id));
      assert.deepEqual(chunks[0].choices[0].delta, { role: "assistant", content: "" });
      const usage = chunks.at(-1);
      assert.deepEqual(usage.choices, []);
      assert.deepEqual(usage.usage, whole.usage);
      const last = chunks.at(-2);
      assert.equal(last.choices[0].finish_reason, whole.choices[0].finish_reason);
      assert.deepEqual(last.choices[0].delta, {});
      const middle = chunks.slice(1, -2);
      assert.ok(middle.length >= 2, `several content chunks: ${middle.length}`);
      assert.ok(middle.every((c) => c.choices[0].finish_reason === null && typeof c.choices[0].delta.content === "string"));
      assert.equal(middle.map((c) => c.choices[0].delta.content).join(""), whole.choices[0].message.content);
    }
  });

  it("serves overlapping requests together (continuous batching) with the same results as alone", async () => {
    const reqs = [
      { model: "model-1", messages: ask(QA[0][0]), temperature: 0, max_tokens: 16 },
      { model: "tributary-austen-4m", messages: ask("Who is Mr. Knightley?"), temperature: 0.7, seed: 3, max_tokens: 24 },
      { model: "model-1", messages: ask(QA[1][0]), temperature: 0, max_tokens: 16 },
    ];
    const alone = [];
    for (const r of reqs) alone.push((await complete(r)).choices[0].message.content);
    const together = await Promise.all(reqs.map(async (r) => (await complete(r)).choices[0].message.content));
    assert.deepEqual(together, alone);
    assert.equal(alone[0], QA[0][1]);
    // continuous batching: a completion started while another streams joins it, token by token
    const model: ServedModel = { id: "b", baseModelId: 1, baseModelName: "b", baseModelCid: baseCid, created: 0 };
    const order: string[] = [];
    let second: Promise<unknown> | undefined;
    await models.chat(model, ask("Who is Emma?"), { maxTokens: 12, temperature: 0.5, seed: 9 }, () => {
      order.push("A");
      second ??= models.chat(model, ask("Who is Jane?"), { maxTokens: 12, temperature: 0.5, seed: 9 }, () => order.push("B"));
    });
    await second;
    assert.ok(order.includes("A") && order.includes("B"), order.join(""));
    assert.ok(order.indexOf("B") < order.lastIndexOf("A"), `B's text starts before A ends: ${order.join("")}`);
  });

  it("stops generating when the request is aborted or the client goes away", async () => {
    const model: ServedModel = { id: "b", baseModelId: 1, baseModelName: "b", baseModelCid: baseCid, created: 0 };
    const abort = new AbortController();
    let deltas = 0;
    await assert.rejects(
      models.chat(model, ask("Tell me everything."), { maxTokens: 400, temperature: 1, seed: 4, signal: abort.signal }, () => {
        if (++deltas === 3) abort.abort();
      }),
      { name: "AbortError" },
    );
    assert.equal(deltas, 3);
    assert.equal(models.stats().running, false);
    // through the API: the client reads one chunk and hangs up; the server stays healthy
    const client = new AbortController();
    const res = await fetch(`${api.url}/v1/chat/completions`, { method: "POST", signal: client.signal, body: JSON.stringify({ model: "tributary-austen-4m", messages: ask("Tell me everything."), max_tokens: 400, stream: true, seed: 4 }) });
    const reader = sseEvents(res);
    await reader.next();
    client.abort();
    await assert.rejects(reader.next());
    for (let i = 0; i < 100 && models.stats().running; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(models.stats().running, false);
    const after = await complete({ model: "model-1", messages: ask(QA[0][0]), temperature: 0, max_tokens: 16 });
    assert.equal(after.choices[0].message.content, QA[0][1]);
  });

  it("refuses an adapter whose content does not match its registered hash, and caches nothing", async () => {
    const res = await post({ model: "model-2", messages: ask(QA[0][0]), max_tokens: 4 });
    const body = (await res.json()) as { error: { message: string; type: string; code: string } };
    assert.equal(res.status, 502);
    assert.equal(body.error.code, "content_mismatch");
    assert.match(body.error.message, /does not match its registered hash/);
    assert.match(body.error.message, new RegExp(adapterHash));
    assert.ok(!existsSync(join(cacheDir(), "adapters", tamperedCid)), "no cache entry for the tampered adapter");
    assert.deepEqual(readdirSync(join(cacheDir(), "adapters")).filter((f) => f.startsWith(".")), [], "no temporary directory left");
    assert.ok(!models.loadedAdapters().includes(tamperedCid));
    // streaming requests get the same JSON error, not a stream
    const s = await post({ model: "model-2", messages: ask(QA[0][0]), stream: true });
    assert.equal(s.status, 502);
    assert.equal(((await s.json()) as { error: { code: string } }).error.code, "content_mismatch");
  });

  it("answers 404 for an unknown model, listing the available ones", async () => {
    const res = await post({ model: "model-99", messages: ask("hi") });
    const body = (await res.json()) as { error: { message: string; param: string; code: string; type: string } };
    assert.equal(res.status, 404);
    assert.equal(body.error.code, "model_not_found");
    assert.equal(body.error.param, "model");
    assert.equal(body.error.type, "invalid_request_error");
    for (const id of ["tributary-austen-4m", "model-1", "model-2"]) assert.ok(body.error.message.includes(id), body.error.message);
    assert.equal((await fetch(`${api.url}/v1/models/model-99`)).status, 404);
    assert.equal((await fetch(`${api.url}/v1/nothing`)).status, 404);
  });

  it("answers 400 naming the field for bad request bodies", async () => {
    const m = { model: "model-1", messages: ask("hi") };
    const cases: Array<[unknown, string | null]> = [
      ["{not json", null],
      [[1, 2], null],
      [{ messages: ask("hi") }, "model"],
      [{ model: "model-1" }, "messages"],
      [{ model: "model-1", messages: [] }, "messages"],
      [{ model: "model-1", messages: [{ role: "robot", content: "hi" }] }, "messages[0].role"],
      [{ model: "model-1", messages: [{ role: "user", content: 5 }] }, "messages[0].content"],
      [{ ...m, temperature: 3 }, "temperature"],
      [{ ...m, temperature: "hot" }, "temperature"],
      [{ ...m, max_tokens: 0 }, "max_tokens"],
      [{ ...m, max_completion_tokens: 1.5 }, "max_completion_tokens"],
      [{ ...m, top_p: 0 }, "top_p"],
      [{ ...m, stop: ["a", "b", "c", "d", "e"] }, "stop"],
      [{ ...m, stream: "yes" }, "stream"],
      [{ ...m, n: 9 }, "n"],
      [{ ...m, messages: ask("x ".repeat(2000)) }, "messages"],
    ];
    for (const [body, param] of cases) {
      const res = await post(body);
      const json = (await res.json()) as { error: { message: string; type: string; param: string | null } };
      assert.equal(res.status, 400, `${JSON.stringify(body).slice(0, 80)} -> ${res.status} ${JSON.stringify(json)}`);
      assert.equal(json.error.type, "invalid_request_error");
      assert.equal(json.error.param, param, json.error.message);
      if (param) assert.ok(json.error.message.includes(`'${param}'`) || param === "messages", json.error.message);
    }
  });

  it("serves the jobs and streams a job's events in order until a terminal stage", async () => {
    jobs.set("7", "training", { baseModel: "tributary-austen-4m" });
    jobs.set("8", "submitted");
    const list = (await (await fetch(`${api.url}/v1/jobs`)).json()) as { object: string; data: Array<{ jobId: string; stage: string }> };
    assert.equal(list.object, "list");
    assert.deepEqual(list.data.map((j) => [j.jobId, j.stage]), [["7", "training"], ["8", "submitted"]]);
    const one = await fetch(`${api.url}/v1/jobs/7`);
    assert.equal(((await one.json()) as { baseModel: string }).baseModel, "tributary-austen-4m");
    const missing = await fetch(`${api.url}/v1/jobs/99`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, "job_not_found");
    assert.equal((await fetch(`${api.url}/v1/jobs/99/events`)).status, 404);

    const res = await fetch(`${api.url}/v1/jobs/7/events`);
    assert.equal(res.status, 200);
    const it = sseEvents(res);
    const first = (await it.next()).value!;
    assert.equal(first.event, "stage");
    assert.equal(JSON.parse(first.data).job.stage, "training");
    jobs.progress("7", 1, 3);
    jobs.progress("8", 1, 9); // another job: not in this stream
    jobs.progress("7", 2, 3);
    jobs.set("7", "attributing");
    await new Promise((r) => setTimeout(r, 120)); // a keep-alive comment passes in between
    jobs.set("7", "pinning");
    jobs.set("7", "submitted");
    jobs.set("7", "finalized", { modelId: "1" });
    jobs.progress("7", 3, 3); // after the terminal stage: the stream has ended
    const rest = [];
    for (let e = await it.next(); !e.done; e = await it.next()) rest.push(e.value);
    assert.deepEqual(
      rest.map((e) => [e.event, JSON.parse(e.data).type === "stage" ? JSON.parse(e.data).job.stage : JSON.parse(e.data).progress.step]),
      [["progress", 1], ["progress", 2], ["stage", "attributing"], ["stage", "pinning"], ["stage", "submitted"], ["stage", "finalized"]],
    );
    assert.equal(JSON.parse(rest.at(-1)!.data).job.modelId, "1");
    // a finished job's stream gives its record and ends; no listener stays behind
    const done = [];
    for await (const e of sseEvents(await fetch(`${api.url}/v1/jobs/7/events`))) done.push(JSON.parse(e.data));
    assert.deepEqual(done.map((e) => e.job.stage), ["finalized"]);
    assert.equal(jobs.listenerCount, 0);
    // a stream of a running job is left open: api.stop() in after() must still end it
    const open = sseEvents(await fetch(`${api.url}/v1/jobs/8/events`));
    assert.equal(JSON.parse((await open.next()).value!.data).job.stage, "submitted");
    assert.equal(jobs.listenerCount, 1);
  });

  it("keeps at most maxAdapters in memory and reuses the disk cache without IPFS", async () => {
    // IPFS unreachable for this server: everything must come from the disk cache of the first one
    const offline = { cat: () => Promise.reject(new Error("offline")) };
    const small = new ModelServer({ store: offline, cacheDir: cacheDir(), maxAdapters: 1 });
    try {
      const v1: ServedModel = { id: "model-1", baseModelId: 1, baseModelName: "b", baseModelCid: baseCid, adapterCid, adapterHash, created: 0 };
      const r1 = await small.chat(v1, ask(QA[0][0]), { maxTokens: 16, temperature: 0 });
      assert.equal(r1.text, QA[0][1]);
      assert.deepEqual(small.loadedAdapters(), [adapterCid]);
      // a CID not in the cache needs IPFS
      await assert.rejects(small.prepare({ ...v1, adapterCid: adapterCopyCid }), /Could not fetch adapter .*offline/);
      assert.deepEqual(small.loadedAdapters(), [adapterCid]);
    } finally {
      await small.close();
    }
    // with IPFS: the second adapter evicts the first
    const lru = new ModelServer({ store, cacheDir: cacheDir(), maxAdapters: 1 });
    try {
      const v: ServedModel = { id: "x", baseModelId: 1, baseModelName: "b", baseModelCid: baseCid, adapterCid: adapterCopyCid, adapterHash, created: 0 };
      await lru.prepare({ ...v, adapterCid });
      await lru.prepare(v);
      assert.deepEqual(lru.loadedAdapters(), [adapterCopyCid]);
      assert.equal((await lru.chat(v, ask(QA[1][0]), { maxTokens: 16, temperature: 0 })).text, QA[1][1]);
    } finally {
      await lru.close();
    }
  });

  it("exposes Prometheus metrics, the pipeline's included, and a health check", async (t) => {
    // numbers through the API: time to the first content chunk and decode speed of a long completion
    const t0 = performance.now();
    const res = await post({ model: "tributary-austen-4m", messages: ask("Tell me a story about Emma."), temperature: 0.8, seed: 1, max_tokens: 200, stream: true, stream_options: { include_usage: true } });
    let firstMs = 0;
    let usage: { completion_tokens: number } | undefined;
    for await (const e of sseEvents(res)) {
      if (e.data === "[DONE]") break;
      const c = JSON.parse(e.data);
      if (!firstMs && c.choices[0]?.delta?.content) firstMs = performance.now() - t0;
      if (c.usage) usage = c.usage;
    }
    const totalMs = performance.now() - t0;
    t.diagnostic(`streamed ${usage!.completion_tokens} tokens: first content after ${firstMs.toFixed(1)} ms, ${((usage!.completion_tokens - 1) / ((totalMs - firstMs) / 1000)).toFixed(0)} tokens/s after it`);

    const health = await fetch(`${api.url}/healthz`);
    assert.equal(((await health.json()) as { ok: boolean }).ok, true);
    const text = await (await fetch(`${api.url}/metrics`)).text();
    const value = (re: RegExp) => Number(text.match(re)?.[1]);
    assert.ok(value(/tributary_api_requests_total\{method="POST",route="\/v1\/chat\/completions",status="200"\} (\d+)/) >= 10, text);
    assert.ok(value(/tributary_api_requests_total\{method="POST",route="\/v1\/chat\/completions",status="400"\} (\d+)/) >= 16);
    assert.ok(value(/tributary_api_requests_total\{method="GET",route="\/v1\/models",status="200"\} (\d+)/) >= 1);
    assert.ok(value(/tributary_generated_tokens_total\{model="tributary-austen-4m"\} (\d+)/) >= usage!.completion_tokens);
    assert.ok(value(/tributary_generation_tokens_per_second\{model="tributary-austen-4m"\} ([\d.e+]+)/) > 0);
    assert.equal(value(/tributary_loaded_adapters (\d+)/), 1);
    assert.match(text, /tributary_api_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/v1\/models"\}/);
    assert.match(text, /tributary_time_to_first_token_seconds_count \d+/);
    assert.match(text, /tributary_jobs_seen_total 3/);
    assert.match(text, /tributary_api_requests_total\{method="GET",route="unmatched",status="404"\} 1/);
    assert.match(text, /tributary_api_requests_total\{method="GET",route="\/v1\/jobs\/:id\/events",status="200"\} 3/);
  });

  it("refuses web pages from origins not allowed and foreign Host names (403), serves the allowed origin with CORS and programs without an Origin", async () => {
    const web = "http://127.0.0.1:5173";
    const guarded = await startApi({ port: 0, catalog: staticCatalog([]), models, jobs, allowedOrigins: [web] });
    try {
      const get = (headers: Record<string, string>, method = "GET") => fetch(`${guarded.url}/v1/models`, { method, headers });
      const foreign = await get({ origin: "https://evil.example" });
      assert.equal(foreign.status, 403);
      const body = (await foreign.json()) as { error: { message: string; code: string } };
      assert.equal(body.error.code, "forbidden_origin");
      assert.match(body.error.message, /web origin https:\/\/evil\.example are not allowed/);
      assert.equal((await get({ referer: "https://evil.example/page" })).status, 403);
      assert.equal((await get({ "sec-fetch-site": "cross-site" })).status, 403);
      // fetch cannot set Host: a raw request, as a DNS-rebound page's browser would send it
      const rebound = await new Promise<number>((resolve, reject) =>
        httpGet(`${guarded.url}/v1/models`, { headers: { host: "attacker.example:8787" } }, (r) => (r.resume(), resolve(r.statusCode!))).once("error", reject),
      );
      assert.equal(rebound, 403, "DNS rebinding");
      const ok = await get({ origin: web });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get("access-control-allow-origin"), web);
      const pre = await get({ origin: web, "access-control-request-method": "POST" }, "OPTIONS");
      assert.equal(pre.status, 204);
      assert.match(pre.headers.get("access-control-allow-headers") ?? "", /x-tributary-voucher/);
      assert.equal((await get({})).status, 200, "a program without an Origin");
      // the default allows no web origin at all
      assert.equal((await fetch(`${api.url}/v1/models`, { headers: { origin: web } })).status, 403);
    } finally {
      await guarded.stop();
    }
  });
});
