/**
 * SwiGLU activation of the Llama MLP: h = silu(g) * u, with g = x Wgate^T and u = x Wup^T
 * (the three projections are `linear.ts` layers; the block is composed in model/llama.ts).
 *   silu(a) = a * sigmoid(a),  silu'(a) = sigmoid(a) * (1 + a * (1 - sigmoid(a)))
 */

// forward: g, u [N, I] -> h [N, I]
export function swigluForward(g: Float32Array, u: Float32Array): Float32Array {
  const h = new Float32Array(g.length);
  for (let i = 0; i < g.length; i++) {
    const a = g[i];
    h[i] = Math.fround(a / (1 + Math.exp(-a))) * u[i];
  }
  return h;
}

// backward: dh [N, I] -> dg, du [N, I]
export function swigluBackward(dh: Float32Array, g: Float32Array, u: Float32Array): { dg: Float32Array; du: Float32Array } {
  const dg = new Float32Array(g.length);
  const du = new Float32Array(g.length);
  for (let i = 0; i < g.length; i++) {
    const a = g[i];
    const sig = 1 / (1 + Math.exp(-a));
    du[i] = dh[i] * a * sig;
    dg[i] = dh[i] * u[i] * sig * (1 + a * (1 - sig));
  }
  return { dg, du };
}
