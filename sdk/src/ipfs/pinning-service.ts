// A local IPFS Pinning Service API (/pins) backed by the embedded node's own pins, so code written for
// a remote pinning service runs (and is tested) against the local stack. The node is offline: content
// must already be on it (added through the RPC API), otherwise the request ends `failed`.
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Helia } from "helia";
import { Key } from "interface-datastore";
import { CID } from "multiformats/cid";
import { linkOnlyWalker } from "./walker.ts";
import { HttpError, readBody, sendJson } from "./http.ts";
import { missingBlock } from "./rpc.ts";

interface StoredPin {
  requestid: string;
  status: "queued" | "pinning" | "pinned" | "failed";
  created: string;
  pin: { cid: string; name?: string; origins?: string[]; meta?: Record<string, string> };
  delegates: string[];
  info?: Record<string, string>;
  /** Whether this request created the node's pin (so removing it may release the pin). Not sent to clients. */
  ownsPin?: boolean;
}

function publicView(p: StoredPin): Omit<StoredPin, "ownsPin"> {
  const { ownsPin: _owns, ...rest } = p;
  return rest;
}

const PREFIX = "/tributary/pinning-service/";

function psaError(res: ServerResponse, status: number, reason: string, details?: string): void {
  sendJson(res, status, { error: { reason, ...(details ? { details } : {}) } });
}

export interface PinningServiceContext {
  helia: Helia;
  /** Bearer token required on every request; unset means open (allowed only on loopback, see node.ts). */
  accessToken?: string;
  delegates: string[];
  /** Cap on a request's JSON body. */
  maxBodyBytes: number;
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/** Compares the Authorization header with the token in constant time. */
function authorized(header: string | undefined, token: string): boolean {
  return header !== undefined && timingSafeEqual(digest(header), digest(`Bearer ${token}`));
}

async function all(ctx: PinningServiceContext): Promise<StoredPin[]> {
  const out: StoredPin[] = [];
  for await (const { value } of ctx.helia.datastore.query({ prefix: PREFIX })) out.push(JSON.parse(new TextDecoder().decode(value)));
  return out;
}

async function save(ctx: PinningServiceContext, p: StoredPin): Promise<void> {
  await ctx.helia.datastore.put(new Key(PREFIX + p.requestid), new TextEncoder().encode(JSON.stringify(p)));
}

async function load(ctx: PinningServiceContext, id: string): Promise<StoredPin> {
  try {
    return JSON.parse(new TextDecoder().decode(await ctx.helia.datastore.get(new Key(PREFIX + id))));
  } catch {
    throw new HttpError(404, id);
  }
}

function validatePin(body: unknown): StoredPin["pin"] {
  const b = body as StoredPin["pin"] | null;
  if (typeof b !== "object" || b === null || typeof b.cid !== "string") throw new HttpError(400, "body must be a Pin object with a cid");
  try {
    CID.parse(b.cid);
  } catch {
    throw new HttpError(400, `invalid cid ${b.cid}`);
  }
  if (b.name !== undefined && (typeof b.name !== "string" || b.name.length > 255)) throw new HttpError(400, "name must be a string of at most 255 characters");
  return { cid: b.cid, ...(b.name ? { name: b.name } : {}), ...(b.origins ? { origins: b.origins } : {}), ...(b.meta ? { meta: b.meta } : {}) };
}

async function execute(ctx: PinningServiceContext, pin: StoredPin["pin"]): Promise<Pick<StoredPin, "status" | "info" | "ownsPin">> {
  const cid = CID.parse(pin.cid);
  const missing = await missingBlock(ctx.helia, cid);
  if (missing) return { status: "failed", info: { status_details: `block ${missing} is not on this node; add the content through the RPC API first` } };
  try {
    if (await ctx.helia.pins.isPinned(cid)) return { status: "pinned", ownsPin: false };
    for await (const _ of ctx.helia.pins.add(cid, { walker: linkOnlyWalker() })) { /* walk */ }
    return { status: "pinned", ownsPin: true };
  } catch (e) {
    return { status: "failed", info: { status_details: `content not on this node: ${(e as Error).message}` } };
  }
}

/**
 * After a request is deleted: the pin it created passes to another request for the same CID, or is
 * removed. Pins made through the RPC API (or before the request) are never touched.
 */
async function release(ctx: PinningServiceContext, removed: StoredPin): Promise<void> {
  if (!removed.ownsPin) return;
  const heir = (await all(ctx)).find((p) => p.pin.cid === removed.pin.cid && p.status === "pinned");
  if (heir) {
    await save(ctx, { ...heir, ownsPin: true });
    return;
  }
  const c = CID.parse(removed.pin.cid);
  if (await ctx.helia.pins.isPinned(c)) for await (const _ of ctx.helia.pins.rm(c, { walker: linkOnlyWalker() })) { /* walk */ }
}

export async function handlePinningService(ctx: PinningServiceContext, req: IncomingMessage, res: ServerResponse, url: URL, base: string): Promise<void> {
  try {
    if (ctx.accessToken && !authorized(req.headers.authorization, ctx.accessToken)) {
      return psaError(res, 401, "UNAUTHORIZED", "Access token is missing or invalid");
    }
    const rest = url.pathname.slice(base.length);
    const q = url.searchParams;
    if (rest === "/pins" && req.method === "GET") {
      const cids = q.get("cid")?.split(",").filter(Boolean);
      const statuses = (q.get("status") ?? "pinned").split(",");
      const name = q.get("name");
      const match = q.get("match") ?? "exact";
      const limit = Math.min(Number(q.get("limit") ?? 10), 1000);
      if (!Number.isInteger(limit) || limit < 1) throw new HttpError(400, "limit must be an integer from 1 to 1000");
      const before = q.get("before"), after = q.get("after");
      const nameOk = (n?: string) => name === null || (n !== undefined && (
        match === "exact" ? n === name : match === "iexact" ? n.toLowerCase() === name.toLowerCase()
          : match === "partial" ? n.includes(name) : n.toLowerCase().includes(name.toLowerCase())));
      const results = (await all(ctx))
        .filter((p) => statuses.includes(p.status) && (!cids || cids.includes(p.pin.cid)) && nameOk(p.pin.name)
          && (!before || p.created < before) && (!after || p.created > after))
        .sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
      return sendJson(res, 200, { count: results.length, results: results.slice(0, limit).map(publicView) });
    }
    if (rest === "/pins" && req.method === "POST") {
      const pin = validatePin(JSON.parse(await readBody(req, ctx.maxBodyBytes)));
      const stored: StoredPin = { requestid: randomUUID(), created: new Date().toISOString(), pin, delegates: ctx.delegates, ...(await execute(ctx, pin)) };
      await save(ctx, stored);
      return sendJson(res, 202, publicView(stored));
    }
    const m = /^\/pins\/([^/]+)$/.exec(rest);
    if (m) {
      const id = decodeURIComponent(m[1]);
      const existing = await load(ctx, id);
      if (req.method === "GET") return sendJson(res, 200, publicView(existing));
      if (req.method === "DELETE") {
        await ctx.helia.datastore.delete(new Key(PREFIX + id));
        await release(ctx, existing);
        res.writeHead(202).end();
        return;
      }
      if (req.method === "POST") {
        const pin = validatePin(JSON.parse(await readBody(req, ctx.maxBodyBytes)));
        await ctx.helia.datastore.delete(new Key(PREFIX + id));
        await release(ctx, existing);
        const stored: StoredPin = { requestid: randomUUID(), created: new Date().toISOString(), pin, delegates: ctx.delegates, ...(await execute(ctx, pin)) };
        await save(ctx, stored);
        return sendJson(res, 202, publicView(stored));
      }
    }
    throw new HttpError(404, `no route ${req.method} ${url.pathname}`);
  } catch (e) {
    if (e instanceof SyntaxError) return psaError(res, 400, "BAD_REQUEST", `body is not JSON: ${e.message}`);
    if (e instanceof HttpError) return psaError(res, e.status, e.status === 404 ? "NOT_FOUND" : "BAD_REQUEST", e.message);
    return psaError(res, 500, "INTERNAL_SERVER_ERROR", (e as Error).message);
  }
}
