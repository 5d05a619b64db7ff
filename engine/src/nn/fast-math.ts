/**
 * A fast, deterministic exp for the elementwise ops of the fast kernels (softmax, SwiGLU, cross-entropy).
 * V8's Math.exp costs ~17 ns here; this costs ~7 ns. exp(x) = 2^k * p(r), k = round(x / ln 2),
 * r = x - k ln 2 (Cody-Waite, two-part ln 2), p the degree-7 Taylor polynomial in Estrin form.
 * Relative error <= 7.1e-9 against the true exp (f32 ulp is 6e-8): after rounding to f32 it matches
 * Math.exp in about 99.3% of cases and is 1 ulp off otherwise. It uses only IEEE double +, *, a table
 * lookup and int truncation, which JavaScript evaluates identically on every machine (no FMA
 * contraction), so results stay bit-identical across runs, threads and CPUs.
 * The `ts` kernel keeps Math.exp (see Kernel.fastMath); the difference is documented in the README.
 */
const POW2 = new Float64Array(512);
for (let i = 0; i < 512; i++) POW2[i] = 2 ** (i - 256);
const LOG2E = 1.4426950408889634;
const LN2_HI = 0.6931471803691238;
const LN2_LO = 1.9082149292705877e-10;
const C2 = 0.5;
const C3 = 1 / 6;
const C4 = 1 / 24;
const C5 = 1 / 120;
const C6 = 1 / 720;
const C7 = 1 / 5040;

export function expFast(x: number): number {
  if (!(x > -104)) return x !== x ? NaN : 0; // below -104 the f32 result is 0
  if (x > 89) return Infinity; // above 89 the f32 result overflows
  const k = ((x * LOG2E + 1024.5) | 0) - 1024;
  const r = x - k * LN2_HI - k * LN2_LO;
  const r2 = r * r;
  const r4 = r2 * r2;
  return (1 + r + r2 * (C2 + r * C3) + r4 * (C4 + r * C5 + r2 * (C6 + r * C7))) * POW2[k + 256];
}

/** The exp an op should use: exact (Math.exp) unless the kernel asks for the fast one. */
export function expFor(fast: boolean | undefined): (x: number) => number {
  return fast ? expFast : Math.exp;
}
