// PaymentChannels: payer -> provider channels per model, session keys and redeemed vouchers.
import {
  ChannelOpened as ChannelOpenedEvent,
  ChannelToppedUp as ChannelToppedUpEvent,
  ChannelWithdrawn as ChannelWithdrawnEvent,
  CloseTimeoutUpdated as CloseTimeoutUpdatedEvent,
  SessionKeyRevoked as SessionKeyRevokedEvent,
  SessionKeySet as SessionKeySetEvent,
  VoucherRedeemed as VoucherRedeemedEvent,
  WithdrawalRequested as WithdrawalRequestedEvent,
} from "../generated/PaymentChannels/PaymentChannels";
import {
  Channel,
  ChannelOpened,
  ChannelToppedUp,
  ChannelWithdrawn,
  CloseTimeoutUpdated,
  ModelVersion,
  SessionKeyRevoked,
  SessionKeySet,
  VoucherRedeemed,
  WithdrawalRequested,
} from "../generated/schema";
import { Bytes, ethereum } from "@graphprotocol/graph-ts";
import { ZERO, account, eventId, stamp, stats } from "./common";

function loadChannel(id: Bytes, event: ethereum.Event): Channel {
  const c = Channel.load(id)!;
  c.updatedAt = event.block.timestamp;
  return c;
}

export function handleChannelOpened(event: ChannelOpenedEvent): void {
  const payer = account(event.params.payer, event);
  const provider = account(event.params.provider, event);
  const c = new Channel(event.params.channelId);
  c.payer = payer.id;
  c.provider = provider.id;
  c.modelId = event.params.modelId;
  if (ModelVersion.load(event.params.modelId.toString()) != null) c.model = event.params.modelId.toString();
  c.deposit = event.params.amount;
  c.redeemed = ZERO;
  c.sessionKey = event.params.sessionKey;
  c.sessionKeyExpiresAt = event.params.sessionKeyExpiresAt;
  c.withdrawn = ZERO;
  c.closed = false;
  c.openedAt = event.block.timestamp;
  c.updatedAt = event.block.timestamp;
  c.save();
  const s = stats(event);
  s.channelCount = s.channelCount + 1;
  s.save();
  const e = new ChannelOpened(eventId(event));
  e.channel = c.id;
  e.payer = payer.id;
  e.provider = provider.id;
  e.modelId = event.params.modelId;
  e.amount = event.params.amount;
  e.sessionKey = event.params.sessionKey;
  e.sessionKeyExpiresAt = event.params.sessionKeyExpiresAt;
  stamp(e, event);
  e.save();
}

export function handleChannelToppedUp(event: ChannelToppedUpEvent): void {
  const c = loadChannel(event.params.channelId, event);
  c.deposit = event.params.deposit;
  c.withdrawableAt = null; // a top-up cancels a pending withdrawal
  c.save();
  const e = new ChannelToppedUp(eventId(event));
  e.channel = c.id;
  e.amount = event.params.amount;
  e.deposit = event.params.deposit;
  stamp(e, event);
  e.save();
}

export function handleSessionKeySet(event: SessionKeySetEvent): void {
  const c = loadChannel(event.params.channelId, event);
  c.sessionKey = event.params.sessionKey;
  c.sessionKeyExpiresAt = event.params.expiresAt;
  c.save();
  const e = new SessionKeySet(eventId(event));
  e.channel = c.id;
  e.sessionKey = event.params.sessionKey;
  e.expiresAt = event.params.expiresAt;
  stamp(e, event);
  e.save();
}

export function handleSessionKeyRevoked(event: SessionKeyRevokedEvent): void {
  const c = loadChannel(event.params.channelId, event);
  c.sessionKeyExpiresAt = event.params.validUntil;
  c.save();
  const e = new SessionKeyRevoked(eventId(event));
  e.channel = c.id;
  e.sessionKey = event.params.sessionKey;
  e.validUntil = event.params.validUntil;
  stamp(e, event);
  e.save();
}

export function handleVoucherRedeemed(event: VoucherRedeemedEvent): void {
  const c = loadChannel(event.params.channelId, event);
  c.redeemed = event.params.cumulativeAmount;
  c.save();
  const s = stats(event);
  s.totalVoucherRevenue = s.totalVoucherRevenue.plus(event.params.amount);
  s.save();
  const e = new VoucherRedeemed(eventId(event));
  e.channel = c.id;
  e.modelId = event.params.modelId;
  e.signer = event.params.signer;
  e.cumulativeAmount = event.params.cumulativeAmount;
  e.amount = event.params.amount;
  stamp(e, event);
  e.save();
}

export function handleWithdrawalRequested(event: WithdrawalRequestedEvent): void {
  const payer = account(event.params.payer, event);
  const c = loadChannel(event.params.channelId, event);
  c.withdrawableAt = event.params.withdrawableAt;
  c.save();
  const e = new WithdrawalRequested(eventId(event));
  e.channel = c.id;
  e.payer = payer.id;
  e.withdrawableAt = event.params.withdrawableAt;
  stamp(e, event);
  e.save();
}

export function handleChannelWithdrawn(event: ChannelWithdrawnEvent): void {
  const payer = account(event.params.payer, event);
  const c = loadChannel(event.params.channelId, event);
  c.withdrawn = c.withdrawn.plus(event.params.amount);
  c.closed = true;
  c.save();
  const e = new ChannelWithdrawn(eventId(event));
  e.channel = c.id;
  e.payer = payer.id;
  e.amount = event.params.amount;
  stamp(e, event);
  e.save();
}

export function handleCloseTimeoutUpdated(event: CloseTimeoutUpdatedEvent): void {
  const s = stats(event);
  s.closeTimeout = event.params.closeTimeout;
  s.save();
  const e = new CloseTimeoutUpdated(eventId(event));
  e.closeTimeout = event.params.closeTimeout;
  stamp(e, event);
  e.save();
}
