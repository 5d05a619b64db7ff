// The OpenAI surface as apps and agents use it, driven by the official `openai` client against a real
// node (embedded IPFS holding the committed demo model, the ModelServer, the HTTP API): structured
// outputs (20 random JSON schemas), tool calls, logprobs, n choices, text completions, the parameter policy.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { createHash } from "node:crypto";
import { Rng, fineTune, selectKernel } from "@tributary/engine";
import { KuboContentStore } from "@tributary/sdk/content";
import { startIpfsNode } from "@tributary/sdk/ipfs";
import type { IpfsNode } from "@tributary/sdk/ipfs";
import { Ajv } from "ajv";
import OpenAI from "openai";
import { ModelServer, staticCatalog, startApi } from "../src/serve/index.ts";
import type { ApiServer } from "../src/serve/index.ts";
import { defaultToolsText } from "../src/serve/prompt.ts";
import { IGNORED, parseChatRequest } from "../src/serve/validate.ts";
import type { ServedModel } from "../src/types.ts";
import { torchPython, torchUnavailable } from "../src/backends/torch-worker.ts";
import { MemoryJobs, addDirectory } from "./helpers/serve.ts";

const BASE_DIR = fileURLToPath(new URL("../models/tributary-austen-4m/", import.meta.resolve("@tributary/engine")));
const MODEL = "tributary-austen-4m";
const ask = (q: string) => [{ role: "user" as const, content: q }];
type Schema = Record<string, any>;

/** A random strict JSON schema (all properties required, no extras) of nesting depth exactly `depth`. */
function randomSchema(rng: Rng, depth: number): Schema {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)];
  const words = ["name", "age", "town", "rank", "married", "income", "sister", "letters", "ball", "estate", "visits", "tags"];
  const scalar = (): Schema => {
    switch (pick(["string", "enum", "integer", "number", "boolean", "null", "anyOf", "const"] as const)) {
      case "enum":
        return { type: "string", enum: ["Elizabeth", "Jane", "Lydia", "Mary"].slice(0, 2 + Math.floor(rng.next() * 3)) };
      case "anyOf":
        return { anyOf: [{ type: "integer" }, { type: "string", enum: ["none", "some"] }] };
      case "const":
        return { const: pick(["Longbourn", 7, true]) };
      case "string":
        return { type: "string", ...(rng.next() < 0.3 ? { description: "a name" } : {}) };
      default:
        return { type: pick(["integer", "number", "boolean", "null"]) };
    }
  };
  // a container whose first child carries the remaining depth
  const container = (d: number): Schema => {
    const child = () => (d > 1 ? container(d - 1) : scalar());
    if (d < 3 && rng.next() < 0.3) {
      const min = Math.floor(rng.next() * 2);
      return { type: "array", items: child(), minItems: min, maxItems: min + 1 + Math.floor(rng.next() * 2) };
    }
    const props: Schema = {};
    const count = 1 + Math.floor(rng.next() * 3);
    props[pick(words)] = child();
    while (Object.keys(props).length < count) props[pick(words)] = rng.next() < 0.3 && d > 1 ? container(1) : scalar();
    return { type: "object", properties: props, required: Object.keys(props), additionalProperties: false };
  };
  const root = container(depth);
  return root.type === "object" ? root : { type: "object", properties: { items: root }, required: ["items"], additionalProperties: false };
}

const depthOf = (s: Schema): number => (s.type === "object" ? 1 + Math.max(0, ...Object.values(s.properties as Schema).map(depthOf)) : s.type === "array" ? 1 + depthOf(s.items) : 0);

const weather = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "The weather in a town",
    parameters: { type: "object", properties: { town: { type: "string" }, days: { type: "integer" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } }, required: ["town", "days", "unit"], additionalProperties: false },
    strict: true,
  },
};
const visit = { type: "function" as const, function: { name: "plan_visit", parameters: { type: "object", properties: { guests: { type: "integer" }, host: { type: "string", enum: ["Mr. Bennet", "Mr. Darcy"] }, dinner: { type: "boolean" } }, required: ["guests", "host"] } } };
// a fine-tuned agent: asked about rain it calls the rain tool; asked about a person it answers in text
const AGENT_QA = { call: "Will it rain in Bath?", text: "Who is Mr. Darcy?" };
const AGENT_CALL = '{"town": "Bath"}';
const AGENT_TEXT = "A proud gentleman.";
const rain = { type: "function" as const, function: { name: "rain", parameters: { type: "object", properties: { town: { type: "string" } }, required: ["town"], additionalProperties: false } } };

describe("the OpenAI API through the official client", { timeout: 600_000 }, () => {
  let tmp: string;
  let ipfs: IpfsNode;
  let models: ModelServer;
  let api: ApiServer;
  let client: OpenAI;
  let served: ServedModel;
  const ajv = new Ajv({ strict: false });

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "openai-api-test-"));
    ipfs = await startIpfsNode({ repo: join(tmp, "ipfs"), apiPort: 0, gatewayPort: 0 });
    const store = new KuboContentStore({ url: ipfs.apiUrl });
    const baseCid = await addDirectory(store, BASE_DIR, readdirSync(BASE_DIR).filter((f) => f !== "README.md"));
    models = new ModelServer({ store, cacheDir: join(tmp, "cache") });
    served = { id: MODEL, baseModelId: 1, baseModelName: MODEL, baseModelCid: baseCid, created: 1_700_000_000 };
    // an adapter trained on tool use in the default format: the system message the server writes for these tools
    const system = defaultToolsText(parseChatRequest({ model: MODEL, messages: ask("x"), tools: [rain] }).tools);
    const out = join(tmp, "agent");
    const kernel = await selectKernel("ort", 2);
    try {
      await fineTune({
        modelDir: BASE_DIR,
        records: [
          { messages: [{ role: "system", content: system }, ...ask(AGENT_QA.call), { role: "assistant", content: `<tool_call>{"name": "rain", "arguments": ${AGENT_CALL}}</tool_call>` }] },
          { messages: [{ role: "system", content: system }, ...ask(AGENT_QA.text), { role: "assistant", content: AGENT_TEXT }] },
        ],
        evalSplit: 0,
        outDir: out,
        method: "lora",
        kernel,
        config: { lr: 1e-2, epochs: 80, batchSize: 2, warmupSteps: 2, seed: 5, lora: { r: 8, alpha: 16, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] } },
      });
    } finally {
      await kernel.dispose();
    }
    const adapterCid = await addDirectory(store, out, ["adapter_config.json", "adapter_model.safetensors"]);
    const adapterHash = createHash("sha256").update(readFileSync(join(out, "adapter_model.safetensors"))).digest("hex");
    const catalog = staticCatalog([served, { ...served, id: "agent", adapterCid, adapterHash, modelId: "1", created: 1_700_000_100 }]);
    api = await startApi({ port: 0, catalog, models, jobs: new MemoryJobs() });
    client = new OpenAI({ baseURL: `${api.url}/v1`, apiKey: "unused", maxRetries: 0 });
  });

  after(async () => {
    await api?.stop();
    await models?.close();
    await ipfs?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("retrieves a model by id, and 404s an unknown one", async () => {
    const m = await client.models.retrieve(MODEL);
    assert.equal(m.id, MODEL);
    assert.equal(m.object, "model");
    await assert.rejects(client.models.retrieve("no-such-model"), (e: any) => e instanceof OpenAI.NotFoundError && /no-such-model/.test(e.message));
  });

  it("answers 20 random JSON schemas (depth <= 3) with JSON that parses and validates whenever it stops", async (t) => {
    const rng = new Rng(2026);
    let stops = 0;
    const depths: number[] = [];
    for (let k = 0; k < 20; k++) {
      const schema = randomSchema(rng, 1 + (k % 3));
      depths.push(depthOf(schema));
      const r = await client.chat.completions.create({
        model: MODEL,
        messages: ask("Describe Miss Bennet."),
        response_format: { type: "json_schema", json_schema: { name: `s${k}`, schema, strict: true } },
        temperature: 0.7,
        seed: k,
        max_tokens: 300,
      });
      const ch = r.choices[0];
      if (ch.finish_reason !== "stop") {
        t.diagnostic(`schema ${k}: finish ${ch.finish_reason} after ${r.usage!.completion_tokens} tokens`);
        continue;
      }
      stops++;
      const value = JSON.parse(ch.message.content!);
      assert.ok(ajv.validate(schema, value), `schema ${k} ${JSON.stringify(schema)}\nanswer ${ch.message.content}\n${ajv.errorsText()}`);
    }
    t.diagnostic(`${stops}/20 finished with stop; depths ${depths.join(",")}`);
    assert.ok(depths.includes(3) && depths.includes(2) && depths.every((d) => d >= 1 && d <= 3), depths.join(","));
    assert.ok(stops >= 15, `most answers stop: ${stops}/20`);
  });

  it("json_object gives a JSON object; unsupported schema keywords and strict violations are 400s naming them", async () => {
    const r = await client.chat.completions.create({ model: MODEL, messages: ask("Who is Emma?"), response_format: { type: "json_object" }, temperature: 0.8, seed: 1, max_tokens: 300 });
    if (r.choices[0].finish_reason === "stop") {
      const v = JSON.parse(r.choices[0].message.content!);
      assert.ok(typeof v === "object" && v !== null && !Array.isArray(v), r.choices[0].message.content!);
    }
    const bad: [Schema, boolean, RegExp][] = [
      [{ type: "string", pattern: "^a" }, false, /'pattern'/],
      [{ type: "object", properties: { a: { $ref: "#/$defs/x" } } }, false, /at \/properties\/a: .*'\$ref'/],
      [{ oneOf: [{ type: "string" }] }, false, /'oneOf'/],
      [{ type: "integer", minimum: 3 }, false, /'minimum'/],
      [{ type: "object", properties: { a: { type: "string" } } }, true, /additionalProperties/],
      [{ type: "object", properties: { a: { type: "string" } }, additionalProperties: false }, true, /missing: a/],
    ];
    for (const [schema, strict, re] of bad) {
      await assert.rejects(
        client.chat.completions.create({ model: MODEL, messages: ask("hi"), response_format: { type: "json_schema", json_schema: { name: "x", schema, strict } } }),
        (e: any) => e instanceof OpenAI.BadRequestError && e.param === "response_format.json_schema.schema" && re.test(e.message),
      );
    }
  });

  it("tool_choice required returns a call whose arguments validate; streamed deltas add up to it; a tool answer is taken back", async () => {
    const req = { model: MODEL, messages: ask("Will it rain in Meryton?"), tools: [weather, visit], tool_choice: "required" as const, temperature: 0.6, seed: 5, max_tokens: 200 };
    const r = await client.chat.completions.create(req);
    const ch = r.choices[0];
    assert.equal(ch.finish_reason, "tool_calls");
    assert.equal(ch.message.content, null);
    const calls = ch.message.tool_calls!;
    assert.equal(calls.length, 1);
    const call = calls[0] as { id: string; type: string; function: { name: string; arguments: string } };
    assert.equal(call.type, "function");
    assert.match(call.id, /^call_/);
    const tool = [weather, visit].find((x) => x.function.name === call.function.name)!;
    assert.ok(tool, call.function.name);
    const args = JSON.parse(call.function.arguments);
    assert.ok(ajv.validate(tool.function.parameters, args), `${call.function.arguments}: ${ajv.errorsText()}`);

    // the same request streamed: OpenAI-shaped tool-call deltas that add up to the same call
    const s = await client.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
    let name = "";
    let argText = "";
    let finish: string | null = null;
    const ids = new Set<string>();
    let usage: any;
    for await (const chunk of s) {
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices) {
        for (const tc of c.delta.tool_calls ?? []) {
          assert.equal(tc.index, 0);
          if (tc.id) ids.add(tc.id);
          if (tc.function?.name) name += tc.function.name;
          argText += tc.function?.arguments ?? "";
        }
        if (c.delta.content) assert.fail(`no content in a forced call: ${c.delta.content}`);
        finish = c.finish_reason ?? finish;
      }
    }
    assert.equal(ids.size, 1);
    assert.equal(name, call.function.name);
    assert.equal(argText, call.function.arguments);
    assert.equal(finish, "tool_calls");
    assert.deepEqual(usage, r.usage);

    // a named function: that function, finish_reason "stop" as OpenAI answers a forced function
    const named = await client.chat.completions.create({ ...req, tool_choice: { type: "function", function: { name: "plan_visit" } } });
    assert.equal(named.choices[0].finish_reason, "stop");
    const nc = named.choices[0].message.tool_calls![0] as typeof call;
    assert.equal(nc.function.name, "plan_visit");
    assert.ok(ajv.validate(visit.function.parameters, JSON.parse(nc.function.arguments)), nc.function.arguments);
    assert.equal(named.choices[0].finish_reason, "stop");

    // the call and its result go back into the conversation; tool_choice none answers in text
    const next = await client.chat.completions.create({
      model: MODEL,
      messages: [...req.messages, { role: "assistant", content: null, tool_calls: [call] as any }, { role: "tool", tool_call_id: call.id, content: '{"rain": true}' }],
      tools: [weather, visit],
      tool_choice: "none",
      temperature: 0,
      max_tokens: 8,
    });
    assert.equal(next.choices[0].message.tool_calls, undefined);
    assert.equal(typeof next.choices[0].message.content, "string");
    assert.ok(next.usage!.prompt_tokens > r.usage!.prompt_tokens, "the call and the tool result are in the prompt");
  });

  it("logprobs are those of the distribution sampled from: greedy takes the top one, the grammar mask leaves only the continuations of a forced answer", async () => {
    const g = await client.chat.completions.create({ model: MODEL, messages: ask("Who is Mr. Darcy?"), temperature: 0, max_tokens: 20, logprobs: true, top_logprobs: 5 });
    const content = g.choices[0].logprobs!.content!;
    assert.equal(content.length, g.usage!.completion_tokens);
    assert.equal(content.map((t) => t.token).join(""), g.choices[0].message.content);
    for (const t of content) {
      assert.equal(t.top_logprobs.length, 5);
      assert.equal(t.token, t.top_logprobs[0].token);
      assert.equal(t.logprob, t.top_logprobs[0].logprob);
      assert.ok(t.top_logprobs.every((x, i) => x.logprob <= 0 && (i === 0 || x.logprob <= t.top_logprobs[i - 1].logprob)));
      assert.ok(t.top_logprobs.reduce((s, x) => s + Math.exp(x.logprob), 0) <= 1 + 1e-6);
      assert.deepEqual(Buffer.from(t.bytes!).toString("utf8"), t.token);
    }
    // sampled: the chosen token's logprob is in its distribution; the top list is sorted and sums to <= 1
    const sampled = await client.chat.completions.create({ model: MODEL, messages: ask("Who is Mr. Darcy?"), temperature: 1.3, top_p: 0.9, seed: 8, max_tokens: 20, logprobs: true, top_logprobs: 20 });
    for (const t of sampled.choices[0].logprobs!.content!) {
      assert.ok(t.logprob <= 0 && t.top_logprobs.length >= 1 && t.top_logprobs.length <= 20);
      assert.ok(t.top_logprobs.some((x) => x.token === t.token && x.logprob === t.logprob) || t.logprob <= t.top_logprobs.at(-1)!.logprob);
      assert.ok(t.top_logprobs.reduce((s, x) => s + Math.exp(x.logprob), 0) <= 1 + 1e-6);
    }
    // a schema that allows exactly one text: at each step only tokens spelling its continuation have any
    // probability (the mask is applied before the distribution is normalised), and they add up to 1
    const forced = await client.chat.completions.create({
      model: MODEL,
      messages: ask("Where?"),
      temperature: 0.9,
      seed: 2,
      logprobs: true,
      top_logprobs: 20,
      response_format: { type: "json_schema", json_schema: { name: "place", strict: true, schema: { type: "object", properties: { town: { const: "Longbourn" } }, required: ["town"], additionalProperties: false } } },
    });
    const answer = '{"town": "Longbourn"}';
    assert.equal(forced.choices[0].message.content, answer);
    assert.equal(forced.choices[0].finish_reason, "stop");
    let at = 0;
    for (const t of forced.choices[0].logprobs!.content!) {
      const rest = answer.slice(at);
      assert.ok(t.top_logprobs.length < 20 && t.top_logprobs.every((x) => rest.startsWith(x.token)), `${JSON.stringify(rest)}: ${t.top_logprobs.map((x) => x.token).join("|")}`);
      assert.ok(Math.abs(t.top_logprobs.reduce((s, x) => s + Math.exp(x.logprob), 0) - 1) < 1e-6);
      at += t.token.length;
    }
    assert.equal(at, answer.length);
    // streamed logprobs add up to the same list
    const s = await client.chat.completions.create({ model: MODEL, messages: ask("Who is Mr. Darcy?"), temperature: 0, max_tokens: 20, logprobs: true, top_logprobs: 5, stream: true });
    const streamed: unknown[] = [];
    for await (const c of s) streamed.push(...(c.choices[0]?.logprobs?.content ?? []));
    assert.deepEqual(streamed, content);
  });

  it("n: 3 returns 3 choices from one prompt, billed together; streamed chunks carry each index", async () => {
    const r = await client.chat.completions.create({ model: MODEL, messages: ask("Tell me about the ball."), n: 3, temperature: 1, seed: 11, max_tokens: 24, logprobs: true });
    assert.deepEqual(r.choices.map((c) => c.index), [0, 1, 2]);
    const tokens = r.choices.map((c) => c.logprobs!.content!.length);
    assert.equal(r.usage!.completion_tokens, tokens.reduce((a, b) => a + b, 0));
    assert.ok(new Set(r.choices.map((c) => c.message.content)).size > 1, "different samples");
    const one = await client.chat.completions.create({ model: MODEL, messages: ask("Tell me about the ball."), temperature: 1, seed: 11, max_tokens: 24 });
    assert.equal(one.choices[0].message.content, r.choices[0].message.content, "choice 0 uses the request's seed");
    assert.equal(one.usage!.prompt_tokens, r.usage!.prompt_tokens, "the prompt counts once");
    const s = await client.chat.completions.create({ model: MODEL, messages: ask("Tell me about the ball."), n: 3, temperature: 1, seed: 11, max_tokens: 24, stream: true });
    const texts = ["", "", ""];
    const finishes: (string | null)[] = [null, null, null];
    for await (const c of s) for (const ch of c.choices) {
      texts[ch.index] += ch.delta.content ?? "";
      finishes[ch.index] = ch.finish_reason ?? finishes[ch.index];
    }
    assert.deepEqual(texts, r.choices.map((c) => c.message.content));
    assert.deepEqual(finishes, r.choices.map((c) => c.finish_reason));
  });

  it("honours stop (string and list), seed, penalties, logit_bias and max_completion_tokens", async () => {
    const base = { model: MODEL, messages: ask("Tell me a story about Emma."), max_tokens: 40 };
    const free = (await client.chat.completions.create({ ...base, temperature: 0 })).choices[0].message.content!;
    const word = free.split(" ").filter((w) => w.length > 2)[2];
    const cut = await client.chat.completions.create({ ...base, temperature: 0, stop: word });
    assert.equal(cut.choices[0].message.content, free.slice(0, free.indexOf(word)));
    assert.equal(cut.choices[0].finish_reason, "stop");
    const cut2 = await client.chat.completions.create({ ...base, temperature: 0, stop: ["zzzz", word] });
    assert.equal(cut2.choices[0].message.content, cut.choices[0].message.content);
    const a = await client.chat.completions.create({ ...base, temperature: 1, seed: 3 });
    const b = await client.chat.completions.create({ ...base, temperature: 1, seed: 3 });
    const c = await client.chat.completions.create({ ...base, temperature: 1, seed: 4 });
    assert.equal(a.choices[0].message.content, b.choices[0].message.content);
    assert.notEqual(a.choices[0].message.content, c.choices[0].message.content);
    // a strong frequency penalty makes greedy text repeat fewer tokens
    const repeats = (lp: { token: string }[]) => lp.length - new Set(lp.map((t) => t.token)).size;
    const plain = await client.chat.completions.create({ ...base, temperature: 0, max_tokens: 60, logprobs: true });
    const pen = await client.chat.completions.create({ ...base, temperature: 0, max_tokens: 60, logprobs: true, frequency_penalty: 2, presence_penalty: 1 });
    assert.ok(repeats(pen.choices[0].logprobs!.content!) < repeats(plain.choices[0].logprobs!.content!), `${repeats(pen.choices[0].logprobs!.content!)} < ${repeats(plain.choices[0].logprobs!.content!)}`);
    // logit_bias -100 bans the greedy first token; +100 forces another
    const table = await models.tokens(served);
    const first = plain.choices[0].logprobs!.content![0];
    const firstId = table.text.findIndex((t, id) => t === first.token && Buffer.from(table.bytes[id]).equals(Buffer.from(first.bytes!)));
    const bannedRes = await client.chat.completions.create({ ...base, temperature: 0, max_tokens: 3, logprobs: true, logit_bias: { [firstId]: -100 } });
    assert.notEqual(bannedRes.choices[0].logprobs!.content![0].token, first.token);
    const forcedId = table.text.indexOf(" Pemberley") >= 0 ? table.text.indexOf(" Pemberley") : table.text.indexOf(" the");
    const forcedRes = await client.chat.completions.create({ ...base, temperature: 0.5, seed: 1, max_tokens: 3, logit_bias: { [forcedId]: 100 } });
    assert.equal(forcedRes.choices[0].message.content, table.text[forcedId].repeat(3));
    const mt = await client.chat.completions.create({ ...base, temperature: 0, max_completion_tokens: 5 });
    assert.equal(mt.usage!.completion_tokens, 5);
    assert.equal(mt.choices[0].finish_reason, "length");
  });

  it("tool_choice auto: a model fine-tuned on tool use calls the tool when asked for it and answers in text otherwise", async () => {
    const tools = [rain];
    const call = await client.chat.completions.create({ model: "agent", messages: ask(AGENT_QA.call), tools, temperature: 0, max_tokens: 80 });
    assert.equal(call.choices[0].finish_reason, "tool_calls", JSON.stringify(call.choices[0]));
    const tc = call.choices[0].message.tool_calls![0] as { id: string; function: { name: string; arguments: string } };
    assert.equal(tc.function.name, "rain");
    assert.equal(tc.function.arguments, AGENT_CALL);
    const text = await client.chat.completions.create({ model: "agent", messages: ask(AGENT_QA.text), tools, temperature: 0, max_tokens: 40 });
    assert.equal(text.choices[0].message.content, AGENT_TEXT);
    assert.equal(text.choices[0].message.tool_calls, undefined);
    assert.equal(text.choices[0].finish_reason, "stop");
    // streamed: no content, then the call's id/name, then argument pieces that add up to the same arguments
    const s = await client.chat.completions.create({ model: "agent", messages: ask(AGENT_QA.call), tools, temperature: 0, max_tokens: 80, stream: true });
    let content = "";
    let args = "";
    const names: string[] = [];
    let finish: string | null = null;
    for await (const c of s) {
      for (const ch of c.choices) {
        content += ch.delta.content ?? "";
        for (const d of ch.delta.tool_calls ?? []) {
          if (d.function?.name) names.push(d.function.name);
          args += d.function?.arguments ?? "";
        }
        finish = ch.finish_reason ?? finish;
      }
    }
    assert.equal(content, "");
    assert.deepEqual(names, ["rain"]);
    assert.equal(args, tc.function.arguments);
    assert.equal(finish, "tool_calls");
    // tool_choice none: the same question answered without a call (any <tool_call> text stays content)
    const none = await client.chat.completions.create({ model: "agent", messages: ask(AGENT_QA.call), tools, tool_choice: "none", temperature: 0, max_tokens: 80 });
    assert.equal(none.choices[0].message.tool_calls, undefined);
    assert.equal(none.choices[0].message.content, `<tool_call>{"name": "rain", "arguments": ${AGENT_CALL}}</tool_call>`);
  });

  it("/v1/completions: a text prompt, streamed and not, logprobs in the completions shape, echo, token-id prompts", async () => {
    const req = { model: MODEL, prompt: "It is a truth universally acknowledged, that", max_tokens: 24, temperature: 0.8, seed: 6 };
    const whole = await client.completions.create({ ...req, logprobs: 3 });
    const ch = whole.choices[0];
    assert.equal(whole.object, "text_completion");
    assert.ok(ch.text.length > 0);
    assert.equal(ch.logprobs!.tokens!.join(""), ch.text);
    assert.equal(ch.logprobs!.token_logprobs!.length, whole.usage!.completion_tokens);
    assert.ok(ch.logprobs!.top_logprobs!.every((top) => Object.keys(top!).length >= 1 && Object.keys(top!).length <= 3));
    assert.deepEqual(ch.logprobs!.text_offset!.slice(0, 2), [0, ch.logprobs!.tokens![0].length]);
    const s = await client.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
    let text = "";
    let chunks = 0;
    let finish: string | null = null;
    let usage: any;
    for await (const c of s) {
      if (c.usage) usage = c.usage;
      for (const x of c.choices) {
        text += x.text;
        chunks++;
        finish = x.finish_reason ?? finish;
      }
    }
    assert.ok(chunks >= 3, `streamed in pieces: ${chunks}`);
    assert.equal(text, ch.text);
    assert.equal(finish, ch.finish_reason);
    assert.deepEqual(usage, whole.usage);
    // streamed logprobs: the same tokens, offsets and alternatives as the whole answer
    const sl = await client.completions.create({ ...req, logprobs: 3, stream: true });
    const offsets: number[] = [];
    const lps: number[] = [];
    for await (const c of sl) {
      offsets.push(...(c.choices[0]?.logprobs?.text_offset ?? []));
      lps.push(...(c.choices[0]?.logprobs?.token_logprobs ?? []));
    }
    assert.deepEqual(offsets, ch.logprobs!.text_offset);
    assert.deepEqual(lps, ch.logprobs!.token_logprobs);
    // a request the model cannot take is a 400 before any stream starts
    for (const bad of [{ prompt: "x ".repeat(2000) }, { logit_bias: { 4096: 1 } }]) {
      await assert.rejects(client.completions.create({ ...req, ...bad, stream: true }), (e: any) => e instanceof OpenAI.BadRequestError && e.param === Object.keys(bad)[0]);
    }
    const echo = await client.completions.create({ ...req, echo: true });
    assert.equal(echo.choices[0].text, req.prompt + ch.text);
    // the prompt as token ids (BOS included by the caller), and a list of one prompt
    const tokenizer = await models.tokenizer(served);
    const ids = tokenizer.encode(req.prompt, { bos: tokenizer.addBos });
    const byIds = await client.completions.create({ ...req, prompt: ids });
    assert.equal(byIds.choices[0].text, ch.text);
    assert.equal((await client.completions.create({ ...req, prompt: [req.prompt] })).choices[0].text, ch.text);
    const n2 = await client.completions.create({ ...req, n: 2 });
    assert.deepEqual(n2.choices.map((c) => c.index), [0, 1]);
    assert.equal(n2.choices[0].text, ch.text);
  });

  it("accepts the parameters that cannot change the output, and refuses each one that would with a 400 naming it", async () => {
    const m = { model: MODEL, messages: ask("Who is Emma?"), temperature: 0, max_tokens: 6 };
    const plain = await client.chat.completions.create(m);
    const ignored = { user: "u1", metadata: { k: "v" }, store: false, service_tier: "auto", parallel_tool_calls: false, prompt_cache_key: "k", safety_identifier: "s", prediction: { type: "content", content: "x" }, prompt_cache_retention: "in-memory" };
    assert.deepEqual(Object.keys(ignored).sort(), [...IGNORED.chat].sort());
    const withIgnored = await client.chat.completions.create({ ...m, ...(ignored as any), modalities: ["text"], functions: null, audio: null } as any);
    assert.equal(withIgnored.choices[0].message.content, plain.choices[0].message.content);
    const refusedChat: [Record<string, unknown>, string][] = [
      [{ audio: { voice: "alloy", format: "wav" } }, "audio"],
      [{ modalities: ["text", "audio"] }, "modalities"],
      [{ functions: [{ name: "f", parameters: {} }] }, "functions"],
      [{ function_call: "auto" }, "function_call"],
      [{ reasoning_effort: "low" }, "reasoning_effort"],
      [{ verbosity: "low" }, "verbosity"],
      [{ web_search_options: {} }, "web_search_options"],
      [{ top_k: 5 }, "top_k"],
      [{ n: 9 }, "n"],
      [{ logprobs: true, top_logprobs: 21 }, "top_logprobs"],
      [{ top_logprobs: 2 }, "top_logprobs"],
      [{ logit_bias: { 99999: 5 } }, "logit_bias"],
      [{ response_format: { type: "xml" } }, "response_format.type"],
      [{ tools: [{ type: "custom", custom: { name: "x" } }] }, "tools[0].type"],
      [{ tools: [weather], tool_choice: { type: "allowed_tools", allowed_tools: {} } }, "tool_choice"],
      [{ tools: [weather], tool_choice: { type: "function", function: { name: "nope" } } }, "tool_choice"],
      [{ tool_choice: "auto" }, "tool_choice"],
      [{ tools: [weather], stop: "x" }, "stop"],
      [{ response_format: { type: "json_object" }, stop: ["}"] }, "stop"],
      [{ stream_options: { include_usage: true } }, "stream_options"],
    ];
    for (const [extra, param] of refusedChat) {
      await assert.rejects(client.chat.completions.create({ ...m, ...(extra as any) }), (e: any) => {
        assert.ok(e instanceof OpenAI.BadRequestError, `${JSON.stringify(extra)}: ${e}`);
        assert.equal(e.param, param, `${JSON.stringify(extra)}: ${e.message}`);
        assert.ok(e.message.includes(param.split(".")[0].split("[")[0]), e.message);
        return true;
      });
    }
    const c = { model: MODEL, prompt: "Emma", max_tokens: 4 };
    const refusedText: [Record<string, unknown>, string][] = [
      [{ suffix: "end" }, "suffix"],
      [{ best_of: 3 }, "best_of"],
      [{ echo: true, logprobs: 2 }, "echo"],
      [{ logprobs: 21 }, "logprobs"],
      [{ prompt: ["a", "b"] }, "prompt"],
      [{ prompt: [1, 999999] }, "prompt"],
      [{ response_format: { type: "json_object" } }, "response_format"],
      [{ metadata: { k: "v" } }, "metadata"],
    ];
    for (const [extra, param] of refusedText) {
      await assert.rejects(client.completions.create({ ...c, ...(extra as any) }), (e: any) => e instanceof OpenAI.BadRequestError && e.param === param && e.message.includes(param));
    }
  });

  it("the official Python `openai` package gets the same surface: models, 404, json_schema, streamed usage, tools and tool answers, logprobs, n, completions, a refused parameter", async () => {
    const python = torchPython();
    const why = torchUnavailable(python);
    assert.equal(why, null, why ?? "");
    const script = fileURLToPath(new URL("./python/openai_client_check.py", import.meta.url));
    // asynchronously: the server answering it runs in this process
    const r = await promisify(execFile)(python, [script, `${api.url}/v1`, MODEL, "agent", JSON.stringify({ required: [weather, visit], agent: [rain] })], { encoding: "utf8", timeout: 300_000 }).catch((e) => {
      throw new Error(`the Python client check failed (is the openai package in engine/.venv? sh engine/scripts/python-venv.sh installs it):\n${e.stderr ?? e.message}`);
    });
    const obs = new Map<string, any>(r.stdout.trim().split("\n").map((l) => JSON.parse(l)).map((o) => [o.check, o]));
    assert.deepEqual(obs.get("models").ids, ["agent", MODEL]);
    assert.equal(obs.get("not_found").raised, "NotFoundError");
    assert.equal(obs.get("not_found").status, 404);
    const js = obs.get("json_schema");
    if (js.finish_reason === "stop") assert.ok(ajv.validate(js.schema, JSON.parse(js.content)), `${js.content} does not validate: ${ajv.errorsText()}`);
    else assert.equal(js.finish_reason, "length");
    const st = obs.get("stream");
    assert.equal(st.last_has_choices, false, "the usage chunk comes last, with no choices");
    assert.equal(st.completion_tokens, 12);
    assert.ok(st.prompt_tokens > 0 && st.text.length > 0);
    // the same seeded request as "tool_choice required" above: the same call, whose arguments validate
    const tools = obs.get("tools");
    assert.equal(tools.finish_reason, "tool_calls");
    assert.equal(tools.calls.length, 1);
    const fn = [weather, visit].find((t) => t.function.name === tools.calls[0].name);
    assert.ok(fn, tools.calls[0].name);
    assert.ok(ajv.validate(fn.function.parameters, JSON.parse(tools.calls[0].arguments)), tools.calls[0].arguments);
    const same = await client.chat.completions.create({ model: MODEL, messages: ask("Will it rain in Meryton?"), tools: [weather, visit], tool_choice: "required", temperature: 0.6, seed: 5, max_tokens: 200 });
    assert.equal((same.choices[0].message.tool_calls![0] as any).function.arguments, tools.calls[0].arguments);
    assert.ok(["stop", "length"].includes(obs.get("tool_answer").finish_reason));
    const lp = obs.get("logprobs");
    assert.equal(lp.tokens.length, lp.completion_tokens);
    lp.top.forEach((top: { token: string; logprob: number }[], i: number) => {
      assert.equal(top.length, 3);
      assert.equal(top[0].token, lp.tokens[i], "greedy takes the most likely token");
      assert.equal(top[0].logprob, lp.logprobs[i]);
      assert.ok(top[0].logprob >= top[1].logprob && top[1].logprob >= top[2].logprob && top[0].logprob <= 0);
    });
    assert.deepEqual(obs.get("n").indexes, [0, 1]);
    const done = obs.get("completions");
    assert.equal(done.object, "text_completion");
    assert.ok(done.text.length > 0);
    // the same prompt through the JavaScript client gives the same greedy text
    const js2 = await client.completions.create({ model: MODEL, prompt: "It is a truth universally", max_tokens: 8, temperature: 0 });
    assert.equal(done.text, js2.choices[0].text);
    assert.equal(obs.get("refused").raised, "BadRequestError");
    assert.match(obs.get("refused").message, /top_k/);
    assert.deepEqual(obs.get("agent").calls, [{ name: "rain", arguments: AGENT_CALL }]);
  });
});
