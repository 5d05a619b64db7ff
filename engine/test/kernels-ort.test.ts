import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { batchMatmul } from "../src/kernels/kernel.ts";
import type { Kernel, MatmulArgs } from "../src/kernels/kernel.ts";
import { createOrtKernel } from "../src/kernels/ort.ts";
import { matmulReference } from "../src/kernels/reference.ts";
import { assertClose, randomMatrix } from "./kernels-helpers.ts";

const shapes: Array<[number, number, number]> = [
  [1, 1, 1], [3, 5, 7], [5, 17, 257], [67, 130, 300], [1, 384, 384], [130, 8, 40], [200, 96, 1024],
];

describe("ort kernel", () => {
  let one: Kernel;
  let two: Kernel;
  before(async () => {
    [one, two] = await Promise.all([createOrtKernel(), createOrtKernel({ threads: 2 })]);
  });
  after(async () => {
    await Promise.all([one, two].map((k) => k?.dispose()));
  });

  test("reports its name and thread count", () => {
    assert.equal(one.name, "ort");
    assert.equal(two.threads, 2);
  });

  test("batchMatmul (one batched MatMul) agrees with the reference block by block, all transposes, accumulate", async () => {
    assert.ok(two.batchMatmul, "the ort kernel has a native batchMatmul");
    let seed = 100;
    for (const [batch, m, n, k] of [[1, 3, 5, 7], [12, 33, 33, 16], [4, 128, 64, 128]]) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const a = randomMatrix(batch * m * k, seed++);
          const b = randomMatrix(batch * k * n, seed++);
          const base = randomMatrix(batch * m * n, seed++);
          for (const accumulate of [false, true]) {
            const out = base.slice();
            const got = await batchMatmul(two, { a, b, m, n, k, batch, transA, transB, out, accumulate });
            for (let i = 0; i < batch; i++) {
              const args: MatmulArgs = { a: a.subarray(i * m * k, (i + 1) * m * k), b: b.subarray(i * k * n, (i + 1) * k * n), m, n, k, transA, transB, out: base.slice(i * m * n, (i + 1) * m * n), accumulate };
              const want = matmulReference(args);
              assertClose(got.subarray(i * m * n, (i + 1) * m * n), want, args, `block ${i} of ${batch}x${m}x${n}x${k} tA=${transA} tB=${transB} acc=${accumulate}`);
            }
          }
        }
      }
    }
  });

  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      test(`agrees with the reference, transA=${transA} transB=${transB}, 1 and 2 threads`, async () => {
        let seed = 1;
        for (const [m, n, k] of shapes) {
          const args: MatmulArgs = { a: randomMatrix(m * k, seed++), b: randomMatrix(k * n, seed++), m, n, k, transA, transB };
          const want = matmulReference(args);
          for (const kernel of [one, two]) {
            const got = await kernel.matmul(args);
            assert.equal(got.length, m * n);
            assertClose(got, want, args, `${kernel.threads} thread(s) ${m}x${n}x${k}`);
          }
        }
      });
    }
  }

  test("spin-waiting threads (spin: true) compute the same product", async () => {
    const spinning = await createOrtKernel({ threads: 2, spin: true });
    try {
      const args: MatmulArgs = { a: randomMatrix(300 * 200, 51), b: randomMatrix(200 * 100, 52), m: 300, n: 100, k: 200, transB: true };
      assertClose(await spinning.matmul(args), matmulReference(args), args, "spin");
    } finally {
      await spinning.dispose();
    }
  });

  test("accepts inputs longer than needed and writes only m*n elements of out", async () => {
    const a = randomMatrix(3 * 5 + 4, 41), b = randomMatrix(5 * 4 + 3, 42);
    const out = new Float32Array(3 * 4 + 2).fill(9);
    await one.matmul({ a, b, m: 3, n: 4, k: 5, out });
    assertClose(out.subarray(0, 12), matmulReference({ a, b, m: 3, n: 4, k: 5 }), { a, b, m: 3, n: 4, k: 5 }, "3x4x5");
    assert.deepEqual([...out.subarray(12)], [9, 9]);
  });

  test("accumulate adds the product to out", async () => {
    const m = 70, n = 45, k = 33;
    const args: MatmulArgs = { a: randomMatrix(k * m, 21), b: randomMatrix(k * n, 22), m, n, k, transA: true };
    const base = randomMatrix(m * n, 23);
    const out = new Float32Array(base);
    assert.equal(await two.matmul({ ...args, out, accumulate: true }), out);
    const want = matmulReference({ ...args, out: new Float32Array(base), accumulate: true });
    for (let i = 0; i < m * n; i++) assert.ok(Math.abs(out[i] - want[i]) <= 1e-5 * (1 + Math.abs(want[i])), `element ${i}: ${out[i]} vs ${want[i]}`);
  });

  test("k = 0 gives zeros (or leaves out unchanged with accumulate)", async () => {
    const out = new Float32Array([1, 2, 3, 4]);
    assert.deepEqual([...(await one.matmul({ a: new Float32Array(0), b: new Float32Array(0), m: 2, n: 2, k: 0, out }))], [0, 0, 0, 0]);
    const acc = new Float32Array([1, 2, 3, 4]);
    await one.matmul({ a: new Float32Array(0), b: new Float32Array(0), m: 2, n: 2, k: 0, out: acc, accumulate: true });
    assert.deepEqual([...acc], [1, 2, 3, 4]);
  });

  test("rejects bad input and use after dispose", async () => {
    await assert.rejects(one.matmul({ a: new Float32Array(5), b: new Float32Array(6), m: 2, n: 2, k: 3 }), /inputs too small/);
    await assert.rejects(createOrtKernel({ threads: -1 }), /threads must be a positive integer/);
    const k = await createOrtKernel();
    await k.dispose();
    await assert.rejects(k.matmul({ a: new Float32Array(1), b: new Float32Array(1), m: 1, n: 1, k: 1 }), /after dispose/);
  });
});
