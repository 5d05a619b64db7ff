// AssemblyScript 0.19 object layouts, as graph-cli compiles mappings (`--runtime stub --exportRuntime`).
// Every managed object is preceded by a header whose last two u32 are the runtime class id (ptr - 8) and
// the payload size in bytes (ptr - 4). The host allocates with the module's own `__new(size, classId)`,
// and learns class ids by asking graph-ts's exported `id_of_type(TypeId)`.

/** graph-ts `TypeId` discriminants (graph-ts global/global.ts, graph-node `IndexForAscTypeId`). */
export const TypeId = {
  String: 0,
  ArrayBuffer: 1,
  Uint8Array: 6,
  BigDecimal: 12,
  ArrayBool: 13,
  ArrayUint8Array: 14,
  ArrayEthereumValue: 15,
  ArrayStoreValue: 16,
  ArrayJsonValue: 17,
  ArrayString: 18,
  ArrayEventParam: 19,
  ArrayTypedMapEntryStringJsonValue: 20,
  ArrayTypedMapEntryStringStoreValue: 21,
  EventParam: 23,
  EthereumTransaction: 24,
  EthereumBlock: 25,
  WrappedBool: 28,
  WrappedJsonValue: 29,
  EthereumValue: 30,
  StoreValue: 31,
  JsonValue: 32,
  EthereumEvent: 33,
  TypedMapEntryStringStoreValue: 34,
  TypedMapEntryStringJsonValue: 35,
  TypedMapStringStoreValue: 36,
  TypedMapStringJsonValue: 37,
  ResultJsonValueBool: 40,
  ArrayI32: 47,
  ArrayBigDecimal: 51,
} as const;

export type WasmExports = {
  memory: WebAssembly.Memory;
  __new: (size: number, classId: number) => number;
  id_of_type: (typeId: number) => number;
  _start?: () => void;
  [name: string]: unknown;
};

const utf16 = new TextDecoder("utf-16le");

/** Reads and writes AssemblyScript objects in one module instance's linear memory. */
export class AscMemory {
  readonly exports: WasmExports;
  private readonly classIds = new Map<number, number>();

  constructor(exports: WasmExports) {
    this.exports = exports;
  }

  private cachedBuffer: ArrayBuffer | null = null;
  private cachedView: DataView | null = null;

  private get buffer(): ArrayBuffer {
    return this.exports.memory.buffer as ArrayBuffer;
  }

  /** A DataView of memory, re-created only when memory grows (growth detaches the old buffer). */
  private view(): DataView {
    const buf = this.buffer;
    if (buf !== this.cachedBuffer || !this.cachedView) {
      this.cachedBuffer = buf;
      this.cachedView = new DataView(buf);
    }
    return this.cachedView;
  }

  u32(ptr: number): number {
    return this.view().getUint32(ptr, true);
  }

  i32(ptr: number): number {
    return this.view().getInt32(ptr, true);
  }

  i64(ptr: number): bigint {
    return this.view().getBigInt64(ptr, true);
  }

  classId(typeId: number): number {
    let id = this.classIds.get(typeId);
    if (id === undefined) {
      id = this.exports.id_of_type(typeId) >>> 0;
      this.classIds.set(typeId, id);
    }
    return id;
  }

  /** Allocates `size` payload bytes as an object of graph-ts type `typeId`. */
  alloc(size: number, typeId: number): number {
    return this.exports.__new(size, this.classId(typeId)) >>> 0;
  }

  payloadSize(ptr: number): number {
    return this.u32(ptr - 4);
  }

  readString(ptr: number): string {
    if (ptr === 0) throw new AscNullError("string");
    const len = this.payloadSize(ptr);
    return utf16.decode(new Uint8Array(this.buffer, ptr, len));
  }

  writeString(s: string): number {
    const ptr = this.alloc(s.length * 2, TypeId.String);
    const view = this.view();
    for (let i = 0; i < s.length; i++) view.setUint16(ptr + i * 2, s.charCodeAt(i), true);
    return ptr;
  }

  /** Reads a typed array view (`Uint8Array`, `Bytes`, `BigInt`, `Address`): {buffer, dataStart, byteLength}. */
  readBytes(ptr: number): Uint8Array {
    if (ptr === 0) throw new AscNullError("bytes");
    const dataStart = this.u32(ptr + 4);
    const byteLength = this.u32(ptr + 8);
    return new Uint8Array(this.buffer.slice(dataStart, dataStart + byteLength));
  }

  writeBytes(bytes: Uint8Array): number {
    const buf = this.alloc(bytes.length, TypeId.ArrayBuffer);
    new Uint8Array(this.buffer, buf, bytes.length).set(bytes);
    const ptr = this.alloc(12, TypeId.Uint8Array);
    const view = this.view();
    view.setUint32(ptr, buf, true);
    view.setUint32(ptr + 4, buf, true);
    view.setUint32(ptr + 8, bytes.length, true);
    return ptr;
  }

  /** Reads `Array<T>` ({buffer, dataStart, byteLength, length}) of `elemSize`-byte elements. */
  readArrayRaw(ptr: number, elemSize: number): { dataStart: number; length: number } {
    if (ptr === 0) throw new AscNullError("array");
    void elemSize;
    return { dataStart: this.u32(ptr + 4), length: this.i32(ptr + 12) };
  }

  readPtrArray(ptr: number): number[] {
    const { dataStart, length } = this.readArrayRaw(ptr, 4);
    const out: number[] = [];
    for (let i = 0; i < length; i++) out.push(this.u32(dataStart + i * 4));
    return out;
  }

  readStringArray(ptr: number): string[] {
    return this.readPtrArray(ptr).map((p) => this.readString(p));
  }

  /** Writes an `Array<T>` whose elements are 32-bit values (pointers, i32). */
  writeU32Array(values: number[], typeId: number): number {
    const byteLength = values.length * 4;
    const buf = this.alloc(byteLength, TypeId.ArrayBuffer);
    const view = this.view();
    values.forEach((v, i) => view.setUint32(buf + i * 4, v >>> 0, true));
    const ptr = this.alloc(16, typeId);
    const v2 = this.view();
    v2.setUint32(ptr, buf, true);
    v2.setUint32(ptr + 4, buf, true);
    v2.setUint32(ptr + 8, byteLength, true);
    v2.setInt32(ptr + 12, values.length, true);
    return ptr;
  }

  /** Writes a class whose fields are all 32-bit (pointers, i32), in declaration order. */
  writeStruct(fields: number[], typeId: number): number {
    const ptr = this.alloc(fields.length * 4, typeId);
    const view = this.view();
    fields.forEach((f, i) => view.setUint32(ptr + i * 4, f >>> 0, true));
    return ptr;
  }

  /** Writes a tagged union (`Value`, `ethereum.Value`, `JSONValue`): {kind: i32, pad, payload: u64}. */
  writeEnum(kind: number, payload: bigint, typeId: number): number {
    const ptr = this.alloc(16, typeId);
    const view = this.view();
    view.setInt32(ptr, kind, true);
    view.setBigUint64(ptr + 8, BigInt.asUintN(64, payload), true);
    return ptr;
  }

  readEnum(ptr: number): { kind: number; payload: bigint } {
    if (ptr === 0) throw new AscNullError("value");
    const view = this.view();
    return { kind: view.getInt32(ptr, true), payload: view.getBigUint64(ptr + 8, true) };
  }

  readBigInt(ptr: number): bigint {
    return bigIntFromSignedLe(this.readBytes(ptr));
  }

  writeBigInt(n: bigint): number {
    return this.writeBytes(bigIntToSignedLe(n));
  }
}

export class AscNullError extends Error {
  constructor(what: string) {
    super(`the mapping passed a null ${what} to the host; check for null before calling the graph-ts API`);
    this.name = "AscNullError";
  }
}

/** Little-endian two's complement, as graph-ts stores `BigInt`. */
export function bigIntFromSignedLe(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  if (bytes[bytes.length - 1] & 0x80) n -= 1n << BigInt(bytes.length * 8);
  return n;
}

export function bigIntToSignedLe(n: bigint): Uint8Array {
  const out: number[] = [];
  let v = n;
  for (;;) {
    const byte = Number(v & 0xffn);
    out.push(byte);
    v >>= 8n;
    if ((v === 0n && (byte & 0x80) === 0) || (v === -1n && (byte & 0x80) !== 0)) break;
  }
  return Uint8Array.from(out);
}

export function bigIntFromUnsignedLe(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}
