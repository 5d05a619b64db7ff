/**
 * Validation of an OpenAI chat completion request body, by hand (the trainer node has no schema
 * library): each problem becomes a BadRequestError naming the field, as OpenAI does (`param`).
 */
import type { ChatMessage } from "@tributary/engine";
import { BadRequestError } from "./errors.ts";

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  maxTokens?: number;
  temperature: number;
  topP: number;
  seed?: number;
  stop: string[];
  stream: boolean;
  includeUsage: boolean;
}

const ROLES = new Set(["system", "developer", "user", "assistant"]);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function optNumber(body: Record<string, unknown>, key: string, min: number, max: number, integer = false): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new BadRequestError(key, `'${key}' must be a number, got ${JSON.stringify(v)}`, "invalid_type");
  if (integer && !Number.isInteger(v)) throw new BadRequestError(key, `'${key}' must be an integer, got ${v}`, "invalid_type");
  if (v < min || v > max) throw new BadRequestError(key, `'${key}' must be between ${min} and ${max}, got ${v}`);
  return v;
}

function content(v: unknown, at: string): string {
  if (typeof v === "string") return v;
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

/** Parses a request body (already JSON-decoded). */
export function parseChatRequest(body: unknown): ChatRequest {
  if (!isObject(body)) throw new BadRequestError(null, "the request body must be a JSON object", "invalid_type");
  if (typeof body.model !== "string" || !body.model) throw new BadRequestError("model", "'model' is required: a model id from GET /v1/models", body.model === undefined ? "missing_required_parameter" : "invalid_type");
  if (!Array.isArray(body.messages)) throw new BadRequestError("messages", "'messages' is required: an array of {role, content}", body.messages === undefined ? "missing_required_parameter" : "invalid_type");
  if (!body.messages.length) throw new BadRequestError("messages", "'messages' must hold at least one message");
  const messages = body.messages.map((m, i): ChatMessage => {
    const at = `messages[${i}]`;
    if (!isObject(m)) throw new BadRequestError(at, `'${at}' must be an object {role, content}`, "invalid_type");
    if (typeof m.role !== "string" || !ROLES.has(m.role)) {
      throw new BadRequestError(`${at}.role`, `'${at}.role' must be one of system, developer, user, assistant; got ${JSON.stringify(m.role)}`);
    }
    return { role: m.role === "developer" ? "system" : m.role, content: content(m.content, at) };
  });

  const maxTokens = optNumber(body, "max_completion_tokens", 1, 2 ** 31, true) ?? optNumber(body, "max_tokens", 1, 2 ** 31, true);
  const temperature = optNumber(body, "temperature", 0, 2) ?? 1;
  const topP = optNumber(body, "top_p", 0, 1) ?? 1;
  if (topP === 0) throw new BadRequestError("top_p", "'top_p' must be greater than 0");
  const seed = optNumber(body, "seed", -(2 ** 53), 2 ** 53, true);
  if (body.n !== undefined && body.n !== null && body.n !== 1) throw new BadRequestError("n", `'n' must be 1 (this server returns one choice per request), got ${JSON.stringify(body.n)}`);

  let stop: string[] = [];
  if (typeof body.stop === "string") stop = [body.stop];
  else if (Array.isArray(body.stop)) {
    if (body.stop.length > 4 || body.stop.some((s) => typeof s !== "string")) throw new BadRequestError("stop", "'stop' must be a string or an array of at most 4 strings");
    stop = body.stop as string[];
  } else if (body.stop !== undefined && body.stop !== null) throw new BadRequestError("stop", "'stop' must be a string or an array of at most 4 strings", "invalid_type");

  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== "boolean") throw new BadRequestError("stream", "'stream' must be true or false", "invalid_type");
  const so = body.stream_options;
  if (so !== undefined && so !== null && !isObject(so)) throw new BadRequestError("stream_options", "'stream_options' must be an object", "invalid_type");
  if (isObject(so) && so.include_usage !== undefined && typeof so.include_usage !== "boolean") throw new BadRequestError("stream_options.include_usage", "'stream_options.include_usage' must be true or false", "invalid_type");
  if (body.logprobs === true) throw new BadRequestError("logprobs", "'logprobs' is not supported by this server");
  if (Array.isArray(body.tools) && body.tools.length) throw new BadRequestError("tools", "'tools' (function calling) is not supported by this server");

  return {
    model: body.model,
    messages,
    maxTokens,
    temperature,
    topP,
    seed,
    stop,
    stream: body.stream === true,
    includeUsage: isObject(so) && so.include_usage === true,
  };
}
