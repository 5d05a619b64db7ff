// A trustless gateway: `/ipfs/<cid>` serves a UnixFS file, `?format=raw` or
// `Accept: application/vnd.ipld.raw` serves the raw block, which the client verifies itself.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { UnixFS } from "@helia/unixfs";
import type { Helia } from "helia";
import { CID } from "multiformats/cid";
import { HttpError, pipeChunks, primed } from "./http.ts";

const RAW = "application/vnd.ipld.raw";

function wantsRaw(req: IncomingMessage, url: URL): boolean {
  const format = url.searchParams.get("format");
  if (format !== null) {
    if (format === "raw") return true;
    throw new HttpError(400, `format=${format} is not supported (use format=raw or no format)`);
  }
  return (req.headers.accept ?? "").split(",").some((a) => a.trim().split(";")[0] === RAW);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  res.end(text + "\n");
}

export async function handleGateway(ctx: { helia: Helia; fs: UnixFS }, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://gateway");
  try {
    if (req.method !== "GET" && req.method !== "HEAD") throw new HttpError(405, `${req.method} is not allowed`);
    const m = /^\/ipfs\/([^/]+)(\/.*)?$/.exec(url.pathname);
    if (!m) throw new HttpError(404, "not found: this gateway serves /ipfs/<cid>");
    let cid: CID;
    try {
      cid = CID.parse(m[1]);
    } catch {
      throw new HttpError(400, `invalid CID ${m[1]}`);
    }
    const subPath = m[2] && m[2] !== "/" ? decodeURIComponent(m[2].slice(1)) : undefined;
    const common = { "cache-control": "public, max-age=29030400, immutable", "x-ipfs-path": url.pathname, "x-content-type-options": "nosniff" };
    if (wantsRaw(req, url)) {
      if (subPath) throw new HttpError(400, "format=raw needs a bare /ipfs/<cid> path");
      if (!(await ctx.helia.blockstore.has(cid))) throw new HttpError(404, `block ${cid} is not on this node`);
      const parts: Uint8Array[] = [];
      for await (const chunk of ctx.helia.blockstore.get(cid, { offline: true })) parts.push(chunk);
      const bytes = parts.length === 1 ? parts[0] : Buffer.concat(parts);
      res.writeHead(200, { ...common, "content-type": RAW, "content-length": bytes.length, etag: `"${cid}.raw"` });
      res.end(req.method === "HEAD" ? undefined : bytes);
      return;
    }
    if (!(await ctx.helia.blockstore.has(cid))) throw new HttpError(404, `${cid} is not on this node`);
    let stat;
    try {
      stat = await ctx.fs.stat(cid, { path: subPath, offline: true });
    } catch (e) {
      throw new HttpError(404, `cannot resolve ${url.pathname}: ${(e as Error).message}`);
    }
    if (stat.type === "directory") throw new HttpError(501, "directory listings are not served; request a file inside it");
    const headers = { ...common, "content-type": "application/octet-stream", "content-length": String(stat.size), etag: `"${stat.cid}"` };
    if (req.method === "HEAD") {
      res.writeHead(200, headers);
      res.end();
      return;
    }
    const chunks = await primed(ctx.fs.cat(stat.cid, { offline: true }));
    res.writeHead(200, headers);
    await pipeChunks(res, chunks);
  } catch (e) {
    sendText(res, e instanceof HttpError ? e.status : 500, (e as Error).message);
  }
}
