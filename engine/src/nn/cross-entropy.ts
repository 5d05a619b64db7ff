/**
 * Softmax cross-entropy over the vocabulary with a label mask: rows whose target is negative
 * (Hugging Face uses -100) contribute nothing. Targets are already shifted (target[t] is the token
 * that should follow position t).
 *   loss = sum over kept rows of (logsumexp(z) - z[target]),  dz = (softmax(z) - onehot) / normalizer
 */
import { elementwise } from "../kernels/elementwise.ts";
import type { Elementwise } from "../kernels/elementwise.ts";
import { expFast } from "./fast-math.ts";

export const IGNORE_INDEX = -100;

// forward: logits [N, V], targets [N] -> summed loss and number of kept rows
export function crossEntropyForward(logits: Float32Array, targets: ArrayLike<number>, vocab: number): { lossSum: number; count: number } {
  let lossSum = 0;
  let count = 0;
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    if (t < 0) continue;
    lossSum += rowLse(logits, i * vocab, vocab) - logits[i * vocab + t];
    count++;
  }
  return { lossSum, count };
}

// forward + backward in one pass: returns dlogits [N, V] = (softmax - onehot) / normalizer on kept rows.
// `fast` uses the deterministic polynomial exp of fast-math.ts (the fast kernels) instead of Math.exp.
// With inPlace, dlogits overwrites logits (saves an N x V buffer in training, where logits are not reused).
export function crossEntropyBackward(
  logits: Float32Array,
  targets: ArrayLike<number>,
  vocab: number,
  normalizer: number,
  { inPlace = false, fast = false }: { inPlace?: boolean; fast?: boolean } = {},
): { lossSum: number; count: number; dlogits: Float32Array } {
  const dlogits = inPlace ? logits : new Float32Array(logits.length);
  const ew = fast && vocab % 2 === 0 ? elementwise() : null;
  if (ew) return crossEntropyWasm(ew, logits, dlogits, targets, vocab, normalizer, inPlace);
  let lossSum = 0;
  let count = 0;
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    const o = i * vocab;
    if (t < 0) {
      if (inPlace) dlogits.fill(0, o, o + vocab);
      continue;
    }
    if (t >= vocab) throw new RangeError(`target ${t} outside the vocabulary [0, ${vocab})`);
    const zt = logits[o + t];
    // one exp per logit: e = exp(z - max) stored in dlogits, then scaled to softmax / normalizer
    const end = o + vocab;
    let max = -Infinity;
    for (let j = o; j < end; j++) {
      const z = logits[j];
      if (z > max) max = z;
    }
    let sum = 0;
    if (fast) {
      for (let j = o; j < end; j++) {
        const e = expFast(logits[j] - max);
        dlogits[j] = e;
        sum += e;
      }
    } else {
      for (let j = o; j < end; j++) {
        const e = Math.exp(logits[j] - max);
        dlogits[j] = e;
        sum += e;
      }
    }
    lossSum += max + Math.log(sum) - zt;
    count++;
    const c = 1 / (sum * normalizer);
    for (let j = o; j < end; j++) dlogits[j] *= c;
    dlogits[o + t] -= 1 / normalizer;
  }
  return { lossSum, count, dlogits };
}

// The fast path in wasm SIMD: the same numbers as the loop in crossEntropyBackward with `fast`.
function crossEntropyWasm(
  ew: Elementwise,
  logits: Float32Array,
  dlogits: Float32Array,
  targets: ArrayLike<number>,
  vocab: number,
  normalizer: number,
  inPlace: boolean,
): { lossSum: number; count: number; dlogits: Float32Array } {
  const kept: number[] = [];
  const zt: number[] = [];
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    const o = i * vocab;
    if (t < 0) {
      if (inPlace) dlogits.fill(0, o, o + vocab);
      continue;
    }
    if (t >= vocab) throw new RangeError(`target ${t} outside the vocabulary [0, ${vocab})`);
    kept.push(i);
    zt.push(logits[o + t]);
    if (!inPlace) dlogits.set(logits.subarray(o, o + vocab), o);
  }
  const rows = Int32Array.from(kept);
  const { max, sum } = ew.expRows(dlogits, rows, vocab);
  let lossSum = 0;
  const c = new Float64Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    lossSum += max[r] + Math.log(sum[r]) - zt[r];
    c[r] = 1 / (sum[r] * normalizer);
  }
  ew.scaleRows(dlogits, rows, vocab, c);
  for (let r = 0; r < rows.length; r++) dlogits[rows[r] * vocab + targets[rows[r]]] -= 1 / normalizer;
  return { lossSum, count: rows.length, dlogits };
}

function rowLse(z: Float32Array, o: number, n: number): number {
  let max = -Infinity;
  for (let j = 0; j < n; j++) if (z[o + j] > max) max = z[o + j];
  let s = 0;
  for (let j = 0; j < n; j++) s += Math.exp(z[o + j] - max);
  return max + Math.log(s);
}
