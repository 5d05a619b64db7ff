// GGUF v3 container: writer and reader (little-endian only).
//
// Layout (ggml's gguf.h / docs/gguf.md): magic "GGUF", u32 version, u64 tensor count, u64 KV count;
// KV pairs (string key, u32 value type, value); tensor infos (string name, u32 n_dims, u64 ne[n_dims],
// u32 ggml type, u64 offset into the data section); padding to `general.alignment` (default 32);
// tensor data, each tensor starting at an aligned offset. Strings are u64 length + UTF-8 bytes.
// ne[0] is the innermost (contiguous) dimension, so a row-major [rows, cols] matrix has ne = [cols, rows].

export class GgufError extends Error {
  constructor(message: string, details: string, next: string) {
    super(`${message}: ${details}. ${next}`);
    this.name = "GgufError";
  }
}

/** GGUF metadata value types (gguf_type). */
export const GGUF_TYPE = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const;
export type GgufScalarType = Exclude<keyof typeof GGUF_TYPE, "array">;

/** ggml tensor types this module writes. */
export const GGML_TYPE = { f32: 0, f16: 1, bf16: 30 } as const;
export type GgmlDtype = keyof typeof GGML_TYPE;

export type GgufKv =
  | { key: string; type: "string"; value: string }
  | { key: string; type: "bool"; value: boolean }
  | { key: string; type: "uint64" | "int64"; value: bigint | number }
  | { key: string; type: Exclude<GgufScalarType, "string" | "bool" | "uint64" | "int64">; value: number }
  | { key: string; type: "array"; itemType: "string"; value: readonly string[] }
  | { key: string; type: "array"; itemType: Exclude<GgufScalarType, "string" | "bool" | "uint64" | "int64">; value: ArrayLike<number> };

export type GgufTensor = {
  name: string;
  /** row-major (numpy/PyTorch) shape, outermost first */
  shape: readonly number[];
  dtype: GgmlDtype;
  data: Float32Array;
};

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** IEEE 754 binary16 bits of a float32, round to nearest even; overflow gives infinity. */
export function float32ToFloat16Bits(value: number): number {
  scratchF32[0] = value;
  const x = scratchU32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // underflows to signed zero
    mant |= 0x800000; // subnormal: restore the implicit bit, then shift into place
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && (m & 1))) m++;
    return sign | m;
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (m & 1))) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

/** bfloat16 bits of a float32 (its top 16 bits), round to nearest even; NaN stays NaN. */
export function float32ToBfloat16Bits(value: number): number {
  scratchF32[0] = value;
  const x = scratchU32[0]!;
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff; // quiet NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bfloat16BitsToFloat32(b: number): number {
  scratchU32[0] = (b & 0xffff) << 16;
  return scratchF32[0]!;
}

export function float16BitsToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Values as they come back from f16 storage (for references that must match an f16 export). */
export function roundToFloat16(data: Float32Array): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = float16BitsToFloat32(float32ToFloat16Bits(data[i]!));
  return out;
}

/** Values as they come back from bf16 storage. */
export function roundToBfloat16(data: Float32Array): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = bfloat16BitsToFloat32(float32ToBfloat16Bits(data[i]!));
  return out;
}

class ByteSink {
  #buf = new Uint8Array(1 << 16);
  #view = new DataView(this.#buf.buffer);
  length = 0;
  #reserve(n: number): void {
    if (this.length + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.length));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
  u8(v: number) { this.#reserve(1); this.#view.setUint8(this.length, v); this.length += 1; }
  i8(v: number) { this.#reserve(1); this.#view.setInt8(this.length, v); this.length += 1; }
  u16(v: number) { this.#reserve(2); this.#view.setUint16(this.length, v, true); this.length += 2; }
  i16(v: number) { this.#reserve(2); this.#view.setInt16(this.length, v, true); this.length += 2; }
  u32(v: number) { this.#reserve(4); this.#view.setUint32(this.length, v, true); this.length += 4; }
  i32(v: number) { this.#reserve(4); this.#view.setInt32(this.length, v, true); this.length += 4; }
  f32(v: number) { this.#reserve(4); this.#view.setFloat32(this.length, v, true); this.length += 4; }
  f64(v: number) { this.#reserve(8); this.#view.setFloat64(this.length, v, true); this.length += 8; }
  u64(v: bigint | number) { this.#reserve(8); this.#view.setBigUint64(this.length, BigInt(v), true); this.length += 8; }
  i64(v: bigint | number) { this.#reserve(8); this.#view.setBigInt64(this.length, BigInt(v), true); this.length += 8; }
  bytes(b: Uint8Array) { this.#reserve(b.length); this.#buf.set(b, this.length); this.length += b.length; }
  string(s: string) { const b = new TextEncoder().encode(s); this.u64(b.length); this.bytes(b); }
  pad(alignment: number) { const n = (alignment - (this.length % alignment)) % alignment; this.#reserve(n); this.length += n; }
  result(): Uint8Array { return this.#buf.slice(0, this.length); }
}

function writeScalar(sink: ByteSink, type: GgufScalarType, v: unknown): void {
  switch (type) {
    case "uint8": return sink.u8(v as number);
    case "int8": return sink.i8(v as number);
    case "uint16": return sink.u16(v as number);
    case "int16": return sink.i16(v as number);
    case "uint32": return sink.u32(v as number);
    case "int32": return sink.i32(v as number);
    case "float32": return sink.f32(v as number);
    case "float64": return sink.f64(v as number);
    case "bool": return sink.u8(v ? 1 : 0);
    case "string": return sink.string(v as string);
    case "uint64": return sink.u64(v as bigint | number);
    case "int64": return sink.i64(v as bigint | number);
  }
}

const elementCount = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const bytesPerElement = (dtype: GgmlDtype) => (dtype === "f32" ? 4 : 2);

/**
 * Serialises a GGUF v3 file. `general.alignment`, when present among the KVs, sets the alignment.
 * Throws GgufError for duplicate keys or tensor names, or data that does not match a shape.
 */
export function writeGguf(kvs: readonly GgufKv[], tensors: readonly GgufTensor[]): Uint8Array {
  const keys = new Set<string>();
  for (const kv of kvs) {
    if (keys.has(kv.key)) throw new GgufError("duplicate GGUF key", kv.key, "Give each metadata key once");
    keys.add(kv.key);
  }
  const alignKv = kvs.find((kv) => kv.key === "general.alignment");
  const alignment = alignKv ? Number(alignKv.value) : GGUF_DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment <= 0 || alignment % 8 !== 0) {
    throw new GgufError("invalid general.alignment", String(alignment), "Use a positive multiple of 8 (default 32)");
  }
  const names = new Set<string>();
  for (const t of tensors) {
    if (!Object.hasOwn(GGML_TYPE, t.dtype)) throw new GgufError("unsupported tensor dtype", `${t.name}: ${String(t.dtype)}`, "Use f32, f16 or bf16");
    if (names.has(t.name)) throw new GgufError("duplicate tensor name", t.name, "Give each tensor once");
    names.add(t.name);
    if (t.shape.length < 1 || t.shape.length > 4 || t.shape.some((d) => !Number.isInteger(d) || d <= 0)) {
      throw new GgufError("invalid tensor shape", `${t.name}: [${t.shape.join(", ")}]`, "Shapes have 1 to 4 positive dimensions");
    }
    if (elementCount(t.shape) !== t.data.length) {
      throw new GgufError("tensor data does not match its shape", `${t.name}: shape [${t.shape.join(", ")}] has ${elementCount(t.shape)} elements, data has ${t.data.length}`, "Pass row-major data of the given shape");
    }
  }

  const sink = new ByteSink();
  sink.u32(GGUF_MAGIC);
  sink.u32(GGUF_VERSION);
  sink.u64(tensors.length);
  sink.u64(kvs.length);
  for (const kv of kvs) {
    sink.string(kv.key);
    sink.u32(GGUF_TYPE[kv.type]);
    if (kv.type === "array") {
      sink.u32(GGUF_TYPE[kv.itemType]);
      sink.u64(kv.value.length);
      for (let i = 0; i < kv.value.length; i++) writeScalar(sink, kv.itemType, kv.value[i]);
    } else writeScalar(sink, kv.type, kv.value);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    sink.string(t.name);
    sink.u32(t.shape.length);
    for (let d = t.shape.length - 1; d >= 0; d--) sink.u64(t.shape[d]!); // ne[0] = innermost
    sink.u32(GGML_TYPE[t.dtype]);
    sink.u64(offset);
    offsets.push(offset);
    offset += elementCount(t.shape) * bytesPerElement(t.dtype);
    offset += (alignment - (offset % alignment)) % alignment;
  }
  sink.pad(alignment);
  const dataStart = sink.length;
  const out = new Uint8Array(dataStart + offset);
  out.set(sink.result());
  const view = new DataView(out.buffer);
  tensors.forEach((t, i) => {
    let p = dataStart + offsets[i]!;
    if (t.dtype === "f32") {
      for (let j = 0; j < t.data.length; j++, p += 4) view.setFloat32(p, t.data[j]!, true);
    } else {
      const bits = t.dtype === "f16" ? float32ToFloat16Bits : float32ToBfloat16Bits;
      for (let j = 0; j < t.data.length; j++, p += 2) view.setUint16(p, bits(t.data[j]!), true);
    }
  });
  return out;
}

export type GgufValue = string | number | bigint | boolean | string[] | number[] | bigint[] | boolean[];

export type GgufFile = {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: { name: string; shape: number[]; dtype: GgmlDtype; offset: number; data: Float32Array }[];
  alignment: number;
};

/** Parses a GGUF v2/v3 file with f32/f16/bf16 tensors (what {@link writeGguf} produces). */
export function readGguf(bytes: Uint8Array): GgufFile {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  const need = (n: number) => {
    if (p + n > bytes.length) throw new GgufError("truncated GGUF file", `needs ${n} bytes at ${p}, file has ${bytes.length}`, "The file is incomplete");
  };
  const u32 = () => { need(4); const v = view.getUint32(p, true); p += 4; return v; };
  const u64 = () => { need(8); const v = view.getBigUint64(p, true); p += 8; return v; };
  const str = () => { const n = Number(u64()); need(n); const s = new TextDecoder().decode(bytes.subarray(p, p + n)); p += n; return s; };
  const scalar = (type: number): string | number | bigint | boolean => {
    switch (type) {
      case 0: need(1); return view.getUint8(p++);
      case 1: need(1); return view.getInt8(p++);
      case 2: { need(2); const v = view.getUint16(p, true); p += 2; return v; }
      case 3: { need(2); const v = view.getInt16(p, true); p += 2; return v; }
      case 4: return u32();
      case 5: { need(4); const v = view.getInt32(p, true); p += 4; return v; }
      case 6: { need(4); const v = view.getFloat32(p, true); p += 4; return v; }
      case 7: need(1); return view.getUint8(p++) !== 0;
      case 8: return str();
      case 10: return u64();
      case 11: { need(8); const v = view.getBigInt64(p, true); p += 8; return v; }
      case 12: { need(8); const v = view.getFloat64(p, true); p += 8; return v; }
      default: throw new GgufError("unknown GGUF value type", String(type), "The file is corrupt or from a newer GGUF version");
    }
  };
  if (u32() !== GGUF_MAGIC) throw new GgufError("not a GGUF file", "bad magic", "Pass a .gguf file");
  const version = u32();
  if (version !== 2 && version !== 3) throw new GgufError("unsupported GGUF version", String(version), "Versions 2 and 3 are supported");
  const nTensors = Number(u64());
  const nKv = Number(u64());
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < nKv; i++) {
    const key = str();
    const type = u32();
    if (type === 9) {
      const itemType = u32();
      const n = Number(u64());
      const arr: unknown[] = new Array(n);
      for (let j = 0; j < n; j++) arr[j] = scalar(itemType);
      metadata.set(key, arr as GgufValue);
    } else metadata.set(key, scalar(type));
  }
  const alignment = Number(metadata.get("general.alignment") ?? GGUF_DEFAULT_ALIGNMENT);
  const infos: { name: string; shape: number[]; type: number; offset: number }[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = str();
    const nDims = u32();
    const ne: number[] = [];
    for (let d = 0; d < nDims; d++) ne.push(Number(u64()));
    const type = u32();
    const offset = Number(u64());
    infos.push({ name, shape: ne.reverse(), type, offset });
  }
  p += (alignment - (p % alignment)) % alignment;
  const dataStart = p;
  const tensors = infos.map((t) => {
    const dtype = (Object.keys(GGML_TYPE) as GgmlDtype[]).find((k) => GGML_TYPE[k] === t.type);
    if (dtype === undefined) {
      throw new GgufError("unsupported tensor type", `${t.name}: ggml type ${t.type}`, "This reader handles f32, f16 and bf16 tensors only");
    }
    const n = elementCount(t.shape);
    const start = dataStart + t.offset;
    if (t.offset % alignment !== 0) throw new GgufError("misaligned tensor", `${t.name} at offset ${t.offset}`, `Offsets must be multiples of ${alignment}`);
    if (start + n * bytesPerElement(dtype) > bytes.length) throw new GgufError("tensor data past the end of the file", t.name, "The file is incomplete");
    const data = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      data[j] =
        dtype === "f32" ? view.getFloat32(start + 4 * j, true)
        : dtype === "f16" ? float16BitsToFloat32(view.getUint16(start + 2 * j, true))
        : bfloat16BitsToFloat32(view.getUint16(start + 2 * j, true));
    }
    return { name: t.name, shape: t.shape, dtype, offset: t.offset, data };
  });
  return { version, metadata, tensors, alignment };
}
