/**
 * Model catalogs for the API. `chainCatalog` reads the ModelRegistry: every active registered base model
 * (its name as the API id) and every model version (`model-<tokenId>`, base + adapter). It caches the
 * list for a few seconds, reads each model version once (they are immutable), and keeps serving the last
 * good list when the chain is briefly unreachable. `staticCatalog` serves a fixed list (tests, offline).
 */
import { getModel, listBaseModels } from "@tributary/sdk/chain";
import type { ChainConnection } from "@tributary/sdk/chain";
import type { ModelCatalog, ServedModel } from "../types.ts";

export function staticCatalog(models: ServedModel[]): ModelCatalog {
  const ids = new Set<string>();
  for (const m of models) {
    if (ids.has(m.id)) throw new Error(`staticCatalog: model id ${m.id} appears twice. Give each model a distinct id`);
    ids.add(m.id);
  }
  const list = [...models];
  return {
    list: async () => [...list],
    resolve: async (id) => list.find((m) => m.id === id),
  };
}

export interface ChainCatalogOptions {
  /** How long a read of the chain is reused (default 5000 ms). */
  ttlMs?: number;
}

export function chainCatalog(conn: ChainConnection, opts: ChainCatalogOptions = {}): ModelCatalog {
  const ttl = opts.ttlMs ?? 5000;
  const mr = conn.contracts.ModelRegistry;
  const versions = new Map<number, ServedModel>();
  const blockTimes = new Map<bigint, number>();
  const baseCreated = new Map<number, number>();
  let cached: { at: number; models: ServedModel[] } | undefined;
  let refreshing: Promise<ServedModel[]> | undefined;

  async function timeOf(block: bigint | null | undefined): Promise<number> {
    if (block === null || block === undefined) return 0;
    let t = blockTimes.get(block);
    if (t === undefined) {
      t = Number((await conn.publicClient.getBlock({ blockNumber: block })).timestamp);
      blockTimes.set(block, t);
    }
    return t;
  }

  async function read(): Promise<ServedModel[]> {
    const bases = await listBaseModels(conn);
    const byId = new Map(bases.map((b) => [b.baseModelId, b]));
    const count = Number(await conn.publicClient.readContract({ address: mr.address, abi: mr.abi, functionName: "modelCount" }));
    const missing: number[] = [];
    for (let id = 1; id <= count; id++) if (!versions.has(id)) missing.push(id);
    if (bases.some((b) => !baseCreated.has(b.baseModelId))) {
      const registered = await conn.publicClient.getContractEvents({ address: mr.address, abi: mr.abi, eventName: "BaseModelRegistered", fromBlock: conn.deployments.deployBlock });
      for (const ev of registered) if (ev.args.baseModelId !== undefined) baseCreated.set(Number(ev.args.baseModelId), await timeOf(ev.blockNumber));
    }
    if (missing.length) {
      const minted = await conn.publicClient.getContractEvents({ address: mr.address, abi: mr.abi, eventName: "ModelVersionMinted", fromBlock: conn.deployments.deployBlock });
      const mintBlock = new Map(minted.map((ev) => [Number(ev.args.tokenId), ev.blockNumber]));
      for (const id of missing) {
        const m = await getModel(conn, BigInt(id));
        const base = byId.get(m.baseModelId);
        if (!base) continue; // a version of an unknown base: nothing to serve it with
        versions.set(id, {
          id: `model-${id}`,
          baseModelId: m.baseModelId,
          baseModelName: base.name,
          baseModelCid: base.cid,
          adapterCid: m.adapterCid,
          adapterHash: m.adapterHash,
          modelId: String(id),
          owner: m.owner,
          created: await timeOf(mintBlock.get(id)),
        });
      }
    }
    const out: ServedModel[] = bases
      .filter((b) => b.active)
      .map((b) => ({ id: b.name, baseModelId: b.baseModelId, baseModelName: b.name, baseModelCid: b.cid, created: baseCreated.get(b.baseModelId) ?? 0 }));
    for (let id = 1; id <= count; id++) {
      const v = versions.get(id);
      if (v) out.push(v);
    }
    return out;
  }

  async function list(): Promise<ServedModel[]> {
    if (cached && Date.now() - cached.at < ttl) return cached.models;
    refreshing ??= read()
      .then((models) => {
        cached = { at: Date.now(), models };
        return models;
      })
      .catch((e) => {
        if (cached) return cached.models; // the chain is briefly away: the last good list
        throw e;
      })
      .finally(() => {
        refreshing = undefined;
      });
    return refreshing;
  }

  return {
    list,
    resolve: async (id) => (await list()).find((m) => m.id === id),
  };
}
