// Data hooks: subgraph lists and chain reads through TanStack Query, each page stays thin.
import { useQuery } from "@tanstack/react-query";
import { catJson } from "@tributary/sdk/chain/browser";
import type { Address } from "viem";
import { useWallet } from "./wallet.tsx";
import { BaseModelsQuery, DatanetsQuery, gql, MyGrantsQuery } from "./lib/subgraph.ts";
import type { BaseModelRow, DatanetRow } from "./lib/subgraph.ts";
import { useProtocol } from "./protocol.tsx";

/** Datanet metadata as pinned at creation (tributary/datanet@1); only the fields the app shows. */
export interface DatanetMeta {
  name?: string;
  description?: string;
  license?: string;
  tags?: string[];
}

export function useDatanets() {
  const { config } = useProtocol();
  return useQuery({
    queryKey: ["datanets"],
    queryFn: async () =>
      (
        await gql(config.proxied.subgraph, DatanetsQuery, {
          first: 200,
          orderBy: "datanetId",
          orderDirection: "asc",
        })
      ).datanets,
  });
}

export function useDatanetMeta(cid: string | undefined) {
  const { store } = useProtocol();
  return useQuery({
    queryKey: ["datanet-meta", cid],
    enabled: Boolean(cid),
    staleTime: Infinity,
    retry: 1,
    queryFn: async () => (await catJson(store, cid!, "Datanet metadata")) as DatanetMeta,
  });
}

export interface AccessInfo {
  /** The chain's answer: may this account train on the Datanet now? */
  hasAccess: boolean;
  requested: boolean;
  usesLeft: number;
  expiresAt?: bigint;
}

/** The connected account's access to each Datanet (chain `hasAccess`, plus requests from the subgraph). */
export function useMyAccess(datanets: DatanetRow[] | undefined) {
  const { conn, config } = useProtocol();
  const { address } = useWallet();
  return useQuery({
    queryKey: ["my-access", address, datanets?.map((d) => `${d.id}:${d.version}`).join(",")],
    enabled: Boolean(address && datanets),
    queryFn: async () => {
      const acc = conn.contracts.AccessRegistry;
      const { accessGrants } = await gql(config.proxied.subgraph, MyGrantsQuery, {
        account: address!.toLowerCase(),
      });
      const out: Record<string, AccessInfo> = {};
      await Promise.all(
        datanets!.map(async (d) => {
          const has = await conn.publicClient.readContract({
            address: acc.address,
            abi: acc.abi,
            functionName: "hasAccess",
            args: [BigInt(d.datanetId), address as Address],
          });
          const g = accessGrants.find((x) => x.datanet.id === d.id);
          out[d.id] = {
            hasAccess: has,
            requested: Boolean(g?.requested),
            usesLeft: g?.usesLeft ?? 0,
            expiresAt: g?.expiresAt ? BigInt(g.expiresAt) : undefined,
          };
        }),
      );
      return out;
    },
  });
}

export function useBaseModels() {
  const { config } = useProtocol();
  return useQuery({
    queryKey: ["base-models"],
    queryFn: async () => (await gql(config.proxied.subgraph, BaseModelsQuery, {})).baseModels,
  });
}

export function useOpenBalance() {
  const { conn } = useProtocol();
  const { address } = useWallet();
  return useQuery({
    queryKey: ["open-balance", address],
    enabled: Boolean(address),
    queryFn: () =>
      conn.publicClient.readContract({
        address: conn.contracts.OpenToken.address,
        abi: conn.contracts.OpenToken.abi,
        functionName: "balanceOf",
        args: [address as Address],
      }),
  });
}

/** A base model's card (size, context, recommended settings) from its IPFS file set, verified. */
export function useBaseModelCard(base: BaseModelRow | undefined) {
  const { store } = useProtocol();
  return useQuery({
    queryKey: ["base-model-card", base?.cid],
    enabled: Boolean(base),
    staleTime: Infinity,
    retry: 1,
    // loaded here, not with the hook: the card's schema (zod) is not needed by pages that list Datanets
    queryFn: async ({ signal }) =>
      (await import("./lib/base-model-card.ts")).readBaseModelCard(store, base!, signal),
  });
}
