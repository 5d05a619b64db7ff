// VerifierPool: the staked verifiers both dispute games draw their committees from. Per verifier its stake (added,
// less penalties taken, zeroed by withdrawal), exit and withdrawal; the games add the seats it served and what it
// was paid or penalised (disputes.ts, usageDisputes.ts).
import {
  GamesSet as GamesSetEvent,
  StakeTaken as StakeTakenEvent,
  VerifierExitRequested as VerifierExitRequestedEvent,
  VerifierStaked as VerifierStakedEvent,
  VerifierWithdrawn as VerifierWithdrawnEvent,
} from "../generated/VerifierPool/VerifierPool";
import {
  GamesSet,
  StakeTaken,
  Verifier,
  VerifierExitRequested,
  VerifierStaked,
  VerifierWithdrawn,
} from "../generated/schema";
import { Address, BigInt, Bytes, ethereum } from "@graphprotocol/graph-ts";
import { ZERO, account, eventId, stamp, stats } from "./common";

/** The verifier of `address`, created (not saved) on first sight. */
export function verifierOf(address: Address, event: ethereum.Event): Verifier {
  let v = Verifier.load(address);
  if (v == null) {
    const a = account(address, event);
    v = new Verifier(address);
    v.account = a.id;
    v.stake = ZERO;
    v.active = false;
    v.withdrawn = ZERO;
    v.taken = ZERO;
    v.seatCount = 0;
    v.paid = ZERO;
    v.paymentCount = 0;
    v.penaltyCount = 0;
    v.stakedAt = event.block.timestamp;
  }
  v.updatedAt = event.block.timestamp;
  return v;
}

/** A game drew `members` for a committee: one more seat each. */
export function countSeats(members: Address[], event: ethereum.Event): void {
  for (let i = 0; i < members.length; i++) {
    const v = Verifier.load(members[i]);
    if (v == null) continue; // drawn verifiers are always staked first; nothing to count otherwise
    v.seatCount = v.seatCount + 1;
    v.updatedAt = event.block.timestamp;
    v.save();
  }
}

/** A game paid a coherent verifier (`paid`) or penalised one (the stake itself follows StakeTaken). */
export function countPayment(address: Address, amount: BigInt, paid: boolean, event: ethereum.Event): void {
  const v = Verifier.load(address);
  if (v == null) return;
  if (paid) {
    v.paid = v.paid.plus(amount);
    v.paymentCount = v.paymentCount + 1;
  } else {
    v.penaltyCount = v.penaltyCount + 1;
  }
  v.updatedAt = event.block.timestamp;
  v.save();
}

export function handleGamesSet(event: GamesSetEvent): void {
  const games = new Array<Bytes>(0);
  for (let i = 0; i < event.params.games.length; i++) games.push(event.params.games[i]);
  const e = new GamesSet(eventId(event));
  e.games = games;
  stamp(e, event);
  e.save();
}

export function handleVerifierStaked(event: VerifierStakedEvent): void {
  const v = verifierOf(event.params.verifier, event);
  const listed = v.active;
  v.stake = event.params.stake;
  v.active = true;
  v.exitAt = null; // staking cancels a pending exit
  v.save();
  const s = stats(event);
  if (!listed) s.verifierCount = s.verifierCount + 1;
  s.totalVerifierStake = s.totalVerifierStake.plus(event.params.amount);
  s.save();
  const e = new VerifierStaked(eventId(event));
  e.verifier = v.id;
  e.amount = event.params.amount;
  e.stake = event.params.stake;
  stamp(e, event);
  e.save();
}

export function handleVerifierExitRequested(event: VerifierExitRequestedEvent): void {
  const v = verifierOf(event.params.verifier, event);
  v.exitAt = event.params.exitAt;
  v.save();
  const e = new VerifierExitRequested(eventId(event));
  e.verifier = v.id;
  e.exitAt = event.params.exitAt;
  stamp(e, event);
  e.save();
}

export function handleVerifierWithdrawn(event: VerifierWithdrawnEvent): void {
  const v = verifierOf(event.params.verifier, event);
  const listed = v.active;
  v.withdrawn = v.withdrawn.plus(event.params.amount);
  v.stake = ZERO;
  v.active = false;
  v.exitAt = null;
  v.save();
  const s = stats(event);
  if (listed) s.verifierCount = s.verifierCount - 1;
  s.totalVerifierStake = s.totalVerifierStake.minus(event.params.amount);
  s.save();
  const e = new VerifierWithdrawn(eventId(event));
  e.verifier = v.id;
  e.amount = event.params.amount;
  stamp(e, event);
  e.save();
}

export function handleStakeTaken(event: StakeTakenEvent): void {
  const v = verifierOf(event.params.verifier, event);
  v.stake = v.stake.minus(event.params.amount);
  v.taken = v.taken.plus(event.params.amount);
  v.save();
  const s = stats(event);
  s.totalVerifierStake = s.totalVerifierStake.minus(event.params.amount);
  s.save();
  const e = new StakeTaken(eventId(event));
  e.game = event.params.game;
  e.verifier = v.id;
  e.amount = event.params.amount;
  stamp(e, event);
  e.save();
}
