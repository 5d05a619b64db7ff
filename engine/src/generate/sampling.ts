/**
 * Next-token choice from a logits row: greedy (temperature 0) or sampling with temperature,
 * top-k and top-p (nucleus), in that order, as transformers' logits warpers apply them.
 * All randomness comes from the seeded Rng, so a seed reproduces a completion.
 */
import type { Rng } from "../random/prng.ts";

export interface SamplingOptions {
  temperature: number;
  topK: number; // 0 = off
  topP: number; // 1 = off
}

export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

export function sampleToken(logits: Float32Array, o: SamplingOptions, rng: Rng): number {
  if (o.temperature <= 0) return argmax(logits);
  // candidates sorted by logit, descending (ties: lower id first)
  const idx = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
  let keep = o.topK > 0 ? Math.min(o.topK, idx.length) : idx.length;
  const max = logits[idx[0]];
  const probs = new Float64Array(keep);
  let sum = 0;
  for (let i = 0; i < keep; i++) {
    probs[i] = Math.exp((logits[idx[i]] - max) / o.temperature);
    sum += probs[i];
  }
  if (o.topP < 1) {
    let cum = 0;
    for (let i = 0; i < keep; i++) {
      cum += probs[i] / sum;
      if (cum >= o.topP) {
        keep = i + 1;
        break;
      }
    }
    sum = 0;
    for (let i = 0; i < keep; i++) sum += probs[i];
  }
  let u = rng.next() * sum;
  for (let i = 0; i < keep; i++) {
    u -= probs[i];
    if (u < 0) return idx[i];
  }
  return idx[keep - 1];
}
