// The `llama-cpp` serving backend (llama.cpp through node-llama-cpp) behind the OpenAI API, on real
// components: a Hardhat chain with a priced model version, an embedded IPFS node with the committed base
// model and two adapters. The node exports the base and each adapter to GGUF with the engine's exporter,
// serves the paid model version through a pool of contexts per adapter, and bills and cites as on the
// engine. Greedy tokens equal the engine's unbatched greedy tokens for the same adapter; with one context
// and a recycle after every adapter, alternating adapters reload the model and still answer the same.
// Skips only where node-llama-cpp has no prebuilt llama.cpp binary (allow-listed like the engine's GGUF tests).
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
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { Billing, chainCatalog, createServing, ModelServer, startApi } from "../src/serve/index.ts";
import type { ApiServer, LlamaCppBackend, Serving } from "../src/serve/index.ts";
import type { ServedModel } from "../src/types.ts";
import { pricedModels } from "./helpers/priced-models.ts";
import { MemoryJobs, sseEvents } from "./helpers/serve.ts";

const BASE_DIR = fileURLToPath(new URL("../models/tributary-austen-4m/", import.meta.resolve("@tributary/engine")));
const BASE_NAME = "tributary-austen-4m";
const PRICE = 1000n; // 1 wei per token: owed counts tokens

describe("llama.cpp backend: GGUF exported by the engine, contexts pooled per adapter", { timeout: 300_000 }, () => {
  let chain: DevChain;
  let ipfs: Awaited<ReturnType<typeof startContentStore>>;
  let kernel: Kernel;
  let provider: ChainConnection;
  let payer: ChainConnection;
  let unavailable: string | undefined;
  const versions: ServedModel[] = [];
  let front: { api: ApiServer; models: Serving; billing: Billing; cacheDir: string };
  let reference: ModelServer;
  const cited: number[][] = [];
  const tmp = mkdtempSync(join(tmpdir(), "serve-llamacpp-"));

  before(async () => {
    try {
      await (await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error })).dispose();
    } catch (err) {
      unavailable = `node-llama-cpp has no usable llama.cpp binary here: ${(err as Error).message}`;
      return;
    }
    chain = await startDevChain();
    ipfs = await startContentStore();
    const m = await pricedModels(chain, ipfs.store, BASE_DIR, BASE_NAME, PRICE);
    ({ provider, payer } = m);
    for (const seed of [7, 8]) {
      // adapters on every projection, large enough to change the greedy answer
      const a = createLoraAdapter(await readConfig(BASE_DIR), loraConfig({ r: 4, alpha: 8, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] }), seed);
      let s = seed * 1000 + 11;
      for (const mod of a.modules.values()) for (let j = 0; j < mod.B.length; j++) mod.B[j] = ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.3;
      const dir = join(tmp, `adapter-${seed}`);
      await saveAdapter(dir, a);
      versions.push(await m.mint(dir));
    }
    kernel = await selectKernel("wasm", 1);
    const cacheDir = join(tmp, "front");
    const billing = await Billing.open({ conn: provider, file: join(tmp, "vouchers.json"), redeemEveryMs: 0 });
    // one context at a time, the model reloaded after every adapter: alternating adapters exercise both
    const models = createServing({ store: ipfs.store, cacheDir, kernel, routes: { [BASE_NAME]: { backend: "llama-cpp", threads: 1, sequencesPerContext: 2, maxContexts: 1, recycleAfterAdapters: 1 } } });
    const api = await startApi({ port: 0, catalog: chainCatalog(provider), models, jobs: new MemoryJobs(), billing, citations: async (_m, ids) => (cited.push(ids), [{ tokens: ids.length }]) });
    front = { api, models, billing, cacheDir };
    reference = new ModelServer({ store: ipfs.store, cacheDir: join(tmp, "reference"), kernel, batching: false });
  });

  after(async () => {
    await front?.api.stop();
    await front?.billing.close();
    await front?.models.close();
    await reference?.close();
    await kernel?.dispose();
    await ipfs?.stop();
    await chain?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const post = (path: string, body: unknown, voucher?: unknown) => fetch(`${front.api.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...(voucher ? { "x-tributary-voucher": JSON.stringify(voucher) } : {}) }, body: JSON.stringify(body) });
  const messages = [{ role: "user", content: "Who is Mr. Darcy?" }];
  const channels: Hex[] = [];
  const owed = [0n, 0n];
  const voucher = async (k: number, ahead = 0n) => signVoucher(payer, { channelId: channels[k], cumulativeAmount: owed[k] + ahead });

  it("answers 402 before exporting or loading anything, then the engine's greedy tokens through llama.cpp, billed and cited", async (t) => {
    if (unavailable) return t.skip(unavailable);
    const llama = front.models.backendOf(versions[0]) as LlamaCppBackend;
    assert.equal(llama.name, "llama-cpp");
    const unpaid = await post("/v1/chat/completions", { model: versions[0].id, messages, max_tokens: 16 });
    assert.equal(unpaid.status, 402);
    assert.equal(existsSync(join(front.cacheDir, "gguf")), false, "nothing exported or loaded for an unpaid request");

    for (const v of versions) channels.push((await openChannel(payer, { provider: provider.account!.address, modelId: BigInt(v.modelId!), amount: 10_000n })).channelId);
    const res = await post("/v1/chat/completions", { model: versions[0].id, messages, max_tokens: 16, temperature: 0 }, await voucher(0));
    const body = (await res.json()) as { choices: { message: { content: string } }[]; usage: { completion_tokens: number; total_tokens: number }; tributary: { billing: { owed: string } } };
    assert.equal(res.status, 200, JSON.stringify(body));
    const want = await reference.chat(versions[0], messages, { maxTokens: 16, temperature: 0 });
    assert.deepEqual(cited.at(-1), want.ids, "llama.cpp's greedy token ids equal the engine's (cited on them)");
    assert.equal(body.choices[0].message.content, want.text);
    assert.equal(body.usage.completion_tokens, want.completionTokens);
    owed[0] += BigInt(body.usage.total_tokens);
    assert.equal(body.tributary.billing.owed, owed[0].toString());
    const plain = await reference.chat({ ...versions[0], id: BASE_NAME, adapterCid: undefined, adapterHash: undefined, modelId: undefined }, messages, { maxTokens: 16, temperature: 0 });
    assert.notEqual(plain.text, want.text, "the adapter changes the answer (so llama.cpp applied it)");
  });

  it("streams, and alternating adapters on one pooled context (model recycled per adapter) keep the engine's answers", async (t) => {
    if (unavailable) return t.skip(unavailable);
    const llama = front.models.backendOf(versions[0]) as LlamaCppBackend;
    const before = await llama.poolStats(versions[0]);
    const ask = async (k: number, prompt: string, ahead = 0n) => {
      const res = await post("/v1/completions", { model: versions[k].id, prompt, max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true } }, await voucher(k, ahead));
      assert.equal(res.status, 200);
      let text = "";
      for await (const e of sseEvents(res)) {
        if (e.data === "[DONE]") break;
        const j = JSON.parse(e.data) as { choices: { text: string }[]; usage?: { total_tokens: number } | null; error?: unknown };
        assert.equal(j.error, undefined, e.data);
        text += j.choices[0]?.text ?? "";
        if (j.usage) owed[k] += BigInt(j.usage.total_tokens);
      }
      return text;
    };
    const prompts = ["It is a truth universally", "Elizabeth Bennet walked", "The ball at Netherfield"];
    for (const [i, p] of prompts.entries()) {
      const k = i % 2;
      const tok = await reference.tokenizer(versions[k]);
      const want = await reference.complete(versions[k], { prompt: tok.encode(p, { bos: tok.addBos }), maxTokens: 12, temperature: 0 });
      assert.equal(await ask(k, p), want.choices[0].text, `adapter ${k}, prompt ${i}`);
    }
    // same-adapter requests at once share the adapter's context (2 sequences); the voucher prepays them
    const same = await Promise.all(prompts.map((p) => ask(1, p, 200n)));
    for (const [i, p] of prompts.entries()) {
      const tok = await reference.tokenizer(versions[1]);
      assert.equal(same[i], (await reference.complete(versions[1], { prompt: tok.encode(p, { bos: tok.addBos }), maxTokens: 12, temperature: 0 })).choices[0].text);
    }
    const after = await llama.poolStats(versions[0]);
    assert.ok(after.recycles >= before.recycles + 2, `the model was reloaded to free adapters (${before.recycles} -> ${after.recycles})`);
    assert.equal(after.contexts, 1, "at most maxContexts contexts");
    for (const k of [0, 1]) assert.equal(front.billing.channel(channels[k])!.owed, owed[k].toString(), "billed as usage said");
  });
});
