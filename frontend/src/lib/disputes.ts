// What a job's dispute shows on its page, from the subgraph's Dispute entity (subgraph/queries/disputes.graphql):
// where the game stands in words, the bisection's progress over the checkpoint tree, and how it ended.
import type { JobDisputesResult } from "../generated/graphql.ts";

export type DisputeRow = JobDisputesResult["disputes"][number];

export interface DisputeView {
  /** A few words for the status badge. */
  badge: string;
  /** One line: whose turn it is, or how it ended. */
  stage: string;
  /** The moves so far out of those the bisection takes (replay disputes on a tree of more than one checkpoint). */
  bisection?: { moves: number; total: number; range: string };
  /** Settled: did the trainer's result stand. */
  trainerWon?: boolean;
  settled: boolean;
}

/** Moves a bisection over `count` checkpoints takes: the tree is padded to a power of two, 2 moves a level. */
export function bisectionMoves(count: number): number {
  let levels = 0;
  while (1 << levels < count) levels++;
  return 2 * levels;
}

const BADGE: Record<string, string> = {
  TrainerMove: "trainer's move",
  ChallengerMove: "challenger's move",
  AwaitingDraw: "drawing a committee",
  Voting: "committee voting",
  Stuck: "stuck",
  EmergencyScheduled: "emergency ruling",
};

const OUTCOME: Record<string, string> = {
  CommitteeVerdict: "by the committee's verdict",
  TrainerSilent: "the trainer missed its move",
  ChallengerSilent: "the challenger missed its move",
  Emergency: "by the emergency ruling (the committee could not decide)",
  Moot: "moot (the job was settled otherwise)",
};

export function disputeView(d: DisputeRow, checkpointCount: number | null | undefined): DisputeView {
  const settled = d.status === "Settled";
  const count = checkpointCount ?? 0;
  const bisection =
    !d.eval && count > 1
      ? {
          moves: d.moves,
          total: bisectionMoves(count),
          range:
            d.lo !== null && d.span !== null
              ? d.span <= 1
                ? `checkpoint ${d.lo}`
                : `checkpoints ${d.lo}–${Math.min(d.lo + d.span, count) - 1} of ${count}`
              : `${count} checkpoints`,
        }
      : undefined;
  const committee = d.committee.length;
  const revealed = d.votes.filter((v) => v.round === d.round && v.revealed).length;
  const committed = d.votes.filter((v) => v.round === d.round && v.committed).length;
  let stage: string;
  switch (d.status) {
    case "TrainerMove":
      stage = "The trainer's move: it reveals the two halves of the disputed part of its checkpoint tree.";
      break;
    case "ChallengerMove":
      stage = "The challenger's move: it picks the half that holds the wrong checkpoint (its node does this).";
      break;
    case "AwaitingDraw":
      stage = d.eval
        ? "A committee of staked verifiers is drawn to recompute the held-out eval loss."
        : `Bisection done: the segment ending at checkpoint ${d.segmentIndex ?? d.lo}. A committee of staked verifiers is drawn to replay it.`;
      break;
    case "Voting":
      stage = `A committee of ${committee} verifiers ${d.eval ? "recomputes the result" : "replays the segment"}: ${committed} committed, ${revealed} revealed.`;
      break;
    case "Stuck":
      stage = "The committee could not decide after its redraws; the timelocked emergency account rules.";
      break;
    case "EmergencyScheduled":
      stage = `The emergency ruling is scheduled (the ${d.trainerWon ? "trainer" : "challenger"} wins).`;
      break;
    default:
      stage = settled
        ? `${d.trainerWon ? "The trainer's result stands" : "The result was wrong: the trainer's collateral is slashed and the budget refunded"} — ${OUTCOME[d.outcome] ?? d.outcome}.`
        : d.status;
  }
  const badge = settled ? (d.trainerWon ? "result upheld" : "trainer slashed") : (BADGE[d.status] ?? d.status);
  return { badge, stage, bisection, settled, ...(settled ? { trainerWon: d.trainerWon ?? false } : {}) };
}
