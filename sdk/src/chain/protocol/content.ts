// Content store helpers for the protocol functions: JSON documents in, verified JSON documents out.
import type { ContentStore } from "../../content/store.ts";
import { NotFoundError } from "../errors.ts";

export type ProtocolContentStore = ContentStore;

/** Adds a JSON document (pinned) and returns its CID. */
export async function addJson(store: ProtocolContentStore, doc: unknown): Promise<string> {
  return (await store.add(new TextEncoder().encode(JSON.stringify(doc)))).cid;
}

/** Reads a JSON document by CID (verified by the store). */
export async function catJson(store: ProtocolContentStore, cid: string, what: string): Promise<unknown> {
  const bytes = await store.cat(cid);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new NotFoundError(
      `A JSON ${what} at ${cid}`,
      "The CID does not hold JSON; check it is the right document.",
    );
  }
}

/** JSON.stringify replacer that writes bigints as decimal strings (for --json output and documents). */
export function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}
