// Model versions (ERC-721) and base models.
import type { Address, Hex } from "viem";
import type { ChainConnection } from "../client.ts";
import { NotFoundError } from "../errors.ts";
import { eventsIn, readView, sendTx } from "../write.ts";
import type { TxRef } from "./access.ts";
import { scanEvents } from "../logs.ts";

export interface BaseModelInfo {
  baseModelId: number;
  name: string;
  cid: string;
  active: boolean;
}

export async function listBaseModels(conn: ChainConnection): Promise<BaseModelInfo[]> {
  const mr = conn.contracts.ModelRegistry;
  const count = await conn.publicClient.readContract({
    address: mr.address,
    abi: mr.abi,
    functionName: "baseModelCount",
  });
  const out: BaseModelInfo[] = [];
  for (let id = 1; id <= count; id++) {
    const b = await conn.publicClient.readContract({
      address: mr.address,
      abi: mr.abi,
      functionName: "getBaseModel",
      args: [id],
    });
    out.push({ baseModelId: id, name: b.name, cid: b.cid, active: b.active });
  }
  return out;
}

/** A base model by on-chain id (a number) or registered name. */
export async function findBaseModel(conn: ChainConnection, nameOrId: string): Promise<BaseModelInfo> {
  const all = await listBaseModels(conn);
  const found = /^\d+$/.test(nameOrId)
    ? all.find((b) => b.baseModelId === Number(nameOrId))
    : all.find((b) => b.name === nameOrId);
  if (!found) {
    throw new NotFoundError(
      `Base model "${nameOrId}"`,
      `Registered base models: ${all.map((b) => `${b.baseModelId}:${b.name}`).join(", ") || "none"}. Use one of these names or ids.`,
    );
  }
  return found;
}

export interface ModelInfo {
  modelId: bigint;
  owner?: Address;
  baseModelId: number;
  jobId: bigint;
  trainer: Address;
  parentId: bigint;
  adapterCid: string;
  adapterHash: Hex;
  attributionRoot: Hex;
  attributionTotalWeight: bigint;
  inferencePrice: bigint;
  reportCid?: string;
  datanetIds: bigint[];
}

export async function getModel(conn: ChainConnection, modelId: bigint): Promise<ModelInfo> {
  const mr = conn.contracts.ModelRegistry;
  const exists = await conn.publicClient.readContract({
    address: mr.address,
    abi: mr.abi,
    functionName: "exists",
    args: [modelId],
  });
  if (!exists) throw new NotFoundError(`Model ${modelId}`, "List models with `tributary model list`.");
  const [m, minted] = await Promise.all([
    readView(mr, "getModelVersion", () =>
      conn.publicClient.readContract({
        address: mr.address,
        abi: mr.abi,
        functionName: "getModelVersion",
        args: [modelId],
      }),
    ),
    scanEvents(conn, { address: mr.address, abi: mr.abi, eventName: "ModelVersionMinted", args: { tokenId: modelId } }),
  ]);
  const ev = minted[0]?.args;
  return {
    modelId,
    owner: ev?.owner,
    baseModelId: m.baseModelId,
    jobId: BigInt(m.jobId),
    trainer: m.trainer,
    parentId: m.parentId,
    adapterCid: m.adapterCID,
    adapterHash: m.adapterHash,
    attributionRoot: m.attributionRoot,
    attributionTotalWeight: m.attributionTotalWeight,
    inferencePrice: m.inferencePrice,
    reportCid: ev?.reportCID,
    datanetIds: [...(ev?.datanetIds ?? [])],
  };
}

export async function listModels(conn: ChainConnection): Promise<ModelInfo[]> {
  const mr = conn.contracts.ModelRegistry;
  const count = await conn.publicClient.readContract({
    address: mr.address,
    abi: mr.abi,
    functionName: "modelCount",
  });
  const out: ModelInfo[] = [];
  for (let id = 1n; id <= count; id++) out.push(await getModel(conn, id));
  return out;
}

/** Sets a model version's inference price in OPEN wei per 1,000 tokens (its owner only). */
export async function setInferencePrice(
  conn: ChainConnection,
  modelId: bigint,
  price: bigint,
): Promise<TxRef & { price: bigint }> {
  const mr = conn.contracts.ModelRegistry;
  const tx = await sendTx(conn, mr, "setInferencePrice", [modelId, price]);
  const [ev] = eventsIn(mr, tx.receipt, "InferencePriceSet");
  return { hash: tx.hash, blockNumber: tx.blockNumber, price: ev.args.price! };
}
