// Benchmark of the local subgraph indexer: a Hardhat chain with 10,000 contract events (DatanetRegistry's
// DatanetCreated / ContributionSubmitted / ContributionApproved, emitted in bulk by a test contract with
// the same event signatures), indexed by the real Tributary mappings from a cold start; then the app's
// heaviest query (queries/datanet.graphql) over HTTP; then how soon an event is queryable, timed from
// sending its transaction, after random gaps (so the loop never runs in step with the indexer's poll), with
// the head subscription (default) and with polling alone. The 10,000 events are spread over ~400 blocks.
//   npm run bench:subgraph   ->   bench/results/subgraph.json
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { hardhat } from "viem/chains";
import { ensureBuilt } from "../subgraph/scripts/prepare.ts";
import { startIndexer } from "../subgraph/runner/indexer.ts";
import { compileSolidity, deploy, fixtureDir, startChain } from "../subgraph/test/helpers/chain.ts";
import type { Data } from "../subgraph/test/helpers/events.ts";

const EVENTS = 10_000;
const DATANETS = 10;
const PER_TX = 25;
const QUERY_RUNS = 300;
const LATENCY_RUNS = 20;
const MAX_GAP_MS = 500;
let seed = 20261203;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

const manifest = await ensureBuilt();
const chain = await startChain();
const emitter = compileSolidity(join(fixtureDir, "DatanetEmitter.sol"), "DatanetEmitter");
const { address, block } = await deploy(chain, emitter);
const send = async (functionName: string, args: unknown[]) => {
  const hash = await chain.wallet.writeContract({
    address,
    abi: emitter.abi,
    functionName,
    args,
    account: chain.accounts[0],
    chain: hardhat,
  } as never);
  return chain.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 20 });
};

// 10 Datanets, each with 500 submitted contributions of which 499 are approved: 10 + 10 x 999 = 10,000.
console.log(`emitting ${EVENTS} events...`);
await send("createDatanets", [1n, BigInt(DATANETS)]);
const perDatanet = 500;
const approvedPerDatanet = (EVENTS - DATANETS) / DATANETS - perDatanet;
for (let d = 1; d <= DATANETS; d++) {
  for (let i = 0; i < perDatanet; i += PER_TX) {
    const n = Math.min(PER_TX, perDatanet - i);
    await send("submit", [BigInt(d), BigInt(i + 1), BigInt(n)]);
    const approve = Math.min(n, approvedPerDatanet - i);
    if (approve > 0) await send("approve", [BigInt(d), BigInt(i + 1), BigInt(approve), i + 1]);
  }
}
const head = Number(await chain.publicClient.getBlockNumber({ cacheTime: 0 }));

const dataDir = mkdtempSync(join(tmpdir(), "subgraph-bench-"));
const started = performance.now();
const indexerOptions = {
  rpcUrl: chain.rpcUrl,
  manifest,
  deployments: { chainId: 31337, contracts: { DatanetRegistry: { address, deployBlock: block } } },
  dataDir,
  port: 0,
  logger: () => {},
};
const load = [loadavg()[0]];
let indexer = await startIndexer(indexerOptions);
await indexer.waitForBlock(head, 600_000);
const indexSeconds = (performance.now() - started) / 1000;
const indexed = indexer.follower.eventsProcessed;
if (indexed !== EVENTS) throw new Error(`indexed ${indexed} events, expected ${EVENTS}`);

const post = async (query: string, variables: unknown) => {
  const res = await fetch(indexer.url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { errors?: unknown[]; data?: Data };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
};
const heaviest = readFileSync(resolve(import.meta.dirname, "../subgraph/queries/datanet.graphql"), "utf8");
const check = await post(heaviest, { id: "1", account: chain.accounts[0].toLowerCase() });
if (check.datanet.contributions.length !== 50 || check.datanet.approvedCount !== approvedPerDatanet) {
  throw new Error(`unexpected query result: ${JSON.stringify(check.datanet).slice(0, 300)}`);
}
for (let i = 0; i < 20; i++) await post(heaviest, { id: String(1 + (i % DATANETS)) }); // warm-up
const times: number[] = [];
for (let i = 0; i < QUERY_RUNS; i++) {
  const t = performance.now();
  await post(heaviest, { id: String(1 + (i % DATANETS)), account: chain.accounts[0].toLowerCase() });
  times.push(performance.now() - t);
}

// Sent -> queryable: from sending the transaction to the first query that sees the new contribution.
let nextId = perDatanet + 1;
async function latencies(): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < LATENCY_RUNS; i++) {
    await new Promise((r) => setTimeout(r, random() * MAX_GAP_MS));
    const id = nextId++;
    const t = performance.now();
    await send("submit", [1n, BigInt(id), 1n]);
    for (;;) {
      const d = await post(`query($id: ID!) { contribution(id: $id) { id } }`, { id: `1-${id}` });
      if (d.contribution) break;
      if (performance.now() - t > 10_000) throw new Error("event not queryable within 10 s");
      await new Promise((r) => setTimeout(r, 2));
    }
    out.push(performance.now() - t);
  }
  return out;
}
const subscribed = indexer.follower.headSubscription;
const withSubscription = await latencies();
await indexer.stop();
indexer = await startIndexer({ ...indexerOptions, wsUrl: false });
const withPolling = await latencies();
await indexer.stop();
await chain.stop();
rmSync(dataDir, { recursive: true, force: true });

const result = {
  benchmark: "subgraph",
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "unknown", node: process.version },
  events: EVENTS,
  blocks: head - block,
  index_seconds: Number(indexSeconds.toFixed(2)),
  events_per_s: Math.round(EVENTS / indexSeconds),
  heaviest_query: "subgraph/queries/datanet.graphql (Datanet with 500 contributions)",
  query_runs: QUERY_RUNS,
  query_p50_ms: Number(percentile(times, 50).toFixed(2)),
  query_p99_ms: Number(percentile(times, 99).toFixed(2)),
  latency_clock: `from sending the transaction (automine) to the first query that sees it; ${LATENCY_RUNS} runs per mode after random 0-${MAX_GAP_MS} ms gaps`,
  head_subscription_open: subscribed,
  tx_to_query_p50_ms: Number(percentile(withSubscription, 50).toFixed(1)),
  tx_to_query_max_ms: Number(Math.max(...withSubscription).toFixed(1)),
  polling_only: {
    poll_ms: 200, // the runner's default without a subscription
    tx_to_query_p50_ms: Number(percentile(withPolling, 50).toFixed(1)),
    tx_to_query_max_ms: Number(Math.max(...withPolling).toFixed(1)),
  },
  load_average_1m: { start: Number(load[0].toFixed(2)), end: Number(loadavg()[0].toFixed(2)) },
  rerun: "npm run bench:subgraph",
};
mkdirSync(resolve(import.meta.dirname, "results"), { recursive: true });
writeFileSync(resolve(import.meta.dirname, "results/subgraph.json"), JSON.stringify(result, null, 2) + "\n");
console.log(result);
