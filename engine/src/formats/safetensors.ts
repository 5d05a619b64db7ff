/**
 * safetensors: an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}`, then the raw bytes.
 * Reads F32 / F16 / BF16 into Float32Array; writes F32 or BF16 (round-to-nearest-even).
 * Writing is deterministic: tensors sorted by name, header padded with spaces to 8 bytes.
 */
import { FormatError } from "../errors.ts";

export type StDtype = "F32" | "F16" | "BF16";

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

const BYTES: Record<StDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** The safetensors format's own cap on the JSON header (100 MB), so a bad length cannot make us read gigabytes. */
export const MAX_HEADER_BYTES = 100_000_000;

/** One tensor's entry in the header, checked: offsets are relative to the start of the data section. */
export interface TensorEntry {
  name: string;
  dtype: StDtype;
  shape: number[];
  begin: number;
  end: number;
}

const CORRUPT = "The file is truncated or corrupt: download or export it again";

function bad(message: string, details: Record<string, unknown>, hint = CORRUPT): FormatError {
  return new FormatError(`safetensors: ${message}`, details, hint);
}

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/**
 * Reads and checks a safetensors header against the file's size: each tensor's dtype is supported, its
 * shape is a list of whole numbers, its offsets satisfy 0 <= begin <= end <= the data section's size, its
 * byte length equals shape x dtype size, and no two tensors' bytes overlap. Throws a FormatError naming the
 * tensor and what is wrong. Returns the entries and where the data section starts.
 */
export function readSafetensorsHeader(bytes: Uint8Array): { entries: TensorEntry[]; metadata: Record<string, string>; dataStart: number } {
  if (bytes.length < 8) throw bad("file too short for a header length", { bytes: bytes.length });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(MAX_HEADER_BYTES)) throw bad("header length is over the format's 100 MB limit", { headerLen: headerLen.toString() });
  if (8n + headerLen > BigInt(bytes.length)) {
    throw bad("header runs past the end of the file", { headerLen: Number(headerLen), bytes: bytes.length });
  }
  const dataStart = 8 + Number(headerLen);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch (e) {
    throw bad("header is not UTF-8 JSON", { error: String(e) });
  }
  if (!header || typeof header !== "object" || Array.isArray(header)) throw bad("header is not a JSON object", {});
  const dataSize = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: TensorEntry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (!info || typeof info !== "object" || Array.isArray(info)) throw bad("__metadata__ is not an object of strings", {});
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== "string") throw bad("__metadata__ values must be strings", { key: k });
        metadata[k] = v;
      }
      continue;
    }
    const t = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (!t || typeof t !== "object") throw bad("tensor entry is not an object", { name });
    const dtype = t.dtype as StDtype;
    if (typeof dtype !== "string" || !Object.hasOwn(BYTES, dtype)) {
      throw new FormatError("unsupported safetensors dtype", { name, dtype: t.dtype }, "Convert the tensor to F32, F16 or BF16");
    }
    if (!Array.isArray(t.shape) || !t.shape.every(isCount)) throw bad("tensor shape must be a list of whole numbers >= 0", { name, shape: t.shape });
    const shape = t.shape as number[];
    const offsets = t.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      throw bad("tensor data_offsets must be two whole numbers [begin, end] >= 0", { name, data_offsets: offsets });
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) throw bad("tensor data_offsets has begin after end", { name, begin, end });
    if (end > dataSize) throw bad("tensor bytes run past the end of the file", { name, end, dataBytes: dataSize });
    let count = 1;
    for (const d of shape) count *= d;
    const want = count * BYTES[dtype];
    if (!Number.isSafeInteger(want) || end - begin !== want) {
      throw bad(
        "tensor byte length does not match its shape and dtype",
        { name, shape, dtype, bytes: end - begin, expected: want },
        "The header and the data disagree: the file is corrupt, or was written by a broken exporter",
      );
    }
    entries.push({ name, dtype, shape, begin, end });
  }
  // no two tensors share a byte (empty tensors hold none)
  let last: TensorEntry | undefined;
  for (const cur of entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin)) {
    if (last && cur.begin < last.end) {
      throw bad("two tensors' bytes overlap", { first: last.name, firstRange: [last.begin, last.end], second: cur.name, secondRange: [cur.begin, cur.end] });
    }
    if (!last || cur.end > last.end) last = cur;
  }
  return { entries, metadata, dataStart };
}

export function readSafetensors(bytes: Uint8Array): SafetensorsFile {
  const { entries, metadata, dataStart } = readSafetensorsHeader(bytes);
  const tensors = new Map<string, Tensor>();
  for (const e of entries) {
    const count = (e.end - e.begin) / BYTES[e.dtype];
    tensors.set(e.name, { shape: e.shape, data: decode(bytes, dataStart + e.begin, count, e.dtype) });
  }
  return { tensors, metadata };
}

function decode(bytes: Uint8Array, at: number, count: number, dtype: StDtype): Float32Array {
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, count * BYTES[dtype]);
  if (dtype === "F32") {
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  } else if (dtype === "BF16") {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) u[i] = view.getUint16(i * 2, true) << 16;
  } else {
    for (let i = 0; i < count; i++) out[i] = f16ToF32(view.getUint16(i * 2, true));
  }
  return out;
}

export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);
/** f32 -> bf16 bits, round to nearest even (NaN stays NaN). */
export function f32ToBf16(x: number): number {
  f32buf[0] = x;
  const u = u32buf[0];
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export interface WriteOptions {
  dtype?: "F32" | "BF16";
  metadata?: Record<string, string>;
}

export function writeSafetensors(tensors: Map<string, Tensor> | Record<string, Tensor>, opts: WriteOptions = {}): Uint8Array {
  const dtype = opts.dtype ?? "F32";
  const entries = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)).sort((a, b) =>
    a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0,
  );
  const header: Record<string, unknown> = {};
  if (opts.metadata && Object.keys(opts.metadata).length) header.__metadata__ = opts.metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new FormatError("tensor shape does not match its data", { name, shape: t.shape, length: t.data.length });
    }
    const size = count * BYTES[dtype];
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let at = 8 + padded;
  for (const [, t] of entries) {
    if (dtype === "F32") {
      for (let i = 0; i < t.data.length; i++) view.setFloat32(at + i * 4, t.data[i], true);
      at += t.data.length * 4;
    } else {
      for (let i = 0; i < t.data.length; i++) view.setUint16(at + i * 2, f32ToBf16(t.data[i]), true);
      at += t.data.length * 2;
    }
  }
  return out;
}
