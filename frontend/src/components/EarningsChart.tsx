// A contributor's cumulative earnings by day (plain SVG, like the loss chart): claimed, and earned from use.
import { chartGeometry } from "../lib/chart.ts";
import { ChartAxes } from "./ChartAxes.tsx";
import type { EarningsSeries } from "../lib/earnings.ts";
import { formatNumber } from "../lib/format.ts";

const W = 640;
const H = 240;
const PAD = 44;

export function EarningsChart({ series }: { series: EarningsSeries }) {
  const g = chartGeometry([...series.claimed, ...series.earnedFromUse, { x: 0, y: 0 }], W, H, PAD);
  const line = (points: { x: number; y: number }[]) =>
    points
      .map((p, i) => {
        const s = g.toScreen(p);
        return `${i ? "L" : "M"}${s.x.toFixed(1)} ${s.y.toFixed(1)}`;
      })
      .join(" ");
  const since = new Date(series.t0 * 1000).toLocaleDateString();
  return (
    <figure className="chart">
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`Your cumulative earnings in OPEN by day since ${since}`}
        data-testid="earnings-chart"
        data-claimed-points={series.claimed.length}
        data-use-points={series.earnedFromUse.length}
      >
        <ChartAxes
          g={g}
          width={W}
          height={H}
          pad={PAD}
          xLabel={`days since ${since}`}
          formatX={(v) => formatNumber(v, 2)}
        />
        <path d={line(series.claimed)} className="line train" />
        <path d={line(series.earnedFromUse)} className="line eval" />
        {series.claimed.map((p) => {
          const s = g.toScreen(p);
          return <circle key={`c${p.x}-${p.y}`} cx={s.x} cy={s.y} r={3} className="dot train" />;
        })}
      </svg>
      <figcaption>
        <span className="legend train">claimed (model rewards and usage)</span>
        {series.earnedFromUse.length > 0 && <span className="legend eval">earned from use (per epoch)</span>}
      </figcaption>
    </figure>
  );
}
