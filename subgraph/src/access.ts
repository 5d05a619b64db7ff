// AccessRegistry: access requests, grants, purchases and their use by jobs.
import { Address, BigInt, ethereum } from "@graphprotocol/graph-ts";
import {
  AccessConsumed as AccessConsumedEvent,
  AccessGranted as AccessGrantedEvent,
  AccessPurchased as AccessPurchasedEvent,
  AccessRequested as AccessRequestedEvent,
  AccessRestored as AccessRestoredEvent,
  AccessRevoked as AccessRevokedEvent,
  PaidAccessDurationUpdated as PaidAccessDurationUpdatedEvent,
} from "../generated/AccessRegistry/AccessRegistry";
import {
  AccessConsumed,
  AccessGrant,
  AccessGranted,
  AccessPurchased,
  AccessRequested,
  AccessRestored,
  AccessRevoked,
  Datanet,
  PaidAccessDurationUpdated,
} from "../generated/schema";
import { ZERO, account, eventId, stamp, stats } from "./common";

function grantOf(datanetId: BigInt, who: Address, event: ethereum.Event): AccessGrant {
  const id = datanetId.toString() + "-" + who.toHexString();
  let g = AccessGrant.load(id);
  if (g == null) {
    const a = account(who, event);
    g = new AccessGrant(id);
    g.datanet = datanetId.toString();
    g.account = a.id;
    g.requested = false;
    g.active = false;
    g.usesLeft = 0;
    g.usesConsumed = 0;
    g.paid = ZERO;
    const s = stats(event);
    s.accessGrantCount = s.accessGrantCount + 1;
    s.save();
  }
  g.updatedAt = event.block.timestamp;
  return g;
}

export function handleAccessRequested(event: AccessRequestedEvent): void {
  const g = grantOf(event.params.datanetId, event.params.account, event);
  g.requested = true;
  g.requestCID = event.params.requestCID;
  g.save();
  const d = Datanet.load(g.datanet)!;
  d.accessRequestCount = d.accessRequestCount + 1;
  d.save();
  const e = new AccessRequested(eventId(event));
  e.grant = g.id;
  e.datanet = g.datanet;
  e.account = g.account;
  e.requestCID = event.params.requestCID;
  stamp(e, event);
  e.save();
}

export function handleAccessGranted(event: AccessGrantedEvent): void {
  const grantor = account(event.params.grantor, event);
  const g = grantOf(event.params.datanetId, event.params.account, event);
  g.active = true;
  g.grantor = grantor.id;
  g.expiresAt = event.params.expiresAt;
  g.usesLeft = event.params.usesLeft.toI32();
  g.save();
  const e = new AccessGranted(eventId(event));
  e.grant = g.id;
  e.datanet = g.datanet;
  e.account = g.account;
  e.grantor = grantor.id;
  e.expiresAt = event.params.expiresAt;
  e.uses = event.params.usesLeft.toI32();
  stamp(e, event);
  e.save();
}

export function handleAccessRevoked(event: AccessRevokedEvent): void {
  const revoker = account(event.params.revoker, event);
  const g = grantOf(event.params.datanetId, event.params.account, event);
  // Uses the account paid for survive a revocation.
  g.usesLeft = event.params.usesLeft.toI32();
  g.active = g.usesLeft > 0;
  g.save();
  const e = new AccessRevoked(eventId(event));
  e.grant = g.id;
  e.datanet = g.datanet;
  e.account = g.account;
  e.revoker = revoker.id;
  stamp(e, event);
  e.save();
}

export function handleAccessPurchased(event: AccessPurchasedEvent): void {
  const g = grantOf(event.params.datanetId, event.params.account, event);
  g.active = true;
  g.paid = g.paid.plus(event.params.paid);
  g.expiresAt = event.params.expiresAt;
  g.usesLeft = event.params.usesLeft.toI32();
  g.save();
  const e = new AccessPurchased(eventId(event));
  e.grant = g.id;
  e.datanet = g.datanet;
  e.account = g.account;
  e.uses = event.params.uses.toI32();
  e.paid = event.params.paid;
  e.expiresAt = event.params.expiresAt;
  e.usesLeft = event.params.usesLeft.toI32();
  stamp(e, event);
  e.save();
}

export function handleAccessConsumed(event: AccessConsumedEvent): void {
  const g = grantOf(event.params.datanetId, event.params.account, event);
  g.usesLeft = event.params.usesLeft.toI32();
  g.usesConsumed = g.usesConsumed + 1;
  g.save();
  const e = new AccessConsumed(eventId(event));
  e.grant = g.id;
  e.datanet = g.datanet;
  e.account = g.account;
  e.consumer = event.params.consumer;
  e.usesLeft = g.usesLeft;
  stamp(e, event);
  e.save();
}

export function handlePaidAccessDurationUpdated(event: PaidAccessDurationUpdatedEvent): void {
  const s = stats(event);
  s.paidAccessDuration = event.params.duration;
  s.save();
  const e = new PaidAccessDurationUpdated(eventId(event));
  e.duration = event.params.duration;
  stamp(e, event);
  e.save();
}

export function handleAccessRestored(event: AccessRestoredEvent): void {
  const g = grantOf(event.params.datanetId, event.params.account, event);
  // The job that consumed the use was cancelled.
  g.usesLeft = event.params.usesLeft.toI32();
  g.usesConsumed = g.usesConsumed - 1;
  g.save();
  const e = new AccessRestored(eventId(event));
  e.grant = g.id;
  e.datanet = g.datanet;
  e.account = g.account;
  e.consumer = event.params.consumer;
  e.usesLeft = g.usesLeft;
  stamp(e, event);
  e.save();
}
