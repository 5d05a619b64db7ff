// The `external` serving backend against a second trainer node as the upstream OpenAI-compatible server
// (vLLM cannot run here; the node exposes the same runtime LoRA API). Real components: a Hardhat chain
// with a priced model version, an embedded IPFS node with the committed base model and an adapter, two
// nodes over HTTP. The fronting node routes the base model to the upstream (createServing routes), checks
// the voucher before anything is fetched or loaded upstream, bills and cites; the upstream loads the
// adapter through /v1/load_lora_adapter and generates. Greedy answers equal the engine's own unbatched
// answer for the same adapter.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import type { Hex } from "viem";
import { createLoraAdapter, loraConfig, readConfig, saveAdapter, selectKernel } from "@tributary/engine";
import type { Kernel } from "@tributary/engine";
import { openChannel, signVoucher } from "@tributary/sdk/chain";
import type { ChainConnection } from "@tributary/sdk/chain";
import { startContentStore, startDevChain } from "../../sdk/test/helpers/devchain.ts";
import type { DevChain } from "../../sdk/test/helpers/devchain.ts";
import { Billing, chainCatalog, createServing, ModelServer, parseRoutes, staticCatalog, startApi } from "../src/serve/index.ts";
import type { ApiServer, Serving } from "../src/serve/index.ts";
import type { ServedModel } from "../src/types.ts";
import { pricedModels } from "./helpers/priced-models.ts";
import { MemoryJobs, sseEvents } from "./helpers/serve.ts";

const BASE_DIR = fileURLToPath(new URL("../models/tributary-austen-4m/", import.meta.resolve("@tributary/engine")));
const BASE_NAME = "tributary-austen-4m";
const PRICE = 1000n; // 1 wei per token: owed counts tokens
const TOKEN = "upstream-admin-token";

describe("external backend: a second node as the upstream OpenAI-compatible server", { timeout: 300_000 }, () => {
  let chain: DevChain;
  let ipfs: Awaited<ReturnType<typeof startContentStore>>;
  let kernel: Kernel;
  let provider: ChainConnection;
  let payer: ChainConnection;
  let modelId = 0n;
  let adapterCid = "";
  let upstream: { api: ApiServer; models: ModelServer };
  let front: { api: ApiServer; models: Serving; billing: Billing; cacheDir: string };
  let reference: ModelServer;
  let served: ServedModel;
  const cited: number[][] = [];
  const tmp = mkdtempSync(join(tmpdir(), "serve-external-"));

  before(async () => {
    chain = await startDevChain();
    ipfs = await startContentStore();
    const m = await pricedModels(chain, ipfs.store, BASE_DIR, BASE_NAME, PRICE);
    ({ provider, payer } = m);
    // an adapter whose deltas are large enough to change the greedy answer
    const a = createLoraAdapter(await readConfig(BASE_DIR), loraConfig({ r: 4, alpha: 8, targetModules: ["q_proj", "v_proj"] }), 7);
    let s = 11;
    for (const mod of a.modules.values()) for (let j = 0; j < mod.B.length; j++) mod.B[j] = ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.5;
    const dir = join(tmp, "adapter");
    await saveAdapter(dir, a);
    const v = await m.mint(dir);
    served = v;
    adapterCid = v.adapterCid;
    modelId = BigInt(v.modelId);

    kernel = await selectKernel("wasm", 1);
    const upModels = new ModelServer({ store: ipfs.store, cacheDir: join(tmp, "upstream"), kernel });
    upstream = { api: await startApi({ port: 0, catalog: staticCatalog([m.base]), models: upModels, jobs: new MemoryJobs(), adminToken: TOKEN }), models: upModels };
    const cacheDir = join(tmp, "front");
    const billing = await Billing.open({ conn: provider, file: join(tmp, "vouchers.json"), redeemEveryMs: 0 });
    const models = createServing({ store: ipfs.store, cacheDir, kernel, routes: { [BASE_NAME]: { backend: "external", url: upstream.api.url, adminToken: TOKEN } } });
    const api = await startApi({ port: 0, catalog: chainCatalog(provider), models, jobs: new MemoryJobs(), billing, citations: async (_m, ids) => (cited.push(ids), [{ tokens: ids.length }]) });
    front = { api, models, billing, cacheDir };
    reference = new ModelServer({ store: ipfs.store, cacheDir: join(tmp, "reference"), kernel, batching: false });
  });

  after(async () => {
    await front?.api.stop();
    await front?.billing.close();
    await front?.models.close();
    await upstream?.api.stop();
    await upstream?.models.close();
    await reference?.close();
    await kernel?.dispose();
    await ipfs?.stop();
    await chain?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const post = (path: string, body: unknown, voucher?: unknown, signal?: AbortSignal) =>
    fetch(`${front.api.url}${path}`, { method: "POST", signal, headers: { "content-type": "application/json", ...(voucher ? { "x-tributary-voucher": JSON.stringify(voucher) } : {}) }, body: JSON.stringify(body) });
  const upstreamAdapters = async () => ((await (await fetch(`${upstream.api.url}/v1/models`)).json()) as { data: { id: string; tributary: { kind: string } }[] }).data.filter((m) => m.tributary.kind === "runtime-adapter").map((m) => m.id);
  const messages = [{ role: "user", content: "Who is Mr. Darcy?" }];

  it("routes the base model to the external backend (parseRoutes checks the JSON)", () => {
    assert.equal(front.models.backendOf(served).name, "external");
    assert.deepEqual(parseRoutes(JSON.stringify({ x: { backend: "external", url: "http://127.0.0.1:1" } })), { x: { backend: "external", url: "http://127.0.0.1:1" } });
    assert.throws(() => parseRoutes('{"x": {"backend": "nope"}}'), /must be one of engine, external/);
    assert.throws(() => parseRoutes("{"), /not JSON/);
  });

  let channelId: Hex;
  let owed = 0n;

  it("answers 402 before the upstream loads anything, then serves the paid request with the engine's greedy answer, billed and cited", async () => {
    const unpaid = await post("/v1/chat/completions", { model: served.id, messages, max_tokens: 12 });
    assert.equal(unpaid.status, 402);
    assert.deepEqual(await upstreamAdapters(), [], "nothing loaded upstream for an unpaid request");
    assert.equal(existsSync(join(front.cacheDir, "models")), false, "nothing fetched by the fronting node");

    ({ channelId } = await openChannel(payer, { provider: provider.account!.address, modelId, amount: 10_000n }));
    const res = await post("/v1/chat/completions", { model: served.id, messages, max_tokens: 12, temperature: 0 }, await signVoucher(payer, { channelId, cumulativeAmount: 0n }));
    const body = (await res.json()) as { choices: { message: { content: string } }[]; usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number }; tributary: { billing: { owed: string }; citations: unknown[] } };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.deepEqual(await upstreamAdapters(), [`tributary-${adapterCid}`], "the adapter was loaded upstream through /v1/load_lora_adapter");

    const tok = await reference.tokenizer(served);
    const want = await reference.chat(served, messages, { maxTokens: 12, temperature: 0 });
    assert.equal(body.choices[0].message.content, want.text, "the upstream's greedy answer equals the engine's unbatched answer for this adapter");
    const plain = await reference.chat({ ...served, id: BASE_NAME, adapterCid: undefined, adapterHash: undefined, modelId: undefined }, messages, { maxTokens: 12, temperature: 0 });
    assert.notEqual(plain.text, want.text, "the adapter changes the answer (so the upstream applied it)");
    assert.equal(body.usage.prompt_tokens, want.promptTokens);
    assert.equal(body.usage.completion_tokens, want.completionTokens);
    owed = BigInt(body.usage.total_tokens);
    assert.equal(body.tributary.billing.owed, owed.toString(), "billed by the fronting node: prompt + completion tokens");
    assert.deepEqual(cited.at(-1), tok.encode(want.text), "cited on the completion's tokens (re-tokenized)");
    assert.deepEqual(body.tributary.citations, [{ tokens: cited.at(-1)!.length }]);
  });

  it("streams through the upstream with the same answer, and bills an aborted stream for what it streamed", async () => {
    const want = await reference.chat(served, messages, { maxTokens: 12, temperature: 0 });
    const res = await post("/v1/chat/completions", { model: served.id, messages, max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true } }, await signVoucher(payer, { channelId, cumulativeAmount: owed }));
    assert.equal(res.status, 200);
    let text = "";
    let usage: { total_tokens: number } | null = null;
    let billed = "";
    for await (const e of sseEvents(res)) {
      if (e.data === "[DONE]") break;
      const j = JSON.parse(e.data) as { choices: { delta: { content?: string } }[]; usage?: { total_tokens: number } | null; tributary?: { billing: { owed: string } } };
      text += j.choices[0]?.delta.content ?? "";
      if (j.usage) usage = j.usage;
      if (j.tributary) billed = j.tributary.billing.owed;
    }
    assert.equal(text, want.text);
    owed += BigInt(usage!.total_tokens);
    assert.equal(billed, owed.toString());

    // a client that goes away after the first content: the node closes the upstream stream and bills what came
    const abort = new AbortController();
    const r2 = await post("/v1/completions", { model: served.id, prompt: "It is a truth", max_tokens: 200, temperature: 0, logit_bias: { 1: -100 }, stream: true }, await signVoucher(payer, { channelId, cumulativeAmount: owed }), abort.signal);
    assert.equal(r2.status, 200);
    await assert.rejects(async () => {
      for await (const e of sseEvents(r2)) if (e.data !== "[DONE]" && (JSON.parse(e.data) as { choices: { text: string }[] }).choices[0]?.text) abort.abort();
    }, /abort/i);
    let ch = front.billing.channel(channelId);
    for (let i = 0; i < 200 && ch?.reserved !== "0"; i++) {
      await new Promise((r) => setTimeout(r, 25));
      ch = front.billing.channel(channelId);
    }
    const charged = BigInt(ch!.owed) - owed;
    const tok = await reference.tokenizer(served);
    const prompt = tok.encode("It is a truth", { bos: tok.addBos }).length;
    assert.ok(charged > BigInt(prompt) && charged < BigInt(prompt + 200), `an aborted stream is billed its prompt and what was streamed (charged ${charged}, prompt ${prompt})`);
  });

  it("refuses what the external backend cannot do with a 400 that says so", async () => {
    const ch = front.billing.channel(channelId)!;
    const res = await post("/v1/chat/completions", { model: served.id, messages, max_tokens: 4, response_format: { type: "json_object" } }, await signVoucher(payer, { channelId, cumulativeAmount: BigInt(ch.owed) }));
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(body.error.code, "unsupported_on_backend");
    assert.match(body.error.message, /external backend/);
  });
});
