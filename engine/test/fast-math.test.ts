import assert from "node:assert/strict";
import test from "node:test";
import { expFast } from "../src/nn/fast-math.ts";
import { crossEntropyBackward } from "../src/nn/cross-entropy.ts";
import { swigluForward } from "../src/nn/swiglu.ts";
import { loadElementwise } from "../src/kernels/elementwise.ts";

test("expFast: within 1e-8 relative of Math.exp over the f32 range, and exact at the edges", () => {
  let worst = 0;
  for (let i = 0; i <= 200000; i++) {
    const x = Math.fround(-87 + (175 * i) / 200000);
    const rel = Math.abs(expFast(x) - Math.exp(x)) / Math.exp(x);
    if (rel > worst) worst = rel;
  }
  assert.ok(worst < 1e-8, `worst relative error ${worst}`);
  assert.equal(expFast(0), 1);
  assert.equal(expFast(-Infinity), 0);
  assert.equal(expFast(-200), 0);
  assert.equal(expFast(Infinity), Infinity);
  assert.equal(expFast(100), Infinity);
  assert.ok(Number.isNaN(expFast(NaN)));
});

test("fast elementwise ops agree with the exact ones to f32 rounding", () => {
  const n = 4096;
  const g = new Float32Array(n).map((_, i) => Math.sin(i) * 12);
  const u = new Float32Array(n).map((_, i) => Math.cos(i * 0.7));
  const exact = swigluForward(g, u);
  const fast = swigluForward(g, u, true);
  for (let i = 0; i < n; i++) assert.ok(Math.abs(exact.h[i] - fast.h[i]) <= 4e-7 * Math.abs(exact.h[i]) + 1e-30, `swiglu ${i}`);
  const V = 512;
  const z = new Float32Array(4 * V).map((_, i) => Math.sin(i * 1.3) * 9);
  const t = [3, -100, 500, 0];
  const a = crossEntropyBackward(z, t, V, 3);
  const b = crossEntropyBackward(z, t, V, 3, { fast: true });
  assert.ok(Math.abs(a.lossSum - b.lossSum) < 1e-6 * Math.abs(a.lossSum));
  for (let i = 0; i < z.length; i++) assert.ok(Math.abs(a.dlogits[i] - b.dlogits[i]) < 1e-7, `dlogits ${i}`);
});

test("the wasm elementwise module gives exactly the TypeScript fast path's numbers", async () => {
  const ew = await loadElementwise();
  assert.ok(ew, "assembly/elementwise.ts compiles here");
  const x = new Float64Array(100001).map((_, i) => -120 + (220 * i) / 100000);
  x[1] = NaN;
  x[2] = -Infinity;
  x[3] = Infinity;
  const y = ew.exp(x);
  for (let i = 0; i < x.length; i++) assert.ok(Object.is(y[i], expFast(x[i])), `exp(${x[i]}): ${y[i]} vs ${expFast(x[i])}`);
  // swiglu and cross-entropy: with the module loaded, `fast` runs it; the expected values are the TS
  // fast path's arithmetic, written out here
  const n = 1001;
  const g = new Float32Array(n).map((_, i) => Math.sin(i) * 15);
  const u = new Float32Array(n).map((_, i) => Math.cos(i * 0.3) * 2);
  const { h, sig } = swigluForward(g, u, true);
  for (let i = 0; i < n; i++) {
    const s = 1 / (1 + expFast(-g[i]));
    assert.equal(sig[i], Math.fround(s));
    assert.equal(h[i], Math.fround(Math.fround(g[i] * s) * u[i]));
  }
  const V = 64;
  const z = new Float32Array(3 * V).map((_, i) => Math.sin(i * 0.9) * 30);
  const t = [5, -100, 63];
  const r = crossEntropyBackward(z, t, V, 2, { fast: true });
  let lossSum = 0;
  const want = new Float32Array(z.length);
  for (const i of [0, 2]) {
    const o = i * V;
    let max = -Infinity;
    for (let j = 0; j < V; j++) if (z[o + j] > max) max = z[o + j];
    let sum = 0;
    for (let j = 0; j < V; j++) {
      const e = expFast(z[o + j] - max);
      want[o + j] = e;
      sum += e;
    }
    lossSum += max + Math.log(sum) - z[o + t[i]];
    for (let j = 0; j < V; j++) want[o + j] *= 1 / (sum * 2);
    want[o + t[i]] -= 1 / 2;
  }
  assert.equal(r.lossSum, lossSum);
  assert.deepEqual(r.dlogits, want);
});
