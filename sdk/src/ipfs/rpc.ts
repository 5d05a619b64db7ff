// The subset of Kubo's RPC API (/api/v0/...) that Tributary uses, served from a Helia node, so
// kubo-rpc-client talks to it exactly as to Kubo. Errors use Kubo's shape: {"Message","Code","Type"}.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { UnixFS } from "@helia/unixfs";
import type { Helia } from "helia";
import type { ImportCandidateStream } from "ipfs-unixfs-importer";
import * as dagPb from "@ipld/dag-pb";
import { CID } from "multiformats/cid";
import { boundaryOf, MultipartError, readMultipart } from "./multipart.ts";
import type { MultipartPart } from "./multipart.ts";
import { linkOnlyWalker } from "./walker.ts";
import { capBody, closeAfterResponse } from "../http/guard.ts";
import { HttpError, pipeChunks, primed, sendJson } from "./http.ts";
import { importerOptionsFromQuery } from "./profile.ts";

export interface NodeIdentity {
  id: string;
  publicKey: string;
  agentVersion: string;
}

export interface RpcContext {
  helia: Helia;
  fs: UnixFS;
  identity: NodeIdentity;
  version: string;
  /** Cap on an `add` request's body (all its files together). */
  maxAddBytes: number;
}

const truthy = (v: string | null, dflt: boolean) => (v === null ? dflt : v !== "false" && v !== "0");

export function parseCidArg(arg: string | null, what = "arg"): CID {
  if (arg === null || arg === "") throw new HttpError(400, `argument "${what}" is required`);
  const path = arg.replace(/^\/ipfs\//, "");
  if (path.includes("/")) throw new HttpError(400, `paths inside a DAG are not supported here: ${arg}`);
  try {
    return CID.parse(path);
  } catch (e) {
    throw new HttpError(400, `invalid CID ${JSON.stringify(arg)}: ${(e as Error).message}`);
  }
}

function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy(new Error(message));
    return;
  }
  sendJson(res, status, { Message: message, Code: 0, Type: "error" });
}

/** Reads every block of a DAG root from the local store only; missing blocks are an error, never a fetch. */
async function getLocalBlock(helia: Helia, cid: CID): Promise<Uint8Array> {
  if (!(await helia.blockstore.has(cid))) throw new HttpError(500, `block ${cid} was not found locally (this node is offline)`);
  const parts: Uint8Array[] = [];
  for await (const chunk of helia.blockstore.get(cid, { offline: true })) parts.push(chunk);
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

/** Turns multipart parts into importer candidates. A body the importer has not finished when it asks
 * for the next part is buffered, so nothing is lost whatever the importer's read order. */
async function* candidates(parts: AsyncGenerator<MultipartPart>): ImportCandidateStream & AsyncGenerator<never> {
  let previousDrain: (() => Promise<void>) | undefined;
  for await (const part of parts) {
    await previousDrain?.();
    previousDrain = undefined;
    const [field, qs] = part.name.split("?");
    const meta = new URLSearchParams(qs ?? "");
    const mode = meta.has("mode") ? parseInt(meta.get("mode")!, 8) : undefined;
    const mtime = meta.has("mtime") ? { secs: BigInt(meta.get("mtime")!), nsecs: Number(meta.get("mtime-nsecs") ?? 0) } : undefined;
    const path = part.filename ?? "";
    if (field.startsWith("dir") || part.headers["content-type"] === "application/x-directory") {
      for await (const _ of part.body) { /* directories have no body */ }
      yield { path, ...(mode !== undefined ? { mode } : {}), ...(mtime ? { mtime } : {}) } as never;
      continue;
    }
    const queue: Uint8Array[] = [];
    let done = false;
    const body = part.body;
    const content = (async function* () {
      for (;;) {
        if (queue.length > 0) yield queue.shift()!;
        else if (done) return;
        else {
          const n = await body.next();
          if (n.done) done = true;
          else yield n.value;
        }
      }
    })();
    previousDrain = async () => {
      while (!done) {
        const n = await body.next();
        if (n.done) done = true;
        else queue.push(n.value);
      }
    };
    yield { path, content, ...(mode !== undefined ? { mode } : {}), ...(mtime ? { mtime } : {}) } as never;
  }
  await previousDrain?.();
}

async function add(ctx: RpcContext, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
  const boundary = boundaryOf(req.headers["content-type"]);
  if (!boundary) throw new HttpError(400, "add needs a multipart/form-data body");
  let options;
  try {
    options = importerOptionsFromQuery(q);
  } catch (e) {
    throw new HttpError(400, (e as Error).message);
  }
  if (truthy(q.get("only-hash"), false)) throw new HttpError(400, "only-hash is not supported by this node");
  const pin = truthy(q.get("pin"), true);
  const body = capBody(req, ctx.maxAddBytes, "the node's maxAddBytes (tributary-ipfs --max-add-bytes)");
  const results = ctx.fs.addAll(candidates(readMultipart(body, boundary)), { ...options, fileImportConcurrency: 1 });
  const entries = await primed(results);
  res.writeHead(200, { "content-type": "application/json", "x-chunked-output": "1", "x-stream-output": "1" });
  const lines: Array<{ path: string; cid: CID }> = [];
  for await (const entry of entries) {
    lines.push({ path: entry.path ?? "", cid: entry.cid });
    res.write(JSON.stringify({ Name: entry.path ?? entry.cid.toString(), Hash: entry.cid.toString(), Size: String(entry.size) }) + "\n");
  }
  if (pin) {
    // Kubo pins what it added at the top level (the wrapping directory when there is one).
    const roots = lines.filter((l) => !l.path.includes("/"));
    for (const root of roots) await pinAdd(ctx.helia, root.cid, true);
  }
  res.end();
}

/**
 * Checks that a DAG is wholly on this node (an offline node cannot fetch the rest). Helia's pin walker
 * would fail too, but leaks an unhandled rejection when it does, so missing blocks are found first.
 */
export async function missingBlock(helia: Helia, root: CID, recursive = true): Promise<CID | undefined> {
  const queue = [root];
  while (queue.length > 0) {
    const cid = queue.pop()!;
    if (!(await helia.blockstore.has(cid))) return cid;
    if (!recursive || cid.code !== dagPb.code) continue;
    const parts: Uint8Array[] = [];
    for await (const chunk of helia.blockstore.get(cid, { offline: true })) parts.push(chunk);
    for (const link of dagPb.decode(parts.length === 1 ? parts[0] : Buffer.concat(parts)).Links) queue.push(link.Hash);
  }
  return undefined;
}

async function pinAdd(helia: Helia, cid: CID, recursive: boolean): Promise<void> {
  const missing = await missingBlock(helia, cid, recursive);
  if (missing) throw new HttpError(500, `cannot pin ${cid}: block ${missing} is not on this node (it is offline; add the content first)`);
  try {
    for await (const _ of helia.pins.add(cid, { depth: recursive ? Infinity : 0, walker: linkOnlyWalker() })) { /* walk */ }
  } catch (e) {
    if ((e as Error).name === "AlreadyPinnedError") return;
    if ((e as Error).name === "BlockNotFoundWhileOfflineError") throw new HttpError(500, `cannot pin ${cid}: some of its blocks are not on this node (it is offline)`);
    throw e;
  }
}

async function pinnedType(helia: Helia, cid: CID): Promise<"recursive" | "direct" | undefined> {
  // pins.get, not pins.ls({ cid }): ls filters by a key prefix that does not match how Helia stores pin
  // keys, so it never finds one. (isPinned is no help either: it is also true for blocks pinned indirectly.)
  let pin: { depth: number };
  try {
    pin = await helia.pins.get(cid);
  } catch (e) {
    if ((e as Error).name === "NotFoundError") return undefined;
    throw e;
  }
  return pin.depth === 0 ? "direct" : "recursive";
}

export async function handleRpc(ctx: RpcContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const command = url.pathname.slice("/api/v0/".length);
  const q = url.searchParams;
  try {
    if (req.method !== "POST") throw new HttpError(405, `${req.method} is not allowed: the RPC API takes POST`);
    switch (command) {
      case "add":
        return await add(ctx, req, res, q);
      case "cat": {
        const cid = parseCidArg(q.get("arg"));
        const offset = q.has("offset") ? Number(q.get("offset")) : undefined;
        const length = q.has("length") ? Number(q.get("length")) : undefined;
        const chunks = await primed(ctx.fs.cat(cid, { offset, length, offline: true }));
        res.writeHead(200, { "content-type": "text/plain", "x-stream-output": "1" });
        return await pipeChunks(res, chunks);
      }
      case "block/get": {
        const bytes = await getLocalBlock(ctx.helia, parseCidArg(q.get("arg")));
        res.writeHead(200, { "content-type": "text/plain", "content-length": bytes.length });
        res.end(bytes);
        return;
      }
      case "block/stat": {
        const cid = parseCidArg(q.get("arg"));
        const bytes = await getLocalBlock(ctx.helia, cid);
        return sendJson(res, 200, { Key: cid.toString(), Size: bytes.length });
      }
      case "pin/add": {
        const recursive = truthy(q.get("recursive"), true);
        const cids = q.getAll("arg").map((a) => parseCidArg(a));
        if (cids.length === 0) throw new HttpError(400, 'argument "ipfs-path" is required');
        for (const cid of cids) await pinAdd(ctx.helia, cid, recursive);
        return sendJson(res, 200, { Pins: cids.map((c) => c.toString()) });
      }
      case "pin/rm": {
        const cids = q.getAll("arg").map((a) => parseCidArg(a));
        if (cids.length === 0) throw new HttpError(400, 'argument "ipfs-path" is required');
        for (const cid of cids) {
          if (!(await ctx.helia.pins.isPinned(cid))) throw new HttpError(500, `${cid} is not pinned or pinned indirectly`);
          for await (const _ of ctx.helia.pins.rm(cid, { walker: linkOnlyWalker() })) { /* walk */ }
        }
        return sendJson(res, 200, { Pins: cids.map((c) => c.toString()) });
      }
      case "pin/ls": {
        const type = q.get("type") ?? "all";
        if (!["all", "recursive", "direct", "indirect"].includes(type)) throw new HttpError(400, `invalid type "${type}", must be one of {direct, indirect, recursive, all}`);
        const stream = truthy(q.get("stream"), false);
        const found: Array<{ Cid: string; Type: string }> = [];
        const args = q.getAll("arg");
        if (args.length > 0) {
          for (const a of args) {
            const cid = parseCidArg(a);
            const t = await pinnedType(ctx.helia, cid);
            if (t === undefined) throw new HttpError(500, `path '${a}' is not pinned`);
            found.push({ Cid: cid.toString(), Type: t });
          }
        } else if (type !== "indirect") {
          for await (const p of ctx.helia.pins.ls()) {
            const t = p.depth === 0 ? "direct" : "recursive";
            if (type === "all" || type === t) found.push({ Cid: p.cid.toString(), Type: t });
          }
        }
        if (stream) {
          res.writeHead(200, { "content-type": "application/json", "x-chunked-output": "1" });
          res.end(found.map((f) => JSON.stringify(f) + "\n").join(""));
          return;
        }
        return sendJson(res, 200, { Keys: Object.fromEntries(found.map((f) => [f.Cid, { Type: f.Type }])) });
      }
      case "version":
        return sendJson(res, 200, {
          Version: ctx.version, Commit: "", Repo: "helia-fs", System: `${process.arch}/${process.platform}`,
          Golang: `none (Node.js ${process.version})`,
        });
      case "id":
        return sendJson(res, 200, {
          ID: ctx.identity.id, PublicKey: ctx.identity.publicKey, Addresses: [], AgentVersion: ctx.identity.agentVersion,
          ProtocolVersion: "ipfs/0.1.0", Protocols: [],
        });
      default:
        throw new HttpError(404, `command "${command}" is not served by this node (it serves add, cat, block/get, block/stat, pin/add, pin/rm, pin/ls, version, id)`);
    }
  } catch (e) {
    const status = e instanceof HttpError ? e.status : e instanceof MultipartError ? 400 : 500;
    if (status === 413) closeAfterResponse(res);
    const name = (e as Error).name;
    const message = name === "BlockNotFoundWhileOfflineError" || name === "NotFoundError"
      ? `block not found locally (this node is offline and cannot fetch it)${q.get("arg") ? `: ${q.get("arg")}` : ""}`
      : (e as Error).message;
    sendError(res, status, message);
  }
}
