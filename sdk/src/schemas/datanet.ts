// Datanet metadata, pinned to IPFS; its CID is stored on chain at creation.
import { z } from "zod";
import { Address, Hex, schemaField } from "./common.ts";
import { ChatRole } from "./records.ts";

/** Who holds a Datanet's key: its public key and where to ask for re-wrapped data keys. */
export const CustodianInfo = z.object({
  /** Compressed secp256k1 public key (33 bytes, hex). */
  publicKey: Hex.refine((h) => h.length === 66, "must be a 33-byte compressed secp256k1 public key"),
  /** Key id as computed by `keyIdOf` in the crypto module. */
  keyId: z.string().min(1),
  /** Base URL of the custodian service (e.g. http://127.0.0.1:8788). */
  url: z.url().optional(),
});

export const DatanetMetadata = z.object({
  schema: schemaField("datanet"),
  name: z.string().trim().min(1, "must not be empty").max(100, "must be at most 100 characters"),
  description: z.string().max(10_000).default(""),
  /** SPDX licence identifier or a short licence name. */
  license: z.string().min(1).default("CC-BY-4.0"),
  tags: z.array(z.string().min(1).max(40)).max(20).default([]),
  /** BCP-47 language tags of the records. */
  languages: z.array(z.string().min(2).max(35)).default([]),
  /** Record shapes this Datanet accepts. */
  recordKinds: z.array(z.enum(["chat", "prompt-completion", "text"])).min(1).default(["chat", "prompt-completion", "text"]),
  /** Roles a chat record may use (defaults to all). */
  chatRoles: z.array(ChatRole).optional(),
  /** Contributions are encrypted for this custodian; absent for open Datanets storing plaintext. */
  custodian: CustodianInfo.optional(),
  owner: Address.optional(),
  homepage: z.url().optional(),
});

export type CustodianInfo = z.infer<typeof CustodianInfo>;
export type DatanetMetadata = z.infer<typeof DatanetMetadata>;
