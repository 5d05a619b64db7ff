// The grid, tick labels and x-axis label the app's SVG line charts share (loss, earnings).
import type { ChartGeometry } from "../lib/chart.ts";
import { formatNumber } from "../lib/format.ts";

export function ChartAxes({
  g,
  width,
  height,
  pad,
  xLabel,
  formatX = (v) => String(v),
}: {
  g: ChartGeometry;
  width: number;
  height: number;
  pad: number;
  xLabel: string;
  formatX?: (value: number) => string;
}) {
  return (
    <>
      {g.yTicks.map((t) => (
        <g key={`y${t.value}`}>
          <line x1={pad} x2={width - pad} y1={t.pos} y2={t.pos} className="grid" />
          <text x={pad - 6} y={t.pos + 4} textAnchor="end" className="tick">
            {formatNumber(t.value, 3)}
          </text>
        </g>
      ))}
      {g.xTicks.map((t) => (
        <text key={`x${t.value}`} x={t.pos} y={height - pad + 16} textAnchor="middle" className="tick">
          {formatX(t.value)}
        </text>
      ))}
      <text x={width / 2} y={height - 4} textAnchor="middle" className="axis-label">
        {xLabel}
      </text>
    </>
  );
}
