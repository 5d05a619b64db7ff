// The runner end to end on a real Hardhat chain with the fixture subgraph (built by graph-cli here):
// the handler's entities, the query dialect, time travel, restart/resume, reorgs, and bad queries.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Hex } from "viem";
import { hardhat } from "viem/chains";
import { buildSubgraph } from "../runner/build.ts";
import { startIndexer, type RunningIndexer } from "../runner/indexer.ts";
import { loadSubgraph, ManifestError } from "../runner/manifest.ts";
import type { Data } from "./helpers/events.ts";
import {
  deploy,
  fixtureDir,
  freePort,
  prepareFixture,
  startChain,
  type Compiled,
  type TestChain,
} from "./helpers/chain.ts";

type Sent = { by: Hex; delta: number; note: string; tag: Hex; parts: number[]; block: number; tx: Hex };

let chain: TestChain;
let compiled: Compiled;
let manifest: string;
let counter: { address: Hex; block: number };
let indexer: RunningIndexer;
let dataDir: string;
const sent: Sent[] = [];
const quiet = () => {};

async function query(
  url: string,
  q: string,
  variables?: unknown,
): Promise<{ data?: Data; errors?: { message: string }[] }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: q, variables }),
  });
  return (await res.json()) as { data?: Data; errors?: { message: string }[] };
}

async function ok(q: string, variables?: unknown): Promise<Data> {
  const r = await query(indexer.url, q, variables);
  assert.equal(r.errors, undefined, JSON.stringify(r.errors));
  return r.data;
}

async function increment(by: Hex, delta: number, note: string, parts: number[]): Promise<Sent> {
  const tag = `0x${(sent.length + 1).toString(16).padStart(64, "0")}` as Hex;
  const hash = await chain.wallet.writeContract({
    address: counter.address,
    abi: compiled.abi,
    functionName: "increment",
    args: [delta, note, tag, parts],
    account: by,
    chain: hardhat,
  });
  const receipt = await chain.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  const s = { by, delta, note, tag, parts, block: Number(receipt.blockNumber), tx: hash };
  sent.push(s);
  return s;
}

async function incrementMany(by: Hex, n: number): Promise<void> {
  const hash = await chain.wallet.writeContract({
    address: counter.address,
    abi: compiled.abi,
    functionName: "incrementMany",
    args: [BigInt(n)],
    account: by,
    chain: hardhat,
  });
  const receipt = await chain.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  for (let i = 0; i < n; i++) {
    const count = sent.length + 1;
    sent.push({
      by,
      delta: 1,
      note: "batch",
      tag: `0x${count.toString(16).padStart(64, "0")}` as Hex,
      parts: [],
      block: Number(receipt.blockNumber),
      tx: hash,
    });
  }
}

async function head(): Promise<number> {
  return Number(await chain.publicClient.getBlockNumber({ cacheTime: 0 }));
}

function start(extra: Partial<Parameters<typeof startIndexer>[0]> = {}): Promise<RunningIndexer> {
  return startIndexer({
    rpcUrl: chain.rpcUrl,
    manifest,
    deployments: {
      chainId: 31337,
      contracts: { Counter: { address: counter.address, deployBlock: counter.block } },
    },
    dataDir,
    port: 0,
    pollMs: 50,
    logger: quiet,
    ...extra,
  });
}

/** The decimal string of sum(newCount)/4 over the first n increments, computed without the runner. */
function expectedTotal(n: number): string {
  const sum = (n * (n + 1)) / 2;
  const frac = ["", ".25", ".5", ".75"][sum % 4];
  return `${Math.floor(sum / 4)}${frac}`;
}

before(async () => {
  compiled = prepareFixture();
  manifest = await buildSubgraph(fixtureDir);
  chain = await startChain();
  counter = await deploy(chain, compiled);
  const [a, b] = chain.accounts;
  await increment(a, 5, "alpha", [1, 2]);
  await increment(b, -2, "beta", [3]);
  await increment(a, 7, "gamma", []);
  await increment(b, 1, "Alphabet", [1, 3]);
  await incrementMany(a, 3);
  dataDir = mkdtempSync(join(tmpdir(), "subgraph-runner-"));
  indexer = await start();
  await indexer.waitForBlock(await head(), 30_000);
});

after(async () => {
  await indexer?.stop();
  await chain?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe("handlers through the built wasm", () => {
  it("writes the mutable entity with every value type", async () => {
    const d = await ok(
      `{ counters { id count total lastNote lastTag lastDelta flagged parts owner { id } } }`,
    );
    assert.equal(d.counters.length, 1);
    const c = d.counters[0];
    const last = sent[sent.length - 1];
    assert.equal(c.id, counter.address.toLowerCase());
    assert.equal(c.count, String(sent.length));
    assert.equal(c.total, expectedTotal(sent.length));
    assert.equal(c.lastNote, last.note);
    assert.equal(c.lastTag, last.tag);
    assert.equal(c.lastDelta, last.delta);
    assert.equal(c.flagged, last.delta < 0);
    assert.deepEqual(c.parts, last.parts);
    assert.equal(c.owner.id, last.by.toLowerCase());
  });

  it("creates one immutable entity per event with block and transaction data", async () => {
    const d = await ok(
      `{ increments(first: 100, orderBy: newCount) { id newCount note by { id } blockNumber timestamp transactionHash } }`,
    );
    assert.equal(d.increments.length, sent.length);
    for (const [i, inc] of d.increments.entries()) {
      const s = sent[i];
      assert.equal(inc.newCount, String(i + 1));
      assert.equal(inc.note, s.note);
      assert.equal(inc.by.id, s.by.toLowerCase());
      assert.equal(inc.blockNumber, String(s.block));
      assert.equal(inc.transactionHash, s.tx);
      assert.ok(inc.id.startsWith(s.tx));
      const block = await chain.publicClient.getBlock({ blockNumber: BigInt(s.block) });
      assert.equal(inc.timestamp, String(block.timestamp));
    }
  });

  it("keeps per-account counters updated across events (store.get of an earlier block's write)", async () => {
    const d = await ok(`{ accounts(orderBy: incrementCount, orderDirection: desc) { id incrementCount } }`);
    const counts = new Map<string, number>();
    for (const s of sent) counts.set(s.by.toLowerCase(), (counts.get(s.by.toLowerCase()) ?? 0) + 1);
    assert.deepEqual(
      d.accounts.map((a: { id: string; incrementCount: number }) => [a.id, a.incrementCount]),
      [...counts.entries()].sort((x, y) => y[1] - x[1]),
    );
  });
});

describe("query dialect", () => {
  const notes = (d: { increments: { note: string }[] }) => d.increments.map((i) => i.note);
  const byCount = (pred: (s: Sent, count: number) => boolean) =>
    sent
      .map((s, i) => ({ s, count: i + 1 }))
      .filter(({ s, count }) => pred(s, count))
      .map(({ s }) => s.note);

  it("filters with every comparison suffix", async () => {
    const q = (where: string) => ok(`{ increments(orderBy: newCount, where: ${where}) { note } }`);
    assert.deepEqual(
      notes(await q(`{ newCount: "2" }`)),
      byCount((_, c) => c === 2),
    );
    assert.deepEqual(
      notes(await q(`{ newCount_not: "2" }`)),
      byCount((_, c) => c !== 2),
    );
    assert.deepEqual(
      notes(await q(`{ newCount_gt: "5" }`)),
      byCount((_, c) => c > 5),
    );
    assert.deepEqual(
      notes(await q(`{ newCount_gte: "5" }`)),
      byCount((_, c) => c >= 5),
    );
    assert.deepEqual(
      notes(await q(`{ newCount_lt: "3" }`)),
      byCount((_, c) => c < 3),
    );
    assert.deepEqual(
      notes(await q(`{ newCount_lte: "3" }`)),
      byCount((_, c) => c <= 3),
    );
    assert.deepEqual(
      notes(await q(`{ newCount_in: ["1", "4", "99"] }`)),
      byCount((_, c) => [1, 4].includes(c)),
    );
    assert.deepEqual(
      notes(await q(`{ newCount_not_in: ["1", "4"] }`)),
      byCount((_, c) => ![1, 4].includes(c)),
    );
  });

  it("filters strings with contains, starts_with, ends_with and their negations", async () => {
    const q = (where: string) => ok(`{ increments(orderBy: newCount, where: ${where}) { note } }`);
    assert.deepEqual(
      notes(await q(`{ note_contains: "pha" }`)),
      byCount((s) => s.note.includes("pha")),
    );
    assert.deepEqual(
      notes(await q(`{ note_not_contains: "pha" }`)),
      byCount((s) => !s.note.includes("pha")),
    );
    assert.deepEqual(
      notes(await q(`{ note_starts_with: "al" }`)),
      byCount((s) => s.note.startsWith("al")),
    );
    assert.deepEqual(
      notes(await q(`{ note_starts_with_nocase: "al" }`)),
      byCount((s) => /^al/i.test(s.note)),
    );
    assert.deepEqual(
      notes(await q(`{ note_ends_with: "ta" }`)),
      byCount((s) => s.note.endsWith("ta")),
    );
    assert.deepEqual(
      notes(await q(`{ note_not_starts_with: "b" }`)),
      byCount((s) => !s.note.startsWith("b")),
    );
    assert.deepEqual(
      notes(await q(`{ note_not_ends_with: "a" }`)),
      byCount((s) => !s.note.endsWith("a")),
    );
    assert.deepEqual(
      notes(await q(`{ note_gt: "beta" }`)),
      byCount((s) => s.note > "beta"),
    );
  });

  it("filters by relation id, nested where (field_), and combines with and/or", async () => {
    const [a, b] = chain.accounts.map((x) => x.toLowerCase());
    const q = (where: string) => ok(`{ increments(orderBy: newCount, where: ${where}) { note } }`);
    assert.deepEqual(
      notes(await q(`{ by: "${b}" }`)),
      byCount((s) => s.by.toLowerCase() === b),
    );
    const countA = sent.filter((s) => s.by.toLowerCase() === a).length;
    assert.deepEqual(
      notes(await q(`{ by_: { incrementCount_gte: ${countA} } }`)),
      byCount((s) => sent.filter((x) => x.by === s.by).length >= countA),
    );
    assert.deepEqual(
      notes(await q(`{ or: [{ note: "beta" }, { newCount_gt: "6" }] }`)),
      byCount((s, c) => s.note === "beta" || c > 6),
    );
    assert.deepEqual(
      notes(await q(`{ and: [{ by: "${a}" }, { note_not: "batch" }] }`)),
      byCount((s) => s.by.toLowerCase() === a && s.note !== "batch"),
    );
    // nested filter through a derived field: the account that owns a counter whose last note matches
    const d = await ok(
      `{ accounts(where: { counters_: { lastNote: "${sent[sent.length - 1].note}" } }) { id } }`,
    );
    assert.deepEqual(
      d.accounts.map((x: { id: string }) => x.id),
      [sent[sent.length - 1].by.toLowerCase()],
    );
  });

  it("filters list fields by containment and Bytes by value", async () => {
    const d = await ok(
      `{ counters(where: { parts_contains: [] }) { id } c2: counters(where: { parts: [1] }) { id } }`,
    );
    assert.equal(d.counters.length, 1);
    assert.equal(d.c2.length, 0);
    const tag = sent[sent.length - 1].tag;
    const t = await ok(
      `{ counters(where: { lastTag: "${tag}" }) { id } n: counters(where: { lastTag_not: "${tag}" }) { id } }`,
    );
    assert.equal(t.counters.length, 1);
    assert.equal(t.n.length, 0);
  });

  it("orders by any field both ways, by a relation's field, and paginates with first/skip", async () => {
    const asc = await ok(`{ increments(orderBy: note, first: 100) { note } }`);
    assert.deepEqual(notes(asc), sent.map((s) => s.note).sort());
    const desc = await ok(
      `{ increments(orderBy: newCount, orderDirection: desc, first: 3, skip: 2) { newCount } }`,
    );
    assert.deepEqual(
      desc.increments.map((i: { newCount: string }) => Number(i.newCount)),
      [sent.length - 2, sent.length - 3, sent.length - 4],
    );
    const nested = await ok(
      `{ increments(orderBy: by__incrementCount, orderDirection: desc, first: 1) { by { incrementCount } } }`,
    );
    const max = Math.max(...chain.accounts.map((x) => sent.filter((s) => s.by === x).length));
    assert.equal(nested.increments[0].by.incrementCount, max);
    const everything = await ok(`{ increments(first: 1000) { id } }`);
    const ids = everything.increments.map((i: { id: string }) => i.id);
    assert.deepEqual(ids, [...ids].sort(), "the default order is by id");
    const page = await ok(`{ a: increments(first: 2) { id } b: increments(first: 2, skip: 2) { id } }`);
    assert.deepEqual(
      [...page.a, ...page.b].map((i: { id: string }) => i.id),
      ids.slice(0, 4),
    );
  });

  it("resolves @derivedFrom fields with their own arguments", async () => {
    const d = await ok(
      `{ counters { increments(first: 2, orderBy: newCount, orderDirection: desc, where: { note: "batch" }) { newCount } } accounts { id counters { id } } }`,
    );
    const batch = sent.map((s, i) => ({ s, c: i + 1 })).filter(({ s }) => s.note === "batch");
    assert.deepEqual(
      d.counters[0].increments.map((i: { newCount: string }) => Number(i.newCount)),
      batch
        .map(({ c }) => c)
        .reverse()
        .slice(0, 2),
    );
    const owner = sent[sent.length - 1].by.toLowerCase();
    for (const acc of d.accounts) assert.equal(acc.counters.length, acc.id === owner ? 1 : 0);
  });

  it("queries an interface across its implementations", async () => {
    const d = await ok(
      `{ events(first: 100, orderBy: blockNumber) { id blockNumber ... on Increment { note } __typename } }`,
    );
    assert.equal(d.events.length, sent.length);
    assert.ok(d.events.every((e: { __typename: string }) => e.__typename === "Increment"));
    const one = await ok(`query($id: ID!) { event(id: $id) { id } }`, { id: d.events[0].id });
    assert.equal(one.event.id, d.events[0].id);
  });

  it("reports _meta for the indexed head", async () => {
    const n = await head();
    await indexer.waitForBlock(n);
    const d = await ok(`{ _meta { block { number hash } hasIndexingErrors deployment } }`);
    const block = await chain.publicClient.getBlock({ blockNumber: BigInt(n) });
    assert.equal(d._meta.block.number, n);
    assert.equal(d._meta.block.hash, block.hash);
    assert.equal(d._meta.hasIndexingErrors, false);
    assert.match(d._meta.deployment, /^[0-9a-f]{64}$/);
  });

  it("answers time-travel queries with block: { number }", async () => {
    const third = sent[2];
    const d = await ok(
      `query($b: Int!) { counters(block: { number: $b }) { count lastNote } increments(block: { number: $b }) { id } _meta(block: { number: $b }) { block { number } } }`,
      {
        b: third.block,
      },
    );
    assert.equal(d.counters[0].count, "3");
    assert.equal(d.counters[0].lastNote, third.note);
    assert.equal(d.increments.length, 3);
    assert.equal(d._meta.block.number, third.block);
    const thirdBlock = await chain.publicClient.getBlock({ blockNumber: BigInt(third.block) });
    const byHash = await ok(`query($h: Bytes!) { counters(block: { hash: $h }) { count } }`, {
      h: thirdBlock.hash,
    });
    assert.equal(byHash.counters[0].count, "3");
    const before = await ok(`{ counters(block: { number: ${counter.block} }) { id } }`);
    assert.equal(before.counters.length, 0);
  });
});

describe("bad queries get GraphQL errors", () => {
  it("rejects unknown fields, bad scalars, out-of-range pagination and future blocks", async () => {
    const cases = [
      `{ counters { nope } }`,
      `{ nothing { id } }`,
      `{ increments(where: { newCount_gt: "12abc" }) { id } }`,
      `{ increments(where: { lastTag: "0xzz" }) { id } }`,
      `{ increments(first: 5000) { id } }`,
      `{ increments(skip: -1) { id } }`,
      `{ counters(block: { number: 99999999 }) { id } }`,
      `{ counters(orderBy: nope) { id } }`,
      `{ counters { `,
    ];
    for (const q of cases) {
      const r = await query(indexer.url, q);
      assert.ok(r.errors && r.errors.length > 0, `expected errors for ${q}`);
      assert.equal(typeof r.errors[0].message, "string");
    }
  });

  it("answers malformed requests with an error body and keeps serving", async () => {
    const res = await fetch(indexer.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    assert.equal(res.status, 400);
    assert.ok(((await res.json()) as { errors: unknown[] }).errors.length > 0);
    const empty = await fetch(indexer.url, { method: "POST", body: "{}" });
    assert.equal(empty.status, 400);
    const other = await fetch(indexer.url.replace("tributary", "other"), { method: "POST", body: "{}" });
    assert.equal(other.status, 404);
    const get = await fetch(`${indexer.url}?query=${encodeURIComponent("{ counters { count } }")}`);
    assert.equal(((await get.json()) as { data: { counters: unknown[] } }).data.counters.length, 1);
  });
});

describe("startup errors", () => {
  it("refuses a missing deployments file or build with a clear error", async () => {
    const base = { rpcUrl: chain.rpcUrl, dataDir, port: 0, logger: quiet };
    await assert.rejects(
      startIndexer({ ...base, manifest, deployments: join(dataDir, "nope.json") }),
      /no deployments file at .*deploy the contracts first/,
    );
    await assert.rejects(
      startIndexer({ ...base, manifest: join(dataDir, "missing", "subgraph.yaml") }),
      /no built subgraph at .*graph build/,
    );
  });
});

describe("following the head", () => {
  it("wakes on newHeads: with every poll 10 minutes apart, a new block is indexed through the subscription alone", async () => {
    await indexer.stop();
    indexer = await start({ pollMs: 600_000, subscribedPollMs: 600_000 });
    await indexer.waitForBlock(await head(), 30_000); // the first sync runs at start
    const until = Date.now() + 10_000;
    while (!indexer.follower.headSubscription && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.equal(indexer.follower.headSubscription, true, "the chain's newHeads subscription opened");
    const before = indexer.follower.headsNotified;
    const s = await increment(chain.accounts[0], 2, "woken", []);
    await indexer.waitForBlock(s.block, 10_000);
    assert.ok(indexer.follower.headsNotified > before);
    const d = await ok(`{ increments(where: { note: "woken" }) { note } }`);
    assert.deepEqual(d.increments, [{ note: "woken" }]);
  });

  it("polls when the chain offers no subscription (wsUrl unreachable), and still indexes new blocks", async () => {
    await indexer.stop();
    indexer = await start({ wsUrl: `ws://127.0.0.1:${await freePort()}` });
    const s = await increment(chain.accounts[1], 1, "polled", []);
    await indexer.waitForBlock(s.block, 10_000);
    assert.equal(indexer.follower.headSubscription, false);
    assert.equal(indexer.follower.headsNotified, 0);
  });
});

describe("what graph-node does differently, met clearly", () => {
  it("refuses `or` mixed with column filters at the same level (graph-node's error), instead of ANDing them", async () => {
    const r = await query(indexer.url, `{ increments(where: { note: "beta", or: [{ newCount_gt: "6" }, { note: "alpha" }] }) { id } }`);
    assert.equal(r.data?.increments ?? null, null);
    assert.match(r.errors![0].message, /Cannot mix column filters with 'or' operator at the same level\. Found column filter\(s\) 'note' alongside 'or' operator/);
    // the same intent written as graph-node accepts it
    const d = await ok(`{ increments(where: { and: [{ note: "beta" }, { or: [{ newCount_gt: "6" }, { note: "alpha" }] }] }) { note } }`);
    assert.deepEqual(d.increments, []);
  });

  it("answers block: { hash } for any indexed canonical block, also one without events, and refuses unknown hashes", async () => {
    const before = await head();
    await chain.publicClient.request({ method: "hardhat_mine" as never, params: ["0x3"] as never });
    const s = await increment(chain.accounts[0], 1, "after-empty-blocks", []);
    await indexer.waitForBlock(s.block, 10_000);
    const empty = await chain.publicClient.getBlock({ blockNumber: BigInt(before + 2) });
    assert.equal(empty.transactions.length, 0);
    const at = await ok(`{ _meta(block: { hash: "${empty.hash}" }) { block { number hash } } increments(where: { note: "after-empty-blocks" }, block: { hash: "${empty.hash}" }) { id } }`);
    assert.equal(at._meta.block.number, before + 2);
    assert.deepEqual(at.increments, [], "the state at that block: before the increment");
    const unknown = await query(indexer.url, `{ counters(block: { hash: "0x${"ab".repeat(32)}" }) { id } }`);
    assert.match(unknown.errors![0].message, /no block with hash 0x(ab)+ has been indexed/);
  });

  it("refuses queries nested deeper or costing more than its limits, with a message saying which", async () => {
    const limited = await start({ maxDepth: 3, maxComplexity: 5000 });
    try {
      const deep = await query(limited.url, `{ accounts { counters { owner { counters { id } } } } }`);
      assert.match(deep.errors![0].message, /nested 4 levels deep, more than the 3 this indexer accepts/);
      const costly = await query(limited.url, `{ accounts(first: 100) { counters(first: 100) { id } } }`);
      assert.match(costly.errors![0].message, /query complexity 20100 is more than the 5000 this indexer accepts/);
      const viaVariable = await query(limited.url, `query($n: Int) { accounts(first: $n) { counters(first: $n) { id } } }`, { n: 10 });
      assert.equal(viaVariable.errors, undefined, JSON.stringify(viaVariable.errors));
      const viaFragment = await query(limited.url, `{ accounts { ...A } } fragment A on Account { counters { owner { counters { id } } } }`);
      assert.match(viaFragment.errors![0].message, /nested 4 levels deep/);
    } finally {
      await limited.stop();
    }
  });

  it("refuses a manifest with data source templates at load time, saying what to do", () => {
    const dir = mkdtempSync(join(tmpdir(), "subgraph-templates-"));
    try {
      cpSync(dirname(manifest), dir, { recursive: true });
      const file = join(dir, basename(manifest));
      writeFileSync(file, readFileSync(file, "utf8") + "\ntemplates:\n  - kind: ethereum/contract\n    name: Pool\n    network: hardhat\n");
      assert.throws(() => loadSubgraph(file), (e: Error) => e instanceof ManifestError && /data source templates \(Pool\)/.test(e.message) && /graph-node/.test(e.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("restart, resume and reorgs", () => {
  it("resumes from the last indexed block after a restart without indexing anything twice", async () => {
    const before = indexer.store.head()!.number;
    await indexer.stop();
    await increment(chain.accounts[1], 3, "after-restart", [9]);
    await increment(chain.accounts[0], 4, "after-restart-2", []);
    indexer = await start();
    assert.equal(indexer.store.head()!.number, before, "the store kept its head across the restart");
    await indexer.waitForBlock(await head(), 15_000);
    assert.equal(indexer.follower.eventsProcessed, 2, "only the two new events were handled");
    const d = await ok(
      `{ counters { count total } increments(first: 1000) { id } accounts { id incrementCount } }`,
    );
    assert.equal(d.counters[0].count, String(sent.length));
    assert.equal(d.counters[0].total, expectedTotal(sent.length));
    assert.equal(d.increments.length, sent.length);
    const total = d.accounts.reduce((n: number, a: { incrementCount: number }) => n + a.incrementCount, 0);
    assert.equal(total, sent.length);
  });

  it("reverts to the common ancestor when the chain reorganises", async () => {
    const snapshot = (await chain.publicClient.request({ method: "evm_snapshot" } as never)) as Hex;
    await increment(chain.accounts[0], 1, "orphaned", []);
    await indexer.waitForBlock(await head());
    assert.equal((await ok(`{ increments(where: { note: "orphaned" }) { id } }`)).increments.length, 1);
    await chain.publicClient.request({ method: "evm_revert", params: [snapshot] } as never);
    sent.pop();
    // Two blocks on the new branch, so the new head is past the orphaned one.
    await increment(chain.accounts[1], 2, "canonical", []);
    await increment(chain.accounts[1], 2, "canonical-2", []);
    await indexer.waitForBlock(await head());
    const d = await ok(
      `{ orphaned: increments(where: { note: "orphaned" }) { id } canonical: increments(where: { note_starts_with: "canonical" }) { id } counters { count } }`,
    );
    assert.equal(d.orphaned.length, 0);
    assert.equal(d.canonical.length, 2);
    assert.equal(d.counters[0].count, String(sent.length));
  });

  it("stops at a failing handler, indexes the blocks before it, and keeps serving the last good state", async () => {
    // Both blocks land in one range: the good one must be kept, the failing one must not.
    await indexer.stop();
    const good = await increment(chain.accounts[0], 1, "before-boom", []);
    const boom = await increment(chain.accounts[0], 1, "boom", []);
    sent.pop();
    indexer = await start();
    await assert.rejects(indexer.waitForBlock(await head()), /critical.*boom/);
    const d = await ok(`{ _meta { hasIndexingErrors block { number } } counters { count lastNote } }`);
    assert.equal(d._meta.hasIndexingErrors, true);
    assert.equal(d._meta.block.number, boom.block - 1);
    assert.ok(good.block < boom.block);
    assert.equal(d.counters[0].count, String(sent.length));
    assert.equal(d.counters[0].lastNote, "before-boom");
  });
});
