// AssemblyScript source of the fast elementwise ops (compiled at first use by src/kernels/elementwise.ts).
//
// exp2v is src/nn/fast-math.ts's expFast on two f64 lanes, operation for operation (Cody-Waite reduction,
// the same degree-7 polynomial in the same evaluation order, 2^k built from its bits instead of a table;
// SIMD128 has no fused multiply-add and relaxed-SIMD is off), so every lane is bit-identical to the
// TypeScript function. The ops below round to f32 exactly where their TypeScript versions do, and sums
// run sequentially in element order: results are the same as the TypeScript fast path, on every machine.

const LOG2E: f64 = 1.4426950408889634;
const LN2_HI: f64 = 0.6931471803691238;
const LN2_LO: f64 = 1.9082149292705877e-10;

@inline function exp2v(x: v128): v128 {
  const ki = i32x4.trunc_sat_f64x2_s_zero(f64x2.add(f64x2.mul(x, f64x2.splat(LOG2E)), f64x2.splat(1024.5)));
  const k = f64x2.sub(f64x2.convert_low_i32x4_s(ki), f64x2.splat(1024.0));
  const r = f64x2.sub(f64x2.sub(x, f64x2.mul(k, f64x2.splat(LN2_HI))), f64x2.mul(k, f64x2.splat(LN2_LO)));
  const r2 = f64x2.mul(r, r);
  const r4 = f64x2.mul(r2, r2);
  const c23 = f64x2.add(f64x2.splat(0.5), f64x2.mul(r, f64x2.splat(1.0 / 6.0)));
  const c45 = f64x2.add(f64x2.splat(1.0 / 24.0), f64x2.mul(r, f64x2.splat(1.0 / 120.0)));
  const c67 = f64x2.add(f64x2.splat(1.0 / 720.0), f64x2.mul(r, f64x2.splat(1.0 / 5040.0)));
  const p = f64x2.add(
    f64x2.add(f64x2.add(f64x2.splat(1.0), r), f64x2.mul(r2, c23)),
    f64x2.mul(r4, f64x2.add(c45, f64x2.mul(r2, c67))),
  );
  // 2^k: exponent bits (k + 1023) << 52; k is in [-151, 129] wherever the result is used
  const bits = i64x2.shl(i64x2.extend_low_i32x4_s(i32x4.sub(ki, i32x4.splat(1))), 52);
  let y = f64x2.mul(p, bits);
  y = v128.bitselect(f64x2.splat(Infinity), y, f64x2.gt(x, f64x2.splat(89.0)));
  const low = v128.bitselect(f64x2.splat(NaN), f64x2.splat(0.0), f64x2.ne(x, x));
  return v128.bitselect(y, low, f64x2.gt(x, f64x2.splat(-104.0)));
}

/** exp of n f64 values at x into y (f64): for the tests. */
export function expArray(x: usize, y: usize, n: i32): void {
  for (let i: i32 = 0; i < n; i += 2) v128.store(y + <usize>i * 8, exp2v(v128.load(x + <usize>i * 8)));
}

/** SwiGLU forward over n f32 values (n even or the arrays padded): h = fround(g * sig) * u, sig = 1 / (1 + exp(-g)). */
export function swiglu(g: usize, u: usize, h: usize, sig: usize, n: i32): void {
  const one = f64x2.splat(1.0);
  for (let i: i32 = 0; i < n; i += 2) {
    const o = <usize>i * 4;
    const a = f64x2.promote_low_f32x4(v128.load64_zero(g + o));
    const uu = f64x2.promote_low_f32x4(v128.load64_zero(u + o));
    const s = f64x2.div(one, f64x2.add(one, exp2v(f64x2.neg(a))));
    v128.store64_lane(sig + o, f32x4.demote_f64x2_zero(s), 0);
    const as = f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(f64x2.mul(a, s)));
    v128.store64_lane(h + o, f32x4.demote_f64x2_zero(f64x2.mul(as, uu)), 0);
  }
}

/**
 * One cross-entropy row of n logits at z (n even or padded with -Infinity): z[j] <- exp(z[j] - max)
 * rounded to f32, returns the sequential f64 sum of the unrounded exps; the max goes to rowMax.
 */
export let rowMax: f64 = 0;
export function expRow(z: usize, n: i32): f64 {
  let max: f64 = -Infinity;
  for (let j: i32 = 0; j < n; j++) {
    const v = <f64>load<f32>(z + <usize>j * 4);
    if (v > max) max = v;
  }
  rowMax = max;
  const m = f64x2.splat(max);
  let sum: f64 = 0;
  for (let j: i32 = 0; j < n; j += 2) {
    const o = <usize>j * 4;
    const e = exp2v(f64x2.sub(f64x2.promote_low_f32x4(v128.load64_zero(z + o)), m));
    v128.store64_lane(z + o, f32x4.demote_f64x2_zero(e), 0);
    sum += f64x2.extract_lane(e, 0);
    if (j + 1 < n) sum += f64x2.extract_lane(e, 1);
  }
  return sum;
}

/** z[j] <- fround(z[j] * c) for n values (n even or padded). */
export function scaleRow(z: usize, n: i32, c: f64): void {
  const cv = f64x2.splat(c);
  for (let j: i32 = 0; j < n; j += 2) {
    const o = <usize>j * 4;
    v128.store64_lane(z + o, f32x4.demote_f64x2_zero(f64x2.mul(f64x2.promote_low_f32x4(v128.load64_zero(z + o)), cv)), 0);
  }
}
