/**
 * Validation of OpenAI chat completion and completion request bodies, by hand (the trainer node has no
 * schema library): each problem becomes a BadRequestError naming the field, as OpenAI does (`param`).
 *
 * Parameter policy: every parameter is either honoured, accepted and ignored because it cannot change
 * the output (IGNORED below), or refused with a 400 naming it; unknown parameters are refused too.
 */
import { BadRequestError } from "./errors.ts";
import { checkSchema } from "./grammar/schema.ts";

/** A chat message as the API takes it (content flattened to text). */
export interface ApiMessage {
  role: "system" | "user" | "assistant" | "tool";
  content: string;
  name?: string;
  /** assistant: the calls it made. */
  toolCalls?: ToolCall[];
  /** tool: the call this answers. */
  toolCallId?: string;
}

export interface ToolCall {
  id: string;
  name: string;
  /** JSON text, as generated. */
  arguments: string;
}

export interface FunctionTool {
  name: string;
  description?: string;
  /** JSON schema of the arguments object. */
  parameters: Record<string, unknown>;
  strict: boolean;
}

export type ToolChoice = { mode: "none" | "auto" | "required" } | { mode: "function"; name: string };

export type ResponseFormat = { type: "text" } | { type: "json_object" } | { type: "json_schema"; name: string; schema: Record<string, unknown> | boolean; strict: boolean };

/** What chat and text completions share. */
export interface SamplingRequest {
  model: string;
  maxTokens?: number;
  temperature: number;
  topP: number;
  seed?: number;
  stop: string[];
  n: number;
  presencePenalty: number;
  frequencyPenalty: number;
  logitBias: Map<number, number>;
  /** Top alternatives per token; null: no logprobs. */
  topLogprobs: number | null;
  stream: boolean;
  includeUsage: boolean;
}

export interface ChatRequest extends SamplingRequest {
  messages: ApiMessage[];
  responseFormat: ResponseFormat;
  tools: FunctionTool[];
  toolChoice: ToolChoice;
}

export interface TextCompletionRequest extends SamplingRequest {
  /** A string, or token ids. */
  prompt: string | number[];
  echo: boolean;
}

/** Parameters accepted and ignored: none changes what is generated. */
export const IGNORED = {
  chat: ["user", "metadata", "store", "service_tier", "parallel_tool_calls", "prompt_cache_key", "prompt_cache_retention", "safety_identifier", "prediction"],
  completions: ["user"],
} as const;

/** Known OpenAI parameters this server does not implement (they would change the output). */
const REFUSED: Record<string, string> = {
  audio: "audio output is not supported (text models only)",
  functions: "'functions' is deprecated and not supported; use 'tools'",
  function_call: "'function_call' is deprecated and not supported; use 'tool_choice'",
  reasoning_effort: "the models served here do not reason; 'reasoning_effort' is not supported",
  verbosity: "'verbosity' is not supported",
  web_search_options: "web search is not supported",
  suffix: "'suffix' (fill-in-the-middle) is not supported",
};

export const MAX_N = 8;
export const MAX_TOP_LOGPROBS = 20;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const given = (body: Record<string, unknown>, key: string) => body[key] !== undefined && body[key] !== null;

function optNumber(body: Record<string, unknown>, key: string, min: number, max: number, integer = false): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new BadRequestError(key, `'${key}' must be a number, got ${JSON.stringify(v)}`, "invalid_type");
  if (integer && !Number.isInteger(v)) throw new BadRequestError(key, `'${key}' must be an integer, got ${v}`, "invalid_type");
  if (v < min || v > max) throw new BadRequestError(key, `'${key}' must be between ${min} and ${max}, got ${v}`);
  return v;
}

function optBool(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw new BadRequestError(key, `'${key}' must be true or false`, "invalid_type");
  return v;
}

function content(v: unknown, at: string, nullable: boolean): string {
  if (typeof v === "string") return v;
  if ((v === null || v === undefined) && nullable) return "";
  if (Array.isArray(v)) {
    return v
      .map((part, j) => {
        if (!isObject(part) || part.type !== "text" || typeof part.text !== "string") {
          throw new BadRequestError(`${at}.content[${j}]`, `'${at}.content[${j}]' must be a text part {type: "text", text: string}; this server serves text models only`);
        }
        return part.text;
      })
      .join("");
  }
  throw new BadRequestError(`${at}.content`, `'${at}.content' must be a string or an array of text parts`, "invalid_type");
}

/** Refuses unknown and unsupported parameters (null means unset); `known` are the ones the endpoint handles. */
function checkKeys(body: Record<string, unknown>, known: Set<string>, ignored: readonly string[]): void {
  for (const key of Object.keys(body)) {
    if (known.has(key) || ignored.includes(key) || body[key] === null) continue;
    if (key in REFUSED) throw new BadRequestError(key, `'${key}' is not supported by this server: ${REFUSED[key]}`, "unsupported_parameter");
    throw new BadRequestError(key, `'${key}' is not a parameter this endpoint knows; remove it (parameters that would change the output are never ignored)`, "unknown_parameter");
  }
}

function sampling(body: Record<string, unknown>, chat: boolean): SamplingRequest {
  if (typeof body.model !== "string" || !body.model) throw new BadRequestError("model", "'model' is required: a model id from GET /v1/models", body.model === undefined ? "missing_required_parameter" : "invalid_type");
  const maxTokens = (chat ? optNumber(body, "max_completion_tokens", 1, 2 ** 31, true) : undefined) ?? optNumber(body, "max_tokens", 1, 2 ** 31, true);
  const temperature = optNumber(body, "temperature", 0, 2) ?? 1;
  const topP = optNumber(body, "top_p", 0, 1) ?? 1;
  if (topP === 0) throw new BadRequestError("top_p", "'top_p' must be greater than 0");
  const seed = optNumber(body, "seed", -(2 ** 53), 2 ** 53, true);
  const n = optNumber(body, "n", 1, MAX_N, true) ?? 1;
  const presencePenalty = optNumber(body, "presence_penalty", -2, 2) ?? 0;
  const frequencyPenalty = optNumber(body, "frequency_penalty", -2, 2) ?? 0;

  const logitBias = new Map<number, number>();
  if (given(body, "logit_bias")) {
    if (!isObject(body.logit_bias)) throw new BadRequestError("logit_bias", "'logit_bias' must be an object {token id: bias between -100 and 100}", "invalid_type");
    for (const [k, v] of Object.entries(body.logit_bias)) {
      if (!/^\d+$/.test(k)) throw new BadRequestError("logit_bias", `'logit_bias' keys must be token ids, got ${JSON.stringify(k)}`);
      if (typeof v !== "number" || !(v >= -100 && v <= 100)) throw new BadRequestError("logit_bias", `'logit_bias' values must be numbers between -100 and 100, got ${JSON.stringify(v)} for token ${k}`);
      logitBias.set(Number(k), v);
    }
  }

  let topLogprobs: number | null = null;
  if (chat) {
    const lp = optBool(body, "logprobs");
    const top = optNumber(body, "top_logprobs", 0, MAX_TOP_LOGPROBS, true);
    if (top !== undefined && !lp) throw new BadRequestError("top_logprobs", "'top_logprobs' needs 'logprobs': true");
    if (lp) topLogprobs = top ?? 0;
  } else {
    const lp = optNumber(body, "logprobs", 0, MAX_TOP_LOGPROBS, true);
    if (lp !== undefined) topLogprobs = lp;
  }

  let stop: string[] = [];
  if (typeof body.stop === "string") stop = [body.stop];
  else if (Array.isArray(body.stop)) {
    if (body.stop.length > 4 || body.stop.some((s) => typeof s !== "string")) throw new BadRequestError("stop", "'stop' must be a string or an array of at most 4 strings");
    stop = body.stop as string[];
  } else if (given(body, "stop")) throw new BadRequestError("stop", "'stop' must be a string or an array of at most 4 strings", "invalid_type");

  const stream = optBool(body, "stream") ?? false;
  const so = body.stream_options;
  if (given(body, "stream_options")) {
    if (!isObject(so)) throw new BadRequestError("stream_options", "'stream_options' must be an object", "invalid_type");
    if (!stream) throw new BadRequestError("stream_options", "'stream_options' is only allowed with 'stream': true");
    for (const k of Object.keys(so)) {
      if (k === "include_usage" || k === "include_obfuscation") {
        if (so[k] !== undefined && typeof so[k] !== "boolean") throw new BadRequestError(`stream_options.${k}`, `'stream_options.${k}' must be true or false`, "invalid_type");
      } else throw new BadRequestError(`stream_options.${k}`, `'stream_options.${k}' is not supported (supported: include_usage; include_obfuscation is accepted and ignored)`, "unknown_parameter");
    }
  }
  return { model: body.model, maxTokens, temperature, topP, seed, stop, n, presencePenalty, frequencyPenalty, logitBias, topLogprobs, stream, includeUsage: isObject(so) && so.include_usage === true };
}

function responseFormat(v: unknown): ResponseFormat {
  if (v === undefined || v === null) return { type: "text" };
  if (!isObject(v)) throw new BadRequestError("response_format", "'response_format' must be an object {type: text | json_object | json_schema}", "invalid_type");
  if (v.type === "text") return { type: "text" };
  if (v.type === "json_object") return { type: "json_object" };
  if (v.type !== "json_schema") throw new BadRequestError("response_format.type", `'response_format.type' must be text, json_object or json_schema; got ${JSON.stringify(v.type)}`);
  const js = v.json_schema;
  if (!isObject(js)) throw new BadRequestError("response_format.json_schema", "'response_format.json_schema' is required: {name, schema, strict?}", "missing_required_parameter");
  if (typeof js.name !== "string" || !/^[a-zA-Z0-9_-]{1,64}$/.test(js.name)) throw new BadRequestError("response_format.json_schema.name", "'response_format.json_schema.name' must be 1-64 letters, digits, _ or -");
  if (js.strict !== undefined && js.strict !== null && typeof js.strict !== "boolean") throw new BadRequestError("response_format.json_schema.strict", "'response_format.json_schema.strict' must be true or false", "invalid_type");
  const strict = js.strict === true;
  const schema = js.schema === undefined ? true : js.schema;
  checkSchema(schema, "response_format.json_schema.schema", strict);
  return { type: "json_schema", name: js.name, schema: schema as Record<string, unknown> | boolean, strict };
}

function tools(v: unknown): FunctionTool[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new BadRequestError("tools", "'tools' must be an array of {type: \"function\", function: {name, description?, parameters?, strict?}}", "invalid_type");
  if (v.length > 128) throw new BadRequestError("tools", "'tools' may list at most 128 functions");
  const names = new Set<string>();
  return v.map((t, i) => {
    const at = `tools[${i}]`;
    if (!isObject(t) || t.type !== "function") throw new BadRequestError(`${at}.type`, `'${at}.type' must be "function" (custom tools are not supported)`);
    const f = t.function;
    if (!isObject(f)) throw new BadRequestError(`${at}.function`, `'${at}.function' is required: {name, description?, parameters?, strict?}`, "missing_required_parameter");
    if (typeof f.name !== "string" || !/^[a-zA-Z0-9_-]{1,64}$/.test(f.name)) throw new BadRequestError(`${at}.function.name`, `'${at}.function.name' must be 1-64 letters, digits, _ or -`);
    if (names.has(f.name)) throw new BadRequestError(`${at}.function.name`, `'${at}.function.name': the function ${f.name} is listed twice`);
    names.add(f.name);
    if (f.description !== undefined && typeof f.description !== "string") throw new BadRequestError(`${at}.function.description`, `'${at}.function.description' must be a string`, "invalid_type");
    if (f.strict !== undefined && f.strict !== null && typeof f.strict !== "boolean") throw new BadRequestError(`${at}.function.strict`, `'${at}.function.strict' must be true or false`, "invalid_type");
    const parameters = f.parameters ?? { type: "object", properties: {} };
    if (!isObject(parameters) || (parameters.type !== undefined && parameters.type !== "object")) throw new BadRequestError(`${at}.function.parameters`, `'${at}.function.parameters' must be a JSON schema of type "object"`);
    const schema = { type: "object", ...parameters };
    checkSchema(schema, `${at}.function.parameters`, f.strict === true);
    return { name: f.name, description: f.description as string | undefined, parameters: schema, strict: f.strict === true };
  });
}

function toolChoice(v: unknown, fns: FunctionTool[]): ToolChoice {
  if (v === undefined || v === null) return { mode: fns.length ? "auto" : "none" };
  if (!fns.length) throw new BadRequestError("tool_choice", "'tool_choice' needs 'tools'");
  if (v === "none" || v === "auto" || v === "required") return { mode: v };
  if (isObject(v) && v.type === "function" && isObject(v.function) && typeof v.function.name === "string") {
    const name = v.function.name;
    if (!fns.some((f) => f.name === name)) throw new BadRequestError("tool_choice", `'tool_choice' names the function ${name}, which is not in 'tools' (${fns.map((f) => f.name).join(", ")})`);
    return { mode: "function", name };
  }
  throw new BadRequestError("tool_choice", "'tool_choice' must be none, auto, required or {type: \"function\", function: {name}} (allowed_tools and custom tools are not supported)");
}

const CHAT_KEYS = new Set([
  "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "seed", "stop", "n", "presence_penalty", "frequency_penalty",
  "logit_bias", "logprobs", "top_logprobs", "stream", "stream_options", "response_format", "tools", "tool_choice", "modalities",
]);

/** Parses a chat completion request body (already JSON-decoded). */
export function parseChatRequest(body: unknown): ChatRequest {
  if (!isObject(body)) throw new BadRequestError(null, "the request body must be a JSON object", "invalid_type");
  checkKeys(body, CHAT_KEYS, IGNORED.chat);
  if (given(body, "modalities") && !(Array.isArray(body.modalities) && body.modalities.length === 1 && body.modalities[0] === "text")) {
    throw new BadRequestError("modalities", "'modalities' must be [\"text\"]: this server generates text only", "unsupported_parameter");
  }
  const base = sampling(body, true);
  if (!Array.isArray(body.messages)) throw new BadRequestError("messages", "'messages' is required: an array of {role, content}", body.messages === undefined ? "missing_required_parameter" : "invalid_type");
  if (!body.messages.length) throw new BadRequestError("messages", "'messages' must hold at least one message");
  const messages = body.messages.map((m, i): ApiMessage => {
    const at = `messages[${i}]`;
    if (!isObject(m)) throw new BadRequestError(at, `'${at}' must be an object {role, content}`, "invalid_type");
    const role = m.role === "developer" ? "system" : m.role;
    if (role !== "system" && role !== "user" && role !== "assistant" && role !== "tool") {
      throw new BadRequestError(`${at}.role`, `'${at}.role' must be one of system, developer, user, assistant, tool; got ${JSON.stringify(m.role)}`);
    }
    if (m.name !== undefined && typeof m.name !== "string") throw new BadRequestError(`${at}.name`, `'${at}.name' must be a string`, "invalid_type");
    const out: ApiMessage = { role, content: content(m.content, at, role === "assistant" && Array.isArray(m.tool_calls)), ...(typeof m.name === "string" ? { name: m.name } : {}) };
    if (role === "assistant" && given(m, "tool_calls")) {
      if (!Array.isArray(m.tool_calls)) throw new BadRequestError(`${at}.tool_calls`, `'${at}.tool_calls' must be an array`, "invalid_type");
      out.toolCalls = m.tool_calls.map((c, j) => {
        const cat = `${at}.tool_calls[${j}]`;
        if (!isObject(c) || c.type !== "function" || typeof c.id !== "string" || !isObject(c.function) || typeof c.function.name !== "string" || typeof c.function.arguments !== "string") {
          throw new BadRequestError(cat, `'${cat}' must be {id, type: "function", function: {name, arguments: JSON string}}`);
        }
        try {
          JSON.parse(c.function.arguments);
        } catch {
          throw new BadRequestError(`${cat}.function.arguments`, `'${cat}.function.arguments' is not valid JSON`);
        }
        return { id: c.id, name: c.function.name, arguments: c.function.arguments };
      });
    }
    if (role === "tool") {
      if (typeof m.tool_call_id !== "string") throw new BadRequestError(`${at}.tool_call_id`, `'${at}.tool_call_id' is required for a tool message`, "missing_required_parameter");
      out.toolCallId = m.tool_call_id;
    }
    return out;
  });
  const fns = tools(body.tools);
  const choice = toolChoice(body.tool_choice, fns);
  const format = responseFormat(body.response_format);
  if (format.type !== "text" && (choice.mode === "required" || choice.mode === "function")) {
    throw new BadRequestError("response_format", "'response_format' cannot be combined with a forced 'tool_choice': the answer is a tool call");
  }
  const constrained = format.type !== "text" || choice.mode !== "none";
  if (constrained && base.stop.length) {
    throw new BadRequestError("stop", "'stop' cannot be combined with 'response_format' json_object/json_schema or with 'tools': a stop sequence could cut the JSON the grammar guarantees");
  }
  return { ...base, messages, responseFormat: format, tools: fns, toolChoice: choice };
}

const COMPLETION_KEYS = new Set(["model", "prompt", "max_tokens", "temperature", "top_p", "seed", "stop", "n", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "stream", "stream_options", "echo", "best_of", "suffix"]);

/** Parses a text completion request body (already JSON-decoded). */
export function parseCompletionRequest(body: unknown): TextCompletionRequest {
  if (!isObject(body)) throw new BadRequestError(null, "the request body must be a JSON object", "invalid_type");
  checkKeys(body, COMPLETION_KEYS, IGNORED.completions);
  if (given(body, "suffix") && body.suffix !== "") throw new BadRequestError("suffix", `'suffix' is not supported by this server: ${REFUSED.suffix}`, "unsupported_parameter");
  const base = sampling(body, false);
  const bestOf = optNumber(body, "best_of", 1, MAX_N, true);
  if (bestOf !== undefined && bestOf !== base.n) throw new BadRequestError("best_of", `'best_of' must equal 'n' (${base.n}): choosing the best of more candidates is not supported`, "unsupported_parameter");
  const echo = optBool(body, "echo") ?? false;
  if (echo && base.topLogprobs !== null) throw new BadRequestError("echo", "'echo' with 'logprobs' is not supported (prompt logprobs are not computed)", "unsupported_parameter");
  let prompt: string | number[];
  const p = body.prompt;
  const one = Array.isArray(p) && p.length === 1 && (typeof p[0] === "string" || Array.isArray(p[0])) ? p[0] : p;
  if (typeof one === "string") prompt = one;
  else if (Array.isArray(one) && one.length && one.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 0)) prompt = one as number[];
  else if (Array.isArray(p) && p.length > 1 && p.every((x) => typeof x === "string" || Array.isArray(x))) {
    throw new BadRequestError("prompt", "'prompt' may hold one prompt per request on this server; send one request per prompt (or use 'n' for several completions)");
  } else throw new BadRequestError("prompt", "'prompt' is required: a string, a list of one string, or token ids", p === undefined ? "missing_required_parameter" : "invalid_type");
  if (prompt === "") throw new BadRequestError("prompt", "'prompt' must not be empty");
  return { ...base, prompt, echo };
}
