// UsageEpochs: use pays, per request. Per model its held and accounted revenue; per epoch its revenue, cited
// revenue, roots, report, status, pool and claims; per contributor (Account.usageClaims) what use paid them.
import {
  ChannelAccounted as ChannelAccountedEvent,
  EpochChallenged as EpochChallengedEvent,
  EpochCommitted as EpochCommittedEvent,
  EpochFinalized as EpochFinalizedEvent,
  EpochResolved as EpochResolvedEvent,
  ParamsUpdated as ParamsUpdatedEvent,
  UsageGameSet as UsageGameSetEvent,
  RevenueForwarded as RevenueForwardedEvent,
  RevenueHeld as RevenueHeldEvent,
  RevenueReleased as RevenueReleasedEvent,
  UsageClaimed as UsageClaimedEvent,
  UsageEpochsEnabled as UsageEpochsEnabledEvent,
} from "../generated/UsageEpochs/UsageEpochs";
import {
  ChannelAccounted,
  EpochChallenged,
  EpochCommitted,
  EpochFinalized,
  EpochResolved,
  ModelUsage,
  ModelVersion,
  ParamsUpdated,
  UsageGameSet,
  RevenueForwarded,
  RevenueHeld,
  RevenueReleased,
  UsageClaimed,
  UsageEpoch,
  UsageEpochsEnabled,
} from "../generated/schema";
import { BigInt } from "@graphprotocol/graph-ts";
import { ZERO, account, eventId, stamp } from "./common";

function usageOf(modelId: BigInt): ModelUsage {
  let u = ModelUsage.load(modelId.toString());
  if (u == null) {
    u = new ModelUsage(modelId.toString());
    u.modelId = modelId;
    if (ModelVersion.load(modelId.toString()) != null) u.model = modelId.toString();
    u.enabled = false;
    u.held = ZERO;
    u.released = ZERO;
    u.revenue = ZERO;
    u.citedRevenue = ZERO;
    u.claimed = ZERO;
    u.epochCount = 0;
  }
  return u;
}

export function handleUsageEpochsEnabled(event: UsageEpochsEnabledEvent): void {
  const owner = account(event.params.owner, event);
  const u = usageOf(event.params.modelId);
  u.enabled = true;
  u.save();
  const e = new UsageEpochsEnabled(eventId(event));
  e.usage = u.id;
  e.owner = owner.id;
  stamp(e, event);
  e.save();
}

export function handleRevenueHeld(event: RevenueHeldEvent): void {
  const u = usageOf(event.params.modelId);
  u.held = event.params.held;
  u.save();
  const e = new RevenueHeld(eventId(event));
  e.usage = u.id;
  e.from = event.params.from;
  e.amount = event.params.amount;
  e.held = event.params.held;
  stamp(e, event);
  e.save();
}

export function handleRevenueForwarded(event: RevenueForwardedEvent): void {
  const u = usageOf(event.params.modelId);
  u.save();
  const e = new RevenueForwarded(eventId(event));
  e.usage = u.id;
  e.amount = event.params.amount;
  stamp(e, event);
  e.save();
}

export function handleRevenueReleased(event: RevenueReleasedEvent): void {
  const u = usageOf(event.params.modelId);
  // a release empties what was held; revenue of a model without usage epochs passes straight on (nothing held)
  if (u.enabled) u.held = ZERO;
  u.released = u.released.plus(event.params.amount);
  u.save();
  const e = new RevenueReleased(eventId(event));
  e.usage = u.id;
  e.caller = event.params.caller;
  e.amount = event.params.amount;
  stamp(e, event);
  e.save();
}

export function handleChannelAccounted(event: ChannelAccountedEvent): void {
  // emitted before its EpochCommitted in the same transaction: the epoch entity follows
  const e = new ChannelAccounted(eventId(event));
  e.epoch = event.params.epochId.toString();
  e.channelId = event.params.channelId;
  e.fromCumulative = event.params.fromCumulative;
  e.toCumulative = event.params.toCumulative;
  stamp(e, event);
  e.save();
}

export function handleEpochCommitted(event: EpochCommittedEvent): void {
  const provider = account(event.params.provider, event);
  const u = usageOf(event.params.modelId);
  u.revenue = u.revenue.plus(event.params.revenue);
  u.citedRevenue = u.citedRevenue.plus(event.params.citedRevenue);
  u.epochCount = u.epochCount + 1;
  // the epoch takes held revenue first (then released credit), as the contract does
  u.held = u.held.gt(event.params.revenue) ? u.held.minus(event.params.revenue) : ZERO;
  u.save();
  const ep = new UsageEpoch(event.params.epochId.toString());
  ep.epochId = event.params.epochId;
  ep.usage = u.id;
  ep.modelId = event.params.modelId;
  ep.provider = provider.id;
  ep.revenue = event.params.revenue;
  ep.citedRevenue = event.params.citedRevenue;
  ep.requests = event.params.requests.toI32();
  ep.recordsRoot = event.params.recordsRoot;
  ep.claimsRoot = event.params.claimsRoot;
  ep.reportCID = event.params.reportCID;
  ep.committedAt = event.block.timestamp;
  ep.claimableAt = event.params.claimableAt;
  ep.status = "Committed";
  ep.claimed = ZERO;
  ep.claimCount = 0;
  ep.save();
  const e = new EpochCommitted(eventId(event));
  e.epoch = ep.id;
  e.modelId = event.params.modelId;
  e.provider = provider.id;
  e.revenue = event.params.revenue;
  e.citedRevenue = event.params.citedRevenue;
  e.requests = event.params.requests.toI32();
  e.reportCID = event.params.reportCID;
  stamp(e, event);
  e.save();
}

export function handleEpochChallenged(event: EpochChallengedEvent): void {
  const challenger = account(event.params.challenger, event);
  const ep = UsageEpoch.load(event.params.epochId.toString())!;
  ep.status = "Challenged";
  ep.challenger = challenger.id;
  ep.save();
  const e = new EpochChallenged(eventId(event));
  e.epoch = ep.id;
  e.challenger = challenger.id;
  e.bond = event.params.bond;
  e.reasonCID = event.params.reasonCID;
  stamp(e, event);
  e.save();
}

export function handleEpochResolved(event: EpochResolvedEvent): void {
  const ep = UsageEpoch.load(event.params.epochId.toString())!;
  if (event.params.upheld) {
    ep.status = "Committed";
    ep.claimableAt = event.block.timestamp;
  } else {
    ep.status = "Voided";
  }
  ep.save();
  const e = new EpochResolved(eventId(event));
  e.epoch = ep.id;
  e.upheld = event.params.upheld;
  stamp(e, event);
  e.save();
}

export function handleEpochFinalized(event: EpochFinalizedEvent): void {
  const ep = UsageEpoch.load(event.params.epochId.toString())!;
  ep.status = "Finalized";
  ep.pool = event.params.pool;
  ep.ownerAmount = event.params.ownerAmount;
  ep.trainerAmount = event.params.trainerAmount;
  ep.protocolAmount = event.params.protocolAmount;
  ep.forwarded = event.params.forwarded;
  ep.save();
  const e = new EpochFinalized(eventId(event));
  e.epoch = ep.id;
  e.pool = event.params.pool;
  e.ownerAmount = event.params.ownerAmount;
  e.trainerAmount = event.params.trainerAmount;
  e.protocolAmount = event.params.protocolAmount;
  e.forwarded = event.params.forwarded;
  stamp(e, event);
  e.save();
}

export function handleUsageClaimed(event: UsageClaimedEvent): void {
  const who = account(event.params.account, event);
  const ep = UsageEpoch.load(event.params.epochId.toString())!;
  ep.claimed = ep.claimed.plus(event.params.amount);
  ep.claimCount = ep.claimCount + 1;
  ep.save();
  const u = usageOf(event.params.modelId);
  u.claimed = u.claimed.plus(event.params.amount);
  u.save();
  who.rewardsClaimed = who.rewardsClaimed.plus(event.params.amount);
  who.save();
  const e = new UsageClaimed(eventId(event));
  e.epoch = ep.id;
  e.modelId = event.params.modelId;
  e.account = who.id;
  e.amount = event.params.amount;
  stamp(e, event);
  e.save();
}

/** The usage game that decides challenges (wired once at deployment; no arbiter). */
export function handleUsageGameSet(event: UsageGameSetEvent): void {
  const e = new UsageGameSet(eventId(event));
  e.game = event.params.game;
  stamp(e, event);
  e.save();
}

export function handleParamsUpdated(event: ParamsUpdatedEvent): void {
  const e = new ParamsUpdated(eventId(event));
  e.challengeWindow = event.params.challengeWindow;
  e.releaseDelay = event.params.releaseDelay;
  e.providerBond = event.params.providerBond;
  stamp(e, event);
  e.save();
}
