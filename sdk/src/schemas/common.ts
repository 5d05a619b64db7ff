// Shared building blocks for Tributary's versioned document schemas.
import { z } from "zod";

/** Schema identifiers look like `tributary/<name>@<major>`. */
export function schemaId<N extends string>(name: N): `tributary/${N}@1` {
  return `tributary/${name}@1`;
}

/**
 * The `schema` field every Tributary document carries. Omitted on input it defaults to the current
 * version; any other value is rejected with a message naming the expected one.
 */
export function schemaField<N extends string>(name: N) {
  const id = schemaId(name);
  return z
    .literal(id, { error: (iss) => `expected "${id}", got ${JSON.stringify(iss.input)} (unsupported document type or version)` })
    .default(id);
}

/** 0x-prefixed 20-byte account address (checksum not enforced; compare lower-cased). */
export const Address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x-prefixed 20-byte hex address");
/** 0x-prefixed 32-byte hex value (hashes, merkle roots). */
export const Bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "must be 0x followed by 64 hex characters");
/** Lower-case hex without prefix (keys, IVs, wrapped keys). */
export const Hex = z.string().regex(/^([0-9a-f]{2})*$/, "must be lower-case hex with an even number of digits");
/** A uint256 written in decimal, as JSON cannot carry bigints. */
export const Uint256String = z.string().regex(/^(0|[1-9][0-9]*)$/, "must be a non-negative integer in decimal").refine(
  (s) => s.length < 78 || BigInt(s) < 2n ** 256n, "must fit in uint256");
/** A CID string (v0 `Qm...` or v1 multibase); parsed for real by the content layer. */
export const CidString = z.string().regex(/^(Qm[1-9A-HJ-NP-Za-km-z]{44}|b[a-z2-7]{20,}|[zfFuUkK][0-9A-Za-z_-]{20,})$/,
  "must be an IPFS CID (CIDv0 Qm... or CIDv1 multibase)");
/** ISO-8601 timestamp. */
export const Timestamp = z.iso.datetime({ offset: true });
/** sha256 of some bytes, 0x-prefixed hex. */
export const Sha256 = Bytes32;
