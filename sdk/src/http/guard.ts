// The guard every local Tributary HTTP service puts in front of its handlers (the embedded IPFS node's RPC
// API and Pinning Service API, the custodian, the subgraph indexer; the trainer API can adopt it):
//  - web origins: like Kubo's API, a request that carries an Origin (or, without one, a Referer) is
//    refused with 403 unless that origin is on the service's allow-list, so a page on another site cannot
//    drive the service through the visitor's browser; requests without either (curl, Node, the CLI) pass.
//    A browser request that hides both (Sec-Fetch-Site cross-site/same-site) is refused too. Allowed
//    origins get CORS headers, and their preflights (OPTIONS) a 204.
//  - DNS rebinding: while the service listens on loopback, a Host header naming anything but a loopback
//    address (or the configured host) is refused with 403.
//  - body caps: `readBody` refuses a body over the cap with 413 (from Content-Length before reading when
//    the client sends one), and `capBody` caps a streamed body the same way.
import type { IncomingMessage, ServerResponse } from "node:http";

/** Default cap on a request body read whole (JSON requests): 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1 << 20;

/** An error a service answers with this HTTP status and message. */
export class HttpGuardError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "HttpGuardError";
    this.status = status;
  }
}

export interface GuardOptions {
  /**
   * Web origins allowed to call the service from a browser, e.g. `http://127.0.0.1:5173` (scheme, host
   * and port, no path). Default none: only non-browser clients. `*` allows every origin (never for a
   * service that changes state or releases keys).
   */
  allowedOrigins?: readonly string[];
  /** The address the service listens on; with a loopback one the Host header must be loopback too. */
  listenHost?: string;
  /** Methods a preflight may ask for (default GET, POST). */
  methods?: readonly string[];
  /** Request headers a preflight may ask for (default content-type, authorization). */
  headers?: readonly string[];
}

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "::1", "[::1]"]);

/** Whether an address (as given to `listen`, or a Host name) is loopback only. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  return LOOPBACK_NAMES.has(h) || /^127(?:\.\d{1,3}){3}$/.test(h) || h.endsWith(".localhost");
}

/** Normalises an origin (`http://127.0.0.1:5173/` -> `http://127.0.0.1:5173`); throws on a malformed one. */
export function normalizeOrigin(origin: string): string {
  if (origin === "*") return origin;
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    throw new Error(`allowed origin ${JSON.stringify(origin)} is not a URL; write it as scheme://host:port, e.g. http://127.0.0.1:5173`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new Error(`allowed origin ${JSON.stringify(origin)} must be http:// or https://`);
  if ((u.pathname !== "/" && u.pathname !== "") || u.search || u.hash || u.username)
    throw new Error(`allowed origin ${JSON.stringify(origin)} must have no path, query or credentials: scheme://host:port`);
  return u.origin;
}

/** Allowed origins from a comma-separated setting (e.g. TRIBUTARY_ALLOWED_ORIGINS); empty or unset -> none. */
export function parseAllowedOrigins(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map(normalizeOrigin);
}

function originOf(referer: string): string | undefined {
  try {
    return new URL(referer).origin;
  } catch {
    return undefined;
  }
}

function hostName(hostHeader: string): string {
  const m = /^(\[[^\]]*\]|[^:]*)(?::\d+)?$/.exec(hostHeader.trim());
  return (m ? m[1] : hostHeader).toLowerCase();
}

export interface HttpGuard {
  /** The normalised allow-list. */
  readonly allowedOrigins: readonly string[];
  /**
   * Checks a request; on refusal it answers (403, JSON `{error, message}`, or the `refuse` callback's
   * answer) and returns false. An allowed browser origin gets its CORS headers set on `res`; an allowed
   * preflight (OPTIONS) is answered 204 and also returns false (nothing left to do).
   */
  admit(req: IncomingMessage, res: ServerResponse, refuse?: (status: number, message: string) => void): boolean;
  /** The reason a request would be refused, or undefined; sets nothing. */
  check(req: IncomingMessage): string | undefined;
}

export function createHttpGuard(opts: GuardOptions = {}): HttpGuard {
  const allowed = (opts.allowedOrigins ?? []).map(normalizeOrigin);
  const any = allowed.includes("*");
  const loopbackOnly = opts.listenHost === undefined || isLoopback(opts.listenHost);
  const listenName = opts.listenHost ? hostName(opts.listenHost) : undefined;
  const methods = (opts.methods ?? ["GET", "POST"]).join(", ");
  const headers = (opts.headers ?? ["content-type", "authorization"]).join(", ");
  const originAllowed = (o: string) => any || allowed.includes(o);
  const hint = "add it to the service's allowed origins (TRIBUTARY_ALLOWED_ORIGINS) if it is yours";

  function check(req: IncomingMessage): string | undefined {
    const host = req.headers.host;
    if (loopbackOnly && host !== undefined) {
      const name = hostName(host);
      if (!isLoopback(name) && name !== listenName)
        return `Host ${JSON.stringify(host)} is not this loopback service's address (DNS rebinding?); use 127.0.0.1 or localhost`;
    }
    const origin = req.headers.origin;
    if (origin !== undefined) {
      return originAllowed(origin) ? undefined : `requests from the web origin ${origin} are not allowed; ${hint}`;
    }
    const referer = req.headers.referer;
    if (referer !== undefined) {
      const from = originOf(referer);
      return from !== undefined && originAllowed(from)
        ? undefined
        : `requests from the web page ${from ?? referer} are not allowed; ${hint}`;
    }
    const site = req.headers["sec-fetch-site"];
    if (site === "cross-site" || site === "same-site")
      return "a browser request from another site without an Origin is not allowed";
    return undefined;
  }

  return {
    allowedOrigins: allowed,
    check,
    admit(req, res, refuse) {
      const reason = check(req);
      if (reason !== undefined) {
        if (refuse) refuse(403, reason);
        else {
          const text = JSON.stringify({ error: "forbidden_origin", message: reason });
          res.writeHead(403, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
          res.end(text);
        }
        return false;
      }
      const origin = req.headers.origin;
      if (origin !== undefined) {
        res.setHeader("access-control-allow-origin", any ? "*" : origin);
        res.setHeader("vary", "Origin");
        if (req.method === "OPTIONS") {
          res.writeHead(204, {
            "access-control-allow-methods": methods,
            "access-control-allow-headers": headers,
            "access-control-max-age": "600",
          });
          res.end();
          return false;
        }
      }
      return true;
    },
  };
}

function tooLarge(limit: number, setting?: string): HttpGuardError {
  return new HttpGuardError(
    413,
    `request body is larger than this service accepts (${limit} bytes)${setting ? `; raise it with ${setting}` : ""}`,
  );
}

/**
 * Yields a request's body chunks, failing with 413 once more than `limit` bytes have come (at once when
 * Content-Length announces more). For bodies streamed to a consumer (an IPFS `add`).
 */
export async function* capBody(req: IncomingMessage, limit: number, setting?: string): AsyncGenerator<Uint8Array> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit, setting);
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit, setting);
    yield chunk;
  }
}

/** Reads a whole request body (UTF-8) of at most `limit` bytes; more is a 413 HttpGuardError. */
export async function readBody(req: IncomingMessage, limit = DEFAULT_MAX_BODY_BYTES, setting?: string): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const chunk of capBody(req, limit, setting)) parts.push(chunk);
  return Buffer.concat(parts).toString("utf8");
}

/**
 * After a refusal sent before the request body was read (413, 403): close the connection once the answer
 * is out, without reading the rest of the body, so a client that keeps sending cannot hold the server.
 */
export function closeAfterResponse(res: ServerResponse): void {
  if (!res.headersSent) res.setHeader("connection", "close");
  res.on("finish", () => res.req?.socket?.destroySoon?.());
}
