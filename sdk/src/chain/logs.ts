// Event-log scans that scale with the chain: `scanEvents` reads a contract event from a start block to the
// head in pages of at most `blockRange` blocks (default 10,000, what hosted RPC providers allow), halving
// a page a provider still refuses as too large; with a `LogStore` it keeps what it read up to the last
// final block (head - `finality`) and the block it got to, so the next scan reads only the blocks since.
// Browser-safe (no Node built-ins): `fileLogStore` in ./log-store.ts is the Node file-backed store.
import type { Abi, ContractEventName, GetContractEventsParameters, GetContractEventsReturnType } from "viem";
import type { ChainConnection } from "./client.ts";

/** Default most blocks one eth_getLogs asks for (Infura, Alchemy and QuickNode allow 10,000 or more on paid plans). */
export const DEFAULT_LOG_BLOCK_RANGE = 10_000n;
/** Default depth below the head at which a block is taken as final (kept in a LogStore). */
export const DEFAULT_LOG_FINALITY = 64n;

/** What a scan keeps of a log (the rest of viem's Log is not stored). */
export interface ScannedLog {
  eventName: string;
  args: Record<string, unknown>;
  blockNumber: bigint;
  logIndex: number;
  transactionHash: string;
}

/** A scan's saved state: every log up to and including block `through`. */
export interface LogScanState {
  through: bigint;
  logs: ScannedLog[];
}

/** Where scans keep their state between runs (keyed by chain, contract, event and filter). */
export interface LogStore {
  get(key: string): Promise<LogScanState | undefined>;
  put(key: string, state: LogScanState): Promise<void>;
}

/** How `scanEvents` pages and caches; `ChainConnection.logs` holds the connection's defaults. */
export interface LogScanOptions {
  /** Most blocks per eth_getLogs (default 10,000). */
  blockRange?: bigint;
  /** Blocks below the head taken as final: only those are kept in `store` (default 64). */
  finality?: bigint;
  store?: LogStore;
}

/** In memory (per process): a LogStore for a long-lived connection that has no folder to write to. */
export function memoryLogStore(): LogStore {
  const states = new Map<string, LogScanState>();
  return {
    get: async (key) => states.get(key),
    put: async (key, state) => void states.set(key, state),
  };
}

/** Normalises and checks a block range setting (a positive whole number of blocks). */
export function logBlockRange(value: bigint | number | string | undefined): bigint {
  if (value === undefined || value === "") return DEFAULT_LOG_BLOCK_RANGE;
  let n: bigint;
  try {
    n = BigInt(value);
  } catch {
    throw new RangeError(`the eth_getLogs block range must be a whole number of blocks, got ${String(value)}`);
  }
  if (n < 1n) throw new RangeError(`the eth_getLogs block range must be at least 1 block, got ${n}`);
  return n;
}

const TOO_LARGE =
  /block range|range (?:is )?too (?:large|wide)|exceed|too many (?:results|blocks|logs)|query returned more than|limit/i;

function tooLarge(err: unknown): boolean {
  for (let e = err as { message?: string; details?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (TOO_LARGE.test(`${e.message ?? ""} ${e.details ?? ""}`)) return true;
  }
  return false;
}

function keyOf(chainId: number, params: { address: string; eventName: string; args?: unknown; fromBlock: bigint }): string {
  const args = JSON.stringify(params.args ?? {}, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  return `${chainId}:${params.address.toLowerCase()}:${params.eventName}:${args}:${params.fromBlock}`;
}

type EventParams<abi extends Abi, eventName extends ContractEventName<abi>> = Omit<
  GetContractEventsParameters<abi, eventName, true, bigint, bigint>,
  "fromBlock" | "toBlock" | "blockHash" | "strict"
> & { fromBlock?: bigint };

/**
 * Every `eventName` log of a contract from `fromBlock` (default: the deployments' block) to the head,
 * oldest first, read in pages of at most `blockRange` blocks. Logs come back as viem decodes them; those
 * served from a LogStore carry eventName, args, blockNumber, logIndex and transactionHash only.
 */
export async function scanEvents<const abi extends Abi, eventName extends ContractEventName<abi>>(
  conn: ChainConnection,
  params: EventParams<abi, eventName>,
  opts: LogScanOptions = {},
): Promise<GetContractEventsReturnType<abi, eventName, true, bigint, bigint>> {
  const range = logBlockRange(opts.blockRange ?? conn.logs?.blockRange);
  const finality = opts.finality ?? conn.logs?.finality ?? DEFAULT_LOG_FINALITY;
  const store = opts.store ?? conn.logs?.store;
  const fromBlock = params.fromBlock ?? conn.deployments.deployBlock;
  const head = await conn.publicClient.getBlockNumber({ cacheTime: 0 });
  const key = keyOf(conn.chainId, { ...(params as { address: string; eventName: string; args?: unknown }), fromBlock });
  const saved = store ? await store.get(key) : undefined;
  const logs: ScannedLog[] = saved && saved.through <= head ? [...saved.logs] : [];
  let next = saved && saved.through <= head ? saved.through + 1n : fromBlock;
  const final = head - finality;
  let step = range;
  let kept: LogScanState | undefined;
  while (next <= head) {
    let to = next + step - 1n > head ? head : next + step - 1n;
    if (store && next <= final && to > final) to = final; // end a page at the last final block: kept whole
    let page: ScannedLog[];
    try {
      page = (await conn.publicClient.getContractEvents({
        ...(params as object),
        strict: true,
        fromBlock: next,
        toBlock: to,
      } as never)) as unknown as ScannedLog[];
    } catch (err) {
      if (step > 1n && tooLarge(err)) {
        step = (step + 1n) / 2n; // the provider's cap is below ours: halve and go on
        continue;
      }
      throw err;
    }
    // a page that ends at or below the last final block can be kept
    if (store && to <= final) kept = { through: to, logs: [...logs, ...page.map(slim)] };
    logs.push(...page);
    next = to + 1n;
  }
  if (store && kept) await store.put(key, kept);
  return logs as unknown as GetContractEventsReturnType<abi, eventName, true, bigint, bigint>;
}

function slim(l: ScannedLog): ScannedLog {
  return {
    eventName: l.eventName,
    args: l.args,
    blockNumber: l.blockNumber,
    logIndex: l.logIndex,
    transactionHash: l.transactionHash,
  };
}
