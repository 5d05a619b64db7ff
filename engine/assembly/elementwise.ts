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

@external("env", "exp") declare function mathExp(x: f64): f64;

/**
 * One decoded token's attention for one sequence (src/nn/attention.ts attentionDecodeRows, whose JS loop
 * gives the same bits): q [H*hd] f32 at q, keys and values [len, Hkv*hd] f32 at k and v, the output
 * [H*hd] f32 at out; scratch: qp (hd f64x2: a pair of query heads' values per dimension) and sc (2*len f64).
 * Query heads go in pairs (H / Hkv even): lane 0 is head 2i, lane 1 head 2i+1 of a key head's group, so each
 * lane's dot product is the sequential f64 sum over the head dimension; the weighted values run two
 * dimensions per lane pair with the f32 rounding after every add (as `out[d] += p * v` into f32).
 * exp is the host's Math.exp.
 */
export function attnRow(q: usize, k: usize, v: usize, out: usize, qp: usize, sc: usize, len: i32, H: i32, Hkv: i32, hd: i32, scale: f64): void {
  const group = H / Hkv;
  const kvw = <usize>(Hkv * hd) * 4;
  for (let kh: i32 = 0; kh < Hkv; kh++) {
    for (let g: i32 = 0; g < group; g += 2) {
      const h0 = kh * group + g;
      const q0 = q + <usize>(h0 * hd) * 4;
      const q1 = q0 + <usize>hd * 4;
      for (let d: i32 = 0; d < hd; d++) {
        const o = <usize>d;
        v128.store(qp + o * 16, f64x2.replace_lane(f64x2.splat(<f64>load<f32>(q0 + o * 4)), 1, <f64>load<f32>(q1 + o * 4)));
      }
      // scores of the two heads, positions in order: lane i = head h0 + i
      let max0: f64 = -Infinity;
      let max1: f64 = -Infinity;
      const kb = k + <usize>(kh * hd) * 4;
      let j: i32 = 0;
      for (; j + 2 <= len; j += 2) {
        const ka = kb + <usize>j * kvw;
        const kc = ka + kvw;
        let a = f64x2.splat(0.0);
        let c = f64x2.splat(0.0);
        for (let d: i32 = 0; d < hd; d++) {
          const o = <usize>d;
          const qq = v128.load(qp + o * 16);
          a = f64x2.add(a, f64x2.mul(qq, f64x2.splat(<f64>load<f32>(ka + o * 4))));
          c = f64x2.add(c, f64x2.mul(qq, f64x2.splat(<f64>load<f32>(kc + o * 4))));
        }
        const sa0 = <f64>(<f32>f64x2.extract_lane(a, 0)) * scale;
        const sa1 = <f64>(<f32>f64x2.extract_lane(a, 1)) * scale;
        const sc0 = <f64>(<f32>f64x2.extract_lane(c, 0)) * scale;
        const sc1 = <f64>(<f32>f64x2.extract_lane(c, 1)) * scale;
        store<f64>(sc + <usize>j * 8, sa0);
        store<f64>(sc + <usize>(len + j) * 8, sa1);
        store<f64>(sc + <usize>(j + 1) * 8, sc0);
        store<f64>(sc + <usize>(len + j + 1) * 8, sc1);
        if (sa0 > max0) max0 = sa0;
        if (sc0 > max0) max0 = sc0;
        if (sa1 > max1) max1 = sa1;
        if (sc1 > max1) max1 = sc1;
      }
      for (; j < len; j++) {
        const ka = kb + <usize>j * kvw;
        let a = f64x2.splat(0.0);
        for (let d: i32 = 0; d < hd; d++) {
          const o = <usize>d;
          a = f64x2.add(a, f64x2.mul(v128.load(qp + o * 16), f64x2.splat(<f64>load<f32>(ka + o * 4))));
        }
        const sa0 = <f64>(<f32>f64x2.extract_lane(a, 0)) * scale;
        const sa1 = <f64>(<f32>f64x2.extract_lane(a, 1)) * scale;
        store<f64>(sc + <usize>j * 8, sa0);
        store<f64>(sc + <usize>(len + j) * 8, sa1);
        if (sa0 > max0) max0 = sa0;
        if (sa1 > max1) max1 = sa1;
      }
      // softmax of each head, sums in position order
      let sum0: f64 = 0;
      let sum1: f64 = 0;
      for (let i: i32 = 0; i < len; i++) {
        const p0 = sc + <usize>i * 8;
        const p1 = sc + <usize>(len + i) * 8;
        const e0 = mathExp(load<f64>(p0) - max0);
        const e1 = mathExp(load<f64>(p1) - max1);
        store<f64>(p0, e0);
        store<f64>(p1, e1);
        sum0 += e0;
        sum1 += e1;
      }
      for (let i: i32 = 0; i < len; i++) {
        const p0 = sc + <usize>i * 8;
        const p1 = sc + <usize>(len + i) * 8;
        store<f64>(p0, load<f64>(p0) / sum0);
        store<f64>(p1, load<f64>(p1) / sum1);
      }
      // weighted values: out[d] = f32(out[d] + p_j v_j[d]) for j in order, four dimensions per pass
      const vb = v + <usize>(kh * hd) * 4;
      for (let hh: i32 = 0; hh < 2; hh++) {
        const ps = sc + <usize>(hh * len) * 8;
        const ob = out + <usize>((h0 + hh) * hd) * 4;
        for (let d: i32 = 0; d < hd; d += 4) {
          let a = f64x2.splat(0.0);
          let c = f64x2.splat(0.0);
          let vj = vb + <usize>d * 4;
          for (let i: i32 = 0; i < len; i++) {
            const p = f64x2.splat(load<f64>(ps + <usize>i * 8));
            a = f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(f64x2.add(a, f64x2.mul(p, f64x2.promote_low_f32x4(v128.load64_zero(vj))))));
            c = f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(f64x2.add(c, f64x2.mul(p, f64x2.promote_low_f32x4(v128.load64_zero(vj + 8))))));
            vj += kvw;
          }
          v128.store64_lane(ob + <usize>d * 4, f32x4.demote_f64x2_zero(a), 0);
          v128.store64_lane(ob + <usize>d * 4 + 8, f32x4.demote_f64x2_zero(c), 0);
        }
      }
    }
  }
}

/**
 * Per-row LoRA products (BGMV) for the `ort` kernel's batched decoding: for each of R rows, with that
 * row's adapter weights wherever they sit in memory (tab: per row the u32 offsets of its At and B):
 * h = x_r At (At [inF, Rg], Rg a multiple of 4), then y_r = the projections' h-slices times their B, side by
 * side (proj: nP entries of i32 (rank offset, rank, output offset, outputs), outputs a multiple of 4; B holds
 * each projection's [rank, outputs] block in turn). f32 arithmetic, four lanes (not bit-stable with the
 * scalar products: the `ort` kernel never was).
 */
export function bgmv(x: usize, y: usize, tab: usize, R: i32, inF: i32, Rg: i32, outTot: i32, proj: usize, nP: i32, h: usize): void {
  const rowA = <usize>Rg * 4;
  for (let r: i32 = 0; r < R; r++) {
    const at = <usize>load<u32>(tab + <usize>r * 8);
    let bt = <usize>load<u32>(tab + <usize>r * 8 + 4);
    const xr = x + <usize>(r * inF) * 4;
    // h = x_r At, four rank columns per accumulator, held across the whole input
    let t: i32 = 0;
    for (; t + 8 <= Rg; t += 8) {
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let ap = at + <usize>t * 4;
      for (let k: i32 = 0; k < inF; k++) {
        const xs = f32x4.splat(load<f32>(xr + <usize>k * 4));
        a0 = f32x4.add(a0, f32x4.mul(xs, v128.load(ap)));
        a1 = f32x4.add(a1, f32x4.mul(xs, v128.load(ap, 16)));
        ap += rowA;
      }
      v128.store(h + <usize>t * 4, a0);
      v128.store(h + <usize>t * 4, a1, 16);
    }
    for (; t < Rg; t += 4) {
      let a0 = f32x4.splat(0);
      let ap = at + <usize>t * 4;
      for (let k: i32 = 0; k < inF; k++) {
        a0 = f32x4.add(a0, f32x4.mul(f32x4.splat(load<f32>(xr + <usize>k * 4)), v128.load(ap)));
        ap += rowA;
      }
      v128.store(h + <usize>t * 4, a0);
    }
    // y_r: each projection's outputs from its rank slice of h, eight outputs per pass held across the rank
    const yr = y + <usize>(r * outTot) * 4;
    for (let i: i32 = 0; i < nP; i++) {
      const e = proj + <usize>i * 16;
      const hr = h + <usize>load<i32>(e) * 4;
      const rr = load<i32>(e, 4);
      const yo = yr + <usize>load<i32>(e, 8) * 4;
      const out = load<i32>(e, 12);
      const rowB = <usize>out * 4;
      let o: i32 = 0;
      for (; o + 8 <= out; o += 8) {
        let a0 = f32x4.splat(0);
        let a1 = f32x4.splat(0);
        let bp = bt + <usize>o * 4;
        for (let k: i32 = 0; k < rr; k++) {
          const hs = f32x4.splat(load<f32>(hr + <usize>k * 4));
          a0 = f32x4.add(a0, f32x4.mul(hs, v128.load(bp)));
          a1 = f32x4.add(a1, f32x4.mul(hs, v128.load(bp, 16)));
          bp += rowB;
        }
        v128.store(yo + <usize>o * 4, a0);
        v128.store(yo + <usize>o * 4, a1, 16);
      }
      for (; o < out; o += 4) {
        let a0 = f32x4.splat(0);
        let bp = bt + <usize>o * 4;
        for (let k: i32 = 0; k < rr; k++) {
          a0 = f32x4.add(a0, f32x4.mul(f32x4.splat(load<f32>(hr + <usize>k * 4)), v128.load(bp)));
          bp += rowB;
        }
        v128.store(yo + <usize>o * 4, a0);
      }
      bt += <usize>rr * rowB;
    }
  }
}
