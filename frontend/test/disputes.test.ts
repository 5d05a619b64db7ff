// The dispute panel's words and bisection progress (src/lib/disputes.ts), from Dispute rows as the subgraph
// returns them.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bisectionMoves, disputeView } from "../src/lib/disputes.ts";
import type { DisputeRow } from "../src/lib/disputes.ts";

const row = (o: Partial<DisputeRow>): DisputeRow => ({
  id: "1",
  disputeId: "1",
  challenger: { id: "0x00000000000000000000000000000000000000b1" },
  bond: "10000000000000000000",
  reasonCID: "bafy",
  eval: false,
  evalLoss: null,
  evalToleranceBps: null,
  status: "TrainerMove",
  outcome: "None",
  trainerWon: null,
  moves: 0,
  lo: 0,
  span: 16,
  segmentIndex: null,
  round: 0,
  seats: 3,
  committee: [],
  drawBlock: null,
  revealStartsAt: null,
  emergencyExecutableAt: null,
  openedAt: "1",
  settledAt: null,
  votes: [],
  ...o,
});

describe("dispute view", () => {
  it("moves a bisection takes: two per level of the tree padded to a power of two", () => {
    assert.equal(bisectionMoves(1), 0);
    assert.equal(bisectionMoves(2), 2);
    assert.equal(bisectionMoves(16), 8);
    assert.equal(bisectionMoves(17), 10);
  });

  it("follows a replay dispute from the trainer's move to the committee and the verdict", () => {
    let v = disputeView(row({}), 13);
    assert.match(v.stage, /^The trainer's move/);
    assert.equal(v.badge, "trainer's move");
    assert.deepEqual(v.bisection, { moves: 0, total: 8, range: "checkpoints 0–12 of 13" });
    assert.equal(v.settled, false);
    v = disputeView(row({ status: "ChallengerMove", moves: 3, lo: 8, span: 4 }), 13);
    assert.match(v.stage, /^The challenger's move/);
    assert.deepEqual(v.bisection, { moves: 3, total: 8, range: "checkpoints 8–11 of 13" });
    v = disputeView(row({ status: "AwaitingDraw", moves: 8, lo: 11, span: 1, segmentIndex: 11 }), 13);
    assert.match(v.stage, /segment ending at checkpoint 11/);
    assert.equal(v.bisection?.range, "checkpoint 11");
    const seat = (verifier: string, round: number, committed: boolean, revealed: boolean) => ({
      id: `1-${round}-${verifier}`,
      round,
      verifier: { id: verifier },
      committed,
      revealed,
      verdict: null,
      paid: "0",
      penalised: "0",
    });
    v = disputeView(
      row({
        status: "Voting",
        round: 1,
        committee: ["0xa", "0xb", "0xc"],
        // round 0's seats do not count toward round 1's
        votes: [seat("0xa", 0, true, true), seat("0xa", 1, true, true), seat("0xb", 1, true, false), seat("0xc", 1, false, false)],
      }),
      13,
    );
    assert.equal(v.stage, "A committee of 3 verifiers replays the segment: 2 committed, 1 revealed.");
    v = disputeView(row({ status: "Settled", outcome: "CommitteeVerdict", trainerWon: false }), 13);
    assert.equal(v.settled, true);
    assert.equal(v.trainerWon, false);
    assert.match(v.stage, /collateral is slashed and the budget refunded — by the committee's verdict/);
    assert.equal(v.badge, "trainer slashed");
    v = disputeView(row({ status: "Settled", outcome: "ChallengerSilent", trainerWon: true }), 13);
    assert.match(v.stage, /^The trainer's result stands — the challenger missed its move/);
    assert.equal(v.badge, "result upheld");
  });

  it("an eval dispute has no bisection", () => {
    const v = disputeView(row({ eval: true, status: "AwaitingDraw", lo: null, span: null }), 13);
    assert.equal(v.bisection, undefined);
    assert.match(v.stage, /recompute the held-out eval loss/);
  });
});
