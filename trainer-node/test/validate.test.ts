// The request schemas of the OpenAI API (zod): each bad body is a 400 naming the field as OpenAI does
// (`param`, with an error code), and a good body parses to what the server runs. No server: the
// official-client test (openai-api.test.ts) runs the same checks over HTTP.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BadRequestError } from "../src/serve/errors.ts";
import { parseChatRequest, parseCompletionRequest, parseLoadAdapterRequest, parseUnloadAdapterRequest } from "../src/serve/validate.ts";

const ask = [{ role: "user", content: "hi" }];
const chat = (extra: Record<string, unknown>) => ({ model: "m", messages: ask, ...extra });
const weather = { type: "function", function: { name: "weather", parameters: { type: "object", properties: { city: { type: "string" } } } } };

function refused(parse: (b: unknown) => unknown, body: unknown, param: string | null, code: string, says?: RegExp) {
  assert.throws(
    () => parse(body),
    (e: unknown) => {
      assert.ok(e instanceof BadRequestError, `${JSON.stringify(body)}: ${e}`);
      assert.equal(e.param, param, `${JSON.stringify(body)}: ${e.message}`);
      assert.equal(e.code, code, `${JSON.stringify(body)}: ${e.message}`);
      if (param) assert.ok(e.message.includes(`'${param}'`) || e.message.includes(param), e.message);
      if (says) assert.match(e.message, says);
      return true;
    },
  );
}

describe("chat completion requests", () => {
  it("names the field and the kind of problem for each bad body", () => {
    const cases: [unknown, string | null, string, RegExp?][] = [
      [null, null, "invalid_type"],
      [{ messages: ask }, "model", "missing_required_parameter", /GET \/v1\/models/],
      [{ model: "m" }, "messages", "missing_required_parameter"],
      [chat({ messages: [] }), "messages", "invalid_value", /at least one/],
      [chat({ messages: [{ role: "bot", content: "x" }] }), "messages[0].role", "invalid_value", /got "bot"/],
      [chat({ messages: [{ role: "user", content: 3 }] }), "messages[0].content", "invalid_type"],
      [chat({ messages: [{ role: "user" }] }), "messages[0].content", "invalid_type"],
      [chat({ messages: [{ role: "user", content: [{ type: "text", text: "a" }, { type: "image_url", image_url: {} }] }] }), "messages[0].content[1]", "invalid_value", /text models only/],
      [chat({ messages: [{ role: "assistant", content: null, tool_calls: [{ id: 1 }] }] }), "messages[0].tool_calls[0]", "invalid_type", /arguments: JSON string/],
      [chat({ messages: [{ role: "assistant", content: null, tool_calls: [{ id: "1", type: "function", function: { name: "f", arguments: "{" } }] }] }), "messages[0].tool_calls[0].function.arguments", "invalid_value", /not valid JSON/],
      [chat({ messages: [{ role: "tool", content: "x" }] }), "messages[0].tool_call_id", "missing_required_parameter"],
      [chat({ temperature: "1" }), "temperature", "invalid_type", /must be a number, got "1"/],
      [chat({ temperature: 3 }), "temperature", "invalid_value", /between 0 and 2, got 3/],
      [chat({ max_tokens: 1.5 }), "max_tokens", "invalid_type", /integer/],
      [chat({ top_p: 0 }), "top_p", "invalid_value", /greater than 0/],
      [chat({ n: 9 }), "n", "invalid_value"],
      [chat({ logit_bias: { a: 1 } }), "logit_bias", "invalid_value", /token ids, got "a"/],
      [chat({ logit_bias: { 7: 200 } }), "logit_bias", "invalid_value", /got 200 for token 7/],
      [chat({ top_logprobs: 2 }), "top_logprobs", "invalid_value", /needs 'logprobs'/],
      [chat({ stop: ["a", "b", "c", "d", "e"] }), "stop", "invalid_value", /at most 4/],
      [chat({ stream_options: { include_usage: true } }), "stream_options", "invalid_value", /only allowed with 'stream': true/],
      [chat({ stream: true, stream_options: { foo: 1 } }), "stream_options.foo", "unknown_parameter"],
      [chat({ response_format: { type: "xml" } }), "response_format.type", "invalid_value", /got "xml"/],
      [chat({ response_format: { type: "json_schema", json_schema: { name: "a b" } } }), "response_format.json_schema.name", "invalid_value"],
      [chat({ tools: [{ type: "custom", custom: {} }] }), "tools[0].type", "invalid_value", /custom tools/],
      [chat({ tools: [weather, weather] }), "tools[1].function.name", "invalid_value", /listed twice/],
      [chat({ tools: [weather], tool_choice: "any" }), "tool_choice", "invalid_value"],
      [chat({ tools: [weather], tool_choice: { type: "function", function: { name: "nope" } } }), "tool_choice", "invalid_value", /not in 'tools'/],
      [chat({ tool_choice: "auto" }), "tool_choice", "invalid_value", /needs 'tools'/],
      [chat({ tools: [weather], stop: "x" }), "stop", "invalid_value"],
      [chat({ modalities: ["text", "audio"] }), "modalities", "unsupported_parameter"],
      [chat({ modalities: ["audio"] }), "modalities", "unsupported_parameter"],
      [chat({ audio: { voice: "alloy" } }), "audio", "unsupported_parameter"],
      [chat({ top_k: 5 }), "top_k", "unknown_parameter"],
    ];
    for (const [body, param, code, says] of cases) refused(parseChatRequest, body, param, code, says);
  });

  it("parses a full request, null meaning unset and ignored parameters dropped", () => {
    const r = parseChatRequest({
      model: "m",
      messages: [
        { role: "developer", content: [{ type: "text", text: "be " }, { type: "text", text: "brief" }] },
        { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "weather", arguments: '{"city":"Bath"}' } }] },
        { role: "tool", tool_call_id: "c1", content: "rain" },
      ],
      max_completion_tokens: 9, max_tokens: 3, temperature: 0, seed: 4, n: 2, logit_bias: { 5: -3 }, logprobs: true, top_logprobs: 2,
      stream: true, stream_options: { include_usage: true }, tools: [weather], tool_choice: { type: "function", function: { name: "weather" } },
      user: "u", functions: null, stop: null,
    });
    assert.deepEqual(r.messages[0], { role: "system", content: "be brief" });
    assert.deepEqual(r.messages[1].toolCalls, [{ id: "c1", name: "weather", arguments: '{"city":"Bath"}' }]);
    assert.equal(r.messages[2].toolCallId, "c1");
    assert.equal(r.maxTokens, 9, "max_completion_tokens wins over max_tokens");
    assert.deepEqual([r.temperature, r.topP, r.seed, r.n, r.topLogprobs, r.stream, r.includeUsage, r.stop], [0, 1, 4, 2, 2, true, true, []]);
    assert.deepEqual([...r.logitBias], [[5, -3]]);
    assert.deepEqual(r.toolChoice, { mode: "function", name: "weather" });
    assert.equal(r.tools[0].parameters.type, "object");
  });
});

describe("text completion requests", () => {
  const c = (extra: Record<string, unknown>) => ({ model: "m", prompt: "Emma", ...extra });
  it("names the field for each bad body", () => {
    const cases: [unknown, string | null, string, RegExp?][] = [
      [{ model: "m" }, "prompt", "missing_required_parameter"],
      [c({ prompt: 3 }), "prompt", "invalid_type"],
      [c({ prompt: "" }), "prompt", "invalid_value", /empty/],
      [c({ prompt: ["a", "b"] }), "prompt", "invalid_value", /one prompt per request/],
      [c({ suffix: "end" }), "suffix", "unsupported_parameter"],
      [c({ best_of: 3 }), "best_of", "unsupported_parameter"],
      [c({ echo: true, logprobs: 2 }), "echo", "unsupported_parameter"],
      [c({ logprobs: 21 }), "logprobs", "invalid_value"],
      [c({ metadata: {} }), "metadata", "unknown_parameter"],
    ];
    for (const [body, param, code, says] of cases) refused(parseCompletionRequest, body, param, code, says);
  });
  it("takes a string, a list of one string, token ids or a list of one token list", () => {
    assert.equal(parseCompletionRequest(c({ prompt: ["Emma"] })).prompt, "Emma");
    assert.deepEqual(parseCompletionRequest(c({ prompt: [1, 2] })).prompt, [1, 2]);
    assert.deepEqual(parseCompletionRequest(c({ prompt: [[1, 2]] })).prompt, [1, 2]);
    assert.equal(parseCompletionRequest(c({ suffix: "", user: "u" })).echo, false);
  });
});

describe("the runtime adapter API", () => {
  const cid = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
  it("parses a load request and refuses bad fields by name", () => {
    assert.deepEqual(parseLoadAdapterRequest({ lora_name: "ft-1", lora_path: `ipfs://${cid}` }), { name: "ft-1", cid });
    refused(parseLoadAdapterRequest, { lora_path: cid }, "lora_name", "missing_required_parameter");
    refused(parseLoadAdapterRequest, { lora_name: "a b", lora_path: cid }, "lora_name", "invalid_value");
    refused(parseLoadAdapterRequest, { lora_name: "a", lora_path: "ipfs://x" }, "lora_path", "invalid_value", /IPFS CID/);
    refused(parseLoadAdapterRequest, { lora_name: "a", lora_path: cid, adapter_hash: "12" }, "adapter_hash", "invalid_value", /64 hex/);
    refused(parseLoadAdapterRequest, { lora_name: "a", lora_path: cid, base_model: 3 }, "base_model", "invalid_type");
    assert.equal(parseUnloadAdapterRequest({ lora_name: "ft-1" }), "ft-1");
    refused(parseUnloadAdapterRequest, {}, "lora_name", "missing_required_parameter");
  });
});
