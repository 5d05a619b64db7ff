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

export function readSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.length < 8) throw new FormatError("safetensors file too short", { bytes: bytes.length });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (8 + headerLen > bytes.length) {
    throw new FormatError("safetensors header runs past the end of the file", { headerLen, bytes: bytes.length });
  }
  let header: Record<string, any>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new FormatError("safetensors header is not JSON", { error: String(e) });
  }
  const base = 8 + headerLen;
  const tensors = new Map<string, Tensor>();
  const metadata: Record<string, string> = header.__metadata__ ?? {};
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const dtype = info.dtype as StDtype;
    if (!(dtype in BYTES)) {
      throw new FormatError("unsupported safetensors dtype", { name, dtype }, "Convert the tensor to F32, F16 or BF16");
    }
    const shape: number[] = info.shape;
    const count = shape.reduce((a, b) => a * b, 1);
    const [begin, end] = info.data_offsets as [number, number];
    if (end - begin !== count * BYTES[dtype] || base + end > bytes.length) {
      throw new FormatError("safetensors tensor has bad offsets", { name, begin, end, shape, dtype });
    }
    tensors.set(name, { shape, data: decode(bytes, base + begin, count, dtype) });
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
