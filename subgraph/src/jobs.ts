// JobMarket: fine-tuning jobs from posting to finalization, disputes and refunds.
import { BigInt, ethereum } from "@graphprotocol/graph-ts";
import {
  ChallengeWindowUpdated as ChallengeWindowUpdatedEvent,
  DataFeeBpsUpdated as DataFeeBpsUpdatedEvent,
  DataFeePaid as DataFeePaidEvent,
  DisputeResolved as DisputeResolvedEvent,
  JobCancelled as JobCancelledEvent,
  JobClaimed as JobClaimedEvent,
  JobDisputed as JobDisputedEvent,
  JobFinalized as JobFinalizedEvent,
  JobPosted as JobPostedEvent,
  JobReclaimed as JobReclaimedEvent,
  JobRefunded as JobRefundedEvent,
  JobReleased as JobReleasedEvent,
  JobReleasedNoFault as JobReleasedNoFaultEvent,
  ReleaseFeeBpsUpdated as ReleaseFeeBpsUpdatedEvent,
  CollateralBpsUpdated as CollateralBpsUpdatedEvent,
  DisputeGameSet as DisputeGameSetEvent,
  ResultAccepted as ResultAcceptedEvent,
  ResultSubmitted as ResultSubmittedEvent,
  SlashAmountUpdated as SlashAmountUpdatedEvent,
  Withdrawn as WithdrawnEvent,
} from "../generated/JobMarket/JobMarket";
import {
  ChallengeWindowUpdated,
  DataFeeBpsUpdated,
  DataFeePaid,
  Datanet,
  DisputeResolved,
  Job,
  JobCancelled,
  JobClaimed,
  JobDisputed,
  JobFinalized,
  JobMarketWithdrawal,
  JobPosted,
  JobReclaimed,
  JobRefunded,
  JobReleased,
  JobReleasedNoFault,
  ModelVersion,
  ReleaseFeeBpsUpdated,
  CollateralBpsUpdated,
  DisputeGameSet,
  ResultAccepted,
  ResultSubmitted,
  SlashAmountUpdated,
} from "../generated/schema";
import { ZERO, account, bigIntsToI32s, bigIntsToStrings, eventId, stamp, stats } from "./common";
import { trainerOf } from "./trainers";

function loadJob(id: BigInt, event: ethereum.Event): Job {
  const j = Job.load(id.toString())!;
  j.updatedAt = event.block.timestamp;
  return j;
}

export function handleJobPosted(event: JobPostedEvent): void {
  const poster = account(event.params.poster, event);
  const j = new Job(event.params.jobId.toString());
  j.jobId = event.params.jobId;
  j.poster = poster.id;
  j.specCID = event.params.specCID;
  j.baseModel = event.params.baseModelId.toString();
  const parent = event.params.parentModelId;
  if (!parent.isZero() && ModelVersion.load(parent.toString()) != null) j.parentModel = parent.toString();
  j.datanets = bigIntsToStrings(event.params.datanetIds);
  j.versions = bigIntsToI32s(event.params.versions);
  j.budget = event.params.budget;
  j.dataFee = event.params.dataFee;
  j.duration = event.params.duration.toI32();
  j.status = "Open";
  j.slashed = ZERO;
  j.postedAt = event.block.timestamp;
  j.postedAtBlock = event.block.number;
  j.updatedAt = event.block.timestamp;
  j.save();
  const s = stats(event);
  s.jobCount = s.jobCount + 1;
  s.totalBudgetPosted = s.totalBudgetPosted.plus(event.params.budget);
  s.save();

  const e = new JobPosted(eventId(event));
  e.job = j.id;
  e.poster = poster.id;
  e.specCID = j.specCID;
  e.baseModelId = event.params.baseModelId.toI32();
  e.parentModelId = parent;
  e.datanetIds = event.params.datanetIds;
  e.versions = j.versions;
  e.budget = j.budget;
  e.dataFee = j.dataFee;
  e.duration = j.duration;
  stamp(e, event);
  e.save();
}

export function handleJobClaimed(event: JobClaimedEvent): void {
  const t = trainerOf(event.params.trainer, event);
  t.save();
  const j = loadJob(event.params.jobId, event);
  j.status = "Claimed";
  j.trainer = t.id;
  j.dueAt = event.params.dueAt;
  j.collateral = event.params.collateral;
  j.save();
  const e = new JobClaimed(eventId(event));
  e.job = j.id;
  e.trainer = t.account;
  e.dueAt = event.params.dueAt;
  e.collateral = event.params.collateral;
  stamp(e, event);
  e.save();
}

export function handleResultSubmitted(event: ResultSubmittedEvent): void {
  const trainer = account(event.params.trainer, event);
  const j = loadJob(event.params.jobId, event);
  j.status = "Submitted";
  j.adapterCID = event.params.adapterCID;
  j.adapterHash = event.params.adapterHash;
  j.metricsCID = event.params.metricsCID;
  j.attributionRoot = event.params.attributionRoot;
  j.attributionTotalWeight = event.params.attributionTotalWeight;
  j.reportCID = event.params.reportCID;
  j.challengeEndsAt = event.params.challengeEndsAt;
  j.save();
  const e = new ResultSubmitted(eventId(event));
  e.job = j.id;
  e.trainer = trainer.id;
  e.adapterCID = event.params.adapterCID;
  e.adapterHash = event.params.adapterHash;
  e.metricsCID = event.params.metricsCID;
  e.attributionRoot = event.params.attributionRoot;
  e.attributionTotalWeight = event.params.attributionTotalWeight;
  e.reportCID = event.params.reportCID;
  e.challengeEndsAt = event.params.challengeEndsAt;
  stamp(e, event);
  e.save();
}

export function handleResultAccepted(event: ResultAcceptedEvent): void {
  const poster = account(event.params.poster, event);
  const j = loadJob(event.params.jobId, event);
  j.save();
  const e = new ResultAccepted(eventId(event));
  e.job = j.id;
  e.poster = poster.id;
  stamp(e, event);
  e.save();
}

export function handleJobDisputed(event: JobDisputedEvent): void {
  const challenger = account(event.params.challenger, event);
  const j = loadJob(event.params.jobId, event);
  j.status = "Disputed";
  j.disputeReasonCID = event.params.reasonCID;
  j.save();
  const e = new JobDisputed(eventId(event));
  e.job = j.id;
  e.challenger = challenger.id;
  e.reasonCID = event.params.reasonCID;
  stamp(e, event);
  e.save();
}

export function handleDisputeResolved(event: DisputeResolvedEvent): void {
  const j = loadJob(event.params.jobId, event);
  j.slashed = j.slashed.plus(event.params.slashed);
  j.save();
  const e = new DisputeResolved(eventId(event));
  e.job = j.id;
  e.resolver = event.params.resolver;
  e.trainerWins = event.params.trainerWins;
  e.slashed = event.params.slashed;
  e.reasonCID = event.params.reasonCID;
  stamp(e, event);
  e.save();
}

export function handleJobFinalized(event: JobFinalizedEvent): void {
  const t = trainerOf(event.params.trainer, event);
  t.jobsCompleted = t.jobsCompleted + 1;
  t.earnings = t.earnings.plus(event.params.trainerPayment);
  t.save();
  const j = loadJob(event.params.jobId, event);
  j.status = "Finalized";
  j.model = event.params.modelId.toString();
  j.trainerPayment = event.params.trainerPayment;
  j.save();
  const s = stats(event);
  s.finalizedJobCount = s.finalizedJobCount + 1;
  s.totalTrainerPayments = s.totalTrainerPayments.plus(event.params.trainerPayment);
  s.totalDataFees = s.totalDataFees.plus(event.params.dataFee);
  s.save();
  const e = new JobFinalized(eventId(event));
  e.job = j.id;
  e.trainer = t.account;
  e.modelId = event.params.modelId;
  e.trainerPayment = event.params.trainerPayment;
  e.dataFee = event.params.dataFee;
  stamp(e, event);
  e.save();
}

export function handleDataFeePaid(event: DataFeePaidEvent): void {
  const d = Datanet.load(event.params.datanetId.toString())!;
  d.dataFeesEarned = d.dataFeesEarned.plus(event.params.amount);
  d.updatedAt = event.block.timestamp;
  d.save();
  const e = new DataFeePaid(eventId(event));
  e.job = event.params.jobId.toString();
  e.datanet = d.id;
  e.amount = event.params.amount;
  stamp(e, event);
  e.save();
}

export function handleJobCancelled(event: JobCancelledEvent): void {
  const poster = account(event.params.poster, event);
  const j = loadJob(event.params.jobId, event);
  j.status = "Cancelled";
  j.refund = event.params.refund;
  j.save();
  const e = new JobCancelled(eventId(event));
  e.job = j.id;
  e.poster = poster.id;
  e.refund = event.params.refund;
  stamp(e, event);
  e.save();
}

export function handleJobReclaimed(event: JobReclaimedEvent): void {
  const trainer = account(event.params.trainer, event);
  const j = loadJob(event.params.jobId, event);
  // The trainer missed the deadline: it is slashed and the job is open again.
  j.status = "Open";
  j.trainer = null;
  j.dueAt = null;
  j.collateral = null;
  j.slashed = j.slashed.plus(event.params.slashed);
  j.save();
  const e = new JobReclaimed(eventId(event));
  e.job = j.id;
  e.trainer = trainer.id;
  e.slashed = event.params.slashed;
  stamp(e, event);
  e.save();
}

export function handleJobReleased(event: JobReleasedEvent): void {
  const trainer = account(event.params.trainer, event);
  const j = loadJob(event.params.jobId, event);
  // The trainer gave the job back before its deadline: it paid the release fee and the job is open again.
  j.status = "Open";
  j.trainer = null;
  j.dueAt = null;
  j.collateral = null;
  j.slashed = j.slashed.plus(event.params.fee);
  j.save();
  const e = new JobReleased(eventId(event));
  e.job = j.id;
  e.trainer = trainer.id;
  e.fee = event.params.fee;
  stamp(e, event);
  e.save();
}

export function handleJobRefunded(event: JobRefundedEvent): void {
  const poster = account(event.params.poster, event);
  const j = loadJob(event.params.jobId, event);
  j.status = "Refunded";
  j.refund = event.params.refund;
  j.save();
  const e = new JobRefunded(eventId(event));
  e.job = j.id;
  e.poster = poster.id;
  e.refund = event.params.refund;
  stamp(e, event);
  e.save();
}

export function handleWithdrawn(event: WithdrawnEvent): void {
  const a = account(event.params.account, event);
  const e = new JobMarketWithdrawal(eventId(event));
  e.account = a.id;
  e.amount = event.params.amount;
  stamp(e, event);
  e.save();
}

export function handleChallengeWindowUpdated(event: ChallengeWindowUpdatedEvent): void {
  const s = stats(event);
  s.challengeWindow = event.params.challengeWindow;
  s.save();
  const e = new ChallengeWindowUpdated(eventId(event));
  e.challengeWindow = event.params.challengeWindow;
  stamp(e, event);
  e.save();
}

export function handleDataFeeBpsUpdated(event: DataFeeBpsUpdatedEvent): void {
  const s = stats(event);
  s.dataFeeBps = event.params.dataFeeBps;
  s.save();
  const e = new DataFeeBpsUpdated(eventId(event));
  e.dataFeeBps = event.params.dataFeeBps;
  stamp(e, event);
  e.save();
}

export function handleSlashAmountUpdated(event: SlashAmountUpdatedEvent): void {
  const s = stats(event);
  s.slashAmount = event.params.slashAmount;
  s.save();
  const e = new SlashAmountUpdated(eventId(event));
  e.slashAmount = event.params.slashAmount;
  stamp(e, event);
  e.save();
}

export function handleReleaseFeeBpsUpdated(event: ReleaseFeeBpsUpdatedEvent): void {
  const s = stats(event);
  s.releaseFeeBps = event.params.releaseFeeBps;
  s.save();
  const e = new ReleaseFeeBpsUpdated(eventId(event));
  e.releaseFeeBps = event.params.releaseFeeBps;
  stamp(e, event);
  e.save();
}

export function handleCollateralBpsUpdated(event: CollateralBpsUpdatedEvent): void {
  const s = stats(event);
  s.collateralBps = event.params.collateralBps;
  s.save();
  const e = new CollateralBpsUpdated(eventId(event));
  e.collateralBps = event.params.collateralBps;
  stamp(e, event);
  e.save();
}

export function handleDisputeGameSet(event: DisputeGameSetEvent): void {
  const s = stats(event);
  s.disputeGame = event.params.game;
  s.save();
  const e = new DisputeGameSet(eventId(event));
  e.game = event.params.game;
  stamp(e, event);
  e.save();
}

export function handleJobReleasedNoFault(event: JobReleasedNoFaultEvent): void {
  const trainer = account(event.params.trainer, event);
  const j = loadJob(event.params.jobId, event);
  // A contribution in the job's data was withdrawn during the claim: no fee, the job is open again.
  j.status = "Open";
  j.trainer = null;
  j.dueAt = null;
  j.collateral = null;
  j.save();
  const e = new JobReleasedNoFault(eventId(event));
  e.job = j.id;
  e.trainer = trainer.id;
  e.datanet = event.params.datanetId.toString();
  e.contributionId = event.params.contributionId;
  stamp(e, event);
  e.save();
}
