import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Kernel, MatmulArgs } from "../src/kernels/kernel.ts";
import { matmulReference } from "../src/kernels/reference.ts";
import { createWasmKernel } from "../src/kernels/wasm.ts";
import { randomMatrix, sequentialF32Matmul, assertClose } from "./kernels-helpers.ts";

// Shapes that cross every blocking boundary of the kernel (micro-tile 4x8, tile 64x256, k block 256)
// and degenerate ones; fewer than 3 rows take the row-by-row path.
const shapes: Array<[number, number, number]> = [
  [1, 1, 1], [2, 37, 13], [3, 5, 7], [4, 16, 256], [5, 17, 257], [67, 130, 300], [65, 257, 513], [1, 384, 384], [130, 8, 40],
];

describe("wasm kernel", () => {
  let one: Kernel;
  let two: Kernel;
  let three: Kernel;
  before(async () => {
    [one, two, three] = await Promise.all([createWasmKernel(), createWasmKernel({ threads: 2 }), createWasmKernel({ threads: 3 })]);
  });
  after(async () => {
    await Promise.all([one, two, three].map((k) => k?.dispose()));
  });

  test("reports its name and thread count", () => {
    assert.equal(one.name, "wasm");
    assert.equal(one.threads, 1);
    assert.equal(three.threads, 3);
  });

  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      test(`agrees with the reference, transA=${transA} transB=${transB}, odd sizes`, async () => {
        let seed = 1;
        for (const [m, n, k] of shapes) {
          const args: MatmulArgs = { a: randomMatrix(m * k, seed++), b: randomMatrix(k * n, seed++), m, n, k, transA, transB };
          const got = await one.matmul(args);
          assert.equal(got.length, m * n);
          assertClose(got, matmulReference(args), args, `${m}x${n}x${k}`);
          // Stronger: it is exactly the sequential f32 multiply-then-add sum, the arithmetic it promises.
          assert.deepEqual(got, sequentialF32Matmul(args), `${m}x${n}x${k} differs from the sequential f32 sum`);
        }
      });
    }
  }

  test("output is bit-identical for 1, 2 and 3 threads", async () => {
    let seed = 100;
    for (const [m, n, k, transA, transB] of [
      [300, 600, 700, false, true], [257, 513, 129, true, false], [1024, 384, 384, false, false], [384, 384, 1024, true, false],
      [2, 700, 300, false, true], [1, 5000, 100, true, false],
    ] as Array<[number, number, number, boolean, boolean]>) {
      const args: MatmulArgs = { a: randomMatrix(m * k, seed++), b: randomMatrix(k * n, seed++), m, n, k, transA, transB };
      const r1 = await one.matmul(args);
      const r2 = await two.matmul(args);
      const r3 = await three.matmul(args);
      assert.ok(Buffer.from(r1.buffer).equals(Buffer.from(r2.buffer)), `${m}x${n}x${k}: 1 vs 2 threads differ`);
      assert.ok(Buffer.from(r1.buffer).equals(Buffer.from(r3.buffer)), `${m}x${n}x${k}: 1 vs 3 threads differ`);
      assertClose(r1, matmulReference(args), args, `${m}x${n}x${k}`);
    }
  });

  test("repeated calls on one kernel give the same bits (no state leaks between calls)", async () => {
    const args: MatmulArgs = { a: randomMatrix(200 * 300, 7), b: randomMatrix(300 * 100, 8), m: 200, n: 100, k: 300 };
    const first = new Float32Array(await two.matmul(args));
    await two.matmul({ a: randomMatrix(50 * 60, 9), b: randomMatrix(60 * 70, 10), m: 50, n: 70, k: 60, transB: true });
    assert.deepEqual(await two.matmul(args), first);
  });

  test("accumulate adds the product to out", async () => {
    const m = 70, n = 45, k = 33;
    const a = randomMatrix(k * m, 21), b = randomMatrix(n * k, 22);
    const base = randomMatrix(m * n, 23);
    for (const kernel of [one, two]) {
      const out = new Float32Array(base);
      const ret = await kernel.matmul({ a, b, m, n, k, transA: true, transB: true, out, accumulate: true });
      assert.equal(ret, out, "returns the given out");
      const product = sequentialF32Matmul({ a, b, m, n, k, transA: true, transB: true });
      for (let i = 0; i < m * n; i++) assert.equal(out[i], Math.fround(base[i] + product[i]));
    }
  });

  test("writes into a given out without accumulating, leaving elements past m*n alone", async () => {
    const out = new Float32Array(3 * 4 + 2).fill(9);
    const a = randomMatrix(3 * 5, 31), b = randomMatrix(5 * 4, 32);
    await one.matmul({ a, b, m: 3, n: 4, k: 5, out });
    assert.deepEqual(out.subarray(0, 12), sequentialF32Matmul({ a, b, m: 3, n: 4, k: 5 }));
    assert.deepEqual([...out.subarray(12)], [9, 9]);
  });

  test("k = 0 gives zeros (or leaves out unchanged with accumulate); empty outputs work", async () => {
    const out = new Float32Array([1, 2, 3, 4]);
    assert.deepEqual([...(await one.matmul({ a: new Float32Array(0), b: new Float32Array(0), m: 2, n: 2, k: 0, out }))], [0, 0, 0, 0]);
    const acc = new Float32Array([1, 2, 3, 4]);
    await one.matmul({ a: new Float32Array(0), b: new Float32Array(0), m: 2, n: 2, k: 0, out: acc, accumulate: true });
    assert.deepEqual([...acc], [1, 2, 3, 4]);
    assert.equal((await one.matmul({ a: new Float32Array(0), b: new Float32Array(6), m: 0, n: 3, k: 2 })).length, 0);
  });

  test("rejects bad input with a clear error", async () => {
    await assert.rejects(one.matmul({ a: new Float32Array(5), b: new Float32Array(6), m: 2, n: 2, k: 3 }), /inputs too small/);
    await assert.rejects(one.matmul({ a: new Float32Array(6), b: new Float32Array(6), m: 2, n: 2, k: 3, out: new Float32Array(3) }), /out has 3 elements/);
    await assert.rejects(one.matmul({ a: new Float32Array(6), b: new Float32Array(6), m: 2.5, n: 2, k: 3 }), /m must be a non-negative integer/);
    await assert.rejects(one.matmul({ a: new Float32Array(6), b: new Float32Array(6), m: 2, n: 2, k: 3, accumulate: true }), /accumulate needs `out`/);
    await assert.rejects(createWasmKernel({ threads: 0 }), /threads must be a positive integer/);
  });

  test("refuses use after dispose", async () => {
    const k = await createWasmKernel({ threads: 2 });
    await k.dispose();
    await assert.rejects(k.matmul({ a: new Float32Array(1), b: new Float32Array(1), m: 1, n: 1, k: 1 }), /after dispose/);
  });
});
