// The one interface every content backend implements.
import type { CID } from "multiformats/cid";

/** Bytes to add: whole, or streamed (Node streams are async iterables of Uint8Array). */
export type AddInput = Uint8Array | string | AsyncIterable<Uint8Array> | Iterable<Uint8Array> | ReadableStream<Uint8Array>;

export interface AddOptions {
  /** Pin the content (default true). */
  pin?: boolean;
  /** Called with the number of bytes sent so far. */
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
}

export interface AddResult {
  /** CIDv1 of the UnixFS file (Kubo's unixfs-v1-2025 profile). */
  cid: string;
  /** Size of the content in bytes. */
  size: number;
}

export interface ReadOptions {
  signal?: AbortSignal;
  /** Refuse files larger than this many bytes. */
  maxBytes?: number;
}

export interface ContentStore {
  /** Adds (and by default pins) content as one UnixFS file. */
  add(content: AddInput, opts?: AddOptions): Promise<AddResult>;
  /** Reads a file; every block is verified against its CID (ContentTamperedError on mismatch). */
  cat(cid: CID | string, opts?: ReadOptions): Promise<Uint8Array>;
  /** Streams a file in order, verified block by block. */
  catStream(cid: CID | string, opts?: ReadOptions): AsyncIterable<Uint8Array>;
  /** Reads a file trusting the node (no verification); for comparison and trusted local use only. */
  catUnverified(cid: CID | string, opts?: ReadOptions): Promise<Uint8Array>;
  pin(cid: CID | string, opts?: { signal?: AbortSignal }): Promise<void>;
  unpin(cid: CID | string, opts?: { signal?: AbortSignal }): Promise<void>;
  /** Whether the store holds the content's root block locally (no network fetch). */
  has(cid: CID | string, opts?: { signal?: AbortSignal }): Promise<boolean>;
  /** CIDs pinned recursively. */
  listPins(opts?: { signal?: AbortSignal }): Promise<string[]>;
}

/** Turns any AddInput into an async iterable of byte chunks, counting them as they pass. */
export async function* chunksOf(content: AddInput, onChunk?: (n: number) => void): AsyncGenerator<Uint8Array> {
  if (typeof content === "string") content = new TextEncoder().encode(content);
  if (content instanceof Uint8Array) {
    onChunk?.(content.length);
    yield content;
    return;
  }
  if (typeof (content as ReadableStream<Uint8Array>).getReader === "function") {
    const reader = (content as ReadableStream<Uint8Array>).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        onChunk?.(value.length);
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
  }
  for await (const chunk of content as AsyncIterable<Uint8Array>) {
    const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
    onChunk?.(bytes.length);
    yield bytes;
  }
}
