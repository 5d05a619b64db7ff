/**
 * Causal grouped-query attention over a batch of B sequences of T tokens (after RoPE).
 * Query head h reads key/value head h / (H / Hkv). A token attends to earlier tokens of the same
 * segment only (segments let several examples share one packed row without seeing each other).
 *   S = q k^T / sqrt(hd) (masked), P = softmax(S), O = P v
 * Backward:  dP = dO v^T,  dv += P^T dO,  dS = P * (dP - rowsum(dP * P)),  dq = dS k / sqrt(hd),
 *   dk += dS^T q / sqrt(hd).
 */
import { batchMatmul } from "../kernels/kernel.ts";
import type { Kernel } from "../kernels/kernel.ts";
import { attentionRowsFit, elementwise } from "../kernels/elementwise.ts";
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

// [B*T, heads*hd] (token-major) -> [B, H, T, hd] (head-major, one contiguous block per query head);
// for key/value tensors (heads = Hkv < H) each kv head is repeated for the `group` query heads that read it.
function toHeadMajor(x: Float32Array, heads: number, s: AttentionShape): Float32Array {
  const { B, T, H, hd } = s;
  const group = H / heads;
  const out = new Float32Array(B * H * T * hd);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const src0 = b * T * heads * hd + ((h / group) | 0) * hd;
      const dst0 = (b * H + h) * T * hd;
      for (let t = 0; t < T; t++) {
        const src = src0 + t * heads * hd;
        const dst = dst0 + t * hd;
        for (let j = 0; j < hd; j++) out[dst + j] = x[src + j];
      }
    }
  }
  return out;
}

// [B, H, T, hd] -> [B*T, heads*hd]; with heads = Hkv < H the `group` query heads of a kv head are summed
// in head order (0 + g0 + g1 + ...), as accumulating products one query head at a time would.
function fromHeadMajor(xh: Float32Array, heads: number, s: AttentionShape): Float32Array {
  const { B, T, H, hd } = s;
  const group = H / heads;
  const out = new Float32Array(B * T * heads * hd);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const dst0 = b * T * heads * hd + ((h / group) | 0) * hd;
      const src0 = (b * H + h) * T * hd;
      for (let t = 0; t < T; t++) {
        const dst = dst0 + t * heads * hd;
        const src = src0 + t * hd;
        if (group === 1) for (let j = 0; j < hd; j++) out[dst + j] = xh[src + j];
        else for (let j = 0; j < hd; j++) out[dst + j] += xh[src + j];
      }
    }
  }
  return out;
}

// Causal (and segment-masked) softmax of the raw scores of one head, in place: p [T, T].
function softmaxRows(p: Float32Array, o: number, T: number, scale: number, segments: Int32Array | null, base: number, fast: boolean): void {
  for (let i = 0; i < T; i++) {
    const row = o + i * T;
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
// All B*H heads go through the kernel as two batched products (scores, then probabilities x values).
export async function attentionForward(
  kernel: Kernel,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  segments: Int32Array | null,
  s: AttentionShape,
): Promise<{ out: Float32Array; cache: AttentionCache }> {
  const { B, T, H, Hkv, hd } = s;
  const scale = 1 / Math.sqrt(hd);
  const fast = !!kernel.fastMath;
  const batch = B * H;
  const qh = toHeadMajor(q, H, s);
  const kh = toHeadMajor(k, Hkv, s);
  const vh = toHeadMajor(v, Hkv, s);
  const probs = new Float32Array(batch * T * T);
  await batchMatmul(kernel, { a: qh, b: kh, m: T, n: T, k: hd, transB: true, out: probs, batch });
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) softmaxRows(probs, (b * H + h) * T * T, T, scale, segments, b * T, fast);
  }
  const oh = await batchMatmul(kernel, { a: probs, b: vh, m: T, n: hd, k: T, out: qh, batch }); // qh reused
  return { out: fromHeadMajor(oh, H, s), cache: { probs } };
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
  const scale = 1 / Math.sqrt(hd);
  const batch = B * H;
  const p = cache.probs;
  const doh = toHeadMajor(dout, H, s);
  const vh = toHeadMajor(v, Hkv, s);
  const dp = await batchMatmul(kernel, { a: doh, b: vh, m: T, n: T, k: hd, transB: true, batch });
  const dvh = await batchMatmul(kernel, { a: p, b: doh, m: T, n: hd, k: T, transA: true, out: vh, batch }); // vh reused
  const dv = fromHeadMajor(dvh, Hkv, s);
  for (let r = 0; r < batch * T; r++) {
    const i = r % T;
    const row = r * T;
    let dot = 0;
    for (let j = 0; j <= i; j++) dot += dp[row + j] * p[row + j];
    for (let j = 0; j <= i; j++) dp[row + j] = p[row + j] * (dp[row + j] - dot) * scale;
    dp.fill(0, row + i + 1, row + T);
  }
  const kh = toHeadMajor(k, Hkv, s);
  const qh = toHeadMajor(q, H, s);
  const dqh = await batchMatmul(kernel, { a: dp, b: kh, m: T, n: hd, k: T, out: doh, batch }); // doh reused
  const dq = fromHeadMajor(dqh, H, s);
  const dkh = await batchMatmul(kernel, { a: dp, b: qh, m: T, n: hd, k: T, transA: true, out: kh, batch }); // kh reused
  const dk = fromHeadMajor(dkh, Hkv, s);
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
  if (n === 1) {
    // one decoded token: the same numbers through the one-row path (wasm SIMD where available)
    attentionDecodeRows(q, [{ qRow: 0, k: kCache, v: vCache, len: past + 1 }], H, Hkv, hd, out);
    return out;
  }
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

/** Reused score buffer of attentionDecodeRows (grown on demand). */
let decodeScores = new Float64Array(256);

/**
 * One decoded token for each of `rows.length` sequences in one call (continuous batching): row i's query
 * q[rows[i].qRow * H*hd ...] attends to its cache's keys 0..len-1 (len = past + 1, the new key already
 * written) and its output goes to out at the same row. Every output equals attentionCached(q_i, kCache_i,
 * vCache_i, len - 1, 1, ...) bit for bit: the same operations in the same order (dot products summed in
 * f64 over the head dimension, f32-rounded scores, f64 softmax, f32 accumulation of the weighted values);
 * only the loop structure differs (the query heads sharing a key head read each key once, no allocation
 * per row).
 */
export function attentionDecodeRows(
  q: Float32Array, // [rows, H*hd]
  rows: readonly { qRow: number; k: Float32Array; v: Float32Array; len: number }[],
  H: number,
  Hkv: number,
  hd: number,
  out: Float32Array, // [rows, H*hd], written at each listed row
): void {
  const ew = elementwise();
  if (ew && attentionRowsFit(H, Hkv, hd)) return ew.attentionRows(q, rows, H, Hkv, hd, out); // same bits, in wasm SIMD
  const group = H / Hkv;
  const scale = 1 / Math.sqrt(hd);
  const kvw = Hkv * hd;
  const qw = H * hd;
  let maxLen = 0;
  for (const r of rows) if (r.len > maxLen) maxLen = r.len;
  if (decodeScores.length < group * maxLen) decodeScores = new Float64Array(Math.max(2 * decodeScores.length, group * maxLen));
  const scores = decodeScores;
  for (const { qRow, k: kCache, v: vCache, len } of rows) {
    const rowQ = qRow * qw;
    for (let kh = 0; kh < Hkv; kh++) {
      // scores of the group's query heads, head g's at scores[g * len + j]
      for (let g = 0; g < group; g++) {
        const qo = rowQ + (kh * group + g) * hd;
        const so = g * len;
        let max = -Infinity;
        // four keys at a time: four independent f64 sums, each over d in order (as attentionCached)
        let j = 0;
        for (let ko = kh * hd; j + 4 <= len; j += 4, ko += 4 * kvw) {
          let d0 = 0, d1 = 0, d2 = 0, d3 = 0;
          for (let d = 0; d < hd; d++) {
            const qd = q[qo + d];
            d0 += qd * kCache[ko + d];
            d1 += qd * kCache[ko + kvw + d];
            d2 += qd * kCache[ko + 2 * kvw + d];
            d3 += qd * kCache[ko + 3 * kvw + d];
          }
          const s0 = Math.fround(d0) * scale, s1 = Math.fround(d1) * scale, s2 = Math.fround(d2) * scale, s3 = Math.fround(d3) * scale;
          scores[so + j] = s0;
          scores[so + j + 1] = s1;
          scores[so + j + 2] = s2;
          scores[so + j + 3] = s3;
          if (s0 > max) max = s0;
          if (s1 > max) max = s1;
          if (s2 > max) max = s2;
          if (s3 > max) max = s3;
        }
        for (let ko = kh * hd + j * kvw; j < len; j++, ko += kvw) {
          let dot = 0;
          for (let d = 0; d < hd; d++) dot += q[qo + d] * kCache[ko + d];
          const sc = Math.fround(dot) * scale;
          scores[so + j] = sc;
          if (sc > max) max = sc;
        }
        let sum = 0;
        for (let j = so; j < so + len; j++) {
          const e = Math.exp(scores[j] - max);
          scores[j] = e;
          sum += e;
        }
        for (let j = so; j < so + len; j++) scores[j] = scores[j] / sum;
        // out[d] = f32 sum over j of p_j v_j[d], in j order (as attentionCached's += into f32), four d at a time
        const oo = rowQ + (kh * group + g) * hd;
        const vo = kh * hd;
        let d = 0;
        for (; d + 4 <= hd; d += 4) {
          let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
          for (let j = 0, vj = vo + d; j < len; j++, vj += kvw) {
            const pj = scores[so + j];
            a0 = Math.fround(a0 + pj * vCache[vj]);
            a1 = Math.fround(a1 + pj * vCache[vj + 1]);
            a2 = Math.fround(a2 + pj * vCache[vj + 2]);
            a3 = Math.fround(a3 + pj * vCache[vj + 3]);
          }
          out[oo + d] = a0;
          out[oo + d + 1] = a1;
          out[oo + d + 2] = a2;
          out[oo + d + 3] = a3;
        }
        for (; d < hd; d++) {
          let a = 0;
          for (let j = 0, vj = vo + d; j < len; j++, vj += kvw) a = Math.fround(a + scores[so + j] * vCache[vj]);
          out[oo + d] = a;
        }
      }
    }
  }
}
