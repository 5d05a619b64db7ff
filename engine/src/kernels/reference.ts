import type { Kernel, MatmulArgs } from "./kernel.ts";

/** Plain TypeScript matmul: the reference the fast kernels are tested against. Single-threaded. */
export function matmulReference(args: MatmulArgs): Float32Array {
  const { a, b, m, n, k, transA = false, transB = false, accumulate = false } = args;
  const out = args.out ?? new Float32Array(m * n);
  if (out.length < m * n) throw new RangeError(`matmul: out has ${out.length} elements, needs ${m * n}`);
  if (a.length < m * k || b.length < k * n) {
    throw new RangeError(`matmul: inputs too small for m=${m} n=${n} k=${k} (a=${a.length}, b=${b.length})`);
  }
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const av = transA ? a[p * m + i] : a[i * k + p];
        const bv = transB ? b[j * k + p] : b[p * n + j];
        s += av * bv;
      }
      out[i * n + j] = accumulate ? out[i * n + j] + s : s;
    }
  }
  return out;
}

export function createReferenceKernel(): Kernel {
  return {
    name: "ts",
    threads: 1,
    matmul: async (args) => matmulReference(args),
    dispose: async () => {},
  };
}
