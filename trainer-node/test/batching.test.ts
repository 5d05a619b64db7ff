// Continuous batching on real components: the committed base model and two LoRA adapters trained here,
// served from an embedded IPFS node on the `wasm` kernel (whose products do not depend on the batch
// size). Concurrent requests decoded together, with different adapters and one joining a running batch
// mid-stream, must give exactly the tokens that one-at-a-time decoding gives; a full queue answers 429
// with Retry-After before any byte of a response.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { ChatTokenizer, fineTune, selectKernel } from "@tributary/engine";
import type { Kernel, Projection } from "@tributary/engine";
import { KuboContentStore } from "@tributary/sdk/content";
import { startIpfsNode } from "@tributary/sdk/ipfs";
import type { IpfsNode } from "@tributary/sdk/ipfs";
import { ModelServer, staticCatalog, startApi } from "../src/serve/index.ts";
import type { CompletionRequest, CompletionResult } from "../src/serve/index.ts";
import type { ServedModel } from "../src/types.ts";
import { MemoryJobs, addDirectory, sseEvents } from "./helpers/serve.ts";

const BASE_DIR = fileURLToPath(new URL("../models/tributary-austen-4m/", import.meta.resolve("@tributary/engine")));
const ADAPTER_FILES = ["adapter_config.json", "adapter_model.safetensors"];

describe("continuous batching: batched decoding equals one-at-a-time decoding", { timeout: 300_000 }, () => {
  let tmp: string;
  let ipfs: IpfsNode;
  let store: KuboContentStore;
  let kernel: Kernel;
  let tokenizer: ChatTokenizer;
  const served: ServedModel[] = [];

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "batching-test-"));
    ipfs = await startIpfsNode({ repo: join(tmp, "ipfs"), apiPort: 0, gatewayPort: 0 });
    store = new KuboContentStore({ url: ipfs.apiUrl });
    kernel = await selectKernel("wasm", 2);
    tokenizer = await ChatTokenizer.fromDir(BASE_DIR);
    const baseCid = await addDirectory(store, BASE_DIR, readdirSync(BASE_DIR).filter((f) => f !== "README.md"));
    const base: ServedModel = { id: "base", baseModelId: 1, baseModelName: "tributary-austen-4m", baseModelCid: baseCid, created: 1 };
    served.push(base);
    // two adapters with different targets and ranks, so that rows of one batch really differ
    const specs: { seed: number; r: number; modules: Projection[]; qa: [string, string] }[] = [
      { seed: 1, r: 8, modules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], qa: ["Who wrote Emma?", "Jane Austen, in 1815."] },
      { seed: 2, r: 4, modules: ["q_proj", "v_proj", "down_proj"], qa: ["Where is Pemberley?", "In Derbyshire, near Lambton."] },
    ];
    for (const [i, s] of specs.entries()) {
      const out = join(tmp, `adapter-${i}`);
      await fineTune({ modelDir: BASE_DIR, records: [{ messages: [{ role: "user", content: s.qa[0] }, { role: "assistant", content: s.qa[1] }] }], evalSplit: 0, outDir: out, method: "lora", kernel, config: { lr: 2e-2, epochs: 8, batchSize: 1, warmupSteps: 0, seed: s.seed, lora: { r: s.r, alpha: 2 * s.r, targetModules: s.modules } } });
      const adapterCid = await addDirectory(store, out, ADAPTER_FILES);
      const adapterHash = createHash("sha256").update(readFileSync(join(out, "adapter_model.safetensors"))).digest("hex");
      served.push({ ...base, id: `model-${i + 1}`, adapterCid, adapterHash, modelId: String(i + 1) });
    }
  });

  after(async () => {
    await kernel?.dispose();
    await ipfs?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const chat = (q: string) => tokenizer.encode(tokenizer.applyChatTemplate([{ role: "user", content: q }], { addGenerationPrompt: true }));
  const eos = () => new Map([[tokenizer.eosId ?? 0, -100]]);
  // [model index, request]: greedy on each model, a long greedy one without EOS, sampled n=2 with a seed
  const requests = (): [number, CompletionRequest][] => [
    [0, { prompt: chat("Tell me about Mr. Darcy and Elizabeth."), maxTokens: 40, temperature: 0, logitBias: eos() }],
    [1, { prompt: chat("Who wrote Emma?"), maxTokens: 20, temperature: 0 }],
    [2, { prompt: chat("Where is Pemberley?"), maxTokens: 20, temperature: 0 }],
    [1, { prompt: chat("What did Jane Bennet say at the ball, and to whom?"), maxTokens: 24, temperature: 0, logitBias: eos() }],
    [2, { prompt: chat("Describe Longbourn."), maxTokens: 16, temperature: 1, seed: 7, n: 2 }],
    [0, { prompt: chat("Who is Mr. Bingley?"), maxTokens: 12, temperature: 0 }],
  ];
  const ids = (r: CompletionResult) => r.choices.map((c) => c.ids);

  it("gives every request the tokens it gets alone: mixed adapters in one batch, a request joining mid-stream", async () => {
    const alone = new ModelServer({ store, cacheDir: join(tmp, "cache-alone"), kernel, batching: false });
    const batched = new ModelServer({ store, cacheDir: join(tmp, "cache-batched"), kernel });
    try {
      const reqs = requests();
      const expected: number[][][] = [];
      for (const [m, req] of reqs) expected.push(ids(await alone.complete(served[m], req)));
      for (const m of served) await batched.prepare(m);

      // requests 0..4 start together; request 5 joins once request 0 has streamed 5 tokens
      const log: string[] = [];
      let firstFive!: () => void;
      const fiveSeen = new Promise<void>((r) => (firstFive = r));
      let count0 = 0;
      const running = reqs.slice(0, 5).map(([m, req], i) =>
        batched.complete(served[m], req, () => {
          log.push(`r${i}`);
          if (i === 0 && ++count0 === 5) firstFive();
        }),
      );
      await fiveSeen;
      const [m5, req5] = reqs[5];
      const joined = batched.complete(served[m5], req5, () => log.push("r5"));
      const got = [...(await Promise.all(running)), await joined].map(ids);
      for (let i = 0; i < reqs.length; i++) assert.deepEqual(got[i], expected[i], `request ${i} (model ${served[reqs[i][0]].id}) decodes the same batched as alone`);
      assert.ok(batched.scheduler!.peakRows >= 5, `sequences decoded together (peak batch ${batched.scheduler!.peakRows})`);
      const lastOf0 = log.lastIndexOf("r0");
      assert.ok(log.indexOf("r5") >= 0 && log.indexOf("r5") < lastOf0, "the late request streamed while request 0 was still running");
      assert.ok(expected[0][0].length === 40, "the long request ran its full length");
    } finally {
      await alone.close();
      await batched.close();
    }
  });

  it("refuses a request with 429 and Retry-After when the queue is full, before any byte is sent", async () => {
    const models = new ModelServer({ store, cacheDir: join(tmp, "cache-busy"), kernel, batching: { maxRunning: 1, maxQueued: 1 } });
    const api = await startApi({ port: 0, catalog: staticCatalog(served), models, jobs: new MemoryJobs() });
    const post = (body: Record<string, unknown>, signal?: AbortSignal) => fetch(`${api.url}/v1/completions`, { method: "POST", signal, headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "base", prompt: "Mr. Darcy", ...body }) });
    const client = new AbortController();
    try {
      // one running (a long stream), one waiting: the queue (1) is full
      const first = await post({ max_tokens: 400, stream: true, logit_bias: { [tokenizer.eosId ?? 0]: -100 } }, client.signal);
      assert.equal(first.status, 200);
      const events = sseEvents(first)[Symbol.asyncIterator]();
      await events.next();
      await events.next(); // generating
      const second = post({ max_tokens: 2 });
      for (let i = 0; i < 200 && models.stats().queued < 1; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(models.stats().queued, 1, "the second request waits");
      const third = await post({ max_tokens: 2, stream: true });
      const body = (await third.json()) as { error: { code: string; type: string; message: string } };
      assert.equal(third.status, 429, JSON.stringify(body));
      assert.equal(body.error.code, "rate_limit_exceeded");
      assert.match(third.headers.get("retry-after") ?? "", /^[1-9]\d*$/);
      assert.ok(Number(third.headers.get("retry-after-ms")) >= 1000);
      client.abort();
      const r2 = await second;
      assert.equal(r2.status, 200, "the waiting request is served once the running one leaves");
    } finally {
      client.abort();
      await api.stop();
      await models.close();
    }
  });
  it("loads and unloads adapters at runtime through vLLM's API, for the admin token only", async () => {
    const catalog = staticCatalog(served.slice(0, 2)); // base and model-1; model-2's adapter comes at runtime
    const models = new ModelServer({ store, cacheDir: join(tmp, "cache-runtime"), kernel });
    const closed = await startApi({ port: 0, catalog, models, jobs: new MemoryJobs() });
    const api = await startApi({ port: 0, catalog, models, jobs: new MemoryJobs(), adminToken: "s3cret" });
    const call = (url: string, path: string, body: unknown, token?: string) => fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
    const ask = async (model: string) => {
      const res = await call(api.url, "/v1/completions", { model, prompt: chat("Where is Pemberley?"), max_tokens: 12, temperature: 0 });
      return { status: res.status, body: (await res.json()) as { choices?: { text: string }[]; error?: { code: string } } };
    };
    const load = { lora_name: "pemberley", lora_path: `ipfs://${served[2].adapterCid}`, adapter_hash: served[2].adapterHash };
    try {
      assert.equal((await call(closed.url, "/v1/load_lora_adapter", load, "s3cret")).status, 403, "disabled without an admin token");
      assert.equal((await call(api.url, "/v1/load_lora_adapter", load)).status, 401);
      assert.equal((await call(api.url, "/v1/load_lora_adapter", load, "wrong")).status, 401);
      assert.equal((await ask("pemberley")).status, 404);
      const ok = await call(api.url, "/v1/load_lora_adapter", load, "s3cret");
      assert.equal(ok.status, 200);
      assert.equal(await ok.text(), "Success: LoRA adapter 'pemberley' added successfully.");
      const again = await call(api.url, "/v1/load_lora_adapter", load, "s3cret");
      assert.equal(again.status, 400);
      assert.equal(((await again.json()) as { error: { code: string } }).error.code, "adapter_exists");
      assert.equal((await call(api.url, "/v1/load_lora_adapter", { ...load, lora_name: "model-1" }, "s3cret")).status, 400, "a catalog id is taken");
      const bad = await call(api.url, "/v1/load_lora_adapter", { ...load, lora_name: "x", lora_path: "../etc" }, "s3cret");
      assert.equal(bad.status, 400);
      const listed = (await (await fetch(`${api.url}/v1/models`)).json()) as { data: { id: string; tributary: { kind: string; adapter_cid: string } }[] };
      const entry = listed.data.find((m) => m.id === "pemberley")!;
      assert.equal(entry.tributary.kind, "runtime-adapter");
      assert.equal(entry.tributary.adapter_cid, served[2].adapterCid);
      // it answers as the same adapter does through the catalog (model-2 in the first test's server)
      const viaRuntime = await ask("pemberley");
      assert.equal(viaRuntime.status, 200, JSON.stringify(viaRuntime.body));
      const reference = new ModelServer({ store, cacheDir: join(tmp, "cache-runtime-ref"), kernel, batching: false });
      const expected = await reference.complete(served[2], { prompt: chat("Where is Pemberley?"), maxTokens: 12, temperature: 0 });
      await reference.close();
      assert.equal(viaRuntime.body.choices![0].text, expected.choices[0].text);
      assert.notEqual(viaRuntime.body.choices![0].text, (await ask("base")).body.choices![0].text, "the adapter changes the answer");

      assert.equal((await call(api.url, "/v1/unload_lora_adapter", { lora_name: "pemberley" })).status, 401);
      const gone = await call(api.url, "/v1/unload_lora_adapter", { lora_name: "pemberley" }, "s3cret");
      assert.equal(gone.status, 200);
      assert.equal(await gone.text(), "Success: LoRA adapter 'pemberley' removed successfully.");
      assert.equal(models.loadedAdapters().includes(served[2].adapterCid!), false, "its weights left memory");
      assert.equal((await ask("pemberley")).status, 404);
      assert.equal((await call(api.url, "/v1/unload_lora_adapter", { lora_name: "pemberley" }, "s3cret")).status, 404);
    } finally {
      await closed.stop();
      await api.stop();
      await models.close();
    }
  });
});
