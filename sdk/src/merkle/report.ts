// Building the attribution report: per-contribution scores -> integer weights -> Merkle root over
// (datanetId, contributionId, weight) leaves (the per-contributor sums are reported, not committed).
import type { AttributionReport } from "../schemas/attribution.ts";
import { ContributionTree } from "./tree.ts";
import { DEFAULT_TOTAL_WEIGHT, normaliseWeights, sumByAccount } from "./weights.ts";

export interface ScoredContribution {
  datanetId: bigint | string;
  contributionId: bigint | string;
  contributor: string;
  contentHash?: string;
  score: number;
  /** The earlier contribution this one duplicates (it should score 0). */
  duplicateOf?: { datanetId: string; contributionId: string; kind: "exact" | "near"; similarity: number };
}

/**
 * Normalises scores to weights summing to `totalWeight` and commits the contributions with a positive weight
 * in a Merkle tree of `(datanetId, contributionId, weight)` leaves; the report also lists the weights summed per
 * contributor (for display: the chain pays the contributor it records for each contribution). Returns the report
 * (valid `tributary/attribution@1`) and the tree (for proofs).
 */
export function buildAttributionReport(
  contributions: readonly ScoredContribution[],
  opts: { totalWeight?: bigint; method?: AttributionReport["method"] } = {},
): { report: AttributionReport; tree: ContributionTree } {
  if (contributions.length === 0) throw new RangeError("an attribution report needs at least one contribution");
  const total = opts.totalWeight ?? DEFAULT_TOTAL_WEIGHT;
  // duplicates earn nothing, whatever their score (also when every score is 0 and weights go equal)
  const live = contributions.map((c, i) => [c, i] as const).filter(([c]) => !c.duplicateOf);
  if (live.length === 0) throw new RangeError("an attribution report needs at least one contribution that is not a duplicate");
  const liveWeights = normaliseWeights(live.map(([c]) => c.score), total);
  const weights = contributions.map(() => 0n);
  live.forEach(([, i], k) => (weights[i] = liveWeights[k]));
  const perContributor = sumByAccount(contributions.map((c, i) => ({ account: c.contributor, weight: weights[i] })));
  const tree = ContributionTree.build(
    contributions
      .map((c, i) => ({ datanetId: BigInt(c.datanetId), contributionId: BigInt(c.contributionId), weight: weights[i] }))
      .filter((l) => l.weight > 0n),
  );
  const report: AttributionReport = {
    schema: "tributary/attribution@1",
    method: opts.method ?? "tracin",
    totalWeight: total.toString(),
    merkleRoot: tree.root,
    leafEncoding: ["uint256", "uint256", "uint256"],
    contributions: contributions.map((c, i) => ({
      datanetId: c.datanetId.toString(),
      contributionId: c.contributionId.toString(),
      contributor: c.contributor,
      ...(c.contentHash ? { contentHash: c.contentHash } : {}),
      score: c.score,
      weight: weights[i].toString(),
      ...(c.duplicateOf ? { duplicateOf: c.duplicateOf } : {}),
    })),
    contributors: perContributor.map((c) => ({ account: c.account, weight: c.weight.toString() })),
  };
  return { report, tree };
}
