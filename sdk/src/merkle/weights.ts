// Turning real-valued influence scores into integer weights that sum exactly to a fixed total.

/** Default total weight: 1e18, so a weight reads like an 18-decimal fraction. */
export const DEFAULT_TOTAL_WEIGHT = 10n ** 18n;

const SCALE_BITS = 52n;

/**
 * Integer weights proportional to `scores`, summing exactly to `total` (largest-remainder method,
 * ties to the lower index, so the result is deterministic). Negative and non-finite scores count as
 * zero (a harmful or unmeasured contribution earns nothing); if no score is positive the total is
 * split evenly.
 */
export function normaliseWeights(scores: readonly number[], total: bigint = DEFAULT_TOTAL_WEIGHT): bigint[] {
  if (total < 0n) throw new RangeError(`total weight must be non-negative, got ${total}`);
  const n = scores.length;
  if (n === 0) return [];
  const clipped = scores.map((s) => (Number.isFinite(s) && s > 0 ? s : 0));
  const max = Math.max(...clipped);
  // Quantise to integers relative to the largest score (52 bits of precision), then divide exactly.
  const q = max === 0 ? clipped.map(() => 1n) : clipped.map((s) => BigInt(Math.round((s / max) * 2 ** Number(SCALE_BITS))));
  const sum = q.reduce((a, b) => a + b, 0n);
  const weights = q.map((x) => (total * x) / sum);
  let left = total - weights.reduce((a, b) => a + b, 0n);
  const order = q.map((x, i) => ({ i, rem: (total * x) % sum })).sort((a, b) => (a.rem === b.rem ? a.i - b.i : a.rem > b.rem ? -1 : 1));
  for (let k = 0; left > 0n; k++, left--) weights[order[k % n].i] += 1n;
  return weights;
}

/** Sums weights per account (case-insensitive), keeping first-seen order and the first spelling. */
export function sumByAccount(entries: ReadonlyArray<{ account: string; weight: bigint }>): Array<{ account: string; weight: bigint }> {
  const byKey = new Map<string, { account: string; weight: bigint }>();
  for (const e of entries) {
    const key = e.account.toLowerCase();
    const prev = byKey.get(key);
    if (prev) prev.weight += e.weight;
    else byKey.set(key, { account: e.account, weight: e.weight });
  }
  return [...byKey.values()];
}
