import assert from "node:assert/strict";
import { test } from "node:test";
import { matmulReference } from "../src/kernels/reference.ts";

test("reference matmul handles every transpose combination", () => {
  // A = [[1,2,3],[4,5,6]] (2x3), B = [[1,0],[0,1],[1,1]] (3x2) -> C = [[4,5],[10,11]]
  const A = new Float32Array([1, 2, 3, 4, 5, 6]);
  const At = new Float32Array([1, 4, 2, 5, 3, 6]);
  const B = new Float32Array([1, 0, 0, 1, 1, 1]);
  const Bt = new Float32Array([1, 0, 1, 0, 1, 1]);
  const want = [4, 5, 10, 11];
  for (const [a, transA] of [[A, false], [At, true]] as const) {
    for (const [b, transB] of [[B, false], [Bt, true]] as const) {
      assert.deepEqual([...matmulReference({ a, b, m: 2, n: 2, k: 3, transA, transB })], want);
    }
  }
  const out = new Float32Array([1, 1, 1, 1]);
  matmulReference({ a: A, b: B, m: 2, n: 2, k: 3, out, accumulate: true });
  assert.deepEqual([...out], [5, 6, 11, 12]);
});
