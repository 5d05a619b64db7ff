// Building the attribution report: per-contribution scores -> integer weights -> per-contributor
// weights -> Merkle root.
import type { AttributionReport } from "../schemas/attribution.ts";
import { AttributionTree } from "./tree.ts";
import { DEFAULT_TOTAL_WEIGHT, normaliseWeights, sumByAccount } from "./weights.ts";

export interface ScoredContribution {
  datanetId: bigint | string;
  contributionId: bigint | string;
  contributor: string;
  contentHash?: string;
  score: number;
}

/**
 * Normalises scores to weights summing to `totalWeight`, sums them per contributor and commits the
 * per-contributor weights in a Merkle tree. Returns the report (valid `tributary/attribution@1`) and
 * the tree (for proofs).
 */
export function buildAttributionReport(
  contributions: readonly ScoredContribution[],
  opts: { totalWeight?: bigint; method?: AttributionReport["method"] } = {},
): { report: AttributionReport; tree: AttributionTree } {
  if (contributions.length === 0) throw new RangeError("an attribution report needs at least one contribution");
  const total = opts.totalWeight ?? DEFAULT_TOTAL_WEIGHT;
  const weights = normaliseWeights(contributions.map((c) => c.score), total);
  const perContributor = sumByAccount(contributions.map((c, i) => ({ account: c.contributor, weight: weights[i] })));
  const tree = AttributionTree.build(perContributor);
  const report: AttributionReport = {
    schema: "tributary/attribution@1",
    method: opts.method ?? "tracin",
    totalWeight: total.toString(),
    merkleRoot: tree.root,
    leafEncoding: ["address", "uint256"],
    contributions: contributions.map((c, i) => ({
      datanetId: c.datanetId.toString(),
      contributionId: c.contributionId.toString(),
      contributor: c.contributor,
      ...(c.contentHash ? { contentHash: c.contentHash } : {}),
      score: c.score,
      weight: weights[i].toString(),
    })),
    contributors: perContributor.map((c) => ({ account: c.account, weight: c.weight.toString() })),
  };
  return { report, tree };
}
