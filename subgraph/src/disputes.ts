// DisputeGame: challenges of job results decided by replay (bisection of the trainer's checkpoint tree, then a
// committee of staked verifiers) or, for eval jobs, by a committee at once. Per job its checkpoint commitment and
// eval claim; per dispute its phase, bisection, committee rounds and outcome; per seat its vote.
import {
  ChallengeOpened as ChallengeOpenedEvent,
  CheckpointsCommitted as CheckpointsCommittedEvent,
  ChildChosen as ChildChosenEvent,
  ChildrenRevealed as ChildrenRevealedEvent,
  CommitteeDrawn as CommitteeDrawnEvent,
  CommitteeSplit as CommitteeSplitEvent,
  DisputeSettled as DisputeSettledEvent,
  DisputeStuck as DisputeStuckEvent,
  DrawDeferred as DrawDeferredEvent,
  EmergencyScheduled as EmergencyScheduledEvent,
  EmergencyTransferStarted as EmergencyTransferStartedEvent,
  EmergencyTransferred as EmergencyTransferredEvent,
  EvalClaimCommitted as EvalClaimCommittedEvent,
  EvalDisputeOpened as EvalDisputeOpenedEvent,
  SegmentProven as SegmentProvenEvent,
  VerifierPaid as VerifierPaidEvent,
  VerifierPenalised as VerifierPenalisedEvent,
  VoteCommitted as VoteCommittedEvent,
  VoteRevealed as VoteRevealedEvent,
  Withdrawn as WithdrawnEvent,
} from "../generated/DisputeGame/DisputeGame";
import {
  CheckpointsCommitted,
  ChildChosen,
  ChildrenRevealed,
  Dispute,
  DisputeChallengeOpened,
  DisputeCommitteeDrawn,
  DisputeCommitteeSplit,
  DisputeDrawDeferred,
  DisputeEmergencyScheduled,
  DisputeEmergencyTransferStarted,
  DisputeEmergencyTransferred,
  DisputeGameWithdrawal,
  DisputeSettled,
  DisputeStuck,
  DisputeVerifierPaid,
  DisputeVerifierPenalised,
  DisputeVote,
  DisputeVoteCommitted,
  DisputeVoteRevealed,
  EvalClaimCommitted,
  EvalDisputeOpened,
  Job,
  SegmentProven,
} from "../generated/schema";
import { Address, BigInt, Bytes, ethereum } from "@graphprotocol/graph-ts";
import { ZERO, account, eventId, stamp, stats } from "./common";
import { countPayment, countSeats } from "./verifiers";

/** IDisputeGame.Outcome, by index. */
const OUTCOMES = ["None", "CommitteeVerdict", "TrainerSilent", "ChallengerSilent", "Emergency", "Moot"];
/** The contract's FIRST_SEATS: the first committee of a dispute. */
const FIRST_SEATS = 3;

function loadDispute(id: BigInt, event: ethereum.Event): Dispute {
  const d = Dispute.load(id.toString())!;
  d.updatedAt = event.block.timestamp;
  return d;
}

function voteId(disputeId: string, round: i32, verifier: Address): string {
  return disputeId + "-" + round.toString() + "-" + verifier.toHexString();
}

/** The seat of `verifier` in the dispute's round, created unvoted when missing. */
function voteOf(d: Dispute, round: i32, verifier: Address): DisputeVote {
  const id = voteId(d.id, round, verifier);
  let v = DisputeVote.load(id);
  if (v == null) {
    v = new DisputeVote(id);
    v.dispute = d.id;
    v.round = round;
    v.verifier = verifier;
    v.committed = false;
    v.revealed = false;
    v.paid = ZERO;
    v.penalised = ZERO;
  }
  return v;
}

/** The smallest power of two at least `n` (the width of the padded checkpoint tree). */
function ceilPow2(n: i32): i32 {
  let p = 1;
  while (p < n) p = p << 1;
  return p;
}

export function handleCheckpointsCommitted(event: CheckpointsCommittedEvent): void {
  const trainer = account(event.params.trainer, event);
  const j = Job.load(event.params.jobId.toString());
  if (j != null) {
    j.checkpointRoot = event.params.root;
    j.checkpointCount = event.params.count.toI32();
    j.checkpointsBy = trainer.id;
    j.updatedAt = event.block.timestamp;
    j.save();
  }
  const e = new CheckpointsCommitted(eventId(event));
  e.job = event.params.jobId.toString();
  e.trainer = trainer.id;
  e.root = event.params.root;
  e.count = event.params.count.toI32();
  stamp(e, event);
  e.save();
}

export function handleEvalClaimCommitted(event: EvalClaimCommittedEvent): void {
  const trainer = account(event.params.trainer, event);
  const j = Job.load(event.params.jobId.toString());
  if (j != null) {
    j.evalLoss = event.params.loss;
    j.evalToleranceBps = event.params.toleranceBps;
    j.updatedAt = event.block.timestamp;
    j.save();
  }
  const e = new EvalClaimCommitted(eventId(event));
  e.job = event.params.jobId.toString();
  e.trainer = trainer.id;
  e.loss = event.params.loss;
  e.toleranceBps = event.params.toleranceBps;
  stamp(e, event);
  e.save();
}

export function handleChallengeOpened(event: ChallengeOpenedEvent): void {
  const challenger = account(event.params.challenger, event);
  const d = new Dispute(event.params.disputeId.toString());
  d.disputeId = event.params.disputeId;
  d.job = event.params.jobId.toString();
  d.challenger = challenger.id;
  d.bond = event.params.bond;
  d.reasonCID = event.params.reasonCID;
  d.eval = false;
  d.moves = 0;
  d.round = 0;
  d.seats = 0;
  d.committee = new Array<Bytes>(0);
  d.commits = 0;
  d.reveals = 0;
  d.status = "TrainerMove";
  d.outcome = "None";
  d.openedAt = event.block.timestamp;
  d.updatedAt = event.block.timestamp;
  const j = Job.load(event.params.jobId.toString());
  if (j != null) {
    const trainer = j.trainer;
    d.trainer = trainer;
    // the bisection starts at the root of the current trainer's commitment (none: it cannot answer)
    const by = j.checkpointsBy;
    const root = j.checkpointRoot;
    if (trainer !== null && by !== null && root !== null) {
      if (by.equals(trainer)) {
        d.lo = 0;
        d.span = ceilPow2(j.checkpointCount);
        d.node = root;
      }
    }
  }
  d.save();
  const s = stats(event);
  s.disputeCount = s.disputeCount + 1;
  s.save();
  const e = new DisputeChallengeOpened(eventId(event));
  e.dispute = d.id;
  e.job = d.job;
  e.challenger = challenger.id;
  e.bond = event.params.bond;
  e.reasonCID = event.params.reasonCID;
  stamp(e, event);
  e.save();
}

/** Follows its ChallengeOpened: the job has an eval claim, so the committee is drawn at once. */
export function handleEvalDisputeOpened(event: EvalDisputeOpenedEvent): void {
  const d = loadDispute(event.params.disputeId, event);
  d.eval = true;
  d.evalLoss = event.params.loss;
  d.evalToleranceBps = event.params.toleranceBps;
  d.unset("lo");
  d.unset("span");
  d.node = null;
  d.seats = FIRST_SEATS;
  d.drawBlock = event.params.drawBlock;
  d.status = "AwaitingDraw";
  d.save();
  const e = new EvalDisputeOpened(eventId(event));
  e.dispute = d.id;
  e.job = event.params.jobId.toString();
  e.loss = event.params.loss;
  e.toleranceBps = event.params.toleranceBps;
  e.drawBlock = event.params.drawBlock;
  stamp(e, event);
  e.save();
}

export function handleChildrenRevealed(event: ChildrenRevealedEvent): void {
  const d = loadDispute(event.params.disputeId, event);
  d.moves = event.params.move;
  d.status = "ChallengerMove";
  d.save();
  const e = new ChildrenRevealed(eventId(event));
  e.dispute = d.id;
  e.move = event.params.move;
  e.left = event.params.left;
  e.right = event.params.right;
  stamp(e, event);
  e.save();
}

export function handleChildChosen(event: ChildChosenEvent): void {
  const d = loadDispute(event.params.disputeId, event);
  d.moves = event.params.move;
  d.lo = event.params.lo.toI32();
  d.span = event.params.span.toI32();
  d.node = event.params.node;
  d.status = "TrainerMove";
  d.save();
  const e = new ChildChosen(eventId(event));
  e.dispute = d.id;
  e.move = event.params.move;
  e.lo = event.params.lo.toI32();
  e.span = event.params.span.toI32();
  e.node = event.params.node;
  stamp(e, event);
  e.save();
}

export function handleSegmentProven(event: SegmentProvenEvent): void {
  const d = loadDispute(event.params.disputeId, event);
  d.segmentIndex = event.params.index.toI32();
  d.prevState = event.params.prevState;
  d.state = event.params.state;
  d.seats = FIRST_SEATS;
  d.drawBlock = event.params.drawBlock;
  d.status = "AwaitingDraw";
  d.save();
  const e = new SegmentProven(eventId(event));
  e.dispute = d.id;
  e.index = event.params.index.toI32();
  e.prevState = event.params.prevState;
  e.state = event.params.state;
  e.drawBlock = event.params.drawBlock;
  stamp(e, event);
  e.save();
}

export function handleDrawDeferred(event: DrawDeferredEvent): void {
  const d = loadDispute(event.params.disputeId, event);
  d.drawBlock = event.params.drawBlock;
  d.save();
  const e = new DisputeDrawDeferred(eventId(event));
  e.dispute = d.id;
  e.drawBlock = event.params.drawBlock;
  stamp(e, event);
  e.save();
}

export function handleCommitteeDrawn(event: CommitteeDrawnEvent): void {
  const d = loadDispute(event.params.disputeId, event);
  const members = event.params.members;
  const committee = new Array<Bytes>(0);
  for (let i = 0; i < members.length; i++) {
    committee.push(members[i]);
    voteOf(d, event.params.round, members[i]).save();
  }
  d.round = event.params.round;
  d.seats = members.length;
  d.committee = committee;
  d.commits = 0;
  d.reveals = 0;
  d.revealStartsAt = event.params.revealStartsAt;
  d.status = "Voting";
  d.save();
  countSeats(members, event);
  const e = new DisputeCommitteeDrawn(eventId(event));
  e.dispute = d.id;
  e.round = event.params.round;
  e.members = committee;
  e.revealStartsAt = event.params.revealStartsAt;
  stamp(e, event);
  e.save();
}

export function handleVoteCommitted(event: VoteCommittedEvent): void {
  const d = loadDispute(event.params.disputeId, event);
  const v = voteOf(d, event.params.round, event.params.verifier);
  v.committed = true;
  v.save();
  d.commits = d.commits + 1;
  // every seat committed: the reveal opens at once
  if (d.commits == d.seats) d.revealStartsAt = event.block.timestamp;
  d.save();
  const e = new DisputeVoteCommitted(eventId(event));
  e.dispute = d.id;
  e.round = event.params.round;
  e.verifier = event.params.verifier;
  stamp(e, event);
  e.save();
}

export function handleVoteRevealed(event: VoteRevealedEvent): void {
  const d = loadDispute(event.params.disputeId, event);
  const v = voteOf(d, event.params.round, event.params.verifier);
  v.revealed = true;
  v.verdict = event.params.verdict;
  v.witness = event.params.witness;
  v.save();
  d.reveals = d.reveals + 1;
  d.save();
  const e = new DisputeVoteRevealed(eventId(event));
  e.dispute = d.id;
  e.round = event.params.round;
  e.verifier = event.params.verifier;
  e.verdict = event.params.verdict;
  e.witness = event.params.witness;
  stamp(e, event);
  e.save();
}

/** Emitted while the round is tallied, before a redraw moves the round on. */
export function handleVerifierPenalised(event: VerifierPenalisedEvent): void {
  const d = loadDispute(event.params.disputeId, event);
  const v = voteOf(d, d.round, event.params.verifier);
  v.penalised = v.penalised.plus(event.params.amount);
  v.save();
  countPayment(event.params.verifier, event.params.amount, false, event);
  const e = new DisputeVerifierPenalised(eventId(event));
  e.dispute = d.id;
  e.verifier = event.params.verifier;
  e.amount = event.params.amount;
  stamp(e, event);
  e.save();
}

export function handleVerifierPaid(event: VerifierPaidEvent): void {
  const d = loadDispute(event.params.disputeId, event);
  const v = voteOf(d, d.round, event.params.verifier);
  v.paid = v.paid.plus(event.params.amount);
  v.save();
  countPayment(event.params.verifier, event.params.amount, true, event);
  const e = new DisputeVerifierPaid(eventId(event));
  e.dispute = d.id;
  e.verifier = event.params.verifier;
  e.amount = event.params.amount;
  stamp(e, event);
  e.save();
}

/** No verdict: a larger committee is drawn from a new block. */
export function handleCommitteeSplit(event: CommitteeSplitEvent): void {
  const d = loadDispute(event.params.disputeId, event);
  d.round = event.params.round + 1;
  d.seats = event.params.nextSeats;
  d.committee = new Array<Bytes>(0);
  d.commits = 0;
  d.reveals = 0;
  d.drawBlock = event.params.drawBlock;
  d.revealStartsAt = null;
  d.status = "AwaitingDraw";
  d.save();
  const e = new DisputeCommitteeSplit(eventId(event));
  e.dispute = d.id;
  e.round = event.params.round;
  e.nextSeats = event.params.nextSeats;
  e.drawBlock = event.params.drawBlock;
  stamp(e, event);
  e.save();
}

export function handleDisputeStuck(event: DisputeStuckEvent): void {
  const d = loadDispute(event.params.disputeId, event);
  d.status = "Stuck";
  d.save();
  const e = new DisputeStuck(eventId(event));
  e.dispute = d.id;
  stamp(e, event);
  e.save();
}

export function handleEmergencyScheduled(event: EmergencyScheduledEvent): void {
  const d = loadDispute(event.params.disputeId, event);
  d.status = "EmergencyScheduled";
  d.emergencyTrainerWins = event.params.trainerWins;
  d.emergencyExecutableAt = event.params.executableAt;
  d.save();
  const e = new DisputeEmergencyScheduled(eventId(event));
  e.dispute = d.id;
  e.trainerWins = event.params.trainerWins;
  e.executableAt = event.params.executableAt;
  stamp(e, event);
  e.save();
}

export function handleDisputeSettled(event: DisputeSettledEvent): void {
  const d = loadDispute(event.params.disputeId, event);
  const outcome = OUTCOMES[event.params.outcome];
  d.status = "Settled";
  d.outcome = outcome;
  d.trainerWon = event.params.trainerWins;
  d.settledAt = event.block.timestamp;
  d.save();
  const e = new DisputeSettled(eventId(event));
  e.dispute = d.id;
  e.job = event.params.jobId.toString();
  e.trainerWins = event.params.trainerWins;
  e.outcome = outcome;
  stamp(e, event);
  e.save();
}

export function handleWithdrawn(event: WithdrawnEvent): void {
  const who = account(event.params.account, event);
  const e = new DisputeGameWithdrawal(eventId(event));
  e.account = who.id;
  e.amount = event.params.amount;
  stamp(e, event);
  e.save();
}

export function handleEmergencyTransferStarted(event: EmergencyTransferStartedEvent): void {
  const e = new DisputeEmergencyTransferStarted(eventId(event));
  e.from = event.params.from;
  e.to = event.params.to;
  stamp(e, event);
  e.save();
}

export function handleEmergencyTransferred(event: EmergencyTransferredEvent): void {
  const e = new DisputeEmergencyTransferred(eventId(event));
  e.from = event.params.from;
  e.to = event.params.to;
  stamp(e, event);
  e.save();
}
