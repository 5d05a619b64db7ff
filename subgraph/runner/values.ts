// Store values: graph-ts `Value` in wasm memory <-> tagged JSON kept on disk and served over GraphQL.
import type { AscMemory } from "./asc.ts";
import { TypeId } from "./asc.ts";
import { decimalToString, parseDecimal } from "./decimal.ts";

export type StoreValue =
  | ["String", string]
  | ["Int", number]
  | ["BigDecimal", string]
  | ["Boolean", boolean]
  | ["Array", StoreValue[]]
  | ["Null", null]
  | ["Bytes", string]
  | ["BigInt", string]
  | ["Int8", string]
  | ["Timestamp", string];

/** An entity's fields, `id` included. */
export type EntityData = Record<string, StoreValue>;

/** graph-ts `ValueKind` (common/value.ts). */
const Kind = {
  STRING: 0,
  INT: 1,
  BIGDECIMAL: 2,
  BOOL: 3,
  ARRAY: 4,
  NULL: 5,
  BYTES: 6,
  BIGINT: 7,
  INT8: 8,
  TIMESTAMP: 9,
} as const;

export class UnknownValueKindError extends Error {
  constructor(kind: number) {
    super(`the mapping stored a Value of unknown kind ${kind}; rebuild it with graph-ts 0.38`);
    this.name = "UnknownValueKindError";
  }
}

export function toHex(bytes: Uint8Array): string {
  return "0x" + Buffer.from(bytes).toString("hex");
}

export function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex.startsWith("0x") ? hex.slice(2) : hex, "hex"));
}

export function readDecimal(mem: AscMemory, ptr: number): string {
  const digits = mem.readBigInt(mem.u32(ptr));
  const exp = mem.readBigInt(mem.u32(ptr + 4));
  return decimalToString({ digits, exp: Number(exp) });
}

export function writeDecimal(mem: AscMemory, s: string): number {
  const d = parseDecimal(s);
  const digits = mem.writeBigInt(d.digits);
  const exp = mem.writeBigInt(BigInt(d.exp));
  return mem.writeStruct([digits, exp], TypeId.BigDecimal);
}

export function readStoreValue(mem: AscMemory, ptr: number): StoreValue {
  const { kind, payload } = mem.readEnum(ptr);
  const p = Number(payload & 0xffffffffn);
  switch (kind) {
    case Kind.STRING:
      return ["String", mem.readString(p)];
    case Kind.INT:
      return ["Int", Number(BigInt.asIntN(32, payload))];
    case Kind.BIGDECIMAL:
      return ["BigDecimal", readDecimal(mem, p)];
    case Kind.BOOL:
      return ["Boolean", payload !== 0n];
    case Kind.ARRAY:
      return ["Array", mem.readPtrArray(p).map((e) => readStoreValue(mem, e))];
    case Kind.NULL:
      return ["Null", null];
    case Kind.BYTES:
      return ["Bytes", toHex(mem.readBytes(p))];
    case Kind.BIGINT:
      return ["BigInt", mem.readBigInt(p).toString()];
    case Kind.INT8:
      return ["Int8", BigInt.asIntN(64, payload).toString()];
    case Kind.TIMESTAMP:
      return ["Timestamp", BigInt.asIntN(64, payload).toString()];
    default:
      throw new UnknownValueKindError(kind);
  }
}

export function writeStoreValue(mem: AscMemory, value: StoreValue): number {
  const w = (kind: number, payload: bigint) => mem.writeEnum(kind, payload, TypeId.StoreValue);
  switch (value[0]) {
    case "String":
      return w(Kind.STRING, BigInt(mem.writeString(value[1])));
    case "Int":
      return w(Kind.INT, BigInt(value[1]));
    case "BigDecimal":
      return w(Kind.BIGDECIMAL, BigInt(writeDecimal(mem, value[1])));
    case "Boolean":
      return w(Kind.BOOL, value[1] ? 1n : 0n);
    case "Array": {
      const items = value[1].map((e) => writeStoreValue(mem, e));
      return w(Kind.ARRAY, BigInt(mem.writeU32Array(items, TypeId.ArrayStoreValue)));
    }
    case "Null":
      return w(Kind.NULL, 0n);
    case "Bytes":
      return w(Kind.BYTES, BigInt(mem.writeBytes(fromHex(value[1]))));
    case "BigInt":
      return w(Kind.BIGINT, BigInt(mem.writeBigInt(BigInt(value[1]))));
    case "Int8":
      return w(Kind.INT8, BigInt(value[1]));
    case "Timestamp":
      return w(Kind.TIMESTAMP, BigInt(value[1]));
  }
}

/** Reads an `Entity` (`TypedMap<string, Value>`: {entries: Array<TypedMapEntry{key, value}>}). */
export function readEntity(mem: AscMemory, ptr: number): EntityData {
  const out: EntityData = {};
  for (const entry of mem.readPtrArray(mem.u32(ptr))) {
    out[mem.readString(mem.u32(entry))] = readStoreValue(mem, mem.u32(entry + 4));
  }
  return out;
}

export function writeEntity(mem: AscMemory, data: EntityData): number {
  const entries = Object.entries(data).map(([k, v]) => {
    const key = mem.writeString(k);
    const value = writeStoreValue(mem, v);
    return mem.writeStruct([key, value], TypeId.TypedMapEntryStringStoreValue);
  });
  const arr = mem.writeU32Array(entries, TypeId.ArrayTypedMapEntryStringStoreValue);
  return mem.writeStruct([arr], TypeId.TypedMapStringStoreValue);
}
