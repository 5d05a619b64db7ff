/**
 * RMSNorm (Llama): y = w * x / sqrt(mean(x^2) + eps), per row of D features.
 * Backward with g = dy * w and r = rstd:  dx = r * g - x * r^3 * (g . x) / D,  dw += dy * x * r.
 */

// forward: x [N, D], w [D] -> y [N, D], rstd [N]
export function rmsnormForward(x: Float32Array, w: Float32Array, eps: number): { y: Float32Array; rstd: Float32Array } {
  const d = w.length;
  const n = x.length / d;
  const y = new Float32Array(x.length);
  const rstd = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * d;
    let ss = 0;
    for (let j = 0; j < d; j++) ss += x[o + j] * x[o + j];
    const r = Math.fround(1 / Math.sqrt(Math.fround(ss / d) + eps));
    rstd[i] = r;
    for (let j = 0; j < d; j++) y[o + j] = w[j] * Math.fround(x[o + j] * r);
  }
  return { y, rstd };
}

// backward: dy [N, D] -> dx [N, D] (returned), dw [D] += (when given)
export function rmsnormBackward(
  dy: Float32Array,
  x: Float32Array,
  w: Float32Array,
  rstd: Float32Array,
  dw: Float32Array | null,
): Float32Array {
  const d = w.length;
  const n = x.length / d;
  const dx = new Float32Array(x.length);
  for (let i = 0; i < n; i++) {
    const o = i * d;
    const r = rstd[i];
    let gx = 0;
    for (let j = 0; j < d; j++) gx += dy[o + j] * w[j] * x[o + j];
    const c = (r * r * r * gx) / d;
    for (let j = 0; j < d; j++) dx[o + j] = r * dy[o + j] * w[j] - x[o + j] * c;
    if (dw) for (let j = 0; j < d; j++) dw[j] += dy[o + j] * x[o + j] * r;
  }
  return dx;
}
