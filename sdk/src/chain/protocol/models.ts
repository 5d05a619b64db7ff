// Model versions (ERC-721) and base models.
import type { Address, Hex } from "viem";
import type { ChainConnection } from "../client.ts";
import { NotFoundError } from "../errors.ts";
import { eventsIn, readView, sendTx } from "../write.ts";
import type { ContentStore } from "../../content/store.ts";
import { readFileFromSet } from "../../files/set.ts";
import { BASE_MODEL_CARD_FILE, cardFromConfig, CidString, parseBaseModelCard } from "../../schemas/index.ts";
import type { BaseModelCard, HfModelConfig } from "../../schemas/index.ts";
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

/**
 * A base model's card: its `tributary-model.json` when the file set has one, otherwise derived from its
 * `config.json` (size, context and recommended settings by size). Reads are verified (CID + sha256).
 */
export async function baseModelCard(store: ContentStore, base: Pick<BaseModelInfo, "name" | "cid">, opts: { signal?: AbortSignal } = {}): Promise<BaseModelCard> {
  if (!CidString.safeParse(base.cid).success) {
    throw new NotFoundError(`A model folder for base model ${base.name}`, `It is registered with "${base.cid}", not an IPFS CID; register a Hugging Face folder with \`tributary model register-base --dir\`.`);
  }
  const card = await readFileFromSet(store, base.cid, BASE_MODEL_CARD_FILE, { ...opts, maxBytes: 1 << 20 });
  if (card) return parseBaseModelCard(JSON.parse(new TextDecoder().decode(card)));
  const config = await readFileFromSet(store, base.cid, "config.json", { ...opts, maxBytes: 1 << 20 });
  if (!config) {
    throw new NotFoundError(
      `config.json in base model ${base.name} (${base.cid})`,
      "The registered file set is not a Hugging Face model folder; register the folder with `tributary model register-base --dir`.",
    );
  }
  return cardFromConfig(base.name, JSON.parse(new TextDecoder().decode(config)) as HfModelConfig);
}

/** Registers a base model (a model folder pinned as a file set). `GOVERNOR_ROLE` only. */
export async function registerBaseModel(conn: ChainConnection, name: string, cid: string): Promise<TxRef & { baseModelId: number }> {
  const mr = conn.contracts.ModelRegistry;
  const tx = await sendTx(conn, mr, "registerBaseModel", [name, cid]);
  const [ev] = eventsIn(mr, tx.receipt, "BaseModelRegistered");
  return { hash: tx.hash, blockNumber: tx.blockNumber, baseModelId: Number(ev.args.baseModelId) };
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
