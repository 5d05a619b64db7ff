// Feeds contract events to the built mappings without a chain, the way matchstick's `newMockEvent` does:
// each event is ABI-encoded into a log (topics + data) with viem and decoded back exactly as the chain
// follower decodes real logs, then run through the same BlockProcessor, block by block.
import { graphql, type GraphQLSchema } from "graphql";
import { decodeEventLog, encodeAbiParameters, encodeEventTopics, keccak256, toHex, type Hex } from "viem";
import type { BlockInfo, EventTrigger } from "../../runner/ethereum.ts";
import { buildGraphQLSchema } from "../../runner/graphql-schema.ts";
import type { Subgraph } from "../../runner/manifest.ts";
import { BlockProcessor, type Trigger } from "../../runner/processor.ts";
import { EntityStore } from "../../runner/store.ts";

/** A GraphQL result as a client sees it; tests check its shape with their assertions. */
 
export type Data = any;

export class MockChain {
  readonly subgraph: Subgraph;
  readonly store = new EntityStore(":memory:");
  readonly schema: GraphQLSchema;
  private readonly processor: BlockProcessor;
  private pending: Trigger[] = [];
  private number = 1;
  private txCount = 0;
  readonly logs: string[] = [];
  emitted = 0;

  constructor(subgraph: Subgraph) {
    this.subgraph = subgraph;
    this.processor = new BlockProcessor(subgraph, this.store, (level, m) => this.logs.push(`${level}: ${m}`));
    this.schema = buildGraphQLSchema(subgraph.schema);
  }

  private blockCache: BlockInfo | null = null;

  private block(): BlockInfo {
    const n = BigInt(this.number);
    if (this.blockCache?.number === n) return this.blockCache;
    return (this.blockCache = {
      hash: keccak256(toHex(`block-${n}`)),
      parentHash: keccak256(toHex(`block-${n - 1n}`)),
      unclesHash: keccak256(toHex("uncles")),
      author: "0x0000000000000000000000000000000000000000",
      stateRoot: keccak256(toHex("state")),
      transactionsRoot: keccak256(toHex("txs")),
      receiptsRoot: keccak256(toHex("receipts")),
      number: n,
      gasUsed: 0n,
      gasLimit: 30_000_000n,
      timestamp: 1_700_000_000n + n * 12n,
      difficulty: 0n,
      totalDifficulty: 0n,
      size: null,
      baseFeePerGas: 1n,
    });
  }

  /** Queues `eventName` of data source `dataSource` with named arguments in the current block. */
  emit(
    dataSource: string,
    eventName: string,
    argsByNameOrPosition: Record<string, unknown> | unknown[],
    from: Hex = "0x00000000000000000000000000000000000000f0",
  ): Hex {
    const ds = this.subgraph.dataSources.find((d) => d.name === dataSource);
    if (!ds) throw new Error(`no data source ${dataSource}`);
    const handler = ds.handlers.find((h) => h.event.name === eventName);
    if (!handler) throw new Error(`${dataSource} has no handler for ${eventName}`);
    const ev = handler.event;
    const args = Array.isArray(argsByNameOrPosition)
      ? Object.fromEntries(ev.inputs.map((input, i) => [input.name!, argsByNameOrPosition[i]]))
      : argsByNameOrPosition;
    for (const input of ev.inputs) {
      if (!(input.name! in args)) throw new Error(`${eventName}: missing argument ${input.name}`);
    }
    const topics = encodeEventTopics({ abi: [ev], eventName, args } as never) as Hex[];
    const dataInputs = ev.inputs.filter((i) => !i.indexed);
    const data = encodeAbiParameters(dataInputs, dataInputs.map((i) => args[i.name!]) as never);
    const decoded = decodeEventLog({ abi: [ev], data, topics: topics as [Hex, ...Hex[]] });
    const decodedArgs = decoded.args as unknown as Record<string, unknown>;
    const txHash = keccak256(toHex(`tx-${++this.txCount}`));
    const event: EventTrigger = {
      address: ds.address,
      logIndex: BigInt(this.pending.length),
      transactionLogIndex: 0n,
      block: this.block(),
      transaction: {
        hash: txHash,
        index: BigInt(this.pending.length),
        from,
        to: ds.address,
        value: 0n,
        gasLimit: 1_000_000n,
        gasPrice: 1n,
        input: "0x",
        nonce: BigInt(this.txCount),
      },
      event: ev,
      args: ev.inputs.map((i) => decodedArgs[i.name!]),
    };
    this.pending.push({ dataSource: ds, handler, event });
    this.emitted++;
    return txHash;
  }

  /** Runs the queued events as one block. */
  mine(): number {
    const triggers = this.pending;
    this.pending = [];
    this.store.transaction(() => this.processor.processBlock(this.block(), triggers));
    this.store.setHead({
      number: this.number,
      hash: this.block().hash,
      parentHash: this.block().parentHash,
      timestamp: 0,
    });
    return this.number++;
  }

  async query(q: string, variables?: Record<string, unknown>): Promise<Data> {
    const r = await graphql({
      schema: this.schema,
      source: q,
      variableValues: variables,
      contextValue: {
        store: this.store,
        schema: this.subgraph.schema,
        deployment: "test",
        hasIndexingErrors: () => false,
      },
    });
    if (r.errors) throw new Error(r.errors.map((e) => e.message).join("\n"));
    return JSON.parse(JSON.stringify(r.data)); // plain objects, as a client would see them
  }
}
