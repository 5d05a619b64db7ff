/**
 * The compute interface every kernel implements. Matrices are dense, row-major Float32Arrays.
 *
 * matmul computes C[m, n] = op(A)[m, k] @ op(B)[k, n], where op(X) is X or X transposed:
 *  - transA = false: A is stored [m, k]; transA = true: A is stored [k, m].
 *  - transB = false: B is stored [k, n]; transB = true: B is stored [n, k].
 * The three products of a linear layer y = x W^T (W stored [out, in]) map to:
 *  - forward:  y[T, out]  = x[T, in] @ W^T        -> matmul(x, W, T, out, in, transB = true)
 *  - input grad: dx[T, in] = dy[T, out] @ W        -> matmul(dy, W, T, in, out)
 *  - weight grad: dW[out, in] = dy^T @ x           -> matmul(dy, x, out, in, T, transA = true)
 * With `accumulate`, the product is added to `out` (which must then be given) instead of replacing it.
 *
 * Determinism contract: for a given kernel, the result must not depend on the thread count or on the
 * machine. The `wasm` kernel is additionally bit-identical to itself everywhere (fixed reduction order,
 * fixed work partition); it is the kernel used when a job must be replayable.
 */
export type KernelName = "ts" | "wasm" | "ort";

export interface MatmulArgs {
  a: Float32Array;
  b: Float32Array;
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
  /** Destination of length m * n; allocated when absent. */
  out?: Float32Array;
  /** Add the product to `out` rather than overwrite it. */
  accumulate?: boolean;
}

/**
 * `batch` independent products of the same shape, stored back to back: a holds batch blocks of m*k
 * elements, b batch blocks of k*n, out batch blocks of m*n (each block laid out as in MatmulArgs).
 */
export interface BatchMatmulArgs extends MatmulArgs {
  batch: number;
}

export interface Kernel {
  readonly name: KernelName;
  readonly threads: number;
  matmul(args: MatmulArgs): Promise<Float32Array>;
  /**
   * Optional: whether the elementwise ops around the products (softmax, SwiGLU, cross-entropy) may use
   * the fast deterministic exp of nn/fast-math.ts (~1 f32 ulp from Math.exp, identical on every
   * machine and thread count) instead of Math.exp. Absent/false: exact Math.exp (the `ts` reference).
   */
  readonly fastMath?: boolean;
  /**
   * Optional: the batched product in one call (ort: one batched MatMul instead of `batch` Gemm calls).
   * Callers use `batchMatmul` below, which falls back to `batch` matmul calls when it is absent.
   */
  batchMatmul?(args: BatchMatmulArgs): Promise<Float32Array>;
  /** Releases worker threads / native sessions. The kernel must not be used afterwards. */
  dispose(): Promise<void>;
}

/** Runs a batched product through `kernel.batchMatmul` when the kernel has it, else one matmul per block. */
export async function batchMatmul(kernel: Kernel, args: BatchMatmulArgs): Promise<Float32Array> {
  if (kernel.batchMatmul) return kernel.batchMatmul(args);
  const { a, b, m, n, k, batch } = args;
  const out = args.out ?? new Float32Array(batch * m * n);
  for (let i = 0; i < batch; i++) {
    await kernel.matmul({
      ...args,
      a: a.subarray(i * m * k, (i + 1) * m * k),
      b: b.subarray(i * k * n, (i + 1) * k * n),
      out: out.subarray(i * m * n, (i + 1) * m * n),
    });
  }
  return out;
}
