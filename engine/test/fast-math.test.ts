import assert from "node:assert/strict";
import test from "node:test";
import { expFast } from "../src/nn/fast-math.ts";
import { crossEntropyBackward } from "../src/nn/cross-entropy.ts";
import { swigluForward } from "../src/nn/swiglu.ts";

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
