import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { earningsSeries } from "../src/lib/earnings.ts";

const E18 = 10n ** 18n;

describe("earnings over time", () => {
  it("accumulates each series in time order from the first event", () => {
    const s = earningsSeries(
      [
        { timestamp: 1_000 + 2 * 86_400, amount: 3n * E18 },
        { timestamp: 1_000, amount: E18 },
      ],
      [{ timestamp: 1_000 + 86_400, amount: E18 / 2n }],
    );
    assert.equal(s.t0, 1_000);
    assert.deepEqual(s.claimed, [
      { x: 0, y: 1 },
      { x: 2, y: 4 },
    ]);
    assert.deepEqual(s.earnedFromUse, [{ x: 1, y: 0.5 }]);
    assert.equal(s.totalClaimed, 4n * E18);
    assert.equal(s.totalEarnedFromUse, E18 / 2n);
  });
  it("is empty without events", () => {
    const s = earningsSeries([], []);
    assert.deepEqual([s.claimed, s.earnedFromUse, s.totalClaimed], [[], [], 0n]);
  });
});
