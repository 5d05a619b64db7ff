// Geometry of the loss chart: points -> an SVG path in a box, with "nice" axis ticks.

export interface Point {
  x: number;
  y: number;
}

export interface ChartGeometry {
  /** SVG path data ("M x y L x y ..."); empty for no points. */
  path: string;
  xTicks: Array<{ value: number; pos: number }>;
  yTicks: Array<{ value: number; pos: number }>;
  /** Maps a data point into the box (for markers). */
  toScreen(p: Point): Point;
}

/** Round tick values (1, 2, 5 x 10^k) covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const raw = (max - min) / Math.max(1, count - 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  // The round step whose tick count comes closest to `count`.
  const span = max - min;
  const step = [1, 2, 5, 10]
    .map((m) => m * mag)
    .reduce((best, s) => (Math.abs(span / s - (count - 1)) < Math.abs(span / best - (count - 1)) ? s : best));
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

/**
 * Lays out `points` in a `width` x `height` box with `pad` pixels of margin on each side. The x range
 * runs from 0 (or the first x) to at least `xMax` (e.g. the total steps), so the curve grows left to right.
 */
export function chartGeometry(
  points: Point[],
  width: number,
  height: number,
  pad = 32,
  xMax?: number,
): ChartGeometry {
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y).filter(Number.isFinite);
  const x0 = Math.min(0, ...xs);
  const x1 = Math.max(xMax ?? 1, ...xs, x0 + 1);
  let y0 = ys.length ? Math.min(...ys) : 0;
  let y1 = ys.length ? Math.max(...ys) : 1;
  if (y0 === y1) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const toScreen = (p: Point): Point => ({
    x: pad + ((p.x - x0) / (x1 - x0)) * (width - 2 * pad),
    y: height - pad - ((p.y - y0) / (y1 - y0)) * (height - 2 * pad),
  });
  const path = points
    .filter((p) => Number.isFinite(p.y))
    .map((p, i) => {
      const s = toScreen(p);
      return `${i === 0 ? "M" : "L"}${s.x.toFixed(1)} ${s.y.toFixed(1)}`;
    })
    .join(" ");
  return {
    path,
    xTicks: niceTicks(x0, x1, 6).map((value) => ({ value, pos: toScreen({ x: value, y: y0 }).x })),
    yTicks: niceTicks(y0, y1, 5).map((value) => ({ value, pos: toScreen({ x: x0, y: value }).y })),
    toScreen,
  };
}
