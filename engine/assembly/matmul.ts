// AssemblyScript source of the `wasm` kernel's matmul (compiled at first use by src/kernels/wasm-build.ts).
//
// C[m, n] = op(A)[m, k] @ op(B)[k, n], all f32, row-major, in one shared linear memory.
//
// Determinism: every output element is computed as the plain sequential f32 sum
//   c = 0; for p in 0..k-1: c = c + a[i, p] * b[p, j]
// with a separate multiply and add (SIMD128 has no fused multiply-add; relaxed-SIMD is not used). The
// SIMD lanes hold different output columns, never partial sums of one element, and blocking over k
// resumes each accumulator from the value stored in C, so the result of each element does not depend
// on tiling, on which thread computes which tile, on the thread count or on the machine.
//
// Work partition: the output is split into fixed TILE_M x TILE_N tiles, numbered row-major. Threads
// claim tile numbers from a shared atomic counter; a tile's arithmetic is the same whoever claims it.

// Micro-kernel: MR rows x NR columns of C held in 8 f32x4 registers. 4x8 measured ~1.8x faster than 4x16,
// 6x8 or 4x12 in V8 (those need more than the ~12 v128 registers V8 keeps free and spill in the inner loop).
const MR: i32 = 4;
const NR: i32 = 8;
// Cache blocking: a tile of C is TILE_M x TILE_N; k is consumed KC at a time.
export const TILE_M: i32 = 64;
export const TILE_N: i32 = 256;
export const KC: i32 = 256;
/** Bytes of scratch each thread needs: packed A block, packed B block, one edge tile. */
export const SCRATCH_BYTES: i32 = (TILE_M * KC + KC * TILE_N + MR * NR) * 4;

// Packs rows [i0, i0 + rows) x depth [p0, p0 + kc) of op(A) into strips of MR rows: for each strip,
// kc groups of MR consecutive floats. Rows past `rows` are zero (their results are discarded).
function packA(a: usize, m: i32, k: i32, transA: bool, i0: i32, rows: i32, p0: i32, kc: i32, dst: usize): void {
  for (let s: i32 = 0; s < rows; s += MR) {
    const strip = dst + <usize>(s * kc) * 4;
    for (let ii: i32 = 0; ii < MR; ii++) {
      const i = i0 + s + ii;
      if (s + ii >= rows) {
        for (let p: i32 = 0; p < kc; p++) store<f32>(strip + <usize>(p * MR + ii) * 4, 0);
      } else if (transA) {
        // A stored [k, m]: op(A)[i, p] = A[p * m + i]
        for (let p: i32 = 0; p < kc; p++) {
          store<f32>(strip + <usize>(p * MR + ii) * 4, load<f32>(a + (<usize>(p0 + p) * <usize>m + <usize>i) * 4));
        }
      } else {
        const row = a + (<usize>i * <usize>k + <usize>p0) * 4;
        for (let p: i32 = 0; p < kc; p++) {
          store<f32>(strip + <usize>(p * MR + ii) * 4, load<f32>(row + <usize>p * 4));
        }
      }
    }
  }
}

// Packs depth [p0, p0 + kc) x columns [j0, j0 + cols) of op(B) into strips of NR columns: for each
// strip, kc groups of NR consecutive floats. Columns past `cols` are zero.
function packB(b: usize, n: i32, k: i32, transB: bool, j0: i32, cols: i32, p0: i32, kc: i32, dst: usize): void {
  for (let s: i32 = 0; s < cols; s += NR) {
    const strip = dst + <usize>(s * kc) * 4;
    const w = min(NR, cols - s);
    if (transB) {
      // B stored [n, k]: op(B)[p, j] = B[j * k + p]
      for (let jj: i32 = 0; jj < NR; jj++) {
        if (jj >= w) {
          for (let p: i32 = 0; p < kc; p++) store<f32>(strip + <usize>(p * NR + jj) * 4, 0);
        } else {
          const col = b + (<usize>(j0 + s + jj) * <usize>k + <usize>p0) * 4;
          for (let p: i32 = 0; p < kc; p++) {
            store<f32>(strip + <usize>(p * NR + jj) * 4, load<f32>(col + <usize>p * 4));
          }
        }
      }
    } else if (w == NR) {
      for (let p: i32 = 0; p < kc; p++) {
        const src = b + (<usize>(p0 + p) * <usize>n + <usize>(j0 + s)) * 4;
        const d = strip + <usize>(p * NR) * 4;
        v128.store(d, v128.load(src));
        v128.store(d, v128.load(src, 16), 16);
      }
    } else {
      for (let p: i32 = 0; p < kc; p++) {
        const src = b + (<usize>(p0 + p) * <usize>n + <usize>(j0 + s)) * 4;
        const d = strip + <usize>(p * NR) * 4;
        for (let jj: i32 = 0; jj < NR; jj++) store<f32>(d + <usize>jj * 4, jj < w ? load<f32>(src + <usize>jj * 4) : 0);
      }
    }
  }
}

// C[0:MR, 0:NR] (row stride ldc floats) = (first ? 0 : C) + sum over p of packed A x packed B.
// @ts-ignore: decorator
@inline
function micro(pa: usize, pb: usize, kc: i32, c: usize, ldc: i32, first: bool): void {
  const r1 = c + <usize>ldc * 4;
  const r2 = r1 + <usize>ldc * 4;
  const r3 = r2 + <usize>ldc * 4;
  let c00 = f32x4.splat(0), c01 = c00;
  let c10 = c00, c11 = c00;
  let c20 = c00, c21 = c00;
  let c30 = c00, c31 = c00;
  if (!first) {
    c00 = v128.load(c); c01 = v128.load(c, 16);
    c10 = v128.load(r1); c11 = v128.load(r1, 16);
    c20 = v128.load(r2); c21 = v128.load(r2, 16);
    c30 = v128.load(r3); c31 = v128.load(r3, 16);
  }
  for (let p: i32 = 0; p < kc; p++) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = f32x4.add(c00, f32x4.mul(a, b0)); c01 = f32x4.add(c01, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 4);
    c10 = f32x4.add(c10, f32x4.mul(a, b0)); c11 = f32x4.add(c11, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 8);
    c20 = f32x4.add(c20, f32x4.mul(a, b0)); c21 = f32x4.add(c21, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 12);
    c30 = f32x4.add(c30, f32x4.mul(a, b0)); c31 = f32x4.add(c31, f32x4.mul(a, b1));
    pa += MR * 4;
    pb += NR * 4;
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(r1, c10); v128.store(r1, c11, 16);
  v128.store(r2, c20); v128.store(r2, c21, 16);
  v128.store(r3, c30); v128.store(r3, c31, 16);
}

function computeTile(
  a: usize, b: usize, c: usize, m: i32, n: i32, k: i32, transA: bool, transB: bool,
  i0: i32, j0: i32, scratch: usize,
): void {
  const rows = min(TILE_M, m - i0);
  const cols = min(TILE_N, n - j0);
  const pa = scratch;
  const pb = pa + <usize>(TILE_M * KC) * 4;
  const edge = pb + <usize>(KC * TILE_N) * 4;
  for (let p0: i32 = 0; p0 < k; p0 += KC) {
    const kc = min(KC, k - p0);
    const first = p0 == 0;
    packB(b, n, k, transB, j0, cols, p0, kc, pb);
    packA(a, m, k, transA, i0, rows, p0, kc, pa);
    for (let js: i32 = 0; js < cols; js += NR) {
      const w = min(NR, cols - js);
      const bStrip = pb + <usize>(js * kc) * 4;
      for (let is: i32 = 0; is < rows; is += MR) {
        const h = min(MR, rows - is);
        const aStrip = pa + <usize>(is * kc) * 4;
        const cp = c + (<usize>(i0 + is) * <usize>n + <usize>(j0 + js)) * 4;
        if (h == MR && w == NR) {
          micro(aStrip, bStrip, kc, cp, n, first);
        } else {
          // Edge: run the full micro-kernel on a MR x NR copy, then keep the valid part.
          if (!first) {
            for (let ii: i32 = 0; ii < h; ii++) {
              for (let jj: i32 = 0; jj < w; jj++) {
                store<f32>(edge + <usize>(ii * NR + jj) * 4, load<f32>(cp + (<usize>ii * <usize>n + <usize>jj) * 4));
              }
            }
          }
          micro(aStrip, bStrip, kc, edge, NR, first);
          for (let ii: i32 = 0; ii < h; ii++) {
            for (let jj: i32 = 0; jj < w; jj++) {
              store<f32>(cp + (<usize>ii * <usize>n + <usize>jj) * 4, load<f32>(edge + <usize>(ii * NR + jj) * 4));
            }
          }
        }
      }
    }
  }
}

/** Number of tiles the output of an m x n product is split into. */
export function tileCount(m: i32, n: i32): i32 {
  return ((m + TILE_M - 1) / TILE_M) * ((n + TILE_N - 1) / TILE_N);
}

/**
 * Claims tiles from the shared counter at `counter` (an i32 in linear memory) until none are left and
 * computes them. Every participating thread calls this with the same arguments and its own scratch.
 * Requires k >= 1. Returns the number of tiles this thread computed.
 */
export function runTiles(
  a: usize, b: usize, c: usize, m: i32, n: i32, k: i32, transA: bool, transB: bool,
  counter: usize, scratch: usize,
): i32 {
  const tilesN = (n + TILE_N - 1) / TILE_N;
  const total = tileCount(m, n);
  let done: i32 = 0;
  while (true) {
    const t = atomic.add<i32>(counter, 1);
    if (t >= total) break;
    const ti = t / tilesN;
    const tj = t - ti * tilesN;
    computeTile(a, b, c, m, n, k, transA, transB, ti * TILE_M, tj * TILE_N, scratch);
    done++;
  }
  return done;
}
