// Constrained decoding pieces without a server: XGrammar over the demo model's real vocabulary (schemas,
// bounded numbers, tool-call structural tags), reading tool calls back (stream views only grow), and
// prompts with tools through the default format and through a template that has a tools section.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { before, describe, it } from "node:test";
import { ChatTokenizer } from "@tributary/engine";
import { GrammarCompiler, checkSchema, tokenTable } from "../src/serve/index.ts";
import type { TokenTable } from "../src/serve/index.ts";
import { chatGrammar, chatPrompt, readAnswer, typeText } from "../src/serve/prompt.ts";
import { parseChatRequest } from "../src/serve/validate.ts";
import type { ChatRequest } from "../src/serve/validate.ts";

const BASE_DIR = fileURLToPath(new URL("../models/tributary-austen-4m/", import.meta.resolve("@tributary/engine")));
const tokenizerJson = JSON.parse(readFileSync(`${BASE_DIR}tokenizer.json`, "utf8"));
const tokenizerConfig = JSON.parse(readFileSync(`${BASE_DIR}tokenizer_config.json`, "utf8"));
const EOS = 1;

const weather = { type: "function", function: { name: "get_weather", description: "The weather", parameters: { type: "object", properties: { town: { type: "string" }, days: { type: "integer" } }, required: ["town"] } } };
const chatReq = (extra: Record<string, unknown>): ChatRequest => parseChatRequest({ model: "m", messages: [{ role: "user", content: "Rain?" }], ...extra });

describe("constrained decoding over the demo model's vocabulary", () => {
  let tok: ChatTokenizer;
  let table: TokenTable;
  let compiler: GrammarCompiler;

  before(async () => {
    tok = new ChatTokenizer(tokenizerJson, tokenizerConfig);
    table = tokenTable(tokenizerJson, 4096, [EOS]);
    compiler = await GrammarCompiler.create(table.vocab);
  });

  /** Feeds `text` as the tokenizer encodes it; true when every token is allowed (and then EOS ends it when `end`). */
  const accepts = async (spec: Parameters<GrammarCompiler["constraint"]>[0], text: string, end = true) => {
    const c = await compiler.constraint(spec);
    try {
      for (const id of tok.encode(text)) {
        const mask = await c.mask();
        const allowed = ((mask[id >> 5] >>> (id & 31)) & 1) === 1;
        if (!allowed) return false;
        assert.ok(c.accept(id));
      }
      if (!end) return true;
      const mask = await c.mask();
      if (!((mask[EOS >> 5] >>> (EOS & 31)) & 1)) return false;
      return c.accept(EOS) && c.terminated();
    } finally {
      c.dispose();
    }
  };

  it("builds the token table from tokenizer.json: bytes of byte-level tokens, special tokens empty", () => {
    assert.equal(table.vocab.type, "BYTE_LEVEL");
    const the = tok.encode(" the");
    assert.equal(the.length, 1);
    assert.equal(table.text[the[0]], " the");
    assert.deepEqual([...table.bytes[the[0]]], [...Buffer.from(" the")]);
    assert.equal(table.vocab.tokens[0], ""); // <|bos|>
    assert.equal(table.vocab.tokens[5], ""); // <|assistant|>
    for (let id = 0; id < 4096; id += 97) assert.equal(Buffer.from(table.bytes[id]).toString("latin1").length, table.bytes[id].length);
  });

  it("accepts exactly the compact JSON of a schema, with numbers bounded to 16 digits", async () => {
    const schema = { type: "object", properties: { name: { type: ["string", "null"] }, n: { type: "number" }, tags: { type: "array", items: { enum: ["a", "b"] }, minItems: 1, maxItems: 2 } }, required: ["name", "n", "tags"], additionalProperties: false };
    const spec = { kind: "json_schema" as const, schema, strict: true };
    assert.ok(await accepts(spec, '{"name": "Emma", "n": -1.5e3, "tags": ["a", "b"]}'));
    assert.ok(await accepts(spec, '{"name": null, "n": 1234567890123456, "tags": ["b"]}'));
    assert.ok(!(await accepts(spec, '{"name": "Emma", "n": 12345678901234567, "tags": ["a"]}')), "17 digits");
    assert.ok(!(await accepts(spec, '{"name": "Emma", "n": 1, "tags": []}')), "minItems");
    assert.ok(!(await accepts(spec, '{"name": "Emma", "n": 1, "tags": ["a", "b", "a"]}')), "maxItems");
    assert.ok(!(await accepts(spec, '{"name":"Emma","n":1,"tags":["a"]}')), "compact separators only");
    assert.ok(!(await accepts(spec, '{"name": "Emma", "n": 1, "tags": ["a"], "x": 1}')), "no extra properties");
    assert.ok(!(await accepts(spec, '{"name": "Emma"', true)), "incomplete: EOS not allowed");
    const obj = { kind: "json_schema" as const, schema: { type: "object" }, strict: false };
    assert.ok(await accepts(obj, '{"any": [1, {"b": null}], "c": true}'));
    assert.ok(!(await accepts(obj, "[1]")), "json_object is an object");
  });

  it("checks the schema subset, naming the keyword and where it is", () => {
    assert.doesNotThrow(() => checkSchema({ type: "object", properties: { a: { anyOf: [{ type: "string" }, { const: 1 }] } }, required: ["a"], additionalProperties: false }, "p", true));
    const refused: [unknown, boolean, RegExp][] = [
      [{ type: "object", properties: { a: { type: "string", format: "date" } } }, false, /at \/properties\/a: .*'format'/],
      [{ type: "array", items: { type: "array", items: { type: "array", items: { type: "array", items: { type: "array", items: { type: "array", items: { type: "array" } } } } } } }, false, /deeper than 6/],
      [{ type: "strung" }, false, /unknown type/],
      [{ type: "string", minItems: 1 }, false, /'minItems' needs type "array"/],
      [{ type: "object", properties: { a: true }, required: ["b"] }, false, /'required' must list names/],
      [{ type: "object", properties: {}, additionalProperties: { type: "string" } }, false, /additionalProperties/],
    ];
    for (const [schema, strict, re] of refused) assert.throws(() => checkSchema(schema, "p", strict), (e: Error & { param?: string }) => e.param === "p" && re.test(e.message));
  });

  it("tool calls: a forced call is one JSON object {name, arguments}; auto is free text with constrained <tool_call> sections", async () => {
    const required = chatGrammar(chatReq({ tools: [weather], tool_choice: "required" }))!;
    assert.ok(await accepts(required, '{"name": "get_weather", "arguments": {"town": "Meryton", "days": 3}}'));
    assert.ok(!(await accepts(required, '{"name": "get_rain", "arguments": {"town": "Meryton"}}')), "unknown function");
    assert.ok(!(await accepts(required, '{"name": "get_weather", "arguments": {"days": 3}}')), "required argument missing");
    const auto = chatGrammar(chatReq({ tools: [weather] }))!;
    assert.equal(auto.kind, "structural_tag");
    assert.ok(await accepts(auto, "I shall look. "));
    assert.ok(await accepts(auto, 'I shall look. <tool_call>{"name": "get_weather", "arguments": {"town": "Bath"}}</tool_call>'));
    assert.ok(!(await accepts(auto, '<tool_call>{"name": "get_weather", "arguments": {"town": 5}}</tool_call>', false)), "arguments follow the schema");
    assert.equal(chatGrammar(chatReq({ tools: [weather], tool_choice: "none" })), null);
  });

  it("reads tool calls back; the views of a growing text only grow (stream deltas)", () => {
    const cases: [ChatRequest, string, { content: string; calls: { name: string; arguments: string; complete: boolean }[] }][] = [
      [chatReq({ tools: [weather], tool_choice: "required" }), '{"name": "get_weather", "arguments": {"town": "Bath"}}', { content: "", calls: [{ name: "get_weather", arguments: '{"town": "Bath"}', complete: true }] }],
      [chatReq({ tools: [weather] }), 'Let me see. <tool_call>{"name": "get_weather", "arguments": {"town": "Bath"}}</tool_call>', { content: "Let me see. ", calls: [{ name: "get_weather", arguments: '{"town": "Bath"}', complete: true }] }],
      [chatReq({ tools: [weather] }), "No call <tool here.", { content: "No call <tool here.", calls: [] }],
    ];
    for (const [req, text, want] of cases) {
      assert.deepEqual(readAnswer(text, req, true), want);
      let prev = { content: "", calls: [] as { arguments: string }[] };
      for (let i = 0; i <= text.length; i++) {
        const v = readAnswer(text.slice(0, i), req, false);
        assert.ok(v.content.startsWith(prev.content), `content grows at ${i}`);
        prev.calls.forEach((c, k) => assert.ok(v.calls[k].arguments.startsWith(c.arguments), `arguments grow at ${i}`));
        prev = v;
      }
      want.calls.forEach((c, k) => assert.ok(c.arguments.startsWith(prev.calls[k].arguments)));
    }
  });

  it("renders tools in the default format, or through a template that has a tools section", () => {
    const req = chatReq({
      tools: [weather],
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Rain?" },
        { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"town": "Bath"}' } }] },
        { role: "tool", tool_call_id: "call_1", content: "rain" },
      ],
      tool_choice: "required",
    });
    const text = chatPrompt(tok, req);
    assert.ok(text.startsWith("<|bos|><|system|>\nBe brief.\n\n# Tools\n"), text);
    assert.ok(text.includes("// The weather\nget_weather({town: string, days?: integer})"), text);
    assert.ok(text.includes('<|assistant|>\n<tool_call>{"name": "get_weather", "arguments": {"town": "Bath"}}</tool_call><|eos|>'), text);
    assert.ok(text.includes('<|user|>\n<tool_response name="get_weather">\nrain\n</tool_response><|eos|>'), text);
    assert.ok(text.endsWith("<|assistant|>\n<tool_call>"), "a forced call opens the call");
    assert.equal(typeText({ type: "array", items: { anyOf: [{ type: "string" }, { const: 1 }] } }), "(string | 1)[]");

    const hermes = new ChatTokenizer(tokenizerJson, {
      ...tokenizerConfig,
      chat_template:
        "{% if tools %}<tools>{% for t in tools %}{{ t.function.name }};{% endfor %}</tools>{% endif %}{% for m in messages %}[{{ m.role }}]{% if m.tool_calls %}{% for c in m.tool_calls %}call {{ c.function.name }} {{ c.function.arguments.town }}{% endfor %}{% else %}{{ m.content }}{% endif %}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}",
    });
    assert.equal(chatPrompt(hermes, { ...req, toolChoice: { mode: "auto" } }), "<tools>get_weather;</tools>[system]Be brief.[user]Rain?[assistant]call get_weather Bath[tool]rain[assistant]");
  });
});
