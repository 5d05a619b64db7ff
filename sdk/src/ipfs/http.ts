// Small HTTP helpers shared by the RPC, gateway and pinning-service handlers.
import type { ServerResponse } from "node:http";

/** An error the handlers turn into an HTTP answer with this status (the shared guard's, so its 413s and 403s are answered alike). */
export { HttpGuardError as HttpError, readBody } from "../http/guard.ts";

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
