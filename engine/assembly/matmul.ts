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

// Products with fewer than ROW_MODE_M rows (decoding one token, LoRA's narrow products) skip the packed
// path, which would compute MR rows for each one and repack B on every call: each row is computed
// directly from A and B, over column tiles of ROW_TILE_N. Same per-element arithmetic as the packed path.
const ROW_MODE_M: i32 = 3;
const ROW_TILE_N: i32 = 128;

// Row i of C, columns [j0, j1): c[j] = sum over p (in order) of op(A)[i, p] * op(B)[p, j].
function rowTile(a: usize, b: usize, c: usize, m: i32, n: i32, k: i32, transA: bool, transB: bool, i: i32, j0: i32, j1: i32): void {
  // op(A)[i, p] = x[p * xs]
  const x = transA ? a + <usize>i * 4 : a + <usize>i * <usize>k * 4;
  const xs: usize = transA ? <usize>m * 4 : 4;
  const crow = c + <usize>i * <usize>n * 4;
  if (!transB) {
    // B stored [k, n]: stream its rows, accumulating into C (which stays in L1).
    let j = j0;
    for (; j + 4 <= j1; j += 4) v128.store(crow + <usize>j * 4, f32x4.splat(0));
    for (; j < j1; j++) store<f32>(crow + <usize>j * 4, 0);
    for (let p: i32 = 0; p < k; p++) {
      const xp = load<f32>(x + <usize>p * xs);
      const xv = f32x4.splat(xp);
      const brow = b + <usize>p * <usize>n * 4;
      j = j0;
      for (; j + 4 <= j1; j += 4) {
        const cp = crow + <usize>j * 4;
        v128.store(cp, f32x4.add(v128.load(cp), f32x4.mul(xv, v128.load(brow + <usize>j * 4))));
      }
      for (; j < j1; j++) {
        const cp = crow + <usize>j * 4;
        store<f32>(cp, load<f32>(cp) + xp * load<f32>(brow + <usize>j * 4));
      }
    }
    return;
  }
  // B stored [n, k]: rows of B four at a time, transposed 4x4 in registers so that each lane keeps one
  // output column and consumes p in order. Two groups of four rows per pass: two independent add chains.
  let j = j0;
  for (; j + 8 <= j1; j += 8) {
    const w0 = b + <usize>j * <usize>k * 4;
    let acc0 = f32x4.splat(0), acc1 = acc0;
    let p: i32 = 0;
    for (; p + 4 <= k; p += 4) {
      const px = x + <usize>p * xs;
      const x0 = v128.load32_splat(px), x1 = v128.load32_splat(px + xs);
      const x2 = v128.load32_splat(px + 2 * xs), x3 = v128.load32_splat(px + 3 * xs);
      let g = w0 + <usize>p * 4;
      let r0 = v128.load(g), r1 = v128.load(g + <usize>k * 4), r2 = v128.load(g + <usize>k * 8), r3 = v128.load(g + <usize>k * 12);
      let t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
      let t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
      acc0 = f32x4.add(acc0, f32x4.mul(x0, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5)));
      acc0 = f32x4.add(acc0, f32x4.mul(x1, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7)));
      acc0 = f32x4.add(acc0, f32x4.mul(x2, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5)));
      acc0 = f32x4.add(acc0, f32x4.mul(x3, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7)));
      g += <usize>k * 16;
      r0 = v128.load(g); r1 = v128.load(g + <usize>k * 4); r2 = v128.load(g + <usize>k * 8); r3 = v128.load(g + <usize>k * 12);
      t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5); t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
      t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7); t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
      acc1 = f32x4.add(acc1, f32x4.mul(x0, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5)));
      acc1 = f32x4.add(acc1, f32x4.mul(x1, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7)));
      acc1 = f32x4.add(acc1, f32x4.mul(x2, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5)));
      acc1 = f32x4.add(acc1, f32x4.mul(x3, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7)));
    }
    for (; p < k; p++) {
      const xv = v128.load32_splat(x + <usize>p * xs);
      const g = w0 + <usize>p * 4;
      const kb = <usize>k * 4;
      acc0 = f32x4.add(acc0, f32x4.mul(xv, f32x4(load<f32>(g), load<f32>(g + kb), load<f32>(g + 2 * kb), load<f32>(g + 3 * kb))));
      acc1 = f32x4.add(acc1, f32x4.mul(xv, f32x4(load<f32>(g + 4 * kb), load<f32>(g + 5 * kb), load<f32>(g + 6 * kb), load<f32>(g + 7 * kb))));
    }
    v128.store(crow + <usize>j * 4, acc0);
    v128.store(crow + <usize>(j + 4) * 4, acc1);
  }
  for (; j < j1; j++) {
    const w = b + <usize>j * <usize>k * 4;
    let s: f32 = 0;
    for (let p: i32 = 0; p < k; p++) s = s + load<f32>(x + <usize>p * xs) * load<f32>(w + <usize>p * 4);
    store<f32>(crow + <usize>j * 4, s);
  }
}

/** Number of tiles the output of an m x n product is split into. */
export function tileCount(m: i32, n: i32): i32 {
  if (m < ROW_MODE_M) return m * ((n + ROW_TILE_N - 1) / ROW_TILE_N);
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
  const rowMode = m < ROW_MODE_M;
  const tileN = rowMode ? ROW_TILE_N : TILE_N;
  const tilesN = (n + tileN - 1) / tileN;
  const total = tileCount(m, n);
  let done: i32 = 0;
  while (true) {
    const t = atomic.add<i32>(counter, 1);
    if (t >= total) break;
    const ti = t / tilesN;
    const tj = t - ti * tilesN;
    if (rowMode) {
      rowTile(a, b, c, m, n, k, transA, transB, ti, tj * ROW_TILE_N, min(n, (tj + 1) * ROW_TILE_N));
    } else {
      computeTile(a, b, c, m, n, k, transA, transB, ti * TILE_M, tj * TILE_N, scratch);
    }
    done++;
  }
  return done;
}
