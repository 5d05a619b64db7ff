// Shared helpers of the kernel tests (not a test file itself).
import assert from "node:assert/strict";
import type { MatmulArgs } from "../src/kernels/kernel.ts";

/** Deterministic uniform values in [-1, 1) from a small xorshift generator. */
export function randomMatrix(length: number, seed: number): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

/**
 * The product computed element by element as c = fround(c + fround(a * b)) for p = 0..k-1: the exact
 * arithmetic the wasm kernel promises (sequential f32 sum, multiply and add rounded separately).
 */
export function sequentialF32Matmul(args: MatmulArgs): Float32Array {
  const { a, b, m, n, k, transA = false, transB = false } = args;
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const av = transA ? a[p * m + i] : a[i * k + p];
        const bv = transB ? b[j * k + p] : b[p * n + j];
        s = Math.fround(s + Math.fround(av * bv));
      }
      out[i * n + j] = s;
    }
  }
  return out;
}

/**
 * Asserts got ~= want elementwise with a k-scaled bound: |got - want| <= 1e-5 * max(1, k / 64) * sum|a_p * b_p|
 * (relative 1e-5 of the magnitude of the terms, growing with the length of the sum).
 */
export function assertClose(got: Float32Array, want: Float32Array, args: MatmulArgs, what: string): void {
  const { a, b, m, n, k, transA = false, transB = false } = args;
  const scale = 1e-5 * Math.max(1, k / 64);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let mag = 0;
      for (let p = 0; p < k; p++) {
        mag += Math.abs((transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]));
      }
      const d = Math.abs(got[i * n + j] - want[i * n + j]);
      if (!(d <= scale * mag + 1e-30)) {
        assert.fail(`${what}: element [${i}, ${j}] is ${got[i * n + j]}, reference ${want[i * n + j]} (diff ${d}, bound ${scale * mag})`);
      }
    }
  }
}
