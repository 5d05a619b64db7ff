// Helpers shared by every mapping: event ids and stamps, accounts, and the protocol-wide totals.
import { Address, BigInt, Bytes, Entity, Value, ethereum } from "@graphprotocol/graph-ts";
import { Account, ProtocolStats } from "../generated/schema";

export const ZERO = BigInt.zero();
export const ONE = BigInt.fromI32(1);
const STATS_ID = "protocol";

/** Event entity id: `<txHash>-<logIndex>`, unique per log. */
export function eventId(event: ethereum.Event): string {
  return event.transaction.hash.toHexString() + "-" + event.logIndex.toString();
}

/** Sets the `Event` interface fields and counts the event. Call after saving the stats, never while holding them. */
export function stamp(e: Entity, event: ethereum.Event): void {
  e.set("blockNumber", Value.fromBigInt(event.block.number));
  e.set("timestamp", Value.fromBigInt(event.block.timestamp));
  e.set("transactionHash", Value.fromBytes(event.transaction.hash));
  const s = stats(event);
  s.eventCount = s.eventCount + 1;
  s.save();
}

/** The protocol totals, created on first use. Save them before calling `stamp` or `account`. */
export function stats(event: ethereum.Event): ProtocolStats {
  let s = ProtocolStats.load(STATS_ID);
  if (s == null) {
    s = new ProtocolStats(STATS_ID);
    s.accountCount = 0;
    s.datanetCount = 0;
    s.contributionCount = 0;
    s.approvedContributionCount = 0;
    s.accessGrantCount = 0;
    s.trainerCount = 0;
    s.totalStaked = ZERO;
    s.totalSlashed = ZERO;
    s.jobCount = 0;
    s.finalizedJobCount = 0;
    s.totalBudgetPosted = ZERO;
    s.totalTrainerPayments = ZERO;
    s.totalDataFees = ZERO;
    s.baseModelCount = 0;
    s.modelCount = 0;
    s.channelCount = 0;
    s.totalVoucherRevenue = ZERO;
    s.totalRevenue = ZERO;
    s.totalRewardsClaimed = ZERO;
    s.totalPoolFunding = ZERO;
    s.disputeCount = 0;
    s.usageDisputeCount = 0;
    s.verifierCount = 0;
    s.totalVerifierStake = ZERO;
    s.eventCount = 0;
  }
  s.updatedAt = event.block.timestamp;
  return s;
}

/** The account of `address`, created (and counted) on first sight. */
export function account(address: Address, event: ethereum.Event): Account {
  let a = Account.load(address);
  if (a == null) {
    a = new Account(address);
    a.contributionCount = 0;
    a.approvedContributionCount = 0;
    a.rewardsClaimed = ZERO;
    a.firstSeenAt = event.block.timestamp;
    a.save();
    const s = stats(event);
    s.accountCount = s.accountCount + 1;
    s.save();
  }
  return a;
}

export function bigIntsToStrings(values: BigInt[]): string[] {
  const out = new Array<string>(0);
  for (let i = 0; i < values.length; i++) out.push(values[i].toString());
  return out;
}

export function bigIntsToI32s(values: BigInt[]): i32[] {
  const out = new Array<i32>(0);
  for (let i = 0; i < values.length; i++) out.push(values[i].toI32());
  return out;
}

export function max(a: BigInt, b: BigInt): BigInt {
  return a.gt(b) ? a : b;
}

export function bytesOf(address: Address): Bytes {
  return changetype<Bytes>(address);
}
