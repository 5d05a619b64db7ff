// UsageGame: challenges of usage epochs decided by a committee of staked verifiers that recompute the epoch from
// its per-request records. Per dispute its committee rounds, phase and outcome; per seat its vote. The epoch's own
// status (Challenged, then Committed or Voided) follows UsageEpochs' events (usage.ts).
import {
  ChallengeOpened as ChallengeOpenedEvent,
  CommitteeDrawn as CommitteeDrawnEvent,
  CommitteeSplit as CommitteeSplitEvent,
  DisputeSettled as DisputeSettledEvent,
  DisputeStuck as DisputeStuckEvent,
  DrawDeferred as DrawDeferredEvent,
  EmergencyScheduled as EmergencyScheduledEvent,
  EmergencyTransferStarted as EmergencyTransferStartedEvent,
  EmergencyTransferred as EmergencyTransferredEvent,
  VerifierPaid as VerifierPaidEvent,
  VerifierPenalised as VerifierPenalisedEvent,
  VoteCommitted as VoteCommittedEvent,
  VoteRevealed as VoteRevealedEvent,
  Withdrawn as WithdrawnEvent,
} from "../generated/UsageGame/UsageGame";
import {
  UsageChallengeOpened,
  UsageCommitteeDrawn,
  UsageCommitteeSplit,
  UsageDispute,
  UsageDisputeSettled,
  UsageDisputeStuck,
  UsageDisputeVote,
  UsageDrawDeferred,
  UsageEmergencyScheduled,
  UsageEmergencyTransferStarted,
  UsageEmergencyTransferred,
  UsageEpoch,
  UsageGameWithdrawal,
  UsageVerifierPaid,
  UsageVerifierPenalised,
  UsageVoteCommitted,
  UsageVoteRevealed,
} from "../generated/schema";
import { Address, BigInt, Bytes, ethereum } from "@graphprotocol/graph-ts";
import { ZERO, account, eventId, stamp, stats } from "./common";
import { countPayment, countSeats } from "./verifiers";

/** IUsageGame.Outcome, by index. */
const OUTCOMES = ["None", "CommitteeVerdict", "Emergency"];
/** The contract's FIRST_SEATS: the first committee of a dispute. */
const FIRST_SEATS = 3;

function loadDispute(id: BigInt, event: ethereum.Event): UsageDispute {
  const d = UsageDispute.load(id.toString())!;
  d.updatedAt = event.block.timestamp;
  return d;
}

/** The seat of `verifier` in the dispute's round, created unvoted when missing. */
function voteOf(d: UsageDispute, round: i32, verifier: Address): UsageDisputeVote {
  const id = d.id + "-" + round.toString() + "-" + verifier.toHexString();
  let v = UsageDisputeVote.load(id);
  if (v == null) {
    v = new UsageDisputeVote(id);
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

/** Follows the epoch's EpochChallenged (UsageEpochs) in the same transaction. */
export function handleChallengeOpened(event: ChallengeOpenedEvent): void {
  const challenger = account(event.params.challenger, event);
  const d = new UsageDispute(event.params.disputeId.toString());
  d.disputeId = event.params.disputeId;
  d.epoch = event.params.epochId.toString();
  const ep = UsageEpoch.load(d.epoch);
  if (ep != null) d.provider = ep.provider;
  d.challenger = challenger.id;
  d.bond = event.params.bond;
  d.reasonCID = event.params.reasonCID;
  d.round = 0;
  d.seats = FIRST_SEATS;
  d.committee = new Array<Bytes>(0);
  d.commits = 0;
  d.reveals = 0;
  d.drawBlock = event.params.drawBlock;
  d.status = "AwaitingDraw";
  d.outcome = "None";
  d.openedAt = event.block.timestamp;
  d.updatedAt = event.block.timestamp;
  d.save();
  const s = stats(event);
  s.usageDisputeCount = s.usageDisputeCount + 1;
  s.save();
  const e = new UsageChallengeOpened(eventId(event));
  e.dispute = d.id;
  e.epoch = d.epoch;
  e.challenger = challenger.id;
  e.bond = event.params.bond;
  e.reasonCID = event.params.reasonCID;
  e.drawBlock = event.params.drawBlock;
  stamp(e, event);
  e.save();
}

export function handleDrawDeferred(event: DrawDeferredEvent): void {
  const d = loadDispute(event.params.disputeId, event);
  d.drawBlock = event.params.drawBlock;
  d.save();
  const e = new UsageDrawDeferred(eventId(event));
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
  d.seed = event.params.seed;
  d.commits = 0;
  d.reveals = 0;
  d.revealStartsAt = event.params.revealStartsAt;
  d.status = "Voting";
  d.save();
  countSeats(members, event);
  const e = new UsageCommitteeDrawn(eventId(event));
  e.dispute = d.id;
  e.round = event.params.round;
  e.members = committee;
  e.seed = event.params.seed;
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
  const e = new UsageVoteCommitted(eventId(event));
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
  const e = new UsageVoteRevealed(eventId(event));
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
  const e = new UsageVerifierPenalised(eventId(event));
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
  const e = new UsageVerifierPaid(eventId(event));
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
  const e = new UsageCommitteeSplit(eventId(event));
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
  const e = new UsageDisputeStuck(eventId(event));
  e.dispute = d.id;
  stamp(e, event);
  e.save();
}

export function handleEmergencyScheduled(event: EmergencyScheduledEvent): void {
  const d = loadDispute(event.params.disputeId, event);
  d.status = "EmergencyScheduled";
  d.emergencyProviderWins = event.params.providerWins;
  d.emergencyExecutableAt = event.params.executableAt;
  d.save();
  const e = new UsageEmergencyScheduled(eventId(event));
  e.dispute = d.id;
  e.providerWins = event.params.providerWins;
  e.executableAt = event.params.executableAt;
  stamp(e, event);
  e.save();
}

export function handleDisputeSettled(event: DisputeSettledEvent): void {
  const d = loadDispute(event.params.disputeId, event);
  const outcome = OUTCOMES[event.params.outcome];
  d.status = "Settled";
  d.outcome = outcome;
  d.providerWon = event.params.providerWins;
  d.settledAt = event.block.timestamp;
  d.save();
  const e = new UsageDisputeSettled(eventId(event));
  e.dispute = d.id;
  e.epoch = event.params.epochId.toString();
  e.providerWins = event.params.providerWins;
  e.outcome = outcome;
  stamp(e, event);
  e.save();
}

export function handleWithdrawn(event: WithdrawnEvent): void {
  const who = account(event.params.account, event);
  const e = new UsageGameWithdrawal(eventId(event));
  e.account = who.id;
  e.amount = event.params.amount;
  stamp(e, event);
  e.save();
}

export function handleEmergencyTransferStarted(event: EmergencyTransferStartedEvent): void {
  const e = new UsageEmergencyTransferStarted(eventId(event));
  e.from = event.params.from;
  e.to = event.params.to;
  stamp(e, event);
  e.save();
}

export function handleEmergencyTransferred(event: EmergencyTransferredEvent): void {
  const e = new UsageEmergencyTransferred(eventId(event));
  e.from = event.params.from;
  e.to = event.params.to;
  stamp(e, event);
  e.save();
}
