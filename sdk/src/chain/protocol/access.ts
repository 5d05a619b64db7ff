// Access to Datanets: request, grant, revoke, buy, list.
import type { Address, Hash } from "viem";
import type { ChainConnection } from "../client.ts";
import { NoWalletError } from "../errors.ts";
import { eventsIn, readView, sendTx } from "../write.ts";
import { addJson } from "./content.ts";
import type { ProtocolContentStore } from "./content.ts";
import { ensureAllowance } from "./token.ts";
import { scanEvents } from "../logs.ts";

export interface TxRef {
  hash: Hash;
  blockNumber: bigint;
}

/** Pins a request document (purpose, contact) and records the access request on chain. */
export async function requestAccess(
  conn: ChainConnection,
  store: ProtocolContentStore,
  input: { datanetId: bigint; purpose: string; contact?: string },
): Promise<TxRef & { datanetId: bigint; requestCid: string }> {
  if (!conn.account) throw new NoWalletError("access request");
  const requestCid = await addJson(store, {
    schema: "tributary/access-request@1",
    datanetId: input.datanetId.toString(),
    account: conn.account.address,
    purpose: input.purpose,
    contact: input.contact,
    createdAt: new Date().toISOString(),
  });
  const tx = await sendTx(conn, conn.contracts.AccessRegistry, "requestAccess", [
    input.datanetId,
    requestCid,
  ]);
  return { datanetId: input.datanetId, requestCid, hash: tx.hash, blockNumber: tx.blockNumber };
}

/** Grants `account` access until `expiresAt` (unix seconds) for `uses` jobs. Curators only. */
export async function grantAccess(
  conn: ChainConnection,
  input: { datanetId: bigint; account: Address; expiresAt: bigint; uses: number },
): Promise<TxRef> {
  const tx = await sendTx(conn, conn.contracts.AccessRegistry, "grantAccess", [
    input.datanetId,
    input.account,
    input.expiresAt,
    input.uses,
  ]);
  return { hash: tx.hash, blockNumber: tx.blockNumber };
}

export async function revokeAccess(
  conn: ChainConnection,
  input: { datanetId: bigint; account: Address },
): Promise<TxRef> {
  const tx = await sendTx(conn, conn.contracts.AccessRegistry, "revokeAccess", [
    input.datanetId,
    input.account,
  ]);
  return { hash: tx.hash, blockNumber: tx.blockNumber };
}

/**
 * Buys `uses` uses of a Paid Datanet, approving the price first. The purchase reverts (PriceAboveMax) if
 * the price per use is above `maxPrice`, which defaults to the price read here: a price raised between
 * this read and the transaction is never paid.
 */
export async function buyAccess(
  conn: ChainConnection,
  input: { datanetId: bigint; uses: number; maxPrice?: bigint },
): Promise<TxRef & { paid: bigint; expiresAt: bigint; usesLeft: number }> {
  const reg = conn.contracts.DatanetRegistry;
  const acc = conn.contracts.AccessRegistry;
  const [, price] = await readView(reg, "accessTermsOf", () =>
    conn.publicClient.readContract({
      address: reg.address,
      abi: reg.abi,
      functionName: "accessTermsOf",
      args: [input.datanetId],
    }),
  );
  const maxPrice = input.maxPrice ?? price;
  await ensureAllowance(conn, acc.address, maxPrice * BigInt(input.uses));
  const tx = await sendTx(conn, acc, "buyAccess", [input.datanetId, input.uses, maxPrice]);
  const [ev] = eventsIn(acc, tx.receipt, "AccessPurchased");
  return {
    hash: tx.hash,
    blockNumber: tx.blockNumber,
    paid: ev.args.paid!,
    expiresAt: BigInt(ev.args.expiresAt!),
    usesLeft: ev.args.usesLeft!,
  };
}

export interface AccessEntry {
  account: Address;
  requestedAt?: bigint;
  requestCid?: string;
  hasAccess: boolean;
  expiresAt: bigint;
  usesLeft: number;
}

/** Everyone who requested, was granted or bought access to a Datanet, with their current grant. */
export async function listAccess(conn: ChainConnection, datanetId: bigint): Promise<AccessEntry[]> {
  const acc = conn.contracts.AccessRegistry;
  const q = { address: acc.address, abi: acc.abi, args: { datanetId } } as const;
  const [requested, granted, purchased] = await Promise.all([
    scanEvents(conn, { ...q, eventName: "AccessRequested" }),
    scanEvents(conn, { ...q, eventName: "AccessGranted" }),
    scanEvents(conn, { ...q, eventName: "AccessPurchased" }),
  ]);
  const requests = new Map<string, string>();
  for (const e of requested) requests.set(e.args.account!.toLowerCase(), e.args.requestCID!);
  const accounts = new Map<string, Address>();
  for (const e of [...requested, ...granted, ...purchased])
    accounts.set(e.args.account!.toLowerCase(), e.args.account!);
  const out: AccessEntry[] = [];
  for (const [key, account] of accounts) {
    const [grant, has, at] = await Promise.all([
      conn.publicClient.readContract({
        address: acc.address,
        abi: acc.abi,
        functionName: "getGrant",
        args: [datanetId, account],
      }),
      conn.publicClient.readContract({
        address: acc.address,
        abi: acc.abi,
        functionName: "hasAccess",
        args: [datanetId, account],
      }),
      conn.publicClient.readContract({
        address: acc.address,
        abi: acc.abi,
        functionName: "requestedAt",
        args: [datanetId, account],
      }),
    ]);
    out.push({
      account,
      requestedAt: at ? BigInt(at) : undefined,
      requestCid: requests.get(key),
      hasAccess: has,
      expiresAt: BigInt(grant.expiresAt),
      usesLeft: grant.usesLeft,
    });
  }
  return out;
}
