import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CitationIndex } from "../src/serve/citations.ts";
import type { Span } from "../src/serve/citations.ts";

const src = (k: number) => ({ datanetId: "1", contributionId: String(k), contributor: `0x${String(k).padStart(40, "0")}` });

/** The same greedy walk with a naive substring search: the oracle. */
function naive(entries: number[][], ids: number[], minTokens: number): Array<{ start: number; end: number; entries: number[] }> {
  const occurs = (i: number, len: number) => entries.flatMap((e, k) => {
    for (let p = 0; p + len <= e.length; p++) if (ids.slice(i, i + len).every((x, j) => e[p + j] === x)) return [k];
    return [];
  });
  const out = [];
  let i = 0;
  while (i < ids.length) {
    let len = 0;
    while (i + len < ids.length && occurs(i, len + 1).length) len++;
    if (len >= minTokens) {
      out.push({ start: i, end: i + len, entries: occurs(i, len) });
      i += len;
    } else i++;
  }
  return out;
}

describe("citation index (suffix array)", () => {
  it("finds the longest verbatim spans, never across two contributions", () => {
    const entries = [[1, 2, 3, 4, 5, 6], [5, 6, 7, 8, 9], [2, 3, 4, 5, 6, 7, 8]];
    const index = CitationIndex.build(entries.map((ids, k) => ({ ids, source: src(k) })));
    // 2..8 is in entry 2 in full; entries 0 and 1 only hold parts of it
    const spans: Span[] = index.find([9, 2, 3, 4, 5, 6, 7, 8, 0, 7, 8, 9], 3);
    assert.deepEqual(spans.map((s) => [s.start, s.end, s.source.contributionId]), [[1, 8, "2"], [9, 12, "1"]]);
    // 4 5 6 7 8 9 exists only across entries (2 ends at 8; 1 holds 5..9): the best span is 5 6 7 8 9 from entry 1
    assert.deepEqual(index.find([4, 5, 6, 7, 8, 9], 3).map((s) => [s.start, s.end]), [[0, 5]]);
    assert.deepEqual(index.find([42, 43, 44], 1), []);
  });

  it("agrees with a naive search on random token streams", () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    for (let round = 0; round < 30; round++) {
      const entries = Array.from({ length: 1 + rnd(5) }, () => Array.from({ length: 1 + rnd(40) }, () => rnd(4)));
      const index = CitationIndex.build(entries.map((ids, k) => ({ ids, source: src(k) })));
      const ids = Array.from({ length: rnd(30) }, () => rnd(5));
      const got = index.find(ids, 3);
      const want = naive(entries, ids, 3);
      assert.deepEqual(got.map((s) => [s.start, s.end]), want.map((s) => [s.start, s.end]), `round ${round}`);
      got.forEach((s, j) => assert.ok(want[j].entries.includes(Number(s.source.contributionId)), `round ${round}: the cited contribution holds the span`));
    }
  });

  it("uses 16-bit text for vocabularies below 65,535 and 32-bit beyond, with the same spans", () => {
    const entries = [[1, 2, 3, 4, 5, 6], [5, 6, 7, 8, 9]];
    const small = CitationIndex.build(entries.map((ids, k) => ({ ids, source: src(k) })));
    const big = CitationIndex.build(entries.map((ids, k) => ({ ids: ids.map((x) => x + 70_000), source: src(k) })));
    const tokens = 11;
    assert.equal(small.bytes, (tokens + 2) * (2 + 4) + 2 * 4, "2-byte text, 4-byte suffix positions, 4-byte starts");
    assert.equal(big.bytes, (tokens + 2) * (4 + 4) + 2 * 4);
    const q = [9, 4, 5, 6, 7, 8, 9, 65_535, 1, 2];
    assert.deepEqual(small.find(q, 2).map((s) => [s.start, s.end, s.source.contributionId]), [[1, 4, "0"], [4, 7, "1"], [8, 10, "0"]]);
    assert.deepEqual(big.find(q.map((x) => x + 70_000), 2).map((s) => [s.start, s.end]), [[1, 4], [4, 7], [8, 10]]);
    // a query id at or beyond the 16-bit separator never matches it
    assert.deepEqual(small.find([6, 65_535, 65_535], 1).map((s) => [s.start, s.end]), [[0, 1]]);
  });

  it("refuses ids that are not token ids", () => {
    assert.throws(() => CitationIndex.build([{ ids: [1, -3], source: src(0) }]), /token id -3/);
  });
});
