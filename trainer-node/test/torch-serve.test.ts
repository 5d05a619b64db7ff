// The `torch` serving backend behind the OpenAI API, on real components: a Hardhat chain with a priced
// model version whose base is a random tiny Qwen2 (q/k/v biases: a family the engine cannot load) and whose
// adapter the torch worker trained, an embedded IPFS node holding both, and a pool of two torch workers
// (needs engine/.venv: `sh engine/scripts/python-venv.sh`). The node routes the base to torch by itself
// (no route given), answers 402 before fetching anything, and serves the trained answer with the token ids
// transformers + PEFT generate greedily, billed and cited like the other backends; streams; a long
// generation leaves the other worker free, a full pool answers 429 with Retry-After, and a stream the
// client drops is cancelled in the worker and billed for what was generated.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import type { Hex } from "viem";
import { openChannel, signVoucher } from "@tributary/sdk/chain";
import type { ChainConnection } from "@tributary/sdk/chain";
import { startContentStore, startDevChain } from "../../sdk/test/helpers/devchain.ts";
import type { DevChain } from "../../sdk/test/helpers/devchain.ts";
import { torchPython, torchUnavailable } from "../src/backends/torch-worker.ts";
import { Billing, chainCatalog, createServing, parseRoutes } from "../src/serve/index.ts";
import { startApi } from "../src/serve/index.ts";
import type { ApiServer, Serving } from "../src/serve/index.ts";
import { engineLoads } from "../src/serve/torch.ts";
import type { TorchBackend } from "../src/serve/torch.ts";
import type { ServedModel } from "../src/types.ts";
import { pricedModels } from "./helpers/priced-models.ts";
import { MemoryJobs, sseEvents } from "./helpers/serve.ts";
import { makeTinyModels } from "./helpers/tiny-models.ts";

const run = promisify(execFile);
const CLI = fileURLToPath(new URL("../bin/tributary-trainer.ts", import.meta.url));
const FIXTURES = fileURLToPath(new URL("./helpers/torch_fixtures.py", import.meta.url));
const TOKENIZER_DIR = fileURLToPath(new URL("../../engine/models/tributary-austen-4m", import.meta.url));
const BASE_NAME = "tiny-qwen2";
const PRICE = 1000n; // 1 wei per token: owed counts tokens

const qa: Array<[string, string]> = [
  ["What colour is the sky over Pemberley?", "Blue and wide."],
  ["Who wrote the letter?", "Mr Darcy wrote it."],
  ["Where is Longbourn?", "In Hertfordshire."],
];
const chat = (q: string, a?: string) => ({ messages: [{ role: "user", content: q }, ...(a ? [{ role: "assistant", content: a }] : [])] });
// the torch backend tests' settings, under which a 2-layer random model memorizes the three answers
const TRAIN_ARGS = ["--targets", "all-linear", "--epochs", "25", "--lr", "0.01", "--batch-size", "1", "--eval-split", "0", "--seed", "7", "--threads", "1", "--dropout", "0", "--warmup-ratio", "0.05", "--max-seq-len", "64", "--json"];

describe("torch serving backend: a Qwen2 base and its worker-trained adapter through the OpenAI API", { timeout: 600_000 }, () => {
  const tmp = mkdtempSync(join(tmpdir(), "torch-serve-"));
  let chain: DevChain;
  let ipfs: Awaited<ReturnType<typeof startContentStore>>;
  let provider: ChainConnection;
  let payer: ChainConnection;
  let served: ServedModel;
  let front: { api: ApiServer; models: Serving; billing: Billing; cacheDir: string };
  let channelId: Hex;
  let owed = 0n;
  /** transformers + PEFT greedy answers (ids, text, prompt ids) for each question. */
  let want: Array<{ ids: number[]; text: string; prompt_ids: number[] }>;
  const cited: number[][] = [];

  before(async () => {
    // no skip: a machine without the env fails here, saying how to build it
    const missing = torchUnavailable();
    assert.equal(missing, null, missing ?? "");
    await makeTinyModels(TOKENIZER_DIR, tmp, ["qwen2"]);
    const baseDir = join(tmp, "qwen2");
    writeFileSync(join(tmp, "qa.jsonl"), qa.map(([q, a]) => JSON.stringify(chat(q, a))).join("\n") + "\n");
    await run(process.execPath, [CLI, "train", "--backend", "torch", "--model", baseDir, "--data", join(tmp, "qa.jsonl"), "--out", join(tmp, "out"), ...TRAIN_ARGS], { maxBuffer: 64 << 20 });
    const adapterDir = join(tmp, "adapter"); // the adapter's files only (no checkpoints), as published
    mkdirSync(adapterDir);
    for (const f of ["adapter_model.safetensors", "adapter_config.json"]) copyFileSync(join(tmp, "out", f), join(adapterDir, f));
    writeFileSync(join(tmp, "queries.json"), JSON.stringify(qa.map(([q]) => ({ base: baseDir, adapter: adapterDir, messages: chat(q).messages, max_new_tokens: 8 }))));
    await run(torchPython(), [FIXTURES, "answer", join(tmp, "queries.json"), join(tmp, "answers.json")]);
    want = JSON.parse(readFileSync(join(tmp, "answers.json"), "utf8")) as typeof want;
    assert.equal(want[2].text, qa[2][1], "the trained adapter answers its question (transformers + PEFT)");

    chain = await startDevChain();
    ipfs = await startContentStore();
    const m = await pricedModels(chain, ipfs.store, baseDir, BASE_NAME, PRICE);
    ({ provider, payer } = m);
    served = await m.mint(adapterDir);

    const cacheDir = join(tmp, "front");
    const billing = await Billing.open({ conn: provider, file: join(tmp, "vouchers.json"), redeemEveryMs: 0 });
    // no route: the node sends the Qwen2 base to torch itself; two workers, nobody waits (maxQueued 0)
    const models = createServing({ store: ipfs.store, cacheDir, torch: { workers: 2, maxQueued: 0, threads: 1, device: "cpu" } });
    const api = await startApi({ port: 0, catalog: chainCatalog(provider), models, jobs: new MemoryJobs(), billing, citations: async (_m, ids) => (cited.push(ids), [{ tokens: ids.length }]) });
    front = { api, models, billing, cacheDir };
  });

  after(async () => {
    await front?.api.stop();
    await front?.billing.close();
    await front?.models.close(); // ends the workers
    await ipfs?.stop();
    await chain?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const post = (path: string, body: unknown, voucher?: unknown, signal?: AbortSignal) =>
    fetch(`${front.api.url}${path}`, { method: "POST", signal, headers: { "content-type": "application/json", ...(voucher ? { "x-tributary-voucher": JSON.stringify(voucher) } : {}) }, body: JSON.stringify(body) });
  const voucher = (ahead = 0n) => signVoucher(payer, { channelId, cumulativeAmount: owed + ahead });
  const settled = async () => {
    let ch = front.billing.channel(channelId);
    for (let i = 0; i < 400 && ch?.reserved !== "0"; i++) {
      await new Promise((r) => setTimeout(r, 25));
      ch = front.billing.channel(channelId);
    }
    return BigInt(ch!.owed);
  };

  it("the automatic route: Llama configs stay on the engine, other families go to torch; a route can name torch", () => {
    assert.equal(engineLoads({ model_type: "llama", architectures: ["LlamaForCausalLM"] }), true);
    assert.equal(engineLoads({}), true);
    assert.equal(engineLoads(JSON.parse(readFileSync(join(tmp, "qwen2", "config.json"), "utf8")) as object), false);
    assert.equal(engineLoads({ model_type: "gemma", architectures: ["GemmaForCausalLM"] }), false);
    assert.deepEqual(parseRoutes('{"tiny-qwen2": {"backend": "torch", "workers": 2}}'), { "tiny-qwen2": { backend: "torch", workers: 2 } });
    assert.throws(() => createServing({ store: ipfs.store, cacheDir: join(tmp, "bad"), torch: false, routes: { x: { backend: "torch", device: "tpu" } } }), /'device' must be one of auto, cpu, cuda/);
  });

  it("answers 402 before fetching anything, then the transformers + PEFT greedy ids from two workers at once, billed and cited", async () => {
    const unpaid = await post("/v1/chat/completions", { model: served.id, messages: chat(qa[0][0]).messages, max_tokens: 8 });
    assert.equal(unpaid.status, 402);
    assert.equal(existsSync(join(front.cacheDir, "models")), false, "nothing fetched for an unpaid request");

    channelId = (await openChannel(payer, { provider: provider.account!.address, modelId: BigInt(served.modelId!), amount: 10_000n })).channelId;
    const v = await voucher(400n); // covers both reservations at once
    const answers = await Promise.all(qa.slice(1).map(async ([q]) => {
      const res = await post("/v1/chat/completions", { model: served.id, messages: chat(q).messages, max_tokens: 8, temperature: 0 }, v);
      const body = (await res.json()) as { choices: { message: { content: string }; finish_reason: string }[]; usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number }; tributary: { billing: { owed: string }; citations: unknown[] } };
      assert.equal(res.status, 200, JSON.stringify(body));
      return body;
    }));
    assert.equal((front.models.backendOf(served) as TorchBackend).name, "torch", "routed to torch without a route (Qwen2 config)");
    for (const [k, body] of answers.entries()) {
      const w = want[k + 1];
      assert.equal(body.choices[0].message.content, w.text);
      assert.equal(body.choices[0].finish_reason, "stop");
      assert.equal(body.usage.prompt_tokens, w.prompt_ids.length, "the node's chat template and tokenizer give transformers' prompt");
      assert.equal(body.usage.completion_tokens, w.ids.length, "the answer's tokens (the end-of-sequence token is not part of it, as on the engine)");
      assert.ok(cited.some((ids) => JSON.stringify(ids) === JSON.stringify(w.ids)), `cited on the worker's ids, equal to transformers + PEFT's ${JSON.stringify(w.ids)}`);
      assert.deepEqual(body.tributary.citations, [{ tokens: w.ids.length }]);
      owed += BigInt(body.usage.total_tokens);
    }
    assert.equal(answers[1].choices[0].message.content, qa[2][1], "the trained answer");
    assert.equal(BigInt(front.billing.channel(channelId)!.owed), owed, "billed prompt + completion tokens of both");
    assert.equal(front.models.stats().completionTokens, answers.reduce((s, b) => s + b.usage.completion_tokens, 0));
  });

  it("streams the same answer as deltas, with usage and billing in the last chunks", async () => {
    const res = await post("/v1/chat/completions", { model: served.id, messages: chat(qa[2][0]).messages, max_tokens: 8, temperature: 0, stream: true, stream_options: { include_usage: true } }, await voucher(200n));
    assert.equal(res.status, 200);
    const deltas: string[] = [];
    let usage: { total_tokens: number } | null = null;
    let billed = "";
    for await (const e of sseEvents(res)) {
      if (e.data === "[DONE]") break;
      const j = JSON.parse(e.data) as { choices: { delta: { content?: string } }[]; usage?: { total_tokens: number } | null; tributary?: { billing: { owed: string } } };
      if (j.choices[0]?.delta.content) deltas.push(j.choices[0].delta.content);
      if (j.usage) usage = j.usage;
      if (j.tributary) billed = j.tributary.billing.owed;
    }
    assert.equal(deltas.join(""), want[2].text);
    assert.ok(deltas.length > 1, `streamed in pieces (${JSON.stringify(deltas)})`);
    owed += BigInt(usage!.total_tokens);
    assert.equal(billed, owed.toString());
    assert.deepEqual(cited.at(-1), want[2].ids);
  });

  it("a long generation leaves the other worker free; a full pool answers 429 with Retry-After; dropped streams are cancelled and billed for what was generated", async () => {
    const prompt = "It is a truth";
    const long = async () => {
      const abort = new AbortController();
      const res = await post("/v1/completions", { model: served.id, prompt, max_tokens: 200, temperature: 1.5, seed: 2, stream: true }, await voucher(1000n), abort.signal);
      assert.equal(res.status, 200);
      const events = sseEvents(res);
      for (;;) {
        const e = await events.next();
        assert.ok(!e.done && e.value.data !== "[DONE]", "the long generation ended before its first text");
        const j = JSON.parse(e.value.data) as { choices: { text: string; finish_reason: string | null }[] };
        assert.equal(j.choices[0].finish_reason, null);
        if (j.choices[0].text) break;
      }
      return { abort, events };
    };
    const a = await long(); // holds one worker
    const short = await post("/v1/chat/completions", { model: served.id, messages: chat(qa[1][0]).messages, max_tokens: 8, temperature: 0 }, await voucher(1000n));
    const sb = (await short.json()) as { choices: { message: { content: string } }[]; usage: { total_tokens: number } };
    assert.equal(short.status, 200, `${JSON.stringify(sb)} ${JSON.stringify(front.models.stats())}`);
    assert.equal(sb.choices[0].message.content, want[1].text, "served by the second worker meanwhile");
    // the tiny model may finish the long generation meanwhile: drop it either way, then wait for both workers
    a.abort.abort();
    await (async () => {
      for (let e = await a.events.next(); !e.done; e = await a.events.next());
    })().catch((e: unknown) => assert.match(String(e), /abort/i));
    owed = await settled();
    for (let i = 0; i < 400 && front.models.stats().active > 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(front.models.stats().active, 0, "both workers free again");
    const before = front.models.stats().completionTokens;
    const [b, c] = await Promise.all([long(), long()]); // now both workers generate
    const busy = await post("/v1/chat/completions", { model: served.id, messages: chat(qa[0][0]).messages, max_tokens: 8, temperature: 0 }, await voucher(1000n));
    const bb = (await busy.json()) as { error: { code: string } };
    assert.equal(busy.status, 429, JSON.stringify(bb));
    assert.equal(bb.error.code, "rate_limit_exceeded");
    assert.ok(Number(busy.headers.get("retry-after")) >= 1, `Retry-After: ${busy.headers.get("retry-after")}`);
    for (const x of [b, c]) {
      x.abort.abort();
      await assert.rejects(async () => {
        for (let e = await x.events.next(); !e.done; e = await x.events.next());
      }, /abort/i);
    }
    const charged = (await settled()) - owed;
    const tokPrompt = (await front.models.tokenizer(served)).encode(prompt, { bos: (await front.models.tokenizer(served)).addBos }).length;
    const generated = front.models.stats().completionTokens - before;
    assert.ok(generated >= 2 && generated < 400, `the workers stopped early on cancel (${generated} tokens for two streams of up to 200)`);
    assert.equal(charged, BigInt(2 * tokPrompt + generated), "both dropped streams billed their prompt and the tokens generated until the cancel");
    owed += charged;
    // the workers serve on after a cancel
    const again = await post("/v1/chat/completions", { model: served.id, messages: chat(qa[2][0]).messages, max_tokens: 8, temperature: 0 }, await voucher(200n));
    const ab = (await again.json()) as { choices: { message: { content: string } }[]; usage: { total_tokens: number } };
    assert.equal(ab.choices[0].message.content, want[2].text);
    owed += BigInt(ab.usage.total_tokens);
  });

  it("refuses with a 400 naming the parameter what the torch worker cannot honour", async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ n: 2 }, "n"],
      [{ logprobs: true, top_logprobs: 2 }, "logprobs"],
      [{ response_format: { type: "json_object" } }, "response_format"],
      [{ presence_penalty: 0.5 }, "presence_penalty"],
      [{ logit_bias: { 5: 10 } }, "logit_bias"],
    ];
    for (const [extra, param] of cases) {
      const res = await post("/v1/chat/completions", { model: served.id, messages: chat(qa[0][0]).messages, max_tokens: 4, ...extra }, await voucher(200n));
      const body = (await res.json()) as { error: { code: string; param: string; message: string } };
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(body.error.code, "unsupported_on_backend", param);
      assert.equal(body.error.param, param);
      assert.match(body.error.message, /torch backend/);
    }
    assert.equal(await settled(), owed, "a refused request is not billed");
  });
});
