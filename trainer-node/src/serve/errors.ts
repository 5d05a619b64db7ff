/**
 * Errors of the serving side. Each carries the HTTP status, the OpenAI error `type` and `code`, and
 * (for bad requests) the offending `param`, so the API can answer in OpenAI's error shape.
 */

export class ServeError extends Error {
  readonly status: number;
  readonly type: string;
  readonly code: string | null;
  readonly param: string | null;
  readonly details: Record<string, unknown>;
  constructor(
    message: string,
    o: { status: number; type: string; code?: string | null; param?: string | null; details?: Record<string, unknown>; hint?: string; cause?: unknown },
  ) {
    super(o.hint ? `${message}. ${o.hint}` : message, o.cause === undefined ? undefined : { cause: o.cause });
    this.name = new.target.name;
    this.status = o.status;
    this.type = o.type;
    this.code = o.code ?? null;
    this.param = o.param ?? null;
    this.details = o.details ?? {};
  }
}

/** The request body is not what the endpoint takes; `param` names the field. */
export class BadRequestError extends ServeError {
  constructor(param: string | null, message: string, code = "invalid_value") {
    super(message, { status: 400, type: "invalid_request_error", code, param });
  }
}

/** No model with that id; the message lists the ids that exist. */
/**
 * The prompt checks every serving backend makes before anything runs: not empty, and shorter than the model's
 * context (`promptParam` names the request field the prompt came from).
 */
export function checkPromptFits(promptParam: string, promptTokens: number, context: number): void {
  if (!promptTokens) throw new BadRequestError(promptParam, `'${promptParam}' gives an empty prompt`);
  if (promptTokens >= context) {
    throw new BadRequestError(promptParam, `the prompt is ${promptTokens} tokens; this model's context is ${context} tokens. Shorten the ${promptParam === "messages" ? "conversation" : "prompt"}`, "context_length_exceeded");
  }
}

export class ModelNotFoundError extends ServeError {
  readonly available: string[];
  constructor(id: string, available: string[]) {
    super(`The model '${id}' does not exist`, {
      status: 404,
      type: "invalid_request_error",
      code: "model_not_found",
      param: "model",
      hint: `Available models: ${available.join(", ") || "none"}. GET /v1/models lists them`,
    });
    this.available = available;
  }
}

/** Content fetched from IPFS does not match what the chain says (adapter sha256), or is not a usable directory. */
export class ContentMismatchError extends ServeError {
  constructor(message: string, details: Record<string, unknown>, hint: string) {
    super(`${message} ${JSON.stringify(details)}`, { status: 502, type: "server_error", code: "content_mismatch", details, hint });
  }
}

/** IPFS could not deliver the model or adapter (node down, content missing). */
export class ContentUnavailableError extends ServeError {
  constructor(what: string, cid: string, cause: unknown) {
    super(`Could not fetch ${what} ${cid} from IPFS: ${cause instanceof Error ? cause.message : String(cause)}`, {
      status: 502,
      type: "server_error",
      code: "content_unavailable",
      details: { cid },
      hint: "Check that the IPFS node is running and has (or can find) the content",
      cause,
    });
  }
}
