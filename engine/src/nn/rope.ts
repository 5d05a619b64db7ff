/**
 * Rotary position embedding, Hugging Face "rotate half" convention: within each head of size hd,
 * dimension i pairs with i + hd/2 and both rotate by angle pos * theta^(-2i/hd):
 *   y[i]      = x[i] cos - x[i+h] sin
 *   y[i+h]    = x[i+h] cos + x[i] sin
 * The backward is the inverse rotation (sin -> -sin). Angles follow HF's float32 arithmetic.
 */
export interface RopeTables {
  headDim: number;
  maxPos: number;
  cos: Float32Array; // [maxPos, hd/2]
  sin: Float32Array; // [maxPos, hd/2]
}

export function ropeTables(headDim: number, theta: number, maxPos: number): RopeTables {
  const half = headDim / 2;
  const cos = new Float32Array(maxPos * half);
  const sin = new Float32Array(maxPos * half);
  for (let i = 0; i < half; i++) {
    const invFreq = Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / headDim)));
    for (let p = 0; p < maxPos; p++) {
      const angle = Math.fround(p * invFreq);
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return { headDim, maxPos, cos, sin };
}

// x [N, heads * hd] rotated in place; positions [N]. inverse = true applies the transpose (backward).
export function ropeApply(
  x: Float32Array,
  positions: ArrayLike<number>,
  heads: number,
  t: RopeTables,
  inverse = false,
): void {
  const hd = t.headDim;
  const half = hd / 2;
  const sign = inverse ? -1 : 1;
  for (let n = 0; n < positions.length; n++) {
    const p = positions[n];
    if (p >= t.maxPos) throw new RangeError(`position ${p} beyond the RoPE table (${t.maxPos})`);
    for (let h = 0; h < heads; h++) {
      const o = (n * heads + h) * hd;
      for (let i = 0; i < half; i++) {
        const c = t.cos[p * half + i];
        const s = sign * t.sin[p * half + i];
        const a = x[o + i];
        const b = x[o + i + half];
        x[o + i] = a * c - b * s;
        x[o + i + half] = b * c + a * s;
      }
    }
  }
}
