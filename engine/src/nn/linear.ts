/**
 * Linear layer y = x W^T (no bias, W stored [out, in] as in Hugging Face), with an optional LoRA branch
 * as PEFT computes it:  y += scale * (dropout(x) A^T) B^T,  A [r, in], B [out, r].
 * The base weight may be a dense Float32Array or a quantized store that dequantizes on demand (QLoRA);
 * it is dequantized for the forward and again for the backward, never kept.
 *
 * Backward, with xd = dropout(x) and h = xd A^T [N, r]:
 *   dx  = dy W + (scale * dy B) A * dropoutMask
 *   dW += dy^T x            (full fine-tuning only)
 *   dB += scale * dy^T h
 *   dA += (scale * dy B)^T xd
 */
import type { Kernel } from "../kernels/kernel.ts";
import type { Rng } from "../random/prng.ts";

/** A frozen weight kept in a compressed form; produces the dense [out, in] matrix when asked. */
export interface WeightSource {
  readonly rows: number;
  readonly cols: number;
  dequantize(): Float32Array;
  /** Flat elements [start, end) of the dense matrix. */
  dequantizeRange(start: number, end: number): Float32Array;
}

export type Weight = Float32Array | WeightSource;

export function denseWeight(w: Weight): Float32Array {
  return w instanceof Float32Array ? w : w.dequantize();
}

export interface LoraWeights {
  A: Float32Array; // [r, in]
  B: Float32Array; // [out, r]
  r: number;
  scale: number;
  dropout: number;
}

export interface LinearGrads {
  dW?: Float32Array | null;
  dA?: Float32Array | null;
  dB?: Float32Array | null;
  /** Receives the LoRA branch's per-row factors (per-example gradients are sums of their outer products). */
  tap?: ((f: LoraRowFactors) => void) | null;
}

/**
 * The factors of a LoRA branch's weight gradients, row by row (N = B*T rows): dB = dy^T hs and
 * dA = dh^T xd, so the gradient of any subset of rows (one example's tokens) is the same sum over those
 * rows only. Arrays are the backward's own buffers: read them during the call, do not keep them.
 */
export interface LoraRowFactors {
  n: number;
  inF: number;
  outF: number;
  r: number;
  dy: Float32Array; // [N, out]
  hs: Float32Array; // [N, r] scale * h
  dh: Float32Array; // [N, r] scale * dy B
  xd: Float32Array; // [N, in] the LoRA branch's input (after dropout)
}

export interface LinearCache {
  x: Float32Array; // [N, in]
  xd: Float32Array | null; // [N, in] dropout(x) / (1-p), or null when no dropout was applied
  mask: Uint8Array | null; // [N, in] 1 where dropout kept the input
  h: Float32Array | null; // [N, r]
}

// forward: x [N, in] -> y [N, out]
export async function linearForward(
  kernel: Kernel,
  x: Float32Array,
  w: Weight,
  outF: number,
  inF: number,
  lora: LoraWeights | null,
  dropoutRng: Rng | null,
): Promise<{ y: Float32Array; cache: LinearCache }> {
  const n = x.length / inF;
  const y = await kernel.matmul({ a: x, b: denseWeight(w), m: n, n: outF, k: inF, transB: true });
  const cache: LinearCache = { x, xd: null, mask: null, h: null };
  if (lora) {
    let xd = x;
    if (lora.dropout > 0 && dropoutRng) {
      const keep = 1 - lora.dropout;
      xd = new Float32Array(x.length);
      const mask = new Uint8Array(x.length);
      for (let i = 0; i < x.length; i++) {
        if (dropoutRng.next() < keep) {
          mask[i] = 1;
          xd[i] = x[i] / keep;
        }
      }
      cache.xd = xd;
      cache.mask = mask;
    }
    const h = await kernel.matmul({ a: xd, b: lora.A, m: n, n: lora.r, k: inF, transB: true });
    cache.h = h;
    const hs = new Float32Array(h.length);
    for (let i = 0; i < h.length; i++) hs[i] = h[i] * lora.scale;
    await kernel.matmul({ a: hs, b: lora.B, m: n, n: outF, k: lora.r, transB: true, out: y, accumulate: true });
  }
  return { y, cache };
}

// backward: dy [N, out] -> dx [N, in] (null when needDx is false); parameter grads accumulate into `grads`.
export async function linearBackward(
  kernel: Kernel,
  dy: Float32Array,
  cache: LinearCache,
  w: Weight,
  outF: number,
  inF: number,
  lora: LoraWeights | null,
  grads: LinearGrads,
  needDx = true,
): Promise<Float32Array | null> {
  const n = dy.length / outF;
  let dx: Float32Array | null = null;
  if (needDx) dx = await kernel.matmul({ a: dy, b: denseWeight(w), m: n, n: inF, k: outF });
  if (grads.dW) {
    await kernel.matmul({ a: dy, b: cache.x, m: outF, n: inF, k: n, transA: true, out: grads.dW, accumulate: true });
  }
  if (lora && cache.h) {
    const r = lora.r;
    let hs: Float32Array | null = null;
    if (grads.dB || grads.tap) {
      hs = new Float32Array(cache.h.length);
      for (let i = 0; i < hs.length; i++) hs[i] = cache.h[i] * lora.scale;
    }
    if (grads.dB) await kernel.matmul({ a: dy, b: hs!, m: outF, n: r, k: n, transA: true, out: grads.dB, accumulate: true });
    const dh = await kernel.matmul({ a: dy, b: lora.B, m: n, n: r, k: outF }); // [N, r]
    for (let i = 0; i < dh.length; i++) dh[i] *= lora.scale;
    const xd = cache.xd ?? cache.x;
    if (grads.dA) {
      await kernel.matmul({ a: dh, b: xd, m: r, n: inF, k: n, transA: true, out: grads.dA, accumulate: true });
    }
    grads.tap?.({ n, inF, outF, r, dy, hs: hs!, dh, xd });
    if (dx) {
      const dxd = await kernel.matmul({ a: dh, b: lora.A, m: n, n: inF, k: r });
      if (cache.mask) {
        const keep = 1 - lora.dropout; // d(xd)/dx = mask / keep
        for (let i = 0; i < dx.length; i++) if (cache.mask[i]) dx[i] += dxd[i] / keep;
      } else {
        for (let i = 0; i < dx.length; i++) dx[i] += dxd[i];
      }
    }
  }
  return dx;
}
