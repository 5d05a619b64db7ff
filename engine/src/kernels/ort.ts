import type * as OrtModule from "onnxruntime-node";
import { checkMatmulArgs } from "./args.ts";
import { loadElementwise } from "./elementwise.ts";
import { matmulReference } from "./reference.ts";
import { KernelUnavailableError } from "./errors.ts";
import type { BatchMatmulArgs, Kernel, MatmulArgs } from "./kernel.ts";
import { batchMatmulModel, gemmModel } from "./ort-graph.ts";
import { createOrtOps } from "./ort-ops.ts";

/**
 * The `ort` kernel: matmul through onnxruntime-node (MLAS on CPU), one Gemm session per (transA, transB)
 * with symbolic dims, created on first use and cached. `threads` is the session's intra-op thread count.
 * Results agree with the reference to rounding but are NOT bit-stable: MLAS picks its k blocking from the
 * per-thread share of the output, so some shapes round differently with 1 and 2 threads, and CPUs with
 * different instruction sets take different code paths. Replayable jobs use the `wasm` kernel.
 */

type Ort = typeof OrtModule;
type Session = Awaited<ReturnType<Ort["InferenceSession"]["create"]>>;

export interface OrtKernelOptions {
  /** Intra-op threads of each session. Default 1. */
  threads?: number;
  /**
   * Whether idle intra-op threads spin-wait for the next product (onnxruntime's own default). Default
   * false. Spinning helps only when the cores are otherwise idle (1024^3 on 2 threads: ~1.8x one thread
   * with it, ~1.0x without); when they are shared, the spinning thread takes CPU from the JS work between
   * products: the engine's LoRA training step on a loaded 2-core machine ran 2-5x slower with it.
   */
  spin?: boolean;
}

/**
 * Products of at most this many multiply-adds (decoding's LoRA branch: 1 x 8 x 384) run in plain
 * TypeScript: a session run costs tens of microseconds, the product itself a few.
 */
const SMALL_MACS = 1 << 15;

async function loadOrt(): Promise<Ort> {
  try {
    return await import("onnxruntime-node");
  } catch (err) {
    throw new KernelUnavailableError(
      "ort",
      `onnxruntime-node could not be loaded (${err instanceof Error ? err.message : String(err)})`,
      "install it with `npm install` (the repository's .npmrc sets onnxruntime-node-install=skip, needed offline) or use the wasm kernel",
      err,
    );
  }
}

export async function createOrtKernel(opts: OrtKernelOptions = {}): Promise<Kernel> {
  const threads = opts.threads ?? 1;
  const spin = opts.spin ?? false;
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`ort kernel: threads must be a positive integer, got ${threads}`);
  const ort = await loadOrt();
  await loadElementwise(); // the fast elementwise ops (fastMath); null where it cannot compile: TS then
  const sessions = new Map<string, Promise<Session>>();
  let disposed = false;

  function session(transA: boolean, transB: boolean, batched = false): Promise<Session> {
    return graphSession(`${batched ? "b" : ""}${+transA}${+transB}`, () => (batched ? batchMatmulModel(transA, transB) : gemmModel(transA, transB)));
  }

  function graphSession(key: string, model: () => Uint8Array): Promise<Session> {
    if (disposed) return Promise.reject(new Error("ort kernel: used after dispose(); create a new kernel"));
    let s = sessions.get(key);
    if (!s) {
      s = ort.InferenceSession.create(model(), {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: "sequential",
        graphOptimizationLevel: "all",
        executionProviders: ["cpu"],
        extra: { session: { intra_op: { allow_spinning: spin ? "1" : "0" } } },
      }).catch((err: unknown) => {
        sessions.delete(key);
        throw new KernelUnavailableError("ort", `onnxruntime could not create the ${key} session (${String(err)})`, "check the onnxruntime-node install or use the wasm kernel", err);
      });
      sessions.set(key, s);
    }
    return s;
  }

  // Sessions for the common layouts are built up front so that the first matmul is not slow to start.
  await Promise.all([session(false, false), session(false, true), session(true, false)]);

  const ops = createOrtOps(ort, graphSession);

  return {
    name: "ort",
    fastMath: true,
    threads,
    ops,
    async matmul(args: MatmulArgs): Promise<Float32Array> {
      if (disposed) throw new Error("ort kernel: used after dispose(); create a new kernel");
      const size = checkMatmulArgs(args);
      const { a, b, m, n, k, transA = false, transB = false, accumulate = false } = args;
      const out = args.out ?? new Float32Array(size);
      if (size === 0) return out;
      if (k === 0) {
        if (!accumulate) out.fill(0, 0, size);
        return out;
      }
      if (m * n * k <= SMALL_MACS) return matmulReference({ ...args, out });
      const s = await session(transA, transB);
      const A = new ort.Tensor("float32", a.length === m * k ? a : a.subarray(0, m * k), transA ? [k, m] : [m, k]);
      const B = new ort.Tensor("float32", b.length === k * n ? b : b.subarray(0, k * n), transB ? [n, k] : [k, n]);
      if (!accumulate) {
        // Let onnxruntime write straight into the destination.
        const Y = new ort.Tensor("float32", out.length === size ? out : out.subarray(0, size), [m, n]);
        await s.run({ A, B }, { Y });
        return out;
      }
      const { Y } = await s.run({ A, B });
      const y = Y.data as Float32Array;
      for (let i = 0; i < size; i++) out[i] += y[i];
      Y.dispose();
      return out;
    },
    // batch products as one batched MatMul (attention: every head of every sequence in one call)
    async batchMatmul(args: BatchMatmulArgs): Promise<Float32Array> {
      if (disposed) throw new Error("ort kernel: used after dispose(); create a new kernel");
      const { a, b, m, n, k, batch, transA = false, transB = false, accumulate = false } = args;
      if (!Number.isInteger(batch) || batch < 0) throw new RangeError(`batchMatmul: batch must be a non-negative integer, got ${batch}`);
      checkMatmulArgs({ a, b, m: batch * m, n, k, out: args.out, accumulate });
      if (b.length < batch * k * n) throw new RangeError(`batchMatmul: b has ${b.length} elements, needs ${batch * k * n}`);
      const size = batch * m * n;
      const out = args.out ?? new Float32Array(size);
      if (size === 0) return out;
      if (k === 0) {
        if (!accumulate) out.fill(0, 0, size);
        return out;
      }
      const s = await session(transA, transB, true);
      const A = new ort.Tensor("float32", a.length === batch * m * k ? a : a.subarray(0, batch * m * k), transA ? [batch, k, m] : [batch, m, k]);
      const B = new ort.Tensor("float32", b.length === batch * k * n ? b : b.subarray(0, batch * k * n), transB ? [batch, n, k] : [batch, k, n]);
      if (!accumulate) {
        const Y = new ort.Tensor("float32", out.length === size ? out : out.subarray(0, size), [batch, m, n]);
        await s.run({ A, B }, { Y });
        return out;
      }
      const { Y } = await s.run({ A, B });
      const y = Y.data as Float32Array;
      for (let i = 0; i < size; i++) out[i] += y[i];
      Y.dispose();
      return out;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      const all = await Promise.allSettled(sessions.values());
      for (const r of all) if (r.status === "fulfilled") await r.value.release();
      sessions.clear();
    },
  };
}
