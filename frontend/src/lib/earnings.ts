// A contributor's earnings over time, for the rewards page's chart: cumulative OPEN claimed (training-time
// model rewards and usage epochs, from the subgraph) and cumulative OPEN earned from use (each usage epoch
// the account earned in, at its commit time, claimed or not).
import type { Point } from "./chart.ts";

export interface Amount {
  /** Unix seconds. */
  timestamp: number;
  /** OPEN wei. */
  amount: bigint;
}

export interface EarningsSeries {
  /** Unix seconds of x = 0 (the first event). */
  t0: number;
  /** x: days since t0; y: cumulative OPEN (a float, for drawing only). */
  claimed: Point[];
  earnedFromUse: Point[];
  totalClaimed: bigint;
  totalEarnedFromUse: bigint;
}

const DAY = 86_400;
const toOpen = (wei: bigint) => Number(wei / 10n ** 12n) / 1e6;

/** Sorts each list by time and accumulates it; both series share one time origin. */
export function earningsSeries(claims: Amount[], earnedFromUse: Amount[]): EarningsSeries {
  const all = [...claims, ...earnedFromUse];
  const t0 = all.length ? Math.min(...all.map((a) => a.timestamp)) : 0;
  const cumulative = (list: Amount[]) => {
    let sum = 0n;
    const points = [...list]
      .sort((a, b) => a.timestamp - b.timestamp)
      .map((a) => {
        sum += a.amount;
        return { x: (a.timestamp - t0) / DAY, y: toOpen(sum) };
      });
    return { points, sum };
  };
  const c = cumulative(claims);
  const u = cumulative(earnedFromUse);
  return { t0, claimed: c.points, earnedFromUse: u.points, totalClaimed: c.sum, totalEarnedFromUse: u.sum };
}
