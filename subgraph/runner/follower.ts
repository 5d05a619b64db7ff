// Follows a chain over JSON-RPC: wakes on `newHeads` (WebSocket subscription; polls fast without one), fetches the data sources' logs in ranges, decodes them
// with the ABIs and hands each block's triggers to the processor in (block, logIndex) order. Detects
// reorgs (the stored head's hash no longer on chain) and reverts the store to the common ancestor.
import {
  createPublicClient,
  decodeEventLog,
  http,
  HttpRequestError,
  type Hex,
  type PublicClient,
} from "viem";
import type { BlockInfo, EventTrigger, TransactionInfo } from "./ethereum.ts";
import type { Subgraph } from "./manifest.ts";
import { BlockProcessor, HandlerError, type Logger, type Trigger } from "./processor.ts";
import type { BlockPointer, EntityStore } from "./store.ts";

type RpcLog = {
  address: Hex;
  topics: Hex[];
  data: Hex;
  blockNumber: Hex;
  blockHash: Hex;
  transactionHash: Hex;
  transactionIndex: Hex;
  logIndex: Hex;
  removed?: boolean;
};

type RpcTx = {
  hash: Hex;
  transactionIndex: Hex;
  from: Hex;
  to: Hex | null;
  value: Hex;
  gas: Hex;
  gasPrice?: Hex;
  maxFeePerGas?: Hex;
  input: Hex;
  nonce: Hex;
};

type RpcBlock = {
  hash: Hex;
  parentHash: Hex;
  sha3Uncles: Hex;
  miner: Hex;
  stateRoot: Hex;
  transactionsRoot: Hex;
  receiptsRoot: Hex;
  number: Hex;
  gasUsed: Hex;
  gasLimit: Hex;
  timestamp: Hex;
  difficulty?: Hex;
  totalDifficulty?: Hex;
  size?: Hex;
  baseFeePerGas?: Hex;
  transactions: (RpcTx | Hex)[];
};

export class RpcUnavailableError extends Error {
  constructor(url: string, cause: unknown) {
    super(
      `cannot reach the chain at ${url}: ${(cause as Error).message}; start it (npx hardhat node) or set rpcUrl`,
    );
    this.name = "RpcUnavailableError";
  }
}

export type FollowerOptions = {
  rpcUrl: string;
  subgraph: Subgraph;
  store: EntityStore;
  logger: Logger;
  /** Poll interval in milliseconds while no head subscription is open (default 200). */
  pollMs?: number;
  /**
   * Poll interval while a `newHeads` subscription is open (default 5000): new blocks wake the follower at
   * once, so this poll is only a safety net (a dropped notification) and costs an idle stack almost nothing.
   */
  subscribedPollMs?: number;
  /**
   * WebSocket URL for `eth_subscribe("newHeads")`; default: rpcUrl with ws(s):// (anvil, geth, reth and
   * hosted providers serve both on one port). `false`: poll only.
   */
  wsUrl?: string | false;
  /** Largest block range per eth_getLogs (default 2000). */
  rangeSize?: number;
};

const big = (h: Hex | undefined | null): bigint => (h ? BigInt(h) : 0n);

function toBlockInfo(b: RpcBlock): BlockInfo {
  return {
    hash: b.hash,
    parentHash: b.parentHash,
    unclesHash: b.sha3Uncles,
    author: b.miner,
    stateRoot: b.stateRoot,
    transactionsRoot: b.transactionsRoot,
    receiptsRoot: b.receiptsRoot,
    number: BigInt(b.number),
    gasUsed: big(b.gasUsed),
    gasLimit: big(b.gasLimit),
    timestamp: big(b.timestamp),
    difficulty: big(b.difficulty),
    totalDifficulty: big(b.totalDifficulty),
    size: b.size ? BigInt(b.size) : null,
    baseFeePerGas: b.baseFeePerGas ? BigInt(b.baseFeePerGas) : null,
  };
}

function toTxInfo(t: RpcTx): TransactionInfo {
  return {
    hash: t.hash,
    index: big(t.transactionIndex),
    from: t.from,
    to: t.to ?? null,
    value: big(t.value),
    gasLimit: big(t.gas),
    gasPrice: big(t.gasPrice ?? t.maxFeePerGas),
    input: t.input,
    nonce: big(t.nonce),
  };
}

export class ChainFollower {
  private readonly opts: Required<FollowerOptions>;
  private readonly client: PublicClient;
  private readonly processor: BlockProcessor;
  private readonly startBlock: number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;
  /** Set when a handler fails: indexing stops there, as in graph-node. */
  failure: Error | null = null;
  eventsProcessed = 0;
  private unreachable = false;
  private readonly listeners = new Set<() => void>();
  private ws: WebSocket | null = null;
  private subscribed = false;
  private wsRetry: NodeJS.Timeout | null = null;
  private wsBackoffMs = 1000;
  private wakeAgain = false;
  /** New-head notifications received (tests and diagnostics). */
  headsNotified = 0;

  constructor(opts: FollowerOptions) {
    this.opts = {
      pollMs: 200,
      subscribedPollMs: 5000,
      rangeSize: 2000,
      wsUrl: opts.rpcUrl.replace(/^http/, "ws"),
      // an option passed as undefined keeps its default (a bare spread would make pollMs undefined:
      // setTimeout(fn, undefined) polls every millisecond)
      ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
    } as Required<FollowerOptions>;
    this.client = createPublicClient({
      transport: http(opts.rpcUrl, { batch: { batchSize: 100 }, retryCount: 0 }),
    });
    this.processor = new BlockProcessor(opts.subgraph, opts.store, opts.logger);
    this.startBlock = Math.min(...opts.subgraph.dataSources.map((d) => d.startBlock));
    const err = opts.store.getMeta("error");
    if (err) this.failure = new Error(err);
  }

  private rpc<T>(method: string, params: unknown[]): Promise<T> {
    return this.client.request({ method, params } as never) as Promise<T>;
  }

  private async blockAt(n: number, full: boolean): Promise<RpcBlock | null> {
    return this.rpc<RpcBlock | null>("eth_getBlockByNumber", ["0x" + n.toString(16), full]);
  }

  /** The number of the canonical block with this hash, or null (unknown, or not on the canonical chain). */
  async blockNumberOfHash(hash: string): Promise<number | null> {
    if (!/^0x[0-9a-fA-F]{64}$/.test(hash)) return null;
    const b = await this.rpc<RpcBlock | null>("eth_getBlockByHash", [hash, false]);
    if (!b) return null;
    const n = Number(b.number);
    const canonical = await this.blockAt(n, false);
    return canonical?.hash.toLowerCase() === hash.toLowerCase() ? n : null;
  }

  /** Reverts the store if its head is no longer on the chain. */
  private async checkReorg(head: BlockPointer): Promise<void> {
    const onChain = await this.blockAt(head.number, false);
    if (onChain?.hash === head.hash) return;
    let ancestor = this.startBlock - 1;
    for (const b of this.opts.store.recentBlocks(head.number - 1, 256)) {
      const c = await this.blockAt(b.number, false);
      if (c?.hash === b.hash) {
        ancestor = b.number;
        break;
      }
    }
    this.opts.logger("warn", `chain reorganised below block ${head.number}; reverting to block ${ancestor}`);
    this.opts.store.revertTo(ancestor);
    this.opts.store.deleteMeta("error");
    this.failure = null;
  }

  /** Indexes everything up to the current chain head; returns the number of events handled. */
  async syncOnce(): Promise<number> {
    const store = this.opts.store;
    let head = store.head();
    if (head) {
      await this.checkReorg(head);
      head = store.head();
    }
    if (this.failure) return 0;
    const chainHead = Number(await this.rpc<Hex>("eth_blockNumber", []));
    let from = head ? head.number + 1 : this.startBlock;
    let handled = 0;
    const addresses = this.opts.subgraph.dataSources.map((d) => d.address);
    const topics = [
      ...new Set(this.opts.subgraph.dataSources.flatMap((d) => d.handlers.map((h) => h.topic0))),
    ];
    while (from <= chainHead) {
      const to = Math.min(chainHead, from + this.opts.rangeSize - 1);
      const logs = await this.rpc<RpcLog[]>("eth_getLogs", [
        {
          fromBlock: "0x" + from.toString(16),
          toBlock: "0x" + to.toString(16),
          address: addresses,
          topics: [topics],
        },
      ]);
      const byBlock = new Map<number, RpcLog[]>();
      for (const log of logs) {
        if (log.removed) continue;
        const n = Number(log.blockNumber);
        let list = byBlock.get(n);
        if (!list) byBlock.set(n, (list = []));
        list.push(log);
      }
      const numbers = [...byBlock.keys()].sort((a, b) => a - b);
      const blocks = await Promise.all(numbers.map((n) => this.blockAt(n, true)));
      const last = await this.blockAt(to, false);
      if (!last) return handled; // the chain moved under us; the next poll starts over
      try {
        store.transaction(() => {
          numbers.forEach((n, i) => {
            const block = blocks[i];
            if (!block) throw new Error(`block ${n} disappeared while indexing`);
            handled += this.processor.processBlock(
              toBlockInfo(block),
              this.triggersOf(block, byBlock.get(n)!),
            );
          });
          store.setHead({
            number: to,
            hash: last.hash,
            parentHash: last.parentHash,
            timestamp: Number(last.timestamp),
          });
        });
      } catch (e) {
        if (e instanceof HandlerError)
          handled = await this.commitBefore(e.blockNumber, numbers, blocks, byBlock, from);
        this.failure = e as Error;
        store.setMeta("error", (e as Error).message);
        this.opts.logger("error", (e as Error).message);
        this.eventsProcessed += handled;
        this.notify();
        return handled;
      }
      this.eventsProcessed += handled;
      from = to + 1;
      this.notify();
    }
    return handled;
  }

  /** After a handler failed in block `failed`, indexes the range's blocks before it (as graph-node does). */
  private async commitBefore(
    failed: number,
    numbers: number[],
    blocks: (RpcBlock | null)[],
    byBlock: Map<number, RpcLog[]>,
    from: number,
  ): Promise<number> {
    if (failed - 1 < from) return 0;
    const last = await this.blockAt(failed - 1, false);
    if (!last) return 0;
    let handled = 0;
    this.opts.store.transaction(() => {
      numbers.forEach((n, i) => {
        if (n < failed)
          handled += this.processor.processBlock(
            toBlockInfo(blocks[i]!),
            this.triggersOf(blocks[i]!, byBlock.get(n)!),
          );
      });
      this.opts.store.setHead({
        number: failed - 1,
        hash: last.hash,
        parentHash: last.parentHash,
        timestamp: Number(last.timestamp),
      });
    });
    return handled;
  }

  private triggersOf(block: RpcBlock, logs: RpcLog[]): Trigger[] {
    const info = toBlockInfo(block);
    const txs = new Map<string, RpcTx>();
    for (const t of block.transactions) if (typeof t !== "string") txs.set(t.hash, t);
    logs.sort((a, b) => Number(a.logIndex) - Number(b.logIndex));
    const out: Trigger[] = [];
    for (const log of logs) {
      const address = log.address.toLowerCase();
      const tx = txs.get(log.transactionHash);
      if (!tx) throw new Error(`transaction ${log.transactionHash} missing from block ${info.number}`);
      for (const ds of this.opts.subgraph.dataSources) {
        if (ds.address !== address || Number(log.blockNumber) < ds.startBlock) continue;
        for (const h of ds.handlers) {
          if (h.topic0 !== log.topics[0]) continue;
          const decoded = decodeEventLog({
            abi: [h.event],
            data: log.data,
            topics: log.topics as [Hex, ...Hex[]],
          });
          const args = decoded.args as unknown as Record<string, unknown> | unknown[];
          const event: EventTrigger = {
            address,
            logIndex: BigInt(log.logIndex),
            transactionLogIndex: BigInt(log.logIndex),
            block: info,
            transaction: toTxInfo(tx),
            event: h.event,
            args: h.event.inputs.map((inp, i) =>
              Array.isArray(args) ? args[i] : (args as Record<string, unknown>)[inp.name ?? String(i)],
            ),
          };
          out.push({ dataSource: ds, handler: h, event });
        }
      }
    }
    return out;
  }

  /** Resolves after the next successful sync (for callers waiting on new data). */
  onSynced(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }

  /** True while a `newHeads` subscription is open (polling is then only a slow safety net). */
  get headSubscription(): boolean {
    return this.subscribed;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.subscribe();
    void this.tick();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.wakeAgain = false;
    this.running = this.syncOnce()
      .then(() => {
        this.unreachable = false;
      })
      .catch((e: Error) => {
        // Network trouble is retried on the next poll; anything else is worth an error line.
        const network = e instanceof HttpRequestError || /fetch failed|ECONNREFUSED/.test(e.message);
        if (network && !this.unreachable)
          this.opts.logger("warn", new RpcUnavailableError(this.opts.rpcUrl, e).message);
        if (network)
          this.unreachable = true; // said once, until the chain answers again
        else this.opts.logger("error", `indexing paused, retrying: ${e.message}`);
      });
    await this.running;
    this.running = null;
    if (this.stopped) return;
    if (this.wakeAgain) return void this.tick();
    this.timer = setTimeout(() => void this.tick(), this.subscribed ? this.opts.subscribedPollMs : this.opts.pollMs);
  }

  /** A new head: sync now (or right after the sync in progress). */
  private wake(): void {
    if (this.stopped) return;
    if (this.running) this.wakeAgain = true;
    else void this.tick();
  }

  /** Opens the `newHeads` subscription; on failure or close, polls fast and retries with backoff (max 30 s). */
  private subscribe(): void {
    const url = this.opts.wsUrl;
    if (this.stopped || !url || typeof WebSocket === "undefined") return;
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch {
      return;
    }
    this.ws = ws;
    ws.onopen = () =>
      ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["newHeads"] }));
    ws.onmessage = (ev) => {
      let msg: { id?: number; result?: unknown; error?: unknown; method?: string };
      try {
        msg = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (msg.id === 1) {
        if (msg.error || typeof msg.result !== "string") return ws.close();
        this.subscribed = true;
        this.wsBackoffMs = 1000;
        this.wake(); // anything mined between the last poll and the subscription
      } else if (msg.method === "eth_subscription") {
        this.headsNotified++;
        this.wake();
      }
    };
    ws.onerror = () => {};
    ws.onclose = () => {
      const was = this.subscribed;
      this.subscribed = false;
      this.ws = null;
      if (this.stopped) return;
      if (was) this.wake(); // back to fast polling at once
      this.wsRetry = setTimeout(() => this.subscribe(), this.wsBackoffMs);
      this.wsBackoffMs = Math.min(this.wsBackoffMs * 2, 30_000);
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.wsRetry) clearTimeout(this.wsRetry);
    this.ws?.close();
    this.subscribed = false;
    await this.running;
  }
}
