/**
 * SwiGLU activation of the Llama MLP: h = silu(g) * u, with g = x Wgate^T and u = x Wup^T
 * (the three projections are `linear.ts` layers; the block is composed in model/llama.ts).
 *   silu(a) = a * sigmoid(a),  silu'(a) = sigmoid(a) * (1 + a * (1 - sigmoid(a)))
 * The forward keeps sigmoid(g) so that the backward needs no second exp.
 */

// forward: g, u [N, I] -> h [N, I], sig = sigmoid(g) [N, I]
export function swigluForward(g: Float32Array, u: Float32Array): { h: Float32Array; sig: Float32Array } {
  const h = new Float32Array(g.length);
  const sig = new Float32Array(g.length);
  for (let i = 0; i < g.length; i++) {
    const a = g[i];
    const s = 1 / (1 + Math.exp(-a));
    sig[i] = s;
    h[i] = Math.fround(a * s) * u[i];
  }
  return { h, sig };
}

// backward: dh [N, I] -> dg, du [N, I]
export function swigluBackward(dh: Float32Array, g: Float32Array, u: Float32Array, sig: Float32Array): { dg: Float32Array; du: Float32Array } {
  const dg = new Float32Array(g.length);
  const du = new Float32Array(g.length);
  for (let i = 0; i < g.length; i++) {
    const a = g[i];
    const s = sig[i];
    du[i] = dh[i] * a * s;
    dg[i] = dh[i] * u[i] * s * (1 + a * (1 - s));
  }
  return { dg, du };
}
