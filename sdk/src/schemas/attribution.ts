// The attribution report (attribution.json): influence and weight per contribution, weight per contributor
// (for display), and the Merkle root of (datanetId, contributionId, weight) leaves that goes on chain.
import { z } from "zod";
import { Address, Bytes32, Sha256, schemaField, Uint256String } from "./common.ts";

export const ContributionAttribution = z.object({
  datanetId: Uint256String,
  contributionId: Uint256String,
  contributor: Address,
  contentHash: Sha256.optional(),
  /** Raw influence score (TracIn: sum of lr x gradient dot products); may be negative. */
  score: z.number(),
  /** Normalised integer weight; the weights of all contributions sum to `totalWeight`. */
  weight: Uint256String,
  /**
   * Set when the contribution duplicates an earlier one (exact or near, SDK dedup): it was neither
   * trained nor attributed and earns nothing; the earlier contribution keeps the credit.
   */
  duplicateOf: z
    .object({ datanetId: Uint256String, contributionId: Uint256String, kind: z.enum(["exact", "near"]), similarity: z.number().min(0).max(1) })
    .optional(),
});

/** Attribution methods (trainer-node/src/jobs/influence.ts; compared by bench/attribution.ts). */
export const ATTRIBUTION_METHODS = ["tracin", "uniform", "tracin_last", "tracin_cp", "grad_cos_cp", "adam_tracin_cp", "adam_cos_cp", "datainf_last", "datainf_cp", "inrun_tracin_unit", "inrun_adam_cos", "inrun_adam_tracin"] as const;

export const ContributorWeight = z.object({
  account: Address,
  weight: Uint256String,
});

export const AttributionReport = z.object({
  schema: schemaField("attribution"),
  /** "tracin" (= tracin_last) is what nodes before issue 12 wrote. */
  method: z.enum(ATTRIBUTION_METHODS).default("tracin"),
  totalWeight: Uint256String,
  /**
   * Root of the OpenZeppelin StandardMerkleTree over `leafEncoding` leaves (datanetId, contributionId, weight),
   * one per contribution with a positive weight. No payee address is committed: the RewardDistributor pays the
   * contributor the DatanetRegistry records (review finding 2).
   */
  merkleRoot: Bytes32,
  leafEncoding: z.tuple([z.literal("uint256"), z.literal("uint256"), z.literal("uint256")]).default(["uint256", "uint256", "uint256"]),
  contributions: z.array(ContributionAttribution),
  contributors: z.array(ContributorWeight).min(1, "must attribute to at least one contributor"),
}).superRefine((report, ctx) => {
  const total = BigInt(report.totalWeight);
  const sum = report.contributors.reduce((acc, c) => acc + BigInt(c.weight), 0n);
  if (sum !== total) {
    ctx.addIssue({ code: "custom", path: ["contributors"], message: `weights sum to ${sum}, expected totalWeight ${total}` });
  }
  const perContribution = report.contributions.reduce((acc, c) => acc + BigInt(c.weight), 0n);
  if (perContribution !== total) {
    ctx.addIssue({ code: "custom", path: ["contributions"], message: `contribution weights sum to ${perContribution}, expected totalWeight ${total}` });
  }
  const seen = new Set<string>();
  report.contributors.forEach((c, i) => {
    const key = c.account.toLowerCase();
    if (seen.has(key)) ctx.addIssue({ code: "custom", path: ["contributors", i, "account"], message: `duplicate account ${c.account}` });
    seen.add(key);
  });
});

export type ContributionAttribution = z.infer<typeof ContributionAttribution>;
export type ContributorWeight = z.infer<typeof ContributorWeight>;
export type AttributionReport = z.infer<typeof AttributionReport>;
