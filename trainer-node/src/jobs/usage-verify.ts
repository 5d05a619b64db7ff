/**
 * Usage-epoch verification: what a verifier drawn for a challenge of a usage epoch does (UsageGame).
 *
 * It fetches the epoch's per-request records from the provider (`GET /v1/usage/epochs/:id/records` on the endpoint
 * of the provider's trainer profile, signed by the verifier's wallet; the provider serves drawn verifiers only) and
 * recomputes the epoch: the records must build the committed records root (else the provider did not serve the
 * committed records: UNAVAILABLE), tile each channel's accounted range without overlap, each record's revenue its
 * range (else INVALID_RECORDS), and then give, by the split rule of `buildUsageEpoch` (the same code the provider
 * ran), a claims root and cited revenue. The verdict is `usageVerdict` of those; the witness is the records-tree
 * leaf the round's seed picks (`usageWitness`), which only a verifier holding every record can name.
 */
import type { Address, Hex } from "viem";
import {
  catJson,
  USAGE_INVALID_RECORDS_VERDICT,
  USAGE_UNAVAILABLE_VERDICT,
  usageRecordLeafHash,
  usageRecordsAuth,
  usageRecordsRoot,
  usageVerdict,
  usageWitness,
} from "@tributary/sdk/chain";
import type { ChainConnection, ProtocolContentStore } from "@tributary/sdk/chain";
import { buildUsageEpoch, recordLeaf } from "../serve/usage.ts";
import type { ChannelChainState, UsageRecord } from "../serve/usage.ts";

export interface UsageRecomputation {
  verdict: Hex;
  /** Leaf hashes of the records (empty when none built the root). */
  leafHashes: Hex[];
  /** Why the verdict is UNAVAILABLE or INVALID_RECORDS, or what the recomputation found. */
  reason: string;
  citedRevenue?: bigint;
  claimsRoot?: Hex;
}

export interface EpochFacts {
  modelId: bigint;
  recordsRoot: Hex;
  /** The ranges the epoch accounted on chain (`ChannelAccounted`). */
  ranges: Array<{ channelId: Hex; fromCumulative: bigint; toCumulative: bigint }>;
  /** The contributors' basis points of the model's split. */
  contributorsBps: number;
}

/** Recomputes an epoch from its records (pure: see the module's comment for the rules). */
export function recomputeUsageEpoch(records: UsageRecord[] | null, e: EpochFacts): UsageRecomputation {
  if (!records || records.length === 0)
    return { verdict: USAGE_UNAVAILABLE_VERDICT, leafHashes: [], reason: "the provider served no records" };
  let leaves: Array<ReturnType<typeof recordLeaf>>;
  try {
    leaves = records.map(recordLeaf);
  } catch (err) {
    return {
      verdict: USAGE_UNAVAILABLE_VERDICT,
      leafHashes: [],
      reason: `the served records do not parse: ${(err as Error).message}`,
    };
  }
  const root = usageRecordsRoot(leaves);
  if (root.toLowerCase() !== e.recordsRoot.toLowerCase()) {
    return {
      verdict: USAGE_UNAVAILABLE_VERDICT,
      leafHashes: [],
      reason: `the ${records.length} served records build root ${root}, not the committed ${e.recordsRoot}`,
    };
  }
  const leafHashes = leaves.map(usageRecordLeafHash);
  const invalid = (reason: string): UsageRecomputation => ({
    verdict: USAGE_INVALID_RECORDS_VERDICT,
    leafHashes,
    reason,
  });
  const ranges = new Map(e.ranges.map((r) => [r.channelId.toLowerCase(), r]));
  const byChannel = new Map<string, UsageRecord[]>();
  for (const r of records) {
    const k = r.channelId.toLowerCase();
    if (!ranges.has(k))
      return invalid(`a record is on channel ${r.channelId}, which the epoch did not account`);
    if (r.modelId !== e.modelId.toString())
      return invalid(`a record is of model ${r.modelId}, not the epoch's ${e.modelId}`);
    const from = BigInt(r.from);
    const to = BigInt(r.to);
    if (!(from < to) || BigInt(r.revenue) !== to - from)
      return invalid(`a record's range (${r.from}, ${r.to}] does not hold its revenue ${r.revenue}`);
    byChannel.set(k, [...(byChannel.get(k) ?? []), r]);
  }
  const chain: ChannelChainState = new Map();
  for (const [k, g] of ranges) {
    const rs = (byChannel.get(k) ?? []).sort((a, b) => (BigInt(a.to) < BigInt(b.to) ? -1 : 1));
    if (rs.length === 0) return invalid(`no record covers channel ${g.channelId}, which the epoch accounted`);
    for (let i = 0; i < rs.length; i++) {
      const to = BigInt(rs[i].to);
      if (to <= g.fromCumulative || to > g.toCumulative)
        return invalid(
          `a record ending at ${to} is outside channel ${g.channelId}'s accounted range (${g.fromCumulative}, ${g.toCumulative}]`,
        );
      if (i > 0 && BigInt(rs[i].from) < BigInt(rs[i - 1].to))
        return invalid(`two records of channel ${g.channelId} overlap at ${rs[i].from}`);
    }
    if (BigInt(rs[rs.length - 1].to) !== g.toCumulative)
      return invalid(
        `channel ${g.channelId}'s records end at ${rs[rs.length - 1].to}, its accounted range at ${g.toCumulative}`,
      );
    chain.set(k, { redeemed: g.toCumulative, accounted: g.fromCumulative });
  }
  const plan = buildUsageEpoch(e.modelId, records, chain, e.contributorsBps);
  if (!plan || plan.records.length !== records.length) return invalid("not every record falls in the epoch");
  return {
    verdict: usageVerdict(plan.recordsRoot, plan.claimsRoot, plan.citedRevenue),
    leafHashes,
    reason: `recomputed from ${records.length} records: cited revenue ${plan.citedRevenue}, claims root ${plan.claimsRoot}`,
    citedRevenue: plan.citedRevenue,
    claimsRoot: plan.claimsRoot,
  };
}

/** The round's vote: the recomputation's verdict, and the witness its seed picks (none with UNAVAILABLE). */
export function usageVote(r: UsageRecomputation, seed: Hex): { verdict: Hex; witness: Hex } {
  return {
    verdict: r.verdict,
    witness: r.leafHashes.length ? usageWitness(seed, r.leafHashes) : (`0x${"0".repeat(64)}` as Hex),
  };
}

/** The endpoint the provider published in its trainer profile (where its node serves the API), or null. */
export async function providerEndpoint(
  conn: ChainConnection,
  store: ProtocolContentStore,
  provider: Address,
): Promise<string | null> {
  const reg = conn.contracts.TrainerRegistry;
  const cid = await conn.publicClient.readContract({
    address: reg.address,
    abi: reg.abi,
    functionName: "profileOf",
    args: [provider],
  });
  if (!cid) return null;
  const profile = (await catJson(store, cid, "trainer profile").catch(() => null)) as {
    endpoint?: unknown;
  } | null;
  return typeof profile?.endpoint === "string" && /^https?:\/\//.test(profile.endpoint)
    ? profile.endpoint.replace(/\/+$/, "")
    : null;
}

/**
 * Fetches an epoch's records from its provider as a drawn verifier. Null when the provider does not serve them
 * (no endpoint, unreachable, refused): the vote is then UNAVAILABLE, which is the provider's to answer for.
 */
export async function fetchUsageRecords(
  conn: ChainConnection,
  url: string | null,
  epochId: bigint,
  log: (line: string) => void,
): Promise<UsageRecord[] | null> {
  if (!url) {
    log(`usage epoch ${epochId}: the provider published no endpoint to fetch the records from`);
    return null;
  }
  try {
    const res = await fetch(`${url}/v1/usage/epochs/${epochId}/records`, {
      headers: await usageRecordsAuth(conn, epochId),
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await res.json().catch(() => null)) as {
      records?: UsageRecord[];
      error?: { message?: string };
    } | null;
    if (!res.ok || !Array.isArray(body?.records)) {
      log(
        `usage epoch ${epochId}: the provider at ${url} refused the records (${res.status}): ${body?.error?.message ?? "no records in the answer"}`,
      );
      return null;
    }
    return body.records;
  } catch (err) {
    log(`usage epoch ${epochId}: the provider at ${url} did not answer: ${(err as Error).message}`);
    return null;
  }
}
