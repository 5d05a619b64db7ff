// Chain data -> graph-ts `ethereum.Event`, `ethereum.Block`, `ethereum.Transaction`, `ethereum.Value`.
import type { AbiEvent, AbiParameter } from "viem";
import type { AscMemory } from "./asc.ts";
import { TypeId } from "./asc.ts";
import { fromHex } from "./values.ts";

/** The block fields graph-ts exposes, as the follower reads them over JSON-RPC. */
export type BlockInfo = {
  hash: string;
  parentHash: string;
  unclesHash: string;
  author: string;
  stateRoot: string;
  transactionsRoot: string;
  receiptsRoot: string;
  number: bigint;
  gasUsed: bigint;
  gasLimit: bigint;
  timestamp: bigint;
  difficulty: bigint;
  totalDifficulty: bigint;
  size: bigint | null;
  baseFeePerGas: bigint | null;
};

export type TransactionInfo = {
  hash: string;
  index: bigint;
  from: string;
  to: string | null;
  value: bigint;
  gasLimit: bigint;
  gasPrice: bigint;
  input: string;
  nonce: bigint;
};

/** One decoded event log, ready for a handler. */
export type EventTrigger = {
  address: string;
  logIndex: bigint;
  transactionLogIndex: bigint;
  block: BlockInfo;
  transaction: TransactionInfo;
  event: AbiEvent;
  /** Decoded arguments in ABI order. */
  args: unknown[];
};

/** graph-ts `ethereum.ValueKind`. */
const EthKind = {
  ADDRESS: 0,
  FIXED_BYTES: 1,
  BYTES: 2,
  INT: 3,
  UINT: 4,
  BOOL: 5,
  STRING: 6,
  FIXED_ARRAY: 7,
  ARRAY: 8,
  TUPLE: 9,
} as const;

export class UnsupportedAbiTypeError extends Error {
  constructor(type: string) {
    super(`ABI type "${type}" cannot be passed to a mapping; use a standard Solidity ABI type`);
    this.name = "UnsupportedAbiTypeError";
  }
}

function isDynamic(type: string): boolean {
  return type === "string" || type === "bytes" || type.endsWith("]") || type.startsWith("tuple");
}

function writeEthValue(mem: AscMemory, param: AbiParameter, value: unknown): number {
  const w = (kind: number, payload: number | bigint) =>
    mem.writeEnum(kind, BigInt(payload), TypeId.EthereumValue);
  const type = param.type;
  const arr = /^(.*)\[(\d*)\]$/.exec(type);
  if (arr) {
    const inner = { ...param, type: arr[1] } as AbiParameter;
    const items = (value as unknown[]).map((v) => writeEthValue(mem, inner, v));
    return w(
      arr[2] === "" ? EthKind.ARRAY : EthKind.FIXED_ARRAY,
      mem.writeU32Array(items, TypeId.ArrayEthereumValue),
    );
  }
  if (type === "tuple") {
    const components = (param as { components: readonly AbiParameter[] }).components;
    const items = components.map((c, i) => {
      const v = Array.isArray(value) ? value[i] : (value as Record<string, unknown>)[c.name ?? String(i)];
      return writeEthValue(mem, c, v);
    });
    return w(EthKind.TUPLE, mem.writeU32Array(items, TypeId.ArrayEthereumValue));
  }
  if (type === "address") return w(EthKind.ADDRESS, mem.writeBytes(fromHex(value as string)));
  if (type === "bool") return w(EthKind.BOOL, value ? 1 : 0);
  if (type === "string") return w(EthKind.STRING, mem.writeString(value as string));
  if (type === "bytes") return w(EthKind.BYTES, mem.writeBytes(fromHex(value as string)));
  if (/^bytes\d+$/.test(type)) return w(EthKind.FIXED_BYTES, mem.writeBytes(fromHex(value as string)));
  if (/^int\d*$/.test(type)) return w(EthKind.INT, mem.writeBigInt(BigInt(value as bigint | number)));
  if (/^uint\d*$/.test(type)) return w(EthKind.UINT, mem.writeBigInt(BigInt(value as bigint | number)));
  throw new UnsupportedAbiTypeError(type);
}

function writeBlock(mem: AscMemory, b: BlockInfo): number {
  const bytes = (h: string) => mem.writeBytes(fromHex(h));
  const big = (n: bigint) => mem.writeBigInt(n);
  return mem.writeStruct(
    [
      bytes(b.hash),
      bytes(b.parentHash),
      bytes(b.unclesHash),
      bytes(b.author),
      bytes(b.stateRoot),
      bytes(b.transactionsRoot),
      bytes(b.receiptsRoot),
      big(b.number),
      big(b.gasUsed),
      big(b.gasLimit),
      big(b.timestamp),
      big(b.difficulty),
      big(b.totalDifficulty),
      b.size === null ? 0 : big(b.size),
      b.baseFeePerGas === null ? 0 : big(b.baseFeePerGas),
    ],
    TypeId.EthereumBlock,
  );
}

function writeTransaction(mem: AscMemory, t: TransactionInfo): number {
  const bytes = (h: string) => mem.writeBytes(fromHex(h));
  const big = (n: bigint) => mem.writeBigInt(n);
  return mem.writeStruct(
    [
      bytes(t.hash),
      big(t.index),
      bytes(t.from),
      t.to === null ? 0 : bytes(t.to),
      big(t.value),
      big(t.gasLimit),
      big(t.gasPrice),
      bytes(t.input),
      big(t.nonce),
    ],
    TypeId.EthereumTransaction,
  );
}

/** Writes an `ethereum.Event` (and everything it points to) into the instance's memory. */
export function writeEvent(mem: AscMemory, trigger: EventTrigger): number {
  const params = trigger.event.inputs.map((input, i) => {
    const name = mem.writeString(input.name ?? "");
    const v = trigger.args[i];
    const value =
      input.indexed && isDynamic(input.type)
        ? mem.writeEnum(
            EthKind.FIXED_BYTES,
            BigInt(mem.writeBytes(fromHex(v as string))),
            TypeId.EthereumValue,
          )
        : writeEthValue(mem, input, v);
    return mem.writeStruct([name, value], TypeId.EventParam);
  });
  return mem.writeStruct(
    [
      mem.writeBytes(fromHex(trigger.address)),
      mem.writeBigInt(trigger.logIndex),
      mem.writeBigInt(trigger.transactionLogIndex),
      0, // logType: null on every chain graph-node indexes today
      writeBlock(mem, trigger.block),
      writeTransaction(mem, trigger.transaction),
      mem.writeU32Array(params, TypeId.ArrayEventParam),
      0, // receipt: only with `receipt: true` in the manifest, which this runner does not offer
    ],
    TypeId.EthereumEvent,
  );
}
