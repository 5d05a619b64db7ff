/**
 * Validation of OpenAI chat completion and completion request bodies with zod: the shape of each body is
 * a schema, and the first problem becomes a BadRequestError naming the field, as OpenAI does (`param`,
 * e.g. `messages[2].content`). What a schema cannot say (one field depending on another) is checked after.
 *
 * Parameter policy: every parameter is either honoured, accepted and ignored because it cannot change
 * the output (IGNORED below), or refused with a 400 naming it; unknown parameters are refused too.
 * `null` means unset, as OpenAI's clients send it.
 */
import { z } from "zod";
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

// ---- schema pieces. Messages may start with `{up:N}` (name the field N levels up: a part's problem is
// the part's) and `{code:X}` (OpenAI's error code); then '{at}' stands for the field's path and '{key}' for
// its last segment (filled in by `fail`).

const AT = "'{at}'";
const shown = (v: unknown) => JSON.stringify(v) ?? String(v);
/** `null` and absent both mean unset. */
const opt = <T extends z.ZodType>(s: T) => s.nullish().transform((v) => v ?? undefined);
const bool = () => z.boolean({ error: `${AT} must be true or false` });
const str = () => z.string({ error: `${AT} must be a string` });
const num = (min: number, max: number, integer = false) => {
  const between = { error: (iss: { input?: unknown }) => `${AT} must be between ${min} and ${max}, got ${shown(iss.input)}` };
  const n = z.number({ error: (iss) => `${AT} must be a number, got ${shown(iss.input)}` });
  return (integer ? n.int({ error: (iss) => `${AT} must be an integer, got ${shown(iss.input)}` }) : n).min(min, between).max(max, between);
};
const NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const name = () => str().regex(NAME, { error: `${AT} must be 1-64 letters, digits, _ or -` });
const jsonObject = (what: string) => z.record(z.string(), z.unknown(), { error: `${AT} must be ${what}` });

const STOP = `${AT} must be a string or an array of at most 4 strings`;
const stop = z.union([z.string(), z.array(z.string({ error: `{up:1}${STOP}` })).max(4, { error: STOP })], { error: `{code:invalid_type}${STOP}` });

const BIAS = { error: (iss: { input?: unknown }) => `{up:1}'logit_bias' values must be numbers between -100 and 100, got ${shown(iss.input)} for token {key}` };
const logitBias = z.record(
  z.string().regex(/^\d+$/, { error: (iss) => `{up:1}'logit_bias' keys must be token ids, got ${shown(iss.input)}` }),
  z.number({ error: (iss) => `{up:1}'logit_bias' values must be numbers between -100 and 100, got ${shown(iss.input)} for token {key}` }).min(-100, BIAS).max(100, BIAS),
  { error: "'logit_bias' must be an object {token id: bias between -100 and 100}" },
);

const streamOptions = z.strictObject(
  { include_usage: opt(bool()), include_obfuscation: opt(bool()) },
  { error: (iss) => (iss.code === "unrecognized_keys" ? `{code:unknown_parameter}${AT} is not supported (supported: include_usage; include_obfuscation is accepted and ignored)` : `${AT} must be an object`) },
);

const sampling = {
  model: z.string({ error: "'model' is required: a model id from GET /v1/models" }).min(1, { error: "'model' is required: a model id from GET /v1/models" }),
  max_tokens: opt(num(1, 2 ** 31, true)),
  temperature: opt(num(0, 2)),
  top_p: opt(num(0, 1)),
  seed: opt(num(-(2 ** 53), 2 ** 53, true)),
  stop: opt(stop),
  n: opt(num(1, MAX_N, true)),
  presence_penalty: opt(num(-2, 2)),
  frequency_penalty: opt(num(-2, 2)),
  logit_bias: opt(logitBias),
  stream: opt(bool()),
  stream_options: opt(streamOptions),
};

const PART = `${AT} must be a text part {type: "text", text: string}; this server serves text models only`;
const textPart = z.object({ type: z.literal("text", { error: `{up:1}${PART}` }), text: z.string({ error: `{up:1}${PART}` }) }, { error: PART });
const textParts = z.array(textPart, { error: `${AT} must be a string or an array of text parts` });
const contentSchema = z.union([z.string(), textParts, z.null()], { error: `{code:invalid_type}${AT} must be a string or an array of text parts` });

const CALL = `${AT} must be {id, type: "function", function: {name, arguments: JSON string}}`;
const toolCall = z.object(
  {
    id: z.string({ error: `{up:1}${CALL}` }),
    type: z.literal("function", { error: `{up:1}${CALL}` }),
    function: z.object({ name: z.string({ error: `{up:2}${CALL}` }), arguments: z.string({ error: `{up:2}${CALL}` }) }, { error: `{up:1}${CALL}` }),
  },
  { error: CALL },
);

const message = z.object(
  {
    role: z.enum(["system", "developer", "user", "assistant", "tool"], { error: (iss) => `${AT} must be one of system, developer, user, assistant, tool; got ${shown(iss.input)}` }),
    content: opt(contentSchema),
    name: opt(str()),
    tool_calls: opt(z.array(toolCall, { error: `${AT} must be an array` })),
    tool_call_id: opt(str()),
  },
  { error: `${AT} must be an object {role, content}` },
);

const responseFormatSchema = z.discriminatedUnion(
  "type",
  [
    z.object({ type: z.literal("text") }),
    z.object({ type: z.literal("json_object") }),
    z.object({
      type: z.literal("json_schema"),
      json_schema: z.object({ name: name(), schema: z.unknown().optional(), strict: opt(bool()) }, { error: `${AT} is required: {name, schema, strict?}` }),
    }),
  ],
  { error: (iss) => (iss.code === "invalid_union" ? `${AT} must be text, json_object or json_schema; got {value}` : `{code:invalid_type}${AT} must be an object {type: text | json_object | json_schema}`) },
);

const tool = z.object(
  {
    type: z.literal("function", { error: `${AT} must be "function" (custom tools are not supported)` }),
    function: z.object(
      { name: name(), description: opt(str()), parameters: opt(jsonObject('a JSON schema of type "object"')), strict: opt(bool()) },
      { error: `${AT} is required: {name, description?, parameters?, strict?}` },
    ),
  },
  { error: `${AT} must be {type: "function", function: {name, description?, parameters?, strict?}}` },
);

const CHOICE = `${AT} must be none, auto, required or {type: "function", function: {name}} (allowed_tools and custom tools are not supported)`;
const toolChoiceSchema = z.union(
  [
    z.enum(["none", "auto", "required"], { error: CHOICE }),
    z.object({ type: z.literal("function", { error: `{up:1}${CHOICE}` }), function: z.object({ name: z.string({ error: `{up:2}${CHOICE}` }) }, { error: `{up:1}${CHOICE}` }) }),
  ],
  { error: CHOICE },
);

const MODALITIES = `{code:unsupported_parameter}'modalities' must be ["text"]: this server generates text only`;
const chatSchema = z.object(
  {
    ...sampling,
    max_completion_tokens: opt(num(1, 2 ** 31, true)),
    logprobs: opt(bool()),
    top_logprobs: opt(num(0, MAX_TOP_LOGPROBS, true)),
    messages: z.array(message, { error: "'messages' is required: an array of {role, content}" }).min(1, { error: "'messages' must hold at least one message" }),
    response_format: opt(responseFormatSchema),
    tools: opt(z.array(tool, { error: `${AT} must be an array of {type: "function", function: {name, description?, parameters?, strict?}}` }).max(128, { error: "'tools' may list at most 128 functions" })),
    tool_choice: opt(toolChoiceSchema),
    modalities: opt(z.tuple([z.literal("text", { error: `{up:1}${MODALITIES}` })], { error: MODALITIES })),
  },
  { error: "the request body must be a JSON object" },
);

const tokenIds = z.array(z.number().int().min(0)).min(1);
const completionSchema = z.object(
  {
    ...sampling,
    logprobs: opt(num(0, MAX_TOP_LOGPROBS, true)),
    prompt: z.union([z.string(), tokenIds, z.array(z.union([z.string(), tokenIds]))], { error: "{code:invalid_type}'prompt' is required: a string, a list of one string, or token ids" }),
    echo: opt(bool()),
    best_of: opt(num(1, MAX_N, true)),
    suffix: opt(z.string()),
  },
  { error: "the request body must be a JSON object" },
);

// ---- errors

type Issue = z.core.$ZodIssue;
type Path = readonly PropertyKey[];

const pathText = (path: Path) => path.reduce<string>((s, k) => (typeof k === "number" ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)), "");

/** The issue to report: inside a union, the branch the value's type matched (so `content[1]` is named, not `content`). */
function deepest(issue: Issue, base: Path): { issue: Issue; path: Path } {
  const path = [...base, ...issue.path];
  if (issue.code === "invalid_key" && issue.issues.length) return { issue: issue.issues[0], path }; // a record key names the record
  if (issue.code !== "invalid_union") return { issue, path };
  const typed = issue.errors.filter((branch) => !branch.every((i) => i.path.length === 0 && i.code === "invalid_type"));
  return typed.length === 1 && typed[0].length ? deepest(typed[0][0], path) : { issue, path };
}

function valueAt(body: unknown, path: Path): unknown {
  return path.reduce<unknown>((v, k) => (v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[k] : undefined), body);
}

/** The first problem as a 400 naming the field (OpenAI's `param`); codes as OpenAI uses them. */
function fail(error: z.ZodError, body: unknown): never {
  const found = deepest(error.issues[0], []);
  let { path } = found;
  const { issue } = found;
  let message = issue.message;
  let code = issue.code === "invalid_type" ? "invalid_type" : "invalid_value";
  if (issue.code === "unrecognized_keys") path = [...path, issue.keys[0]];
  const key = String(path.at(-1) ?? "");
  for (let m = /^\{(up|code):([\w]+)\}/.exec(message); m; m = /^\{(up|code):([\w]+)\}/.exec(message)) {
    if (m[1] === "up") path = path.slice(0, -Number(m[2]));
    else code = m[2];
    message = message.slice(m[0].length);
  }
  if (valueAt(body, path) === undefined) code = "missing_required_parameter";
  const param = pathText(path);
  message = message.startsWith("Invalid") || message.startsWith("Too") ? `'${param}': ${message[0].toLowerCase()}${message.slice(1)}` : message;
  message = message.replaceAll("{at}", param).replaceAll("{key}", key).replaceAll("{value}", shown(valueAt(body, path)));
  throw new BadRequestError(param || null, message, code);
}

function parse<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const r = schema.safeParse(body);
  if (!r.success) fail(r.error, body);
  return r.data;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Refuses unknown and unsupported parameters (null means unset); `known` are the ones the endpoint handles. */
function checkKeys(body: unknown, known: Set<string>, ignored: readonly string[]): void {
  if (!isObject(body)) throw new BadRequestError(null, "the request body must be a JSON object", "invalid_type");
  for (const key of Object.keys(body)) {
    if (known.has(key) || ignored.includes(key) || body[key] === null) continue;
    if (key in REFUSED) throw new BadRequestError(key, `'${key}' is not supported by this server: ${REFUSED[key]}`, "unsupported_parameter");
    throw new BadRequestError(key, `'${key}' is not a parameter this endpoint knows; remove it (parameters that would change the output are never ignored)`, "unknown_parameter");
  }
}

// ---- what one field says about another

type SamplingBody = z.output<z.ZodObject<typeof sampling>>;

function samplingRequest(b: SamplingBody, maxTokens: number | undefined, topLogprobs: number | null): SamplingRequest {
  if (b.top_p === 0) throw new BadRequestError("top_p", "'top_p' must be greater than 0");
  if (b.stream_options && !b.stream) throw new BadRequestError("stream_options", "'stream_options' is only allowed with 'stream': true");
  return {
    model: b.model,
    maxTokens,
    temperature: b.temperature ?? 1,
    topP: b.top_p ?? 1,
    seed: b.seed,
    stop: b.stop === undefined ? [] : typeof b.stop === "string" ? [b.stop] : b.stop,
    n: b.n ?? 1,
    presencePenalty: b.presence_penalty ?? 0,
    frequencyPenalty: b.frequency_penalty ?? 0,
    logitBias: new Map(Object.entries(b.logit_bias ?? {}).map(([k, v]) => [Number(k), v])),
    topLogprobs,
    stream: b.stream ?? false,
    includeUsage: b.stream_options?.include_usage === true,
  };
}

const CHAT_KEYS = new Set(Object.keys(chatSchema.shape));

/** Parses a chat completion request body (already JSON-decoded). */
export function parseChatRequest(body: unknown): ChatRequest {
  checkKeys(body, CHAT_KEYS, IGNORED.chat);
  const b = parse(chatSchema, body);
  if (b.top_logprobs !== undefined && !b.logprobs) throw new BadRequestError("top_logprobs", "'top_logprobs' needs 'logprobs': true");
  const base = samplingRequest(b, b.max_completion_tokens ?? b.max_tokens, b.logprobs ? (b.top_logprobs ?? 0) : null);

  const messages = b.messages.map((m, i): ApiMessage => {
    const at = `messages[${i}]`;
    const role = m.role === "developer" ? "system" : m.role;
    const content = m.content === undefined || m.content === null ? null : typeof m.content === "string" ? m.content : m.content.map((p) => p.text).join("");
    if (content === null && !(role === "assistant" && m.tool_calls)) throw new BadRequestError(`${at}.content`, `'${at}.content' must be a string or an array of text parts`, "invalid_type");
    const out: ApiMessage = { role, content: content ?? "", ...(m.name !== undefined ? { name: m.name } : {}) };
    if (role === "assistant" && m.tool_calls) {
      out.toolCalls = m.tool_calls.map((c, j) => {
        try {
          JSON.parse(c.function.arguments);
        } catch {
          throw new BadRequestError(`${at}.tool_calls[${j}].function.arguments`, `'${at}.tool_calls[${j}].function.arguments' is not valid JSON`);
        }
        return { id: c.id, name: c.function.name, arguments: c.function.arguments };
      });
    }
    if (role === "tool") {
      if (m.tool_call_id === undefined) throw new BadRequestError(`${at}.tool_call_id`, `'${at}.tool_call_id' is required for a tool message`, "missing_required_parameter");
      out.toolCallId = m.tool_call_id;
    }
    return out;
  });

  const names = new Set<string>();
  const fns = (b.tools ?? []).map((t, i): FunctionTool => {
    const at = `tools[${i}].function`;
    const f = t.function;
    if (names.has(f.name)) throw new BadRequestError(`${at}.name`, `'${at}.name': the function ${f.name} is listed twice`);
    names.add(f.name);
    const parameters = f.parameters ?? { type: "object", properties: {} };
    if (parameters.type !== undefined && parameters.type !== "object") throw new BadRequestError(`${at}.parameters`, `'${at}.parameters' must be a JSON schema of type "object"`);
    const schema = { type: "object", ...parameters };
    checkSchema(schema, `${at}.parameters`, f.strict === true);
    return { name: f.name, description: f.description, parameters: schema, strict: f.strict === true };
  });

  let choice: ToolChoice = { mode: fns.length ? "auto" : "none" };
  if (b.tool_choice !== undefined) {
    if (!fns.length) throw new BadRequestError("tool_choice", "'tool_choice' needs 'tools'");
    if (typeof b.tool_choice === "string") choice = { mode: b.tool_choice };
    else {
      const wanted = b.tool_choice.function.name;
      if (!names.has(wanted)) throw new BadRequestError("tool_choice", `'tool_choice' names the function ${wanted}, which is not in 'tools' (${[...names].join(", ")})`);
      choice = { mode: "function", name: wanted };
    }
  }

  let format: ResponseFormat = { type: "text" };
  const rf = b.response_format;
  if (rf?.type === "json_object") format = { type: "json_object" };
  else if (rf?.type === "json_schema") {
    const schema = rf.json_schema.schema === undefined ? true : rf.json_schema.schema;
    const strict = rf.json_schema.strict === true;
    checkSchema(schema, "response_format.json_schema.schema", strict);
    format = { type: "json_schema", name: rf.json_schema.name, schema: schema as Record<string, unknown> | boolean, strict };
  }
  if (format.type !== "text" && (choice.mode === "required" || choice.mode === "function")) {
    throw new BadRequestError("response_format", "'response_format' cannot be combined with a forced 'tool_choice': the answer is a tool call");
  }
  if ((format.type !== "text" || choice.mode !== "none") && base.stop.length) {
    throw new BadRequestError("stop", "'stop' cannot be combined with 'response_format' json_object/json_schema or with 'tools': a stop sequence could cut the JSON the grammar guarantees");
  }
  return { ...base, messages, responseFormat: format, tools: fns, toolChoice: choice };
}

const COMPLETION_KEYS = new Set(Object.keys(completionSchema.shape));

/** Parses a text completion request body (already JSON-decoded). */
export function parseCompletionRequest(body: unknown): TextCompletionRequest {
  checkKeys(body, COMPLETION_KEYS, IGNORED.completions);
  const suffix = (body as Record<string, unknown>).suffix;
  if (suffix !== undefined && suffix !== null && suffix !== "") throw new BadRequestError("suffix", `'suffix' is not supported by this server: ${REFUSED.suffix}`, "unsupported_parameter");
  const b = parse(completionSchema, body);
  const base = samplingRequest(b, b.max_tokens, b.logprobs ?? null);
  if (b.best_of !== undefined && b.best_of !== base.n) throw new BadRequestError("best_of", `'best_of' must equal 'n' (${base.n}): choosing the best of more candidates is not supported`, "unsupported_parameter");
  const echo = b.echo ?? false;
  if (echo && base.topLogprobs !== null) throw new BadRequestError("echo", "'echo' with 'logprobs' is not supported (prompt logprobs are not computed)", "unsupported_parameter");
  const p = b.prompt;
  // a list holding one prompt is that prompt; a list of token ids is one prompt
  const one = Array.isArray(p) && p.length === 1 && (typeof p[0] === "string" || Array.isArray(p[0])) ? (p[0] as string | number[]) : p;
  if (Array.isArray(one) && one.some((x) => typeof x !== "number")) {
    throw new BadRequestError("prompt", "'prompt' may hold one prompt per request on this server; send one request per prompt (or use 'n' for several completions)");
  }
  const prompt = one as string | number[];
  if (prompt === "" || (Array.isArray(prompt) && !prompt.length)) throw new BadRequestError("prompt", "'prompt' must not be empty");
  return { ...base, prompt, echo };
}

// ---- the runtime adapter API (vLLM's /v1/load_lora_adapter and /v1/unload_lora_adapter)

const loraName = z
  .string({ error: "'lora_name' is required: 1-128 characters of letters, digits and . _ : / -" })
  .regex(/^[A-Za-z0-9._:/-]{1,128}$/, { error: "'lora_name' must be 1-128 characters of letters, digits and . _ : / -" });

const loadAdapterSchema = z.object(
  {
    lora_name: loraName,
    lora_path: z
      .string({ error: "'lora_path' is required: the IPFS CID of a PEFT adapter directory (CID or ipfs://CID)" })
      .transform((p) => p.replace(/^ipfs:\/\//, ""))
      .pipe(z.string().regex(/^[A-Za-z0-9]{10,}$/, { error: "'lora_path' must be the IPFS CID of a PEFT adapter directory (CID or ipfs://CID)" })),
    base_model: opt(z.string({ error: "'base_model' must be a base model id from GET /v1/models" })),
    adapter_hash: opt(z.string().regex(/^(0x)?[0-9a-fA-F]{64}$/, { error: "'adapter_hash' must be the sha256 of adapter_model.safetensors (64 hex digits)" })),
  },
  { error: "the request body must be a JSON object" },
);

export interface LoadAdapterRequest {
  name: string;
  /** The adapter directory's CID (an `ipfs://` prefix removed). */
  cid: string;
  baseModel?: string;
  adapterHash?: string;
}

/** Parses a POST /v1/load_lora_adapter body (already JSON-decoded). */
export function parseLoadAdapterRequest(body: unknown): LoadAdapterRequest {
  const b = parse(loadAdapterSchema, body);
  return { name: b.lora_name, cid: b.lora_path, ...(b.base_model !== undefined ? { baseModel: b.base_model } : {}), ...(b.adapter_hash !== undefined ? { adapterHash: b.adapter_hash } : {}) };
}

/** Parses a POST /v1/unload_lora_adapter body: the adapter's name. */
export function parseUnloadAdapterRequest(body: unknown): string {
  return parse(z.object({ lora_name: loraName }, { error: "the request body must be a JSON object" }), body).lora_name;
}
