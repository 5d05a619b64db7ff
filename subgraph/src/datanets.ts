// DatanetRegistry: Datanets, their curators and contributions.
import { Address, BigInt, Bytes, ethereum } from "@graphprotocol/graph-ts";
import {
  AccessPolicyUpdated as AccessPolicyUpdatedEvent,
  ContributionApproved as ContributionApprovedEvent,
  ContributionRejected as ContributionRejectedEvent,
  ContributionSubmitted as ContributionSubmittedEvent,
  ContributionWithdrawn as ContributionWithdrawnEvent,
  CuratorAdded as CuratorAddedEvent,
  CuratorRemoved as CuratorRemovedEvent,
  DatanetCreated as DatanetCreatedEvent,
  DatanetMetadataUpdated as DatanetMetadataUpdatedEvent,
  DatanetOwnershipTransferred as DatanetOwnershipTransferredEvent,
} from "../generated/DatanetRegistry/DatanetRegistry";
import {
  AccessPolicyUpdated,
  Contribution,
  ContributionApproved,
  ContributionRejected,
  ContributionSubmitted,
  ContributionWithdrawn,
  CuratorAdded,
  CuratorRemoved,
  Datanet,
  DatanetCreated,
  DatanetMetadataUpdated,
  DatanetOwnershipTransferred,
} from "../generated/schema";
import { ZERO, account, eventId, stamp, stats } from "./common";

const POLICIES = ["Open", "Approval", "Paid"];

export function policyName(policy: i32): string {
  return policy >= 0 && policy < POLICIES.length ? POLICIES[policy] : "Open";
}

export function contributionId(datanetId: BigInt, contributionId: BigInt): string {
  return datanetId.toString() + "-" + contributionId.toString();
}

function loadDatanet(id: BigInt, event: ethereum.Event): Datanet {
  const d = Datanet.load(id.toString())!;
  d.updatedAt = event.block.timestamp;
  return d;
}

export function handleDatanetCreated(event: DatanetCreatedEvent): void {
  const owner = account(event.params.owner, event);
  const curators = new Array<Bytes>(0);
  for (let i = 0; i < event.params.curators.length; i++) {
    curators.push(account(event.params.curators[i], event).id);
  }
  const d = new Datanet(event.params.datanetId.toString());
  d.datanetId = event.params.datanetId;
  d.owner = owner.id;
  d.metadataCID = event.params.metadataCID;
  d.policy = policyName(event.params.policy);
  d.price = event.params.price;
  d.curators = curators;
  d.version = 0;
  d.contributionCount = 0;
  d.approvedCount = 0;
  d.rejectedCount = 0;
  d.withdrawnCount = 0;
  d.totalRecords = ZERO;
  d.totalBytes = ZERO;
  d.dataFeesEarned = ZERO;
  d.accessRequestCount = 0;
  d.createdAt = event.block.timestamp;
  d.createdAtBlock = event.block.number;
  d.updatedAt = event.block.timestamp;
  d.save();
  const s = stats(event);
  s.datanetCount = s.datanetCount + 1;
  s.save();

  const e = new DatanetCreated(eventId(event));
  e.datanet = d.id;
  e.owner = owner.id;
  e.metadataCID = d.metadataCID;
  e.policy = d.policy;
  e.price = d.price;
  e.curators = curators;
  stamp(e, event);
  e.save();
}

export function handleDatanetMetadataUpdated(event: DatanetMetadataUpdatedEvent): void {
  const d = loadDatanet(event.params.datanetId, event);
  d.metadataCID = event.params.metadataCID;
  d.save();
  const e = new DatanetMetadataUpdated(eventId(event));
  e.datanet = d.id;
  e.metadataCID = d.metadataCID;
  stamp(e, event);
  e.save();
}

export function handleAccessPolicyUpdated(event: AccessPolicyUpdatedEvent): void {
  const d = loadDatanet(event.params.datanetId, event);
  d.policy = policyName(event.params.policy);
  d.price = event.params.price;
  d.save();
  const e = new AccessPolicyUpdated(eventId(event));
  e.datanet = d.id;
  e.policy = d.policy;
  e.price = d.price;
  stamp(e, event);
  e.save();
}

export function handleCuratorAdded(event: CuratorAddedEvent): void {
  const curator = account(event.params.curator, event);
  const d = loadDatanet(event.params.datanetId, event);
  const curators = d.curators;
  let present = false;
  for (let i = 0; i < curators.length; i++) if (curators[i].equals(curator.id)) present = true;
  if (!present) curators.push(curator.id);
  d.curators = curators;
  d.save();
  const e = new CuratorAdded(eventId(event));
  e.datanet = d.id;
  e.curator = curator.id;
  stamp(e, event);
  e.save();
}

export function handleCuratorRemoved(event: CuratorRemovedEvent): void {
  const curator = account(event.params.curator, event);
  const d = loadDatanet(event.params.datanetId, event);
  const kept = new Array<Bytes>(0);
  const curators = d.curators;
  for (let i = 0; i < curators.length; i++) if (!curators[i].equals(curator.id)) kept.push(curators[i]);
  d.curators = kept;
  d.save();
  const e = new CuratorRemoved(eventId(event));
  e.datanet = d.id;
  e.curator = curator.id;
  stamp(e, event);
  e.save();
}

export function handleDatanetOwnershipTransferred(event: DatanetOwnershipTransferredEvent): void {
  const previous = account(event.params.previousOwner, event);
  const next = account(event.params.newOwner, event);
  const d = loadDatanet(event.params.datanetId, event);
  d.owner = next.id;
  d.save();
  const e = new DatanetOwnershipTransferred(eventId(event));
  e.datanet = d.id;
  e.previousOwner = previous.id;
  e.newOwner = next.id;
  stamp(e, event);
  e.save();
}

export function handleContributionSubmitted(event: ContributionSubmittedEvent): void {
  const contributor = account(event.params.contributor, event);
  contributor.contributionCount = contributor.contributionCount + 1;
  contributor.save();
  const d = loadDatanet(event.params.datanetId, event);
  d.contributionCount = d.contributionCount + 1;
  d.save();
  const c = new Contribution(contributionId(event.params.datanetId, event.params.contributionId));
  c.datanet = d.id;
  c.contributionId = event.params.contributionId;
  c.contributor = contributor.id;
  c.cid = event.params.cid;
  c.contentHash = event.params.contentHash;
  c.records = event.params.records.toI32();
  c.byteSize = event.params.byteSize;
  c.encrypted = event.params.encrypted;
  c.status = "Pending";
  c.submittedAt = event.block.timestamp;
  c.submittedAtBlock = event.block.number;
  c.updatedAt = event.block.timestamp;
  c.save();
  const s = stats(event);
  s.contributionCount = s.contributionCount + 1;
  s.save();

  const e = new ContributionSubmitted(eventId(event));
  e.datanet = d.id;
  e.contribution = c.id;
  e.contributor = contributor.id;
  e.cid = c.cid;
  e.contentHash = c.contentHash;
  e.records = c.records;
  e.byteSize = c.byteSize;
  e.encrypted = c.encrypted;
  stamp(e, event);
  e.save();
}

export function handleContributionApproved(event: ContributionApprovedEvent): void {
  const curator = account(event.params.curator, event);
  const c = Contribution.load(contributionId(event.params.datanetId, event.params.contributionId))!;
  c.status = "Approved";
  c.curator = curator.id;
  c.version = event.params.version.toI32();
  c.updatedAt = event.block.timestamp;
  c.save();
  const contributor = account(Address.fromBytes(c.contributor), event);
  contributor.approvedContributionCount = contributor.approvedContributionCount + 1;
  contributor.save();
  const d = loadDatanet(event.params.datanetId, event);
  d.version = event.params.version.toI32();
  d.approvedCount = d.approvedCount + 1;
  d.totalRecords = d.totalRecords.plus(BigInt.fromI32(c.records));
  d.totalBytes = d.totalBytes.plus(c.byteSize);
  d.save();
  const s = stats(event);
  s.approvedContributionCount = s.approvedContributionCount + 1;
  s.save();

  const e = new ContributionApproved(eventId(event));
  e.datanet = d.id;
  e.contribution = c.id;
  e.curator = curator.id;
  e.version = d.version;
  stamp(e, event);
  e.save();
}

export function handleContributionRejected(event: ContributionRejectedEvent): void {
  const curator = account(event.params.curator, event);
  const c = Contribution.load(contributionId(event.params.datanetId, event.params.contributionId))!;
  c.status = "Rejected";
  c.curator = curator.id;
  c.updatedAt = event.block.timestamp;
  c.save();
  const d = loadDatanet(event.params.datanetId, event);
  d.rejectedCount = d.rejectedCount + 1;
  d.save();
  const e = new ContributionRejected(eventId(event));
  e.datanet = d.id;
  e.contribution = c.id;
  e.curator = curator.id;
  stamp(e, event);
  e.save();
}

export function handleContributionWithdrawn(event: ContributionWithdrawnEvent): void {
  const contributor = account(event.params.contributor, event);
  const c = Contribution.load(contributionId(event.params.datanetId, event.params.contributionId))!;
  const d = loadDatanet(event.params.datanetId, event);
  if (c.status == "Approved") {
    // Withdrawn data is excluded from later jobs: it no longer counts toward the Datanet's size.
    d.totalRecords = d.totalRecords.minus(BigInt.fromI32(c.records));
    d.totalBytes = d.totalBytes.minus(c.byteSize);
  }
  d.withdrawnCount = d.withdrawnCount + 1;
  d.save();
  c.status = "Withdrawn";
  c.updatedAt = event.block.timestamp;
  c.save();
  const e = new ContributionWithdrawn(eventId(event));
  e.datanet = d.id;
  e.contribution = c.id;
  e.contributor = contributor.id;
  stamp(e, event);
  e.save();
}
