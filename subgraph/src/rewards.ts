// RewardDistributor: model revenue and its split, contributor claims, Datanet reward pools.
import { Address, BigInt, Bytes, ethereum } from "@graphprotocol/graph-ts";
import {
  DatanetPoolFunded as DatanetPoolFundedEvent,
  ModelRegistered as ModelRegisteredEvent,
  PoolDistributionCreated as PoolDistributionCreatedEvent,
  PoolRewardClaimed as PoolRewardClaimedEvent,
  RevenueDeposited as RevenueDepositedEvent,
  RewardClaimed as RewardClaimedEvent,
  SharesPaid as SharesPaidEvent,
  SplitUpdated as SplitUpdatedEvent,
  TreasuryUpdated as TreasuryUpdatedEvent,
  UnclaimedSwept as UnclaimedSweptEvent,
  ClaimWindowUpdated as ClaimWindowUpdatedEvent,
} from "../generated/RewardDistributor/RewardDistributor";
import {
  Datanet,
  DatanetPoolFunded,
  ModelRegistered,
  ModelRewards,
  PoolDistribution,
  PoolDistributionCreated,
  PoolRewardClaimed,
  RevenueDeposited,
  RewardClaimed,
  RewardPool,
  SharesPaid,
  SplitUpdated,
  TreasuryUpdated,
  UnclaimedSwept,
  ClaimWindowUpdated,
} from "../generated/schema";
import { ZERO, account, eventId, max, stamp, stats } from "./common";

function rewardsOf(modelId: BigInt, trainer: Address, event: ethereum.Event): ModelRewards {
  let r = ModelRewards.load(modelId.toString());
  if (r == null) {
    r = new ModelRewards(modelId.toString());
    r.model = modelId.toString();
    r.trainer = account(trainer, event).id;
    r.attributionRoot = Bytes.fromHexString(
      "0x0000000000000000000000000000000000000000000000000000000000000000",
    );
    r.totalWeight = ZERO;
    r.ownerBps = 0;
    r.trainerBps = 0;
    r.protocolBps = 0;
    r.revenue = ZERO;
    r.ownerPaid = ZERO;
    r.trainerPaid = ZERO;
    r.protocolPaid = ZERO;
    r.contributorsClaimed = ZERO;
    r.swept = ZERO;
  }
  return r;
}

function poolOf(datanetId: BigInt): RewardPool {
  const id = datanetId.toString();
  let p = RewardPool.load(id);
  if (p == null) {
    p = new RewardPool(id);
    p.datanet = id;
    p.balance = ZERO;
    p.totalFunded = ZERO;
    p.totalDistributed = ZERO;
    p.totalClaimed = ZERO;
    const d = Datanet.load(id);
    if (d != null) {
      d.rewardPool = id;
      d.save();
    }
  }
  return p;
}

export function handleModelRegistered(event: ModelRegisteredEvent): void {
  const r = rewardsOf(event.params.modelId, event.params.trainer, event);
  r.trainer = account(event.params.trainer, event).id;
  r.attributionRoot = event.params.attributionRoot;
  r.totalWeight = event.params.totalWeight;
  r.ownerBps = event.params.split.ownerBps;
  r.trainerBps = event.params.split.trainerBps;
  r.protocolBps = event.params.split.protocolBps;
  r.save();
  const e = new ModelRegistered(eventId(event));
  e.rewards = r.id;
  e.modelId = event.params.modelId;
  e.trainer = event.params.trainer;
  e.attributionRoot = r.attributionRoot;
  e.totalWeight = r.totalWeight;
  e.ownerBps = r.ownerBps;
  e.trainerBps = r.trainerBps;
  e.protocolBps = r.protocolBps;
  stamp(e, event);
  e.save();
}

export function handleRevenueDeposited(event: RevenueDepositedEvent): void {
  const r = ModelRewards.load(event.params.modelId.toString());
  if (r != null) {
    r.revenue = event.params.totalRevenue;
    r.save();
  }
  const s = stats(event);
  s.totalRevenue = s.totalRevenue.plus(event.params.amount);
  s.save();
  const e = new RevenueDeposited(eventId(event));
  e.modelId = event.params.modelId;
  e.from = event.params.from;
  e.amount = event.params.amount;
  e.totalRevenue = event.params.totalRevenue;
  stamp(e, event);
  e.save();
}

export function handleSharesPaid(event: SharesPaidEvent): void {
  const r = ModelRewards.load(event.params.modelId.toString());
  if (r != null) {
    r.ownerPaid = r.ownerPaid.plus(event.params.ownerAmount);
    r.trainerPaid = r.trainerPaid.plus(event.params.trainerAmount);
    r.protocolPaid = r.protocolPaid.plus(event.params.protocolAmount);
    r.save();
  }
  const e = new SharesPaid(eventId(event));
  e.modelId = event.params.modelId;
  e.owner = event.params.owner;
  e.ownerAmount = event.params.ownerAmount;
  e.trainer = event.params.trainer;
  e.trainerAmount = event.params.trainerAmount;
  e.treasury = event.params.treasury;
  e.protocolAmount = event.params.protocolAmount;
  stamp(e, event);
  e.save();
}

export function handleRewardClaimed(event: RewardClaimedEvent): void {
  const a = account(event.params.account, event);
  a.rewardsClaimed = a.rewardsClaimed.plus(event.params.amount);
  a.save();
  const r = ModelRewards.load(event.params.modelId.toString());
  if (r != null) {
    r.contributorsClaimed = r.contributorsClaimed.plus(event.params.amount);
    r.save();
  }
  const s = stats(event);
  s.totalRewardsClaimed = s.totalRewardsClaimed.plus(event.params.amount);
  s.save();
  const e = new RewardClaimed(eventId(event));
  e.modelId = event.params.modelId;
  e.account = a.id;
  e.datanetId = event.params.datanetId;
  e.contributionId = event.params.contributionId;
  e.weight = event.params.weight;
  e.amount = event.params.amount;
  e.totalClaimed = event.params.totalClaimed;
  stamp(e, event);
  e.save();
}

export function handleDatanetPoolFunded(event: DatanetPoolFundedEvent): void {
  // The 4th parameter is the pool's new balance; read by position because its name changed in the
  // contracts (poolBalance -> balance) and the mapping must build against either ABI.
  const poolBalance = event.parameters[3].value.toBigInt();
  const p = poolOf(event.params.datanetId);
  p.balance = poolBalance;
  p.totalFunded = p.totalFunded.plus(event.params.amount);
  p.save();
  const s = stats(event);
  s.totalPoolFunding = s.totalPoolFunding.plus(event.params.amount);
  s.save();
  const e = new DatanetPoolFunded(eventId(event));
  e.pool = p.id;
  e.from = event.params.from;
  e.amount = event.params.amount;
  e.poolBalance = poolBalance;
  stamp(e, event);
  e.save();
}

export function handlePoolDistributionCreated(event: PoolDistributionCreatedEvent): void {
  const curator = account(event.params.curator, event);
  const p = poolOf(event.params.datanetId);
  p.totalDistributed = p.totalDistributed.plus(event.params.amount);
  p.balance = max(ZERO, p.balance.minus(event.params.amount));
  p.save();
  const d = new PoolDistribution(event.params.distributionId.toString());
  d.pool = p.id;
  d.datanet = p.datanet;
  d.curator = curator.id;
  d.root = event.params.root;
  d.totalWeight = event.params.totalWeight;
  d.amount = event.params.amount;
  d.claimed = ZERO;
  d.reportCID = event.params.reportCID;
  d.createdAt = event.block.timestamp;
  d.save();
  const e = new PoolDistributionCreated(eventId(event));
  e.distribution = d.id;
  e.pool = p.id;
  e.curator = curator.id;
  e.root = d.root;
  e.totalWeight = d.totalWeight;
  e.amount = d.amount;
  e.reportCID = d.reportCID;
  stamp(e, event);
  e.save();
}

export function handlePoolRewardClaimed(event: PoolRewardClaimedEvent): void {
  const a = account(event.params.account, event);
  a.rewardsClaimed = a.rewardsClaimed.plus(event.params.amount);
  a.save();
  const d = PoolDistribution.load(event.params.distributionId.toString())!;
  d.claimed = d.claimed.plus(event.params.amount);
  d.save();
  const p = poolOf(event.params.datanetId);
  p.totalClaimed = p.totalClaimed.plus(event.params.amount);
  p.save();
  const s = stats(event);
  s.totalRewardsClaimed = s.totalRewardsClaimed.plus(event.params.amount);
  s.save();
  const e = new PoolRewardClaimed(eventId(event));
  e.distribution = d.id;
  e.pool = p.id;
  e.account = a.id;
  e.weight = event.params.weight;
  e.amount = event.params.amount;
  stamp(e, event);
  e.save();
}

export function handleSplitUpdated(event: SplitUpdatedEvent): void {
  const s = stats(event);
  s.ownerBps = event.params.split.ownerBps;
  s.trainerBps = event.params.split.trainerBps;
  s.protocolBps = event.params.split.protocolBps;
  s.save();
  const e = new SplitUpdated(eventId(event));
  e.ownerBps = event.params.split.ownerBps;
  e.trainerBps = event.params.split.trainerBps;
  e.protocolBps = event.params.split.protocolBps;
  stamp(e, event);
  e.save();
}

export function handleTreasuryUpdated(event: TreasuryUpdatedEvent): void {
  const s = stats(event);
  s.treasury = event.params.treasury;
  s.save();
  const e = new TreasuryUpdated(eventId(event));
  e.treasury = event.params.treasury;
  stamp(e, event);
  e.save();
}

export function handleUnclaimedSwept(event: UnclaimedSweptEvent): void {
  // The pools' side arrives as DatanetPoolFunded events from the same transaction.
  const r = ModelRewards.load(event.params.modelId.toString());
  if (r != null) {
    r.swept = event.params.totalSwept;
    r.save();
  }
  const e = new UnclaimedSwept(eventId(event));
  e.modelId = event.params.modelId;
  e.unclaimedWeight = event.params.unclaimedWeight;
  e.amount = event.params.amount;
  e.totalSwept = event.params.totalSwept;
  stamp(e, event);
  e.save();
}

export function handleClaimWindowUpdated(event: ClaimWindowUpdatedEvent): void {
  const e = new ClaimWindowUpdated(eventId(event));
  e.claimWindow = BigInt.fromI64(event.params.claimWindow.toI64());
  stamp(e, event);
  e.save();
}
