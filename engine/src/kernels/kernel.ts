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
import type { Projection } from "../lora/adapter.ts";
import type { RopeTables } from "../nn/rope.ts";

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
  /**
   * Optional: fused operations for the work between the products (ort: onnxruntime graphs). The model
   * uses them when present and the TypeScript ops of nn/ otherwise; they agree with those to rounding.
   */
  readonly ops?: FusedOps;
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

export interface FusedLayerLora {
  A: Float32Array; // [r, in]
  B: Float32Array; // [out, r]
  r: number;
  scale: number;
  /** Dropout: per input element 0 or 1 / (1 - p) (training with LoRA dropout), else absent. */
  mask?: Float32Array | null;
}

/** One decoder layer's inputs for Kernel.ops.layerForward (see model/llama.ts for the computation). */
export interface FusedLayerArgs {
  x: Float32Array; // [B*T, D] layer input (residual stream)
  inputNorm: Float32Array; // [D]
  postNorm: Float32Array; // [D]
  weights: Record<Projection, Float32Array>; // dense [out, in]
  lora: Partial<Record<Projection, FusedLayerLora>>;
  intermediate: number;
  eps: number;
  positions: Int32Array; // [B*T]
  segments: Int32Array | null; // [B*T]
  rope: RopeTables;
  shape: { B: number; T: number; H: number; Hkv: number; hd: number };
  /** Whether the backward will want weight gradients of every projection and norm (full fine-tuning). */
  weightGrads: boolean;
}

/** Where Kernel.ops.layerBackward adds the layer's parameter gradients. */
export interface FusedLayerGrads {
  proj: Partial<Record<Projection, { dW?: Float32Array | null; dA?: Float32Array | null; dB?: Float32Array | null }>>;
  dInputNorm?: Float32Array | null;
  dPostNorm?: Float32Array | null;
  /** Whether the gradient of the layer input is wanted (returned), else null is returned. */
  inputGrad: boolean;
}

export interface FusedHeadLossArgs {
  x: Float32Array; // [N, D] the LM head's input (final normalized hidden state)
  w: Float32Array; // [V, D] the head weight
  targets: ArrayLike<number>; // [N], negative = no loss
  vocab: number;
  /** Divides the loss gradient (the number of target tokens of the optimizer step). */
  normalizer: number;
  /** When given, d loss / d w is added to it (full fine-tuning). */
  dW?: Float32Array | null;
}

export interface FusedHeadLossResult {
  lossSum: number;
  count: number;
  dx: Float32Array; // [N, D]
}

/** Fused operations a kernel may provide; see Kernel.ops. */
export interface FusedOps {
  /** A whole decoder layer: RMSNorm, q/k/v with LoRA, RoPE, masked attention, o, residual, RMSNorm, SwiGLU MLP, residual. */
  layerForward(args: FusedLayerArgs): Promise<{ out: Float32Array; state: unknown }>;
  /**
   * Its backward from the gradient of the layer output, given the layer's weights again (the state does not
   * keep them: a quantized base is dequantized per use); parameter gradients are added into `grads`.
   */
  layerBackward(dout: Float32Array, state: unknown, weights: Record<Projection, Float32Array>, grads: FusedLayerGrads): Promise<Float32Array | null>;
  /** LM head + softmax cross-entropy: summed loss, d loss / d x (and d loss / d w); the logits never leave the kernel. */
  headLoss(args: FusedHeadLossArgs): Promise<FusedHeadLossResult>;
}
