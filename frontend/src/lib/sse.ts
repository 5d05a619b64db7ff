// Server-sent events over fetch (EventSource cannot POST): a chunk-boundary-safe parser and the chat
// completions stream of the trainer node's OpenAI-compatible API.

export interface SseMessage {
  event?: string;
  data: string;
}

/** Feeds text as it arrives; returns the messages completed so far (a blank line ends a message). */
export class SseParser {
  private buffer = "";

  feed(text: string): SseMessage[] {
    this.buffer += text.replace(/\r\n?/g, "\n");
    const out: SseMessage[] = [];
    let end: number;
    while ((end = this.buffer.indexOf("\n\n")) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const data: string[] = [];
      let event: string | undefined;
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue; // comment / keep-alive
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "data") data.push(value);
        else if (field === "event") event = value;
      }
      if (data.length) out.push({ event, data: data.join("\n") });
    }
    return out;
  }
}

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** A span of an answer found verbatim in a training contribution (trainer node, `tributary.citations`). */
export interface Citation {
  datanet_id: string;
  contribution_id: string;
  contributor: string;
  text: string;
  tokens: number;
}

/** What a paid request cost (trainer node, `tributary.billing` of the last chunk), OPEN wei as decimal strings. */
export interface Billing {
  channel_id: string;
  price_per_1k_tokens: string;
  cost: string;
  owed: string;
}

export class ChatStreamError extends Error {
  readonly status?: number;
  /** The error answer's JSON body, when there was one (a 402 carries the payment terms). */
  readonly body?: unknown;
  constructor(message: string, status?: number, body?: unknown) {
    super(message);
    this.name = "ChatStreamError";
    this.status = status;
    this.body = body;
  }
}

/**
 * POSTs a streaming chat completion and calls `onDelta` with each piece of the answer; resolves with the
 * whole answer, the finish reason, the citations the last chunk carries (models the node trained) and
 * its billing (priced models; `headers` then carries the voucher).
 */
export async function streamChat(
  apiUrl: string,
  body: { model: string; messages: ChatMessage[]; max_tokens?: number; temperature?: number },
  onDelta: (text: string) => void,
  signal?: AbortSignal,
  headers: Record<string, string> = {},
): Promise<{ text: string; finishReason?: string; citations: Citation[]; billing?: Billing }> {
  let res: Response;
  try {
    res = await fetch(`${apiUrl}/chat/completions`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ ...body, stream: true }),
      signal,
    });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ChatStreamError(
      "The trainer node's API cannot be reached. Is the trainer node running (npm start)?",
    );
  }
  if (!res.ok || !res.body) {
    let detail = "";
    let json: unknown;
    try {
      json = await res.json();
      detail = (json as { error?: { message?: string } }).error?.message ?? "";
    } catch {
      // not JSON
    }
    throw new ChatStreamError(detail || `The model API answered ${res.status}.`, res.status, json);
  }
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const reader = res.body.getReader();
  let text = "";
  let finishReason: string | undefined;
  let citations: Citation[] = [];
  let billing: Billing | undefined;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    for (const msg of parser.feed(decoder.decode(value, { stream: true }))) {
      if (msg.data === "[DONE]") return { text, finishReason, citations, billing };
      const chunk = JSON.parse(msg.data) as {
        choices?: Array<{ delta?: { content?: string }; finish_reason?: string | null }>;
        error?: { message?: string };
        tributary?: { citations?: Citation[]; billing?: Billing };
      };
      if (chunk.error) throw new ChatStreamError(chunk.error.message ?? "The model failed to answer.");
      const choice = chunk.choices?.[0];
      const piece = choice?.delta?.content;
      if (piece) {
        text += piece;
        onDelta(piece);
      }
      if (choice?.finish_reason) finishReason = choice.finish_reason;
      if (Array.isArray(chunk.tributary?.citations)) citations = chunk.tributary.citations;
      if (chunk.tributary?.billing) billing = chunk.tributary.billing;
    }
  }
  return { text, finishReason, citations, billing };
}
