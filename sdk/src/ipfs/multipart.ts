// A streaming multipart/form-data reader for `/api/v0/add`: parts are yielded one at a time and their
// bodies stream through without buffering whole files.

export interface MultipartPart {
  /** Lower-cased header names. */
  headers: Record<string, string>;
  /** Field name from Content-Disposition (Kubo clients send `file`, `file-1`, `dir`, ... plus `?mode=` etc). */
  name: string;
  /** Decoded file name (the path inside the upload), if any. */
  filename?: string;
  body: AsyncGenerator<Uint8Array>;
}

export class MultipartError extends Error {
  constructor(reason: string) {
    super(`Malformed multipart body: ${reason}. Send files as multipart/form-data, as kubo-rpc-client does.`);
    this.name = "MultipartError";
  }
}

/** The boundary from a Content-Type header, or undefined if it is not multipart/form-data. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/form-data/i.test(contentType)) return undefined;
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  return m ? (m[1] ?? m[2]).trim() : undefined;
}

/** A plain Uint8Array over the same memory (no copy); `buf` is never written to, only re-sliced. */
function view(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

function parseHeaders(block: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of block.split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return headers;
}

function dispositionParam(disposition: string, key: string): string | undefined {
  const m = new RegExp(`(?:^|;)\\s*${key}="((?:[^"\\\\]|\\\\.)*)"`, "i").exec(disposition) ?? new RegExp(`(?:^|;)\\s*${key}=([^;]*)`, "i").exec(disposition);
  return m ? m[1] : undefined;
}

/**
 * Reads parts from a byte stream. Each part's body must be consumed (or is skipped) before the next
 * part is produced.
 */
export async function* readMultipart(source: AsyncIterable<Uint8Array>, boundary: string): AsyncGenerator<MultipartPart> {
  const iterator = source[Symbol.asyncIterator]();
  let buf: Buffer = Buffer.alloc(0);
  let ended = false;
  const pull = async (): Promise<boolean> => {
    if (ended) return false;
    const { done, value } = await iterator.next();
    if (done) {
      ended = true;
      return false;
    }
    buf = buf.length === 0 ? Buffer.from(value.buffer, value.byteOffset, value.length) : Buffer.concat([buf, value]);
    return true;
  };
  const dash = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.from(`\r\n--${boundary}`);

  // Preamble up to the first boundary.
  for (;;) {
    const i = buf.indexOf(dash);
    if (i >= 0) {
      buf = buf.subarray(i + dash.length);
      break;
    }
    if (!(await pull())) throw new MultipartError("no boundary found");
  }
  for (;;) {
    // After a boundary: "--" ends the body, CRLF starts a part.
    while (buf.length < 2) if (!(await pull())) throw new MultipartError("body ends after a boundary");
    if (buf[0] === 0x2d && buf[1] === 0x2d) return;
    if (buf[0] !== 0x0d || buf[1] !== 0x0a) throw new MultipartError("boundary not followed by CRLF");
    buf = buf.subarray(2);
    let headerEnd: number;
    while ((headerEnd = buf.indexOf("\r\n\r\n")) < 0) {
      if (buf.length > 64 * 1024) throw new MultipartError("part headers over 64 KiB");
      if (!(await pull())) throw new MultipartError("body ends inside part headers");
    }
    const headers = parseHeaders(buf.subarray(0, headerEnd).toString("utf8"));
    buf = buf.subarray(headerEnd + 4);
    const disposition = headers["content-disposition"] ?? "";
    const rawName = dispositionParam(disposition, "filename");
    let finished = false;
    const body = (async function* (): AsyncGenerator<Uint8Array> {
      for (;;) {
        const i = buf.indexOf(delimiter);
        if (i >= 0) {
          if (i > 0) yield view(buf.subarray(0, i));
          buf = buf.subarray(i + delimiter.length);
          finished = true;
          return;
        }
        // Everything but a possible partial delimiter at the end can go out now.
        const safe = buf.length - (delimiter.length - 1);
        if (safe > 0) {
          const out = view(buf.subarray(0, safe));
          buf = buf.subarray(safe);
          yield out;
        }
        if (!(await pull())) throw new MultipartError("body ends inside a part");
      }
    })();
    let filename: string | undefined;
    if (rawName !== undefined) {
      try {
        filename = decodeURIComponent(rawName);
      } catch {
        filename = rawName;
      }
    }
    yield { headers, name: dispositionParam(disposition, "name") ?? "", filename, body };
    if (!finished) for await (const _ of body) { /* skip what the consumer left */ }
  }
}
