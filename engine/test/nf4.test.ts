import assert from "node:assert/strict";
import { test } from "node:test";
import { NF4_BLOCK, NF4_LEVELS, quantizeNf4 } from "../src/quant/nf4.ts";
import { Rng } from "../src/random/prng.ts";

test("NF4 round trip: error bounds on normal weights and <= 0.6 bytes per parameter", () => {
  const rng = new Rng(1);
  const rows = 96;
  const cols = 200; // 19200 values: 300 blocks, two absmax groups
  const w = new Float32Array(rows * cols);
  for (let i = 0; i < w.length; i++) w[i] = rng.normal() * 0.02;
  const q = quantizeNf4(w, rows, cols);
  const d = q.dequantize();
  assert.equal(d.length, w.length);
  assert.ok(q.byteLength / w.length <= 0.6, `${q.byteLength / w.length} bytes/param`);
  let se = 0;
  let ss = 0;
  // largest half-gap between neighbouring levels bounds each value's error relative to its block absmax
  let halfGap = 0;
  for (let i = 1; i < 16; i++) halfGap = Math.max(halfGap, (NF4_LEVELS[i] - NF4_LEVELS[i - 1]) / 2);
  for (let b = 0; b < w.length / NF4_BLOCK; b++) {
    let absmax = 0;
    for (let i = b * NF4_BLOCK; i < (b + 1) * NF4_BLOCK; i++) absmax = Math.max(absmax, Math.abs(w[i]));
    for (let i = b * NF4_BLOCK; i < (b + 1) * NF4_BLOCK; i++) {
      assert.ok(Math.abs(d[i] - w[i]) <= absmax * (halfGap + 0.02), `value ${i}: ${w[i]} -> ${d[i]}`);
      se += (d[i] - w[i]) ** 2;
      ss += w[i] ** 2;
    }
  }
  const rel = Math.sqrt(se / ss);
  assert.ok(rel < 0.12 && rel > 0.03, `relative RMS error ${rel}`);
});

test("NF4 represents its own levels (times a block scale) almost exactly, and zero blocks as zeros", () => {
  const w = new Float32Array(128);
  for (let i = 0; i < 64; i++) w[i] = NF4_LEVELS[i % 16] * 0.5;
  const d = quantizeNf4(w, 2, 64).dequantize();
  for (let i = 0; i < 64; i++) assert.ok(Math.abs(d[i] - w[i]) < 0.5 * 0.01, `${w[i]} -> ${d[i]}`);
  for (let i = 64; i < 128; i++) assert.equal(Math.abs(d[i]) < 0.5 * 0.01, true);
  assert.throws(() => quantizeNf4(new Float32Array(10), 3, 3), RangeError);
});
