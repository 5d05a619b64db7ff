// TrainerRegistry: stakes, cooldowns, slashing and profiles of trainer operators.
import { Address, ethereum } from "@graphprotocol/graph-ts";
import {
  ActiveJobsChanged as ActiveJobsChangedEvent,
  MinStakeUpdated as MinStakeUpdatedEvent,
  ProfileUpdated as ProfileUpdatedEvent,
  Slashed as SlashedEvent,
  StakeWithdrawn as StakeWithdrawnEvent,
  Staked as StakedEvent,
  UnstakeCooldownUpdated as UnstakeCooldownUpdatedEvent,
  UnstakeRequested as UnstakeRequestedEvent,
} from "../generated/TrainerRegistry/TrainerRegistry";
import {
  ActiveJobsChanged,
  MinStakeUpdated,
  ProfileUpdated,
  Slashed,
  StakeWithdrawn,
  Staked,
  Trainer,
  UnstakeCooldownUpdated,
  UnstakeRequested,
} from "../generated/schema";
import { ZERO, account, eventId, max, stamp, stats } from "./common";

/** The trainer of `address`, created (and counted) on first sight. Used by the job market too. */
export function trainerOf(address: Address, event: ethereum.Event): Trainer {
  let t = Trainer.load(address);
  if (t == null) {
    const a = account(address, event);
    t = new Trainer(address);
    t.account = a.id;
    t.staked = ZERO;
    t.unstaking = ZERO;
    t.slashed = ZERO;
    t.activeJobs = 0;
    t.locked = ZERO;
    t.jobsCompleted = 0;
    t.earnings = ZERO;
    const s = stats(event);
    s.trainerCount = s.trainerCount + 1;
    s.save();
  }
  t.updatedAt = event.block.timestamp;
  return t;
}

export function handleStaked(event: StakedEvent): void {
  const t = trainerOf(event.params.trainer, event);
  t.staked = event.params.totalStaked;
  t.save();
  const s = stats(event);
  s.totalStaked = s.totalStaked.plus(event.params.amount);
  s.save();
  const e = new Staked(eventId(event));
  e.trainer = t.id;
  e.amount = event.params.amount;
  e.totalStaked = event.params.totalStaked;
  stamp(e, event);
  e.save();
}

export function handleUnstakeRequested(event: UnstakeRequestedEvent): void {
  const t = trainerOf(event.params.trainer, event);
  t.staked = max(ZERO, t.staked.minus(event.params.amount));
  t.unstaking = event.params.unstaking;
  t.unstakeAvailableAt = event.params.availableAt;
  t.save();
  const s = stats(event);
  s.totalStaked = max(ZERO, s.totalStaked.minus(event.params.amount));
  s.save();
  const e = new UnstakeRequested(eventId(event));
  e.trainer = t.id;
  e.amount = event.params.amount;
  e.unstaking = event.params.unstaking;
  e.availableAt = event.params.availableAt;
  stamp(e, event);
  e.save();
}

export function handleStakeWithdrawn(event: StakeWithdrawnEvent): void {
  const t = trainerOf(event.params.trainer, event);
  t.unstaking = max(ZERO, t.unstaking.minus(event.params.amount));
  t.save();
  const e = new StakeWithdrawn(eventId(event));
  e.trainer = t.id;
  e.amount = event.params.amount;
  stamp(e, event);
  e.save();
}

export function handleSlashed(event: SlashedEvent): void {
  const t = trainerOf(event.params.trainer, event);
  t.staked = max(ZERO, t.staked.minus(event.params.amount));
  t.slashed = t.slashed.plus(event.params.amount);
  t.save();
  const s = stats(event);
  s.totalSlashed = s.totalSlashed.plus(event.params.amount);
  s.totalStaked = max(ZERO, s.totalStaked.minus(event.params.amount));
  s.save();
  const e = new Slashed(eventId(event));
  e.trainer = t.id;
  e.slasher = event.params.slasher;
  e.amount = event.params.amount;
  stamp(e, event);
  e.save();
}

export function handleProfileUpdated(event: ProfileUpdatedEvent): void {
  const t = trainerOf(event.params.trainer, event);
  t.profileCID = event.params.profileCID;
  t.save();
  const e = new ProfileUpdated(eventId(event));
  e.trainer = t.id;
  e.profileCID = event.params.profileCID;
  stamp(e, event);
  e.save();
}

export function handleActiveJobsChanged(event: ActiveJobsChangedEvent): void {
  const t = trainerOf(event.params.trainer, event);
  t.activeJobs = event.params.activeJobs.toI32();
  t.locked = event.params.locked;
  t.save();
  const e = new ActiveJobsChanged(eventId(event));
  e.trainer = t.id;
  e.activeJobs = t.activeJobs;
  e.locked = t.locked;
  stamp(e, event);
  e.save();
}

export function handleMinStakeUpdated(event: MinStakeUpdatedEvent): void {
  const s = stats(event);
  s.minStake = event.params.minStake;
  s.save();
  const e = new MinStakeUpdated(eventId(event));
  e.minStake = event.params.minStake;
  stamp(e, event);
  e.save();
}

export function handleUnstakeCooldownUpdated(event: UnstakeCooldownUpdatedEvent): void {
  const s = stats(event);
  s.unstakeCooldown = event.params.cooldown;
  s.save();
  const e = new UnstakeCooldownUpdated(eventId(event));
  e.cooldown = event.params.cooldown;
  stamp(e, event);
  e.save();
}
