/**
 * Causal grouped-query attention over a batch of B sequences of T tokens (after RoPE).
 * Query head h reads key/value head h / (H / Hkv). A token attends to earlier tokens of the same
 * segment only (segments let several examples share one packed row without seeing each other).
 *   S = q k^T / sqrt(hd) (masked), P = softmax(S), O = P v
 * Backward:  dP = dO v^T,  dv += P^T dO,  dS = P * (dP - rowsum(dP * P)),  dq = dS k / sqrt(hd),
 *   dk += dS^T q / sqrt(hd).
 */
import type { Kernel } from "../kernels/kernel.ts";
import { expFast } from "./fast-math.ts";

export interface AttentionShape {
  B: number;
  T: number;
  H: number;
  Hkv: number;
  hd: number;
}

export interface AttentionCache {
  probs: Float32Array; // [B, H, T, T]
}

// Copies head h of batch row b out of x [B*T, heads*hd] into dst [T, hd].
function gatherHead(dst: Float32Array, x: Float32Array, b: number, h: number, heads: number, s: AttentionShape): Float32Array {
  const { T, hd } = s;
  for (let t = 0; t < T; t++) {
    const src = ((b * T + t) * heads + h) * hd;
    dst.set(x.subarray(src, src + hd), t * hd);
  }
  return dst;
}

function scatterHead(x: Float32Array, src: Float32Array, b: number, h: number, heads: number, s: AttentionShape, add: boolean): void {
  const { T, hd } = s;
  for (let t = 0; t < T; t++) {
    const dst = ((b * T + t) * heads + h) * hd;
    if (add) {
      const so = t * hd;
      for (let j = 0; j < hd; j++) x[dst + j] += src[so + j];
    } else x.set(src.subarray(t * hd, t * hd + hd), dst);
  }
}

// Causal (and segment-masked) softmax of the raw scores of one head, in place: p [T, T].
function softmaxRows(p: Float32Array, T: number, scale: number, segments: Int32Array | null, base: number, fast: boolean): void {
  for (let i = 0; i < T; i++) {
    const row = i * T;
    const segI = segments ? segments[base + i] : 0;
    let max = -Infinity;
    for (let j = 0; j <= i; j++) {
      if (segments && segments[base + j] !== segI) {
        p[row + j] = 0;
        continue;
      }
      const val = p[row + j] * scale;
      p[row + j] = val;
      if (val > max) max = val;
    }
    p.fill(0, row + i + 1, row + T);
    let sum = 0;
    for (let j = 0; j <= i; j++) {
      if (segments && segments[base + j] !== segI) continue;
      const x = p[row + j] - max;
      const e = fast ? expFast(x) : Math.exp(x);
      p[row + j] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let j = 0; j <= i; j++) p[row + j] *= inv;
  }
}

// forward: q [B*T, H*hd], k, v [B*T, Hkv*hd], segments [B*T] or null -> out [B*T, H*hd]
export async function attentionForward(
  kernel: Kernel,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  segments: Int32Array | null,
  s: AttentionShape,
): Promise<{ out: Float32Array; cache: AttentionCache }> {
  const { B, T, H, Hkv, hd } = s;
  const group = H / Hkv;
  const scale = 1 / Math.sqrt(hd);
  const fast = !!kernel.fastMath;
  const out = new Float32Array(B * T * H * hd);
  const probs = new Float32Array(B * H * T * T);
  // per-head work buffers, reused for every head
  const kb = new Float32Array(T * hd);
  const vb = new Float32Array(T * hd);
  const qb = new Float32Array(T * hd);
  const ob = new Float32Array(T * hd);
  for (let b = 0; b < B; b++) {
    for (let kh = 0; kh < Hkv; kh++) {
      gatherHead(kb, k, b, kh, Hkv, s);
      gatherHead(vb, v, b, kh, Hkv, s);
      for (let g = 0; g < group; g++) {
        const h = kh * group + g;
        gatherHead(qb, q, b, h, H, s);
        const p = probs.subarray((b * H + h) * T * T, (b * H + h + 1) * T * T);
        await kernel.matmul({ a: qb, b: kb, m: T, n: T, k: hd, transB: true, out: p });
        softmaxRows(p, T, scale, segments, b * T, fast);
        await kernel.matmul({ a: p, b: vb, m: T, n: hd, k: T, out: ob });
        scatterHead(out, ob, b, h, H, s, false);
      }
    }
  }
  return { out, cache: { probs } };
}

// backward: dout [B*T, H*hd] -> dq [B*T, H*hd], dk, dv [B*T, Hkv*hd]
export async function attentionBackward(
  kernel: Kernel,
  dout: Float32Array,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  cache: AttentionCache,
  s: AttentionShape,
): Promise<{ dq: Float32Array; dk: Float32Array; dv: Float32Array }> {
  const { B, T, H, Hkv, hd } = s;
  const group = H / Hkv;
  const scale = 1 / Math.sqrt(hd);
  const dq = new Float32Array(q.length);
  const dk = new Float32Array(k.length);
  const dv = new Float32Array(v.length);
  const kb = new Float32Array(T * hd);
  const vb = new Float32Array(T * hd);
  const qb = new Float32Array(T * hd);
  const dob = new Float32Array(T * hd);
  const dqb = new Float32Array(T * hd);
  const dkb = new Float32Array(T * hd);
  const dvb = new Float32Array(T * hd);
  const dp = new Float32Array(T * T);
  for (let b = 0; b < B; b++) {
    for (let kh = 0; kh < Hkv; kh++) {
      gatherHead(kb, k, b, kh, Hkv, s);
      gatherHead(vb, v, b, kh, Hkv, s);
      dkb.fill(0);
      dvb.fill(0);
      for (let g = 0; g < group; g++) {
        const h = kh * group + g;
        gatherHead(qb, q, b, h, H, s);
        gatherHead(dob, dout, b, h, H, s);
        const p = cache.probs.subarray((b * H + h) * T * T, (b * H + h + 1) * T * T);
        await kernel.matmul({ a: dob, b: vb, m: T, n: T, k: hd, transB: true, out: dp });
        await kernel.matmul({ a: p, b: dob, m: T, n: hd, k: T, transA: true, out: dvb, accumulate: true });
        for (let i = 0; i < T; i++) {
          const row = i * T;
          let dot = 0;
          for (let j = 0; j <= i; j++) dot += dp[row + j] * p[row + j];
          for (let j = 0; j <= i; j++) dp[row + j] = p[row + j] * (dp[row + j] - dot) * scale;
          dp.fill(0, row + i + 1, row + T);
        }
        await kernel.matmul({ a: dp, b: kb, m: T, n: hd, k: T, out: dqb });
        scatterHead(dq, dqb, b, h, H, s, false);
        await kernel.matmul({ a: dp, b: qb, m: T, n: hd, k: T, transA: true, out: dkb, accumulate: true });
      }
      scatterHead(dk, dkb, b, kh, Hkv, s, true);
      scatterHead(dv, dvb, b, kh, Hkv, s, true);
    }
  }
  return { dq, dk, dv };
}

/**
 * Inference attention against a KV cache: n new queries at positions past..past+n-1, each attending
 * to cached keys 0..its own position. kCache, vCache [maxLen, Hkv*hd] already hold the new keys.
 */
export function attentionCached(
  q: Float32Array, // [n, H*hd]
  kCache: Float32Array,
  vCache: Float32Array,
  past: number,
  n: number,
  H: number,
  Hkv: number,
  hd: number,
  out: Float32Array = new Float32Array(n * H * hd),
): Float32Array {
  const group = H / Hkv;
  const scale = 1 / Math.sqrt(hd);
  const kvw = Hkv * hd;
  out.fill(0, 0, n * H * hd);
  const scores = new Float64Array(past + n);
  for (let i = 0; i < n; i++) {
    const len = past + i + 1;
    for (let h = 0; h < H; h++) {
      const kh = (h / group) | 0;
      const qo = (i * H + h) * hd;
      const qEnd = qo + hd;
      let max = -Infinity;
      for (let j = 0, ko = kh * hd; j < len; j++, ko += kvw) {
        let dot = 0;
        for (let d = qo, kd = ko; d < qEnd; d++, kd++) dot += q[d] * kCache[kd];
        const sc = Math.fround(dot) * scale;
        scores[j] = sc;
        if (sc > max) max = sc;
      }
      let sum = 0;
      for (let j = 0; j < len; j++) {
        const e = Math.exp(scores[j] - max);
        scores[j] = e;
        sum += e;
      }
      const oo = (i * H + h) * hd;
      const oEnd = oo + hd;
      for (let j = 0, vo = kh * hd; j < len; j++, vo += kvw) {
        const pj = scores[j] / sum;
        for (let d = oo, vd = vo; d < oEnd; d++, vd++) out[d] += pj * vCache[vd];
      }
    }
  }
  return out;
}
