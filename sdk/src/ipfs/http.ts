// Small HTTP helpers shared by the RPC, gateway and pinning-service handlers.
import type { IncomingMessage, ServerResponse } from "node:http";

/** An error the handlers turn into an HTTP answer with this status. */
export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "HttpError";
    this.status = status;
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Streams chunks to the response, honouring back-pressure. */
export async function pipeChunks(res: ServerResponse, chunks: AsyncIterable<Uint8Array>): Promise<void> {
  for await (const chunk of chunks) {
    if (!res.write(chunk)) await new Promise<void>((resolve, reject) => {
      const done = () => { res.off("close", closed); resolve(); };
      const closed = () => { res.off("drain", done); reject(new Error("client went away")); };
      res.once("drain", done);
      res.once("close", closed);
    });
  }
  res.end();
}

export async function readBody(req: IncomingMessage, limit = 1024 * 1024): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, `request body over ${limit} bytes`);
    parts.push(chunk);
  }
  return Buffer.concat(parts).toString("utf8");
}

/** Pulls the first value of a stream before any header is sent, so early errors become clean HTTP errors. */
export async function primed<T>(source: AsyncIterable<T>): Promise<AsyncIterable<T>> {
  const it = source[Symbol.asyncIterator]();
  const first = await it.next();
  return (async function* () {
    if (first.done) return;
    yield first.value;
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      yield n.value;
    }
  })();
}
