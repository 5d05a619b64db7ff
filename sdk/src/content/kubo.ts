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

export class KuboContentStore implements ContentStore {
  readonly client: KuboRPCClient;
  readonly url: string;
  private readonly prefetch: number;

  constructor(opts: KuboContentStoreOptions) {
    this.url = String(opts.url);
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
