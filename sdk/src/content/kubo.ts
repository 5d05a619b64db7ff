// ContentStore over any Kubo RPC API (a real Kubo, or the embedded node of `@tributary/sdk/ipfs`).
import { create } from "kubo-rpc-client";
import type { KuboRPCClient } from "kubo-rpc-client";
import type { CID } from "multiformats/cid";
import { ContentStoreError } from "./errors.ts";
import { chunksOf } from "./store.ts";
import type { AddInput, AddOptions, AddResult, ContentStore, ReadOptions } from "./store.ts";
import { collect, toCid, verifiedCat, verifiedFileStream } from "./verified.ts";
import type { BlockGetter } from "./verified.ts";

/** Kubo `add` parameters of the unixfs-v1-2025 profile (Kubo's own default is still CIDv0). */
export const KUBO_ADD_PARAMS = { cidVersion: 1, rawLeaves: true, chunker: "size-1048576", hashAlg: "sha2-256" } as const;

export interface KuboContentStoreOptions {
  /** RPC API base, e.g. http://127.0.0.1:5001 (the client adds /api/v0). */
  url: string | URL;
  headers?: Record<string, string>;
  /** Blocks fetched ahead during verified reads (default 8). */
  prefetch?: number;
}

function wrap(what: string, url: string, e: unknown): never {
  if (e instanceof Error && /ContentTamperedError|UnsupportedContentError/.test(e.name)) throw e;
  const status = (e as { response?: { status?: number } }).response?.status;
  const reason = e instanceof Error ? e.message : String(e);
  throw new ContentStoreError(`${what} failed at ${url}: ${reason}. Check the IPFS node is running and reachable.`, { status, cause: e });
}

/** The part of node:http(s) streamingAdd uses (typed here: this module may not import Node built-ins). */
interface NodeHttp {
  request(
    url: URL,
    opts: { method: string; headers: Record<string, string>; signal?: AbortSignal },
  ): {
    write(chunk: Uint8Array): boolean;
    end(): void;
    destroy(e: Error): void;
    once(ev: "drain", f: () => void): void;
    once(ev: "error", f: (e: Error) => void): void;
    once(ev: "response", f: (r: NodeResponse) => void): void;
  };
}
interface NodeResponse {
  statusCode?: number;
  on(ev: "data", f: (b: Uint8Array) => void): void;
  once(ev: "end", f: () => void): void;
  once(ev: "error", f: (e: Error) => void): void;
}

/** Node.js (not a browser): fetch can stream a request body there (`duplex: "half"` over HTTP/1.1). */
const STREAMING_UPLOADS = typeof process !== "undefined" && !!process.versions?.node;

/**
 * `add` as one streamed multipart POST: the bytes go to the node as they are read, so adding a file never
 * holds it in memory (kubo-rpc-client's add buffered a 384 MiB file whole: ~400 MB of RSS).
 */
async function streamingAdd(
  base: string,
  headers: Record<string, string> | undefined,
  chunks: AsyncIterable<Uint8Array>,
  opts: { pin: boolean; signal?: AbortSignal },
): Promise<string> {
  const boundary = `tributary-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
  const enc = new TextEncoder();
  async function* parts() {
    yield enc.encode(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="file"\r\nContent-Type: application/octet-stream\r\n\r\n`);
    yield* chunks;
    yield enc.encode(`\r\n--${boundary}--\r\n`);
  }
  const q = new URLSearchParams({
    "cid-version": String(KUBO_ADD_PARAMS.cidVersion),
    "raw-leaves": String(KUBO_ADD_PARAMS.rawLeaves),
    chunker: KUBO_ADD_PARAMS.chunker,
    hash: KUBO_ADD_PARAMS.hashAlg,
    pin: String(opts.pin),
    progress: "false",
  });
  const url = new URL(`api/v0/add?${q}`, base.endsWith("/") ? base : `${base}/`);
  // node:http(s), imported here only and by a computed name so that browser bundles never include it (this
  // module is browser-safe; the branch runs in Node only): its write()/drain is real backpressure, where
  // fetch with a streamed body let a 384 MiB upload pile up in memory (~400 MB of RSS)
  const builtin = url.protocol === "https:" ? "node:https" : "node:http";
  const http = (await import(/* @vite-ignore */ builtin)) as NodeHttp;
  const res = await new Promise<{ status: number; text: () => Promise<string> }>((resolve, reject) => {
    const req = http.request(url, {
      method: "POST",
      headers: { ...headers, "content-type": `multipart/form-data; boundary=${boundary}`, "transfer-encoding": "chunked" },
      signal: opts.signal,
    });
    req.once("error", reject);
    req.once("response", (r) => {
      const dec = new TextDecoder();
      let text = "";
      r.on("data", (b: Uint8Array) => (text += dec.decode(b, { stream: true })));
      const ended = new Promise<string>((ok, ko) => {
        r.once("end", () => ok(text + dec.decode()));
        r.once("error", ko);
      });
      resolve({ status: r.statusCode ?? 0, text: () => ended });
    });
    void (async () => {
      try {
        for await (const chunk of parts()) {
          if (!req.write(chunk)) await new Promise<void>((ok) => req.once("drain", () => ok()));
        }
        req.end();
      } catch (e) {
        req.destroy(e as Error);
      }
    })();
  });
  const ok = res.status >= 200 && res.status < 300;
  const text = await res.text();
  if (!ok) throw Object.assign(new Error(`HTTP ${res.status}: ${text.slice(0, 300)}`), { response: { status: res.status } });
  const last = text.trim().split("\n").pop();
  const hash = last ? (JSON.parse(last) as { Hash?: string }).Hash : undefined;
  if (!hash) throw new Error(`the node's add answer has no Hash: ${text.slice(0, 300)}`);
  return hash;
}

export class KuboContentStore implements ContentStore {
  readonly client: KuboRPCClient;
  readonly url: string;
  private readonly prefetch: number;

  private readonly headers?: Record<string, string>;

  constructor(opts: KuboContentStoreOptions) {
    this.url = String(opts.url);
    this.headers = opts.headers;
    this.client = create({ url: opts.url, headers: opts.headers });
    this.prefetch = opts.prefetch ?? 8;
  }

  /** Raw block bytes from `block/get`, unverified (the verified reader checks them). */
  readonly getBlock: BlockGetter = async (cid, opts) => {
    try {
      return await this.client.block.get(cid, { signal: opts?.signal });
    } catch (e) {
      return wrap(`block/get ${cid}`, this.url, e);
    }
  };

  async add(content: AddInput, opts: AddOptions = {}): Promise<AddResult> {
    let size = 0;
    const counted = chunksOf(content, (n) => {
      size += n;
      opts.onProgress?.(size);
    });
    try {
      if (STREAMING_UPLOADS) {
        const cid = await streamingAdd(this.url, this.headers, counted, { pin: opts.pin ?? true, signal: opts.signal });
        return { cid, size };
      }
      const result = await this.client.add(counted, { ...KUBO_ADD_PARAMS, pin: opts.pin ?? true, signal: opts.signal });
      return { cid: result.cid.toString(), size };
    } catch (e) {
      return wrap("add", this.url, e);
    }
  }

  cat(cid: CID | string, opts: ReadOptions = {}): Promise<Uint8Array> {
    return verifiedCat(this.getBlock, cid, { ...opts, prefetch: this.prefetch });
  }

  catStream(cid: CID | string, opts: ReadOptions = {}): AsyncIterable<Uint8Array> {
    return verifiedFileStream(this.getBlock, cid, { ...opts, prefetch: this.prefetch });
  }

  async catUnverified(cid: CID | string, opts: ReadOptions = {}): Promise<Uint8Array> {
    try {
      return await collect(this.client.cat(toCid(cid), { signal: opts.signal }));
    } catch (e) {
      return wrap(`cat ${cid}`, this.url, e);
    }
  }

  async pin(cid: CID | string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    try {
      await this.client.pin.add(toCid(cid), { recursive: true, signal: opts.signal });
    } catch (e) {
      wrap(`pin/add ${cid}`, this.url, e);
    }
  }

  async unpin(cid: CID | string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    try {
      await this.client.pin.rm(toCid(cid), { recursive: true, signal: opts.signal });
    } catch (e) {
      wrap(`pin/rm ${cid}`, this.url, e);
    }
  }

  async has(cid: CID | string, opts: { signal?: AbortSignal } = {}): Promise<boolean> {
    try {
      // `offline` keeps a real Kubo from searching the network for a block it lacks.
      await this.client.block.stat(toCid(cid), { signal: opts.signal, searchParams: { offline: true } as unknown as URLSearchParams });
      return true;
    } catch (e) {
      const status = (e as { response?: { status?: number } }).response?.status;
      if (status !== undefined && status >= 400 && status < 600) return false;
      return wrap(`block/stat ${cid}`, this.url, e);
    }
  }

  async listPins(opts: { signal?: AbortSignal } = {}): Promise<string[]> {
    const out: string[] = [];
    try {
      for await (const p of this.client.pin.ls({ type: "recursive", signal: opts.signal })) out.push(p.cid.toString());
    } catch (e) {
      wrap("pin/ls", this.url, e);
    }
    return out;
  }
}

/** A BlockGetter reading raw blocks from a trustless gateway (`/ipfs/<cid>?format=raw`). */
export function gatewayBlockGetter(gatewayUrl: string | URL, fetchImpl: typeof fetch = fetch): BlockGetter {
  const base = String(gatewayUrl).replace(/\/+$/, "");
  return async (cid, opts) => {
    const url = `${base}/ipfs/${cid}?format=raw`;
    let res: Response;
    try {
      res = await fetchImpl(url, { headers: { accept: "application/vnd.ipld.raw" }, signal: opts?.signal });
    } catch (e) {
      throw new ContentStoreError(`GET ${url} failed: ${(e as Error).message}. Check the gateway is reachable.`, { cause: e });
    }
    if (!res.ok) {
      throw new ContentStoreError(`GET ${url} answered ${res.status} ${res.statusText}. The gateway does not have block ${cid}.`, { status: res.status });
    }
    return new Uint8Array(await res.arrayBuffer());
  };
}
