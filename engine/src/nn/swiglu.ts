/**
 * SwiGLU activation of the Llama MLP: h = silu(g) * u, with g = x Wgate^T and u = x Wup^T
 * (the three projections are `linear.ts` layers; the block is composed in model/llama.ts).
 *   silu(a) = a * sigmoid(a),  silu'(a) = sigmoid(a) * (1 + a * (1 - sigmoid(a)))
 * The forward keeps sigmoid(g) so that the backward needs no second exp. `fast` uses the
 * deterministic polynomial exp of fast-math.ts (the fast kernels) instead of Math.exp.
 */
import { elementwise } from "../kernels/elementwise.ts";
import { expFast } from "./fast-math.ts";

// forward: g, u [N, I] -> h [N, I], sig = sigmoid(g) [N, I]
export function swigluForward(g: Float32Array, u: Float32Array, fast = false): { h: Float32Array; sig: Float32Array } {
  const n = g.length;
  const h = new Float32Array(n);
  const sig = new Float32Array(n);
  const ew = fast ? elementwise() : null;
  if (ew) {
    ew.swiglu(g, u, h, sig); // same numbers as the loop below, in wasm SIMD
    return { h, sig };
  }
  for (let i = 0; i < n; i++) {
    const a = g[i];
    const s = 1 / (1 + (fast ? expFast(-a) : Math.exp(-a)));
    sig[i] = s;
    h[i] = Math.fround(a * s) * u[i];
  }
  return { h, sig };
}

// backward: dh [N, I] -> dg, du [N, I]. With `inPlace`, dg overwrites dh (not used afterwards).
export function swigluBackward(dh: Float32Array, g: Float32Array, u: Float32Array, sig: Float32Array, { inPlace = false }: { inPlace?: boolean } = {}): { dg: Float32Array; du: Float32Array } {
  const n = g.length;
  const dg = inPlace ? dh : new Float32Array(n);
  const du = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = g[i];
    const s = sig[i];
    const d = dh[i];
    du[i] = d * a * s;
    dg[i] = d * u[i] * s * (1 + a * (1 - s));
  }
  return { dg, du };
}
