import assert from "node:assert/strict";
import { test } from "node:test";
import { createReferenceKernel } from "../src/kernels/reference.ts";
import { attentionBackward, attentionCached, attentionForward } from "../src/nn/attention.ts";
import { crossEntropyBackward, crossEntropyForward } from "../src/nn/cross-entropy.ts";
import { embeddingBackward, embeddingForward } from "../src/nn/embedding.ts";
import { linearBackward, linearForward } from "../src/nn/linear.ts";
import { rmsnormBackward, rmsnormForward } from "../src/nn/rmsnorm.ts";
import { ropeApply, ropeTables } from "../src/nn/rope.ts";
import { swigluBackward, swigluForward } from "../src/nn/swiglu.ts";
import { Rng } from "../src/random/prng.ts";
import { checkGrad, dot, projection, randn } from "./helpers/gradcheck.ts";

const kernel = createReferenceKernel();

test("embedding: lookup and scatter-add gradient", async () => {
  const rng = new Rng(1);
  const table = randn(5 * 3, rng);
  const ids = [4, 0, 4];
  const x = embeddingForward(table, ids, 3);
  assert.deepEqual([...x.subarray(0, 3)], [...table.subarray(12, 15)]);
  const r = projection(9, 2);
  const dT = new Float32Array(15);
  embeddingBackward(dT, ids, r, 3);
  await checkGrad("embedding", table, dT, () => dot(embeddingForward(table, ids, 3), r));
  assert.throws(() => embeddingForward(table, [5], 3), RangeError);
});

test("rmsnorm: forward matches the definition; gradients for x and w", async () => {
  const rng = new Rng(3);
  const D = 8;
  const x = randn(3 * D, rng);
  const w = randn(D, rng);
  const { y, rstd } = rmsnormForward(x, w, 1e-5);
  let ms = 0;
  for (let j = 0; j < D; j++) ms += x[D + j] ** 2;
  const r1 = 1 / Math.sqrt(ms / D + 1e-5);
  for (let j = 0; j < D; j++) assert.ok(Math.abs(y[D + j] - w[j] * x[D + j] * r1) < 1e-5);
  const r = projection(3 * D, 4);
  const dw = new Float32Array(D);
  const dx = rmsnormBackward(r, x, w, rstd, dw);
  const loss = () => dot(rmsnormForward(x, w, 1e-5).y, r);
  await checkGrad("rmsnorm dx", x, dx, loss);
  await checkGrad("rmsnorm dw", w, dw, loss);
});

test("rope: rotate-half convention, norm-preserving, inverse is the backward", async () => {
  const hd = 8;
  const t = ropeTables(hd, 10000, 16);
  // head of [1, 0, 0, 0 | 0, 0, 0, 0] at position 3 -> [cos(3), 0.., | sin(3), 0..] (first pair has freq 1)
  const x = new Float32Array(hd);
  x[0] = 1;
  ropeApply(x, [3], 1, t);
  assert.ok(Math.abs(x[0] - Math.cos(3)) < 1e-6 && Math.abs(x[4] - Math.sin(3)) < 1e-6);
  // second pair (i = 1) rotates with frequency 10000^(-2/8)
  const y = new Float32Array(hd);
  y[5] = 1;
  ropeApply(y, [2], 1, t);
  const a = 2 * 10000 ** (-2 / 8);
  assert.ok(Math.abs(y[1] + Math.sin(a)) < 1e-6 && Math.abs(y[5] - Math.cos(a)) < 1e-6);
  const rng = new Rng(5);
  const v = randn(3 * 2 * hd, rng);
  const pos = [0, 5, 11];
  const rot = v.slice();
  ropeApply(rot, pos, 2, t);
  assert.ok(Math.abs(dot(rot, rot) - dot(v, v)) < 1e-4);
  // gradient of sum(rope(v) * r) is rope^T(r) = inverse rope of r
  const r = projection(v.length, 6);
  const g = r.slice();
  ropeApply(g, pos, 2, t, true);
  await checkGrad("rope", v, g, () => {
    const z = v.slice();
    ropeApply(z, pos, 2, t);
    return dot(z, r);
  });
});

test("swiglu: forward and gradients", async () => {
  const rng = new Rng(8);
  const g = randn(12, rng, 2);
  const u = randn(12, rng);
  const { h, sig } = swigluForward(g, u);
  assert.ok(Math.abs(h[0] - (g[0] / (1 + Math.exp(-g[0]))) * u[0]) < 1e-6);
  const r = projection(12, 9);
  const { dg, du } = swigluBackward(r, g, u, sig);
  const loss = () => dot(swigluForward(g, u).h, r);
  await checkGrad("swiglu dg", g, dg, loss);
  await checkGrad("swiglu du", u, du, loss);
});

test("cross-entropy: ignores masked rows, gradient by finite differences", async () => {
  const rng = new Rng(10);
  const V = 7;
  const z = randn(4 * V, rng, 2);
  const targets = [3, -100, 0, 6];
  const { lossSum, count, dlogits } = crossEntropyBackward(z, targets, V, 3);
  assert.equal(count, 3);
  let want = 0;
  for (const i of [0, 2, 3]) {
    let s = 0;
    for (let j = 0; j < V; j++) s += Math.exp(z[i * V + j]);
    want += Math.log(s) - z[i * V + targets[i]];
  }
  assert.ok(Math.abs(lossSum - want) < 1e-4);
  assert.ok(dlogits.subarray(V, 2 * V).every((d) => d === 0), "masked row has no gradient");
  assert.equal(crossEntropyForward(z, targets, V).lossSum, lossSum);
  const inPlace = z.slice();
  const r2 = crossEntropyBackward(inPlace, targets, V, 3, { inPlace: true });
  assert.equal(r2.dlogits, inPlace);
  assert.deepEqual([...r2.dlogits], [...dlogits]);
  assert.equal(r2.lossSum, lossSum);
  await checkGrad("cross-entropy", z, dlogits, () => crossEntropyForward(z, targets, V).lossSum / 3);
});

test("linear with LoRA (rsLoRA scale, dropout): gradients for x, W, A, B", async () => {
  const rng = new Rng(11);
  const [N, inF, outF, r] = [5, 6, 4, 3];
  const x = randn(N * inF, rng);
  const W = randn(outF * inF, rng);
  const A = randn(r * inF, rng);
  const B = randn(outF * r, rng);
  for (const dropout of [0, 0.3]) {
    const lora = { A, B, r, scale: 2 / Math.sqrt(r), dropout };
    const run = async () => (await linearForward(kernel, x, W, outF, inF, lora, dropout ? new Rng(99) : null)).y;
    const { y, cache } = await linearForward(kernel, x, W, outF, inF, lora, dropout ? new Rng(99) : null);
    // y = x W^T + s * xd A^T B^T, checked against plain loops
    const xd = cache.xd ?? x;
    for (const [n, o] of [[0, 0], [4, 3]]) {
      let want = 0;
      for (let i = 0; i < inF; i++) want += x[n * inF + i] * W[o * inF + i];
      for (let k = 0; k < r; k++) {
        let h = 0;
        for (let i = 0; i < inF; i++) h += xd[n * inF + i] * A[k * inF + i];
        want += lora.scale * h * B[o * r + k];
      }
      assert.ok(Math.abs(y[n * outF + o] - want) < 1e-4);
    }
    if (dropout) assert.ok(cache.mask!.some((m) => m === 0), "dropout dropped something");
    const rr = projection(N * outF, 12);
    const grads = { dW: new Float32Array(W.length), dA: new Float32Array(A.length), dB: new Float32Array(B.length) };
    const dx = (await linearBackward(kernel, rr, cache, W, outF, inF, lora, grads))!;
    const loss = async () => dot(await run(), rr);
    await checkGrad(`linear dx p=${dropout}`, x, dx, loss);
    await checkGrad(`linear dW p=${dropout}`, W, grads.dW, loss);
    await checkGrad(`linear dA p=${dropout}`, A, grads.dA, loss);
    await checkGrad(`linear dB p=${dropout}`, B, grads.dB, loss);
  }
});

test("causal GQA attention with packed segments: gradients, masking, cached path agrees", async () => {
  const rng = new Rng(13);
  const s = { B: 2, T: 5, H: 4, Hkv: 2, hd: 4 };
  const N = s.B * s.T;
  const q = randn(N * s.H * s.hd, rng);
  const k = randn(N * s.Hkv * s.hd, rng);
  const v = randn(N * s.Hkv * s.hd, rng);
  const segments = new Int32Array([0, 0, 0, 1, 1, 0, 0, 0, 0, 0]);
  const { out, cache } = await attentionForward(kernel, q, k, v, segments, s);
  // first token attends only to itself: output = its own value row (head 0 reads kv head 0)
  for (let d = 0; d < s.hd; d++) assert.ok(Math.abs(out[d] - v[d]) < 1e-6);
  // token 3 starts a new segment: it sees only itself
  for (let d = 0; d < s.hd; d++) assert.ok(Math.abs(out[3 * s.H * s.hd + d] - v[3 * s.Hkv * s.hd + d]) < 1e-6);
  const r = projection(out.length, 14);
  const { dq, dk, dv } = await attentionBackward(kernel, r, q, k, v, cache, s);
  const loss = async () => dot((await attentionForward(kernel, q, k, v, segments, s)).out, r);
  await checkGrad("attention dq", q, dq, loss);
  await checkGrad("attention dk", k, dk, loss);
  await checkGrad("attention dv", v, dv, loss);
  // the KV-cache path gives the same outputs for row 1 (no segments), fed one token at a time
  const plain = (await attentionForward(kernel, q, k, v, null, s)).out;
  const w = s.Hkv * s.hd;
  const kc = k.slice(s.T * w, 2 * s.T * w);
  const vc = v.slice(s.T * w, 2 * s.T * w);
  for (let t = 0; t < s.T; t++) {
    const qt = q.slice((s.T + t) * s.H * s.hd, (s.T + t + 1) * s.H * s.hd);
    const o = attentionCached(qt, kc, vc, t, 1, s.H, s.Hkv, s.hd);
    for (let d = 0; d < o.length; d++) assert.ok(Math.abs(o[d] - plain[(s.T + t) * s.H * s.hd + d]) < 1e-5);
  }
});
