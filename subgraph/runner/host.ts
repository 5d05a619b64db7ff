// graph-ts's host functions, implemented in Node, and the instantiation of a mapping module.
// A fresh instance serves each trigger, as in graph-node, so no mapping state leaks between events.
import { keccak256 } from "viem";
import { AscMemory, TypeId, bigIntFromUnsignedLe, type WasmExports } from "./asc.ts";
import * as dec from "./decimal.ts";
import {
  fromHex,
  readDecimal,
  readEntity,
  toHex,
  writeDecimal,
  writeEntity,
  type EntityData,
} from "./values.ts";

/** What the host functions may do to the world: the store of the block being indexed, logs, the data source. */
export type HostContext = {
  get(entityType: string, id: string): EntityData | null;
  getInBlock(entityType: string, id: string): EntityData | null;
  set(entityType: string, id: string, data: EntityData): void;
  remove(entityType: string, id: string): void;
  loadRelated(entityType: string, id: string, field: string): EntityData[];
  log(level: number, message: string): void;
  dataSource: { address: string; network: string; context: EntityData };
};

export class MappingAbortError extends Error {
  readonly location: string;
  constructor(message: string, location: string) {
    super(`mapping aborted: ${message}${location ? ` (${location})` : ""}`);
    this.name = "MappingAbortError";
    this.location = location;
  }
}

export class HostFunctionUnavailableError extends Error {
  constructor(name: string) {
    super(
      `host function ${name} is not offered by the local runner; avoid it in mappings or index with graph-node`,
    );
    this.name = "HostFunctionUnavailableError";
  }
}

/** log.critical terminates the subgraph in graph-node; the runner does the same. */
export class CriticalLogError extends Error {
  constructor(message: string) {
    super(`mapping logged a critical error: ${message}`);
    this.name = "CriticalLogError";
  }
}

const utf8 = new TextDecoder("utf-8");
const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

function base58(bytes: Uint8Array): string {
  let n = bigIntFromUnsignedLe(Uint8Array.from(bytes).reverse());
  let out = "";
  while (n > 0n) {
    out = BASE58[Number(n % 58n)] + out;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    out = "1" + out;
  }
  return out;
}

/** graph-ts `JSONValueKind`. */
const JsonKind = { NULL: 0, BOOL: 1, NUMBER: 2, STRING: 3, ARRAY: 4, OBJECT: 5 } as const;

type JsonNode = { kind: number; value: unknown };

function parseJsonPreservingNumbers(text: string): JsonNode {
  // The reviver sees each number's source text, so big integers keep every digit.
  const revive = (_key: string, value: unknown, context?: { source?: string }): unknown => {
    if (value === null) return { kind: JsonKind.NULL, value: null };
    if (typeof value === "boolean") return { kind: JsonKind.BOOL, value };
    if (typeof value === "number") return { kind: JsonKind.NUMBER, value: context?.source ?? String(value) };
    if (typeof value === "string") return { kind: JsonKind.STRING, value };
    if (Array.isArray(value)) return { kind: JsonKind.ARRAY, value };
    return { kind: JsonKind.OBJECT, value: Object.entries(value as object) };
  };
  return JSON.parse(text, revive as (this: unknown, key: string, value: unknown) => unknown) as JsonNode;
}

function writeJson(mem: AscMemory, node: JsonNode): number {
  const w = (payload: number) => mem.writeEnum(node.kind, BigInt(payload), TypeId.JsonValue);
  switch (node.kind) {
    case JsonKind.NULL:
      return w(0);
    case JsonKind.BOOL:
      return w(node.value ? 1 : 0);
    case JsonKind.NUMBER:
    case JsonKind.STRING:
      return w(mem.writeString(node.value as string));
    case JsonKind.ARRAY:
      return w(
        mem.writeU32Array(
          (node.value as JsonNode[]).map((n) => writeJson(mem, n)),
          TypeId.ArrayJsonValue,
        ),
      );
    default: {
      const entries = (node.value as [string, JsonNode][]).map(([k, v]) =>
        mem.writeStruct([mem.writeString(k), writeJson(mem, v)], TypeId.TypedMapEntryStringJsonValue),
      );
      const arr = mem.writeU32Array(entries, TypeId.ArrayTypedMapEntryStringJsonValue);
      return w(mem.writeStruct([arr], TypeId.TypedMapStringJsonValue));
    }
  }
}

/** A host function: reads its arguments from the calling instance's memory, returns a wasm value. */
export type HostFn = (mem: AscMemory, ctx: HostContext, ...args: number[]) => number | bigint | void;

function bigBinary(op: (a: bigint, b: bigint) => bigint): HostFn {
  return (mem, _ctx, x, y) => mem.writeBigInt(op(mem.readBigInt(x), mem.readBigInt(y)));
}

function decBinary(op: (a: dec.Decimal, b: dec.Decimal) => dec.Decimal): HostFn {
  return (mem, _ctx, x, y) => {
    const a = dec.parseDecimal(readDecimal(mem, x));
    const b = dec.parseDecimal(readDecimal(mem, y));
    return writeDecimal(mem, dec.decimalToString(op(a, b)));
  };
}

function nonZero(n: bigint, what: string): bigint {
  if (n === 0n) throw new dec.DivisionByZeroError(what);
  return n;
}

const hostFunctions: Record<string, HostFn> = {
  "store.get": (mem, ctx, type, id) => {
    const e = ctx.get(mem.readString(type), mem.readString(id));
    return e ? writeEntity(mem, e) : 0;
  },
  "store.get_in_block": (mem, ctx, type, id) => {
    const e = ctx.getInBlock(mem.readString(type), mem.readString(id));
    return e ? writeEntity(mem, e) : 0;
  },
  "store.set": (mem, ctx, type, id, data) => {
    ctx.set(mem.readString(type), mem.readString(id), readEntity(mem, data));
  },
  "store.remove": (mem, ctx, type, id) => {
    ctx.remove(mem.readString(type), mem.readString(id));
  },
  "store.loadRelated": (mem, ctx, type, id, field) => {
    const list = ctx.loadRelated(mem.readString(type), mem.readString(id), mem.readString(field));
    return mem.writeU32Array(
      list.map((e) => writeEntity(mem, e)),
      TypeId.ArrayTypedMapEntryStringStoreValue,
    );
  },
  "log.log": (mem, ctx, level, msg) => {
    const text = mem.readString(msg);
    if (level === 0) throw new CriticalLogError(text);
    ctx.log(level, text);
  },
  "typeConversion.bytesToString": (mem, _ctx, b) =>
    mem.writeString(utf8.decode(mem.readBytes(b)).replaceAll("\0", "")),
  "typeConversion.bytesToHex": (mem, _ctx, b) => mem.writeString(toHex(mem.readBytes(b))),
  "typeConversion.bigIntToString": (mem, _ctx, b) => mem.writeString(mem.readBigInt(b).toString()),
  "typeConversion.bigIntToHex": (mem, _ctx, b) => {
    const n = mem.readBigInt(b);
    return mem.writeString(n < 0n ? "-0x" + (-n).toString(16) : "0x" + n.toString(16));
  },
  "typeConversion.stringToH160": (mem, _ctx, s) => {
    const text = mem.readString(s);
    const bytes = fromHex(text);
    if (bytes.length !== 20)
      throw new MappingAbortError(`"${text}" is not a 20-byte address`, "stringToH160");
    return mem.writeBytes(bytes);
  },
  "typeConversion.bytesToBase58": (mem, _ctx, b) => mem.writeString(base58(mem.readBytes(b))),
  "bigInt.plus": bigBinary((a, b) => a + b),
  "bigInt.minus": bigBinary((a, b) => a - b),
  "bigInt.times": bigBinary((a, b) => a * b),
  "bigInt.dividedBy": bigBinary((a, b) => a / nonZero(b, "BigInt")),
  "bigInt.mod": bigBinary((a, b) => a % nonZero(b, "BigInt")),
  "bigInt.bitOr": bigBinary((a, b) => a | b),
  "bigInt.bitAnd": bigBinary((a, b) => a & b),
  "bigInt.pow": (mem, _ctx, x, e) => mem.writeBigInt(mem.readBigInt(x) ** BigInt(e & 0xff)),
  "bigInt.leftShift": (mem, _ctx, x, bits) => mem.writeBigInt(mem.readBigInt(x) << BigInt(bits & 0xff)),
  "bigInt.rightShift": (mem, _ctx, x, bits) => mem.writeBigInt(mem.readBigInt(x) >> BigInt(bits & 0xff)),
  "bigInt.fromString": (mem, _ctx, s) => {
    const text = mem.readString(s);
    if (!/^-?\d+$/.test(text))
      throw new MappingAbortError(`"${text}" is not an integer`, "BigInt.fromString");
    return mem.writeBigInt(BigInt(text));
  },
  "bigInt.dividedByDecimal": (mem, _ctx, x, y) => {
    const a = dec.fromBigInt(mem.readBigInt(x));
    return writeDecimal(mem, dec.decimalToString(dec.div(a, dec.parseDecimal(readDecimal(mem, y)))));
  },
  "bigDecimal.plus": decBinary(dec.add),
  "bigDecimal.minus": decBinary(dec.sub),
  "bigDecimal.times": decBinary(dec.mul),
  "bigDecimal.dividedBy": decBinary(dec.div),
  "bigDecimal.equals": (mem, _ctx, x, y) =>
    dec.compare(dec.parseDecimal(readDecimal(mem, x)), dec.parseDecimal(readDecimal(mem, y))) === 0 ? 1 : 0,
  "bigDecimal.toString": (mem, _ctx, x) => mem.writeString(readDecimal(mem, x)),
  "bigDecimal.fromString": (mem, _ctx, s) => writeDecimal(mem, mem.readString(s)),
  "crypto.keccak256": (mem, _ctx, b) => mem.writeBytes(fromHex(keccak256(mem.readBytes(b)))),
  "dataSource.address": (mem, ctx) => mem.writeBytes(fromHex(ctx.dataSource.address)),
  "dataSource.network": (mem, ctx) => mem.writeString(ctx.dataSource.network),
  "dataSource.context": (mem, ctx) => writeEntity(mem, ctx.dataSource.context),
  "ens.nameByHash": () => 0,
  "json.fromBytes": (mem, _ctx, b) =>
    writeJson(mem, parseJsonPreservingNumbers(utf8.decode(mem.readBytes(b)))),
  "json.try_fromBytes": (mem, _ctx, b) => {
    let node: JsonNode | null = null;
    try {
      node = parseJsonPreservingNumbers(utf8.decode(mem.readBytes(b)));
    } catch {
      node = null;
    }
    if (node) {
      const wrapped = mem.writeStruct([writeJson(mem, node)], TypeId.WrappedJsonValue);
      return mem.writeStruct([wrapped, 0], TypeId.ResultJsonValueBool);
    }
    const err = mem.writeStruct([1], TypeId.WrappedBool);
    return mem.writeStruct([0, err], TypeId.ResultJsonValueBool);
  },
  "json.toI64": (mem, _ctx, s) => BigInt.asIntN(64, BigInt(mem.readString(s))),
  "json.toU64": (mem, _ctx, s) => BigInt.asIntN(64, BigInt(mem.readString(s))),
  "json.toF64": (mem, _ctx, s) => Number(mem.readString(s)),
  "json.toBigInt": (mem, _ctx, s) => mem.writeBigInt(BigInt(mem.readString(s))),
};

/** A mapping module compiled once, instantiated per trigger. */
export class MappingModule {
  readonly module: WebAssembly.Module;
  readonly name: string;

  constructor(name: string, wasm: Uint8Array<ArrayBuffer>) {
    this.name = name;
    this.module = new WebAssembly.Module(wasm);
  }

  /** Instantiates the module bound to `ctx` (plus `extra` host functions) and runs its start function. */
  instantiate(
    ctx: HostContext,
    extra: Record<string, HostFn> = {},
  ): { mem: AscMemory; exports: WasmExports } {
    let mem: AscMemory | null = null;
    const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {};
    for (const imp of WebAssembly.Module.imports(this.module)) {
      if (imp.kind !== "function") continue;
      const ns = (imports[imp.module] ??= {});
      if (imp.module === "env" && imp.name === "abort") {
        ns[imp.name] = (msg: number, file: number, line: number, col: number) => {
          const text = msg && mem ? mem.readString(msg) : "abort";
          const where = file && mem ? `${mem.readString(file)}:${line}:${col}` : "";
          throw new MappingAbortError(text, where);
        };
        continue;
      }
      const fn = extra[imp.name] ?? hostFunctions[imp.name];
      ns[imp.name] = fn
        ? (...args: number[]) => fn(mem!, ctx, ...args)
        : () => {
            throw new HostFunctionUnavailableError(imp.name);
          };
    }
    const instance = new WebAssembly.Instance(this.module, imports);
    const exports = instance.exports as unknown as WasmExports;
    mem = new AscMemory(exports);
    exports._start?.();
    return { mem, exports };
  }
}
