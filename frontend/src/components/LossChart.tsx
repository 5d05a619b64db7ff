// The training loss as a line chart (plain SVG): training loss, eval loss as dots.
import { chartGeometry } from "../lib/chart.ts";
import { ChartAxes } from "./ChartAxes.tsx";
import type { Point } from "../lib/chart.ts";

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
        <ChartAxes g={g} width={W} height={H} pad={PAD} xLabel="step" />
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
