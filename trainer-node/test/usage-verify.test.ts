// What a verifier drawn on a usage-epoch dispute computes from the records the provider serves (usage-verify.ts):
// the committed epoch's verdict when the records are the committed ones and tile the accounted ranges, UNAVAILABLE
// when they are not the committed records, INVALID_RECORDS when they build the root but cannot be the epoch's.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { getAddress, keccak256, toHex, zeroHash } from "viem";
import type { Address, Hex } from "viem";
import { USAGE_INVALID_RECORDS_VERDICT, USAGE_UNAVAILABLE_VERDICT, usageRecordLeafHash, usageRecordsRoot, usageVerdict, usageWitness } from "@tributary/sdk/chain";
import { recomputeUsageEpoch, usageVote } from "../src/jobs/usage-verify.ts";
import { buildUsageEpoch, recordLeaf } from "../src/serve/usage.ts";
import type { UsageRecord } from "../src/serve/usage.ts";

const A = getAddress("0x00000000000000000000000000000000000000a1") as Address;
const B = getAddress("0x00000000000000000000000000000000000000b2") as Address;
const CH1 = `0x${"11".repeat(32)}` as Hex;
const CH2 = `0x${"22".repeat(32)}` as Hex;
const rec = (ch: Hex, from: bigint, to: bigint, cites: Array<[Address, number]>): UsageRecord => ({
  at: "",
  modelId: "1",
  channelId: ch,
  from: String(from),
  to: String(to),
  revenue: String(to - from),
  completionHash: keccak256(toHex(`${ch}${to}`)),
  citations: cites.map(([contributor, tokens], i) => ({ datanetId: "1", contributionId: String(i + 1), contributor, tokens })),
});

/** An epoch as the provider committed it: ranges (from the chain's accounted marks) and the plan's roots. */
function committed(records: UsageRecord[], accounted: Map<string, bigint>) {
  const chain = new Map([...new Set(records.map((r) => r.channelId.toLowerCase()))].map((k) => [k, { redeemed: records.filter((r) => r.channelId.toLowerCase() === k).reduce((m, r) => (BigInt(r.to) > m ? BigInt(r.to) : m), 0n), accounted: accounted.get(k) ?? 0n }]));
  const plan = buildUsageEpoch(1n, records, chain, 6_500)!;
  return { plan, facts: { modelId: 1n, recordsRoot: plan.recordsRoot, ranges: plan.ranges, contributorsBps: 6_500 } };
}

describe("recomputeUsageEpoch", () => {
  const records = [rec(CH1, 0n, 100n, [[A, 30], [B, 10]]), rec(CH1, 100n, 300n, []), rec(CH2, 50n, 80n, [[B, 5]]), rec(CH2, 80n, 200n, [[A, 6]])];
  const { plan, facts } = committed(records, new Map([[CH2.toLowerCase(), 50n]]));

  it("the committed records recompute to the committed verdict, whatever order they are served in", () => {
    const r = recomputeUsageEpoch([...records].reverse(), facts);
    assert.equal(r.verdict, usageVerdict(plan.recordsRoot, plan.claimsRoot, plan.citedRevenue));
    assert.equal(r.citedRevenue, plan.citedRevenue);
    assert.equal(r.leafHashes.length, 4);
  });

  it("no records, or records that are not the committed ones: UNAVAILABLE", () => {
    assert.equal(recomputeUsageEpoch(null, facts).verdict, USAGE_UNAVAILABLE_VERDICT);
    assert.equal(recomputeUsageEpoch([], facts).verdict, USAGE_UNAVAILABLE_VERDICT);
    const dropped = recomputeUsageEpoch(records.slice(1), facts);
    assert.equal(dropped.verdict, USAGE_UNAVAILABLE_VERDICT);
    assert.match(dropped.reason, /not the committed/);
    const edited = records.map((r, i) => (i === 0 ? { ...r, citations: [{ ...r.citations[0], tokens: 300 }] } : r));
    assert.equal(recomputeUsageEpoch(edited, facts).verdict, USAGE_UNAVAILABLE_VERDICT, "a citation changed after the commit");
  });

  it("records that build a committed root but cannot be the epoch's: INVALID_RECORDS", () => {
    // the provider committed a root over these records; the ranges are what the chain accounted
    const bad = (rs: UsageRecord[]) => recomputeUsageEpoch(rs, { ...facts, recordsRoot: usageRecordsRoot(rs.map(recordLeaf)) });
    // two requests claiming the same voucher range (revenue counted twice into the cited part)
    const overlap = bad([rec(CH1, 0n, 100n, [[A, 3]]), rec(CH1, 50n, 300n, [[A, 3]]), rec(CH2, 50n, 200n, [])]);
    assert.equal(overlap.verdict, USAGE_INVALID_RECORDS_VERDICT);
    assert.match(overlap.reason, /overlap/);
    // a record past what the epoch accounted on its channel
    const past = bad([rec(CH1, 0n, 100n, []), rec(CH1, 100n, 400n, [[A, 1]]), rec(CH2, 50n, 200n, [])]);
    assert.equal(past.verdict, USAGE_INVALID_RECORDS_VERDICT);
    assert.match(past.reason, /outside/);
    // a record whose revenue is not its range
    const rev = bad([{ ...rec(CH1, 0n, 300n, [[A, 1]]), revenue: "1" }, rec(CH2, 50n, 200n, [])]);
    assert.match(rev.reason, /does not hold its revenue/);
    // a channel the epoch accounted that no record covers
    const missing = bad([rec(CH1, 0n, 300n, [[A, 1]])]);
    assert.match(missing.reason, /no record covers/);
    // records that stop short of what the epoch accounted
    const short = bad([rec(CH1, 0n, 200n, [[A, 1]]), rec(CH2, 50n, 200n, [])]);
    assert.match(short.reason, /end at 200, its accounted range at 300/);
  });

  it("the witness is the leaf the seed picks, only computable with every record", () => {
    const r = recomputeUsageEpoch(records, facts);
    const seed = keccak256(toHex("draw seed"));
    const v = usageVote(r, seed);
    assert.ok(r.leafHashes.includes(v.witness));
    assert.equal(v.witness, usageWitness(seed, records.map((x) => usageRecordLeafHash(recordLeaf(x)))));
    const seeds = Array.from({ length: 16 }, (_, i) => usageVote(r, keccak256(toHex(`seed ${i}`))).witness);
    assert.ok(new Set(seeds).size > 1, "another round's seed picks another record");
    assert.equal(usageVote(recomputeUsageEpoch(null, facts), seed).witness, zeroHash, "no witness without records");
  });
});
