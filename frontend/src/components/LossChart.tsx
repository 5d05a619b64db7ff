// The training loss as a line chart (plain SVG): training loss, eval loss as dots.
import { chartGeometry } from "../lib/chart.ts";
import type { Point } from "../lib/chart.ts";
import { formatNumber } from "../lib/format.ts";

const W = 640;
const H = 260;
const PAD = 40;

export function LossChart({
  loss,
  evalLoss,
  totalSteps,
}: {
  loss: Point[];
  evalLoss: Point[];
  totalSteps?: number;
}) {
  const g = chartGeometry([...loss, ...evalLoss], W, H, PAD, totalSteps);
  // One scale for both series: draw the training line with the combined geometry's mapping.
  const line = loss.map((p, i) => {
    const s = g.toScreen(p);
    return `${i ? "L" : "M"}${s.x.toFixed(1)} ${s.y.toFixed(1)}`;
  });
  return (
    <figure className="chart">
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label="Training loss by step"
        data-testid="loss-chart"
        data-points={loss.length}
      >
        {g.yTicks.map((t) => (
          <g key={`y${t.value}`}>
            <line x1={PAD} x2={W - PAD} y1={t.pos} y2={t.pos} className="grid" />
            <text x={PAD - 6} y={t.pos + 4} textAnchor="end" className="tick">
              {formatNumber(t.value, 3)}
            </text>
          </g>
        ))}
        {g.xTicks.map((t) => (
          <text key={`x${t.value}`} x={t.pos} y={H - PAD + 16} textAnchor="middle" className="tick">
            {t.value}
          </text>
        ))}
        <text x={W / 2} y={H - 4} textAnchor="middle" className="axis-label">
          step
        </text>
        <path d={line.join(" ")} className="line train" />
        {evalLoss.map((p) => {
          const s = g.toScreen(p);
          return <circle key={`e${p.x}`} cx={s.x} cy={s.y} r={4} className="dot eval" />;
        })}
      </svg>
      <figcaption>
        <span className="legend train">training loss</span>
        {evalLoss.length > 0 && <span className="legend eval">eval loss</span>}
      </figcaption>
    </figure>
  );
}
