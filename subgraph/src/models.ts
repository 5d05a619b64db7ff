// ModelRegistry: base models and fine-tuned model versions (ERC-721).
import {
  BaseModelRegistered as BaseModelRegisteredEvent,
  BaseModelStatusChanged as BaseModelStatusChangedEvent,
  InferencePriceSet as InferencePriceSetEvent,
  ModelVersionMinted as ModelVersionMintedEvent,
  Transfer as TransferEvent,
  TransferHookSet as TransferHookSetEvent,
} from "../generated/ModelRegistry/ModelRegistry";
import {
  BaseModel,
  BaseModelRegistered,
  BaseModelStatusChanged,
  InferencePriceSet,
  Job,
  ModelTransfer,
  ModelVersion,
  ModelVersionMinted,
  TransferHookSet,
} from "../generated/schema";
import { ZERO, account, bigIntsToStrings, eventId, stamp, stats } from "./common";

export function handleBaseModelRegistered(event: BaseModelRegisteredEvent): void {
  const b = new BaseModel(event.params.baseModelId.toString());
  b.baseModelId = event.params.baseModelId.toI32();
  b.name = event.params.name;
  b.cid = event.params.cid;
  b.active = true;
  b.registeredAt = event.block.timestamp;
  b.save();
  const s = stats(event);
  s.baseModelCount = s.baseModelCount + 1;
  s.save();
  const e = new BaseModelRegistered(eventId(event));
  e.baseModel = b.id;
  e.name = b.name;
  e.cid = b.cid;
  stamp(e, event);
  e.save();
}

export function handleBaseModelStatusChanged(event: BaseModelStatusChangedEvent): void {
  const b = BaseModel.load(event.params.baseModelId.toString())!;
  b.active = event.params.active;
  b.save();
  const e = new BaseModelStatusChanged(eventId(event));
  e.baseModel = b.id;
  e.active = b.active;
  stamp(e, event);
  e.save();
}

export function handleModelVersionMinted(event: ModelVersionMintedEvent): void {
  const owner = account(event.params.owner, event);
  const trainer = account(event.params.trainer, event);
  const m = new ModelVersion(event.params.tokenId.toString());
  m.tokenId = event.params.tokenId;
  if (Job.load(event.params.jobId.toString()) != null) m.job = event.params.jobId.toString();
  m.owner = owner.id;
  m.baseModel = event.params.baseModelId.toString();
  const parent = event.params.parentId;
  if (!parent.isZero() && ModelVersion.load(parent.toString()) != null) m.parent = parent.toString();
  m.adapterCID = event.params.adapterCID;
  m.adapterHash = event.params.adapterHash;
  m.trainer = trainer.id;
  m.attributionRoot = event.params.attributionRoot;
  m.attributionTotalWeight = event.params.attributionTotalWeight;
  m.reportCID = event.params.reportCID;
  m.datanets = bigIntsToStrings(event.params.datanetIds);
  m.inferencePrice = ZERO;
  m.mintedAt = event.block.timestamp;
  m.mintedAtBlock = event.block.number;
  m.save();
  const s = stats(event);
  s.modelCount = s.modelCount + 1;
  s.save();

  const e = new ModelVersionMinted(eventId(event));
  e.model = m.id;
  e.jobId = event.params.jobId;
  e.owner = owner.id;
  e.baseModelId = event.params.baseModelId.toI32();
  e.parentId = parent;
  e.adapterCID = m.adapterCID;
  e.adapterHash = m.adapterHash;
  e.trainer = trainer.id;
  e.attributionRoot = m.attributionRoot;
  e.attributionTotalWeight = m.attributionTotalWeight;
  e.reportCID = m.reportCID;
  e.datanetIds = event.params.datanetIds;
  stamp(e, event);
  e.save();
}

export function handleInferencePriceSet(event: InferencePriceSetEvent): void {
  const m = ModelVersion.load(event.params.tokenId.toString())!;
  m.inferencePrice = event.params.price;
  m.save();
  const e = new InferencePriceSet(eventId(event));
  e.model = m.id;
  e.price = event.params.price;
  stamp(e, event);
  e.save();
}

/** ERC-721 transfer of a model version. The mint's transfer comes before ModelVersionMinted creates it. */
export function handleTransfer(event: TransferEvent): void {
  const to = account(event.params.to, event);
  const m = ModelVersion.load(event.params.tokenId.toString());
  if (m != null) {
    m.owner = to.id;
    m.save();
  }
  const e = new ModelTransfer(eventId(event));
  e.model = event.params.tokenId.toString();
  e.from = event.params.from;
  e.to = to.id;
  stamp(e, event);
  e.save();
}

export function handleTransferHookSet(event: TransferHookSetEvent): void {
  const e = new TransferHookSet(eventId(event));
  e.hook = event.params.hook;
  stamp(e, event);
  e.save();
}
