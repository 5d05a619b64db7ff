// Client for the IPFS Pinning Service API (https://ipfs.github.io/pinning-services-api-spec/), and a
// ContentStore that also pins remotely through one.
import type { CID } from "multiformats/cid";
import { ContentStoreError } from "./errors.ts";
import type { AddInput, AddOptions, AddResult, ContentStore, ReadOptions } from "./store.ts";
import { toCid } from "./verified.ts";

export type PinState = "queued" | "pinning" | "pinned" | "failed";

export interface RemotePin {
  cid: string;
  name?: string;
  /** Multiaddrs of nodes holding the content, so the service can fetch it. */
  origins?: string[];
  meta?: Record<string, string>;
}

export interface PinStatus {
  requestid: string;
  status: PinState;
  created: string;
  pin: RemotePin;
  delegates: string[];
  info?: Record<string, string>;
}

export interface ListPinsQuery {
  cid?: string[];
  name?: string;
  match?: "exact" | "iexact" | "partial" | "ipartial";
  /** Defaults to ["pinned"] on the service side. */
  status?: PinState[];
  before?: string;
  after?: string;
  limit?: number;
  meta?: Record<string, string>;
}

/** The pinning service refused a request; `reason` and `details` are the service's own words. */
export class PinningServiceError extends ContentStoreError {
  readonly reason: string;
  readonly details?: string;
  constructor(status: number, reason: string, details: string | undefined, what: string) {
    const hint = status === 401 ? "Check the access token." : status === 404 ? "The pin request does not exist." : "See the service's reason above.";
    super(`Pinning service ${what} failed (${status} ${reason}${details ? `: ${details}` : ""}). ${hint}`, { status });
    this.name = "PinningServiceError";
    this.reason = reason;
    this.details = details;
  }
}

export interface PinningServiceOptions {
  /** Service endpoint, e.g. https://api.pinata.cloud/psa (requests go to `${endpoint}/pins`). */
  endpoint: string | URL;
  accessToken?: string;
  fetch?: typeof fetch;
}

export class PinningServiceClient {
  readonly endpoint: string;
  private readonly token?: string;
  private readonly fetchImpl: typeof fetch;

  constructor(opts: PinningServiceOptions) {
    this.endpoint = String(opts.endpoint).replace(/\/+$/, "");
    this.token = opts.accessToken;
    this.fetchImpl = opts.fetch ?? fetch;
  }

  private async request<T>(method: string, path: string, what: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.endpoint}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
    } catch (e) {
      throw new ContentStoreError(`Pinning service ${what} failed: ${(e as Error).message}. Check ${this.endpoint} is reachable.`, { cause: e });
    }
    const text = await res.text();
    if (!res.ok) {
      let reason = res.statusText || "ERROR";
      let details: string | undefined;
      try {
        const err = (JSON.parse(text) as { error?: { reason?: string; details?: string } }).error;
        reason = err?.reason ?? reason;
        details = err?.details;
      } catch {
        details = text.slice(0, 200) || undefined;
      }
      throw new PinningServiceError(res.status, reason, details, what);
    }
    return (text === "" ? undefined : JSON.parse(text)) as T;
  }

  /** Asks the service to pin `pin.cid`. */
  add(pin: RemotePin, opts: { signal?: AbortSignal } = {}): Promise<PinStatus> {
    return this.request("POST", "/pins", `pin ${pin.cid}`, pin, opts.signal);
  }

  get(requestid: string, opts: { signal?: AbortSignal } = {}): Promise<PinStatus> {
    return this.request("GET", `/pins/${encodeURIComponent(requestid)}`, `get ${requestid}`, undefined, opts.signal);
  }

  list(query: ListPinsQuery = {}, opts: { signal?: AbortSignal } = {}): Promise<{ count: number; results: PinStatus[] }> {
    const q = new URLSearchParams();
    if (query.cid?.length) q.set("cid", query.cid.join(","));
    if (query.name) q.set("name", query.name);
    if (query.match) q.set("match", query.match);
    if (query.status?.length) q.set("status", query.status.join(","));
    if (query.before) q.set("before", query.before);
    if (query.after) q.set("after", query.after);
    if (query.limit !== undefined) q.set("limit", String(query.limit));
    if (query.meta) q.set("meta", JSON.stringify(query.meta));
    const qs = q.toString();
    return this.request("GET", `/pins${qs ? `?${qs}` : ""}`, "list", undefined, opts.signal);
  }

  replace(requestid: string, pin: RemotePin, opts: { signal?: AbortSignal } = {}): Promise<PinStatus> {
    return this.request("POST", `/pins/${encodeURIComponent(requestid)}`, `replace ${requestid}`, pin, opts.signal);
  }

  async remove(requestid: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.request("DELETE", `/pins/${encodeURIComponent(requestid)}`, `remove ${requestid}`, undefined, opts.signal);
  }

  /** Polls a request until it is pinned; throws if it fails or the timeout passes. */
  async waitForPinned(requestid: string, opts: { timeoutMs?: number; intervalMs?: number; signal?: AbortSignal } = {}): Promise<PinStatus> {
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    for (;;) {
      const status = await this.get(requestid, opts);
      if (status.status === "pinned") return status;
      if (status.status === "failed") {
        throw new ContentStoreError(`Pinning service could not pin ${status.pin.cid} (request ${requestid} failed${status.info?.status_details ? `: ${status.info.status_details}` : ""}). Check the content is reachable from the service (origins).`);
      }
      if (Date.now() > deadline) {
        throw new ContentStoreError(`Pin request ${requestid} for ${status.pin.cid} is still ${status.status} after ${opts.timeoutMs ?? 60_000} ms. Try again later or check the service.`);
      }
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 1000));
    }
  }
}

/**
 * A ContentStore that adds and reads through `local` (e.g. a Kubo node) and also keeps every pin on a
 * remote pinning service: pin/add pin remotely, unpin removes the remote pins, and `listPins`/`has`
 * ask the service.
 */
export class RemotePinningContentStore implements ContentStore {
  readonly local: ContentStore;
  readonly remote: PinningServiceClient;
  private readonly origins?: string[];
  private readonly waitMs: number;

  constructor(local: ContentStore, remote: PinningServiceClient, opts: { origins?: string[]; waitForPinnedMs?: number } = {}) {
    this.local = local;
    this.remote = remote;
    this.origins = opts.origins;
    this.waitMs = opts.waitForPinnedMs ?? 60_000;
  }

  async add(content: AddInput, opts: AddOptions = {}): Promise<AddResult> {
    const result = await this.local.add(content, opts);
    if (opts.pin ?? true) await this.pin(result.cid, opts);
    return result;
  }

  cat(cid: CID | string, opts?: ReadOptions) { return this.local.cat(cid, opts); }
  catStream(cid: CID | string, opts?: ReadOptions) { return this.local.catStream(cid, opts); }
  catUnverified(cid: CID | string, opts?: ReadOptions) { return this.local.catUnverified(cid, opts); }

  async pin(cid: CID | string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const c = toCid(cid).toString();
    const existing = await this.remote.list({ cid: [c], status: ["queued", "pinning", "pinned"] }, opts);
    const status = existing.results[0] ?? await this.remote.add({ cid: c, ...(this.origins ? { origins: this.origins } : {}) }, opts);
    if (status.status !== "pinned") await this.remote.waitForPinned(status.requestid, { timeoutMs: this.waitMs, intervalMs: 200, signal: opts.signal });
  }

  async unpin(cid: CID | string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const c = toCid(cid).toString();
    const found = await this.remote.list({ cid: [c], status: ["queued", "pinning", "pinned", "failed"] }, opts);
    for (const s of found.results) await this.remote.remove(s.requestid, opts);
  }

  async has(cid: CID | string, opts: { signal?: AbortSignal } = {}): Promise<boolean> {
    const found = await this.remote.list({ cid: [toCid(cid).toString()], status: ["pinned"] }, opts);
    return found.count > 0;
  }

  async listPins(opts: { signal?: AbortSignal } = {}): Promise<string[]> {
    const out: string[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await this.remote.list({ status: ["pinned"], limit: 1000, ...(before ? { before } : {}) }, opts);
      for (const s of page.results) out.push(s.pin.cid);
      if (page.results.length === 0 || out.length >= page.count) return out;
      before = page.results[page.results.length - 1].created;
    }
  }
}
