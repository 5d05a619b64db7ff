import assert from "node:assert/strict";
import { Rng } from "../../src/random/prng.ts";

export function randn(n: number, rng: Rng, std = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * std;
  return a;
}

/**
 * Compares an analytic gradient with central finite differences of `loss` (which reads `x`):
 * along random directions and on a few single coordinates. Inputs are f32, so eps is largish and the
 * tolerance relative.
 */
export async function checkGrad(
  name: string,
  x: Float32Array,
  grad: Float32Array,
  loss: () => number | Promise<number>,
  { eps = 1e-2, tol = 2e-2, coords = 4, dirs = 2, seed = 7 } = {},
): Promise<void> {
  const rng = new Rng(seed);
  const orig = x.slice();
  const fd = async (d: Float32Array) => {
    for (let i = 0; i < x.length; i++) x[i] = orig[i] + eps * d[i];
    const lp = await loss();
    for (let i = 0; i < x.length; i++) x[i] = orig[i] - eps * d[i];
    const lm = await loss();
    x.set(orig);
    return (lp - lm) / (2 * eps);
  };
  for (let t = 0; t < dirs; t++) {
    const d = randn(x.length, rng);
    let an = 0;
    for (let i = 0; i < x.length; i++) an += grad[i] * d[i];
    const num = await fd(d);
    const err = Math.abs(an - num) / Math.max(1e-3, Math.abs(an) + Math.abs(num));
    assert.ok(err < tol, `${name}: directional derivative analytic ${an} vs numeric ${num} (rel err ${err.toExponential(2)})`);
  }
  let scale = 0;
  for (let i = 0; i < grad.length; i++) scale = Math.max(scale, Math.abs(grad[i]));
  for (let t = 0; t < coords; t++) {
    const i = rng.int(x.length);
    const d = new Float32Array(x.length);
    d[i] = 1;
    const num = await fd(d);
    const err = Math.abs(grad[i] - num) / Math.max(scale * 0.05, Math.abs(grad[i]) + Math.abs(num), 1e-4);
    assert.ok(err < tol * 2, `${name}[${i}]: analytic ${grad[i]} vs numeric ${num} (rel err ${err.toExponential(2)})`);
  }
}

/** sum(y * r) and its gradient r: a fixed random projection turns any output into a scalar loss. */
export function projection(n: number, seed: number): Float32Array {
  return randn(n, new Rng(seed));
}

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
