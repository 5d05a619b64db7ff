import { Worker } from "node:worker_threads";
import { checkMatmulArgs } from "./args.ts";
import { loadElementwise } from "./elementwise.ts";
import { KernelUnavailableError } from "./errors.ts";
import type { Kernel, MatmulArgs } from "./kernel.ts";
import { MAX_PAGES, loadMatmulModule } from "./wasm-build.ts";
import { WebAssemblyApi } from "./wasm-api.ts";
import type { WasmGlobal } from "./wasm-api.ts";

/**
 * The `wasm` kernel: WebAssembly SIMD128 matmul (engine/assembly/matmul.ts) over one shared memory,
 * run by the calling thread plus `threads - 1` worker threads. Each output element is the sequential
 * f32 sum over k, whichever thread computes it, so results are bit-identical for any thread count and
 * on any machine (see the AssemblyScript source for the argument).
 *
 * A call copies A and B into the shared memory, wakes the workers, computes tiles on the calling thread
 * too, waits (blocking) for the workers and copies C out. Calls are therefore serialized.
 */

/** The wasm module's exports (engine/assembly/matmul.ts). */
export interface MatmulExports {
  runTiles(a: number, b: number, c: number, m: number, n: number, k: number, transA: number, transB: number, counter: number, scratch: number): number;
  tileCount(m: number, n: number): number;
  SCRATCH_BYTES: WasmGlobal;
}

/** Int32 slots of the job header at the start of the shared memory (below the module's memoryBase). */
export const H = {
  generation: 0, counter: 1, done: 2, quit: 3,
  a: 4, b: 5, c: 6, m: 7, n: 8, k: 9, transA: 10, transB: 11, scratch: 12, scratchStride: 13,
  /** Id of a worker whose computation threw (0: none). */
  failed: 14,
} as const;

/** Where the buffers start: after the header and the module's (tiny) static data. */
const DATA_BASE = 65536;
/** Below this many multiply-adds (measured crossover: ~3-4M on 2 cores) a product runs on the calling
 * thread alone: waking the workers costs more than they save. */
const PARALLEL_MIN_MACS = 1 << 22;

export interface WasmKernelOptions {
  /** Threads that compute, the calling thread included. Default 1. */
  threads?: number;
}

export async function createWasmKernel(opts: WasmKernelOptions = {}): Promise<Kernel> {
  const threads = opts.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`wasm kernel: threads must be a positive integer, got ${threads}`);
  const module = await loadMatmulModule();
  await loadElementwise(); // the fast elementwise ops (fastMath); null where it cannot compile: TS then
  const memory = new WebAssemblyApi.Memory({ initial: 2, maximum: MAX_PAGES, shared: true });
  const instance = new WebAssemblyApi.Instance(module, { env: { memory, abort: () => { throw new Error("wasm matmul aborted"); } } });
  const wasm = instance.exports as unknown as MatmulExports;
  const scratchStride = align(wasm.SCRATCH_BYTES.value as number, 64);
  const header = new Int32Array(memory.buffer, 0, 64);

  // Workers start in parallel; each says "ready" once its instance exists and it waits for jobs.
  const workers: Worker[] = [];
  for (let id = 1; id < threads; id++) {
    workers.push(new Worker(new URL("./wasm-worker.ts", import.meta.url), { workerData: { module, memory, id } }));
  }
  const started = await Promise.allSettled(workers.map((w) => new Promise<void>((resolve, reject) => {
    w.once("message", () => resolve());
    w.once("error", reject);
    w.once("exit", (code) => reject(new Error(`wasm kernel worker exited with code ${code} during start-up`)));
  })));
  const failure = started.find((r) => r.status === "rejected");
  if (failure) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw new KernelUnavailableError("wasm", `a worker thread failed to start (${String(failure.reason)})`, "check that worker_threads and shared WebAssembly memory are available (Node >= 22)", failure.reason);
  }
  workers.forEach((w, i) => {
    w.removeAllListeners("exit");
    w.removeAllListeners("error");
    // A worker reports computation errors through the header; anything else is printed, loudly.
    w.on("error", (err) => { process.emitWarning(`wasm kernel worker ${i + 1} failed: ${String(err)}`); });
    w.unref();
  });

  let disposed = false;
  let f32 = new Float32Array(memory.buffer);

  function ensureBytes(bytes: number): void {
    const have = memory.buffer.byteLength;
    if (bytes > have) {
      const pages = Math.ceil((bytes - have) / 65536);
      if (have / 65536 + pages > MAX_PAGES) {
        throw new RangeError(`wasm kernel: the product needs ${bytes} bytes, beyond the 4 GiB of wasm32 memory; split it or use the ort kernel`);
      }
      memory.grow(pages);
    }
    if (f32.byteLength !== memory.buffer.byteLength) f32 = new Float32Array(memory.buffer);
  }

  function matmulSync(args: MatmulArgs): Float32Array {
    if (disposed) throw new Error("wasm kernel: used after dispose(); create a new kernel");
    const size = checkMatmulArgs(args);
    const { a, b, m, n, k, transA = false, transB = false, accumulate = false } = args;
    const out = args.out ?? new Float32Array(size);
    if (size === 0) return out;
    if (k === 0) {
      if (!accumulate) out.fill(0, 0, size);
      return out;
    }
    const aPtr = DATA_BASE;
    const bPtr = align(aPtr + m * k * 4, 64);
    const cPtr = align(bPtr + k * n * 4, 64);
    const scratch = align(cPtr + m * n * 4, 64);
    const tiles = wasm.tileCount(m, n);
    const helpers = m * n * k >= PARALLEL_MIN_MACS ? Math.min(workers.length, tiles - 1) : 0;
    ensureBytes(scratch + (helpers > 0 ? threads : 1) * scratchStride);
    f32.set(a.length === m * k ? a : a.subarray(0, m * k), aPtr / 4);
    f32.set(b.length === k * n ? b : b.subarray(0, k * n), bPtr / 4);

    header[H.a] = aPtr; header[H.b] = bPtr; header[H.c] = cPtr;
    header[H.m] = m; header[H.n] = n; header[H.k] = k;
    header[H.transA] = transA ? 1 : 0; header[H.transB] = transB ? 1 : 0;
    header[H.scratch] = scratch; header[H.scratchStride] = scratchStride;
    Atomics.store(header, H.counter, 0);
    Atomics.store(header, H.done, 0);
    if (helpers > 0) {
      // Wake every worker (those beyond `helpers` find no tile left); all must report before the next job.
      Atomics.add(header, H.generation, 1);
      Atomics.notify(header, H.generation);
    }
    let error: unknown;
    try {
      wasm.runTiles(aPtr, bPtr, cPtr, m, n, k, transA ? 1 : 0, transB ? 1 : 0, H.counter * 4, scratch);
    } catch (err) {
      error = err; // still wait for the workers below: they must be idle before the next call
    }
    if (helpers > 0) {
      for (let d = Atomics.load(header, H.done); d < workers.length; d = Atomics.load(header, H.done)) {
        Atomics.wait(header, H.done, d);
      }
      const failed = Atomics.exchange(header, H.failed, 0);
      if (failed) throw new Error(`wasm kernel: worker ${failed} failed during a ${m}x${n}x${k} product (see the warning it printed); dispose this kernel and create a new one`);
    }
    if (error) throw error;

    const c = f32.subarray(cPtr / 4, cPtr / 4 + size);
    if (accumulate) {
      for (let i = 0; i < size; i++) out[i] += c[i];
    } else {
      out.set(c);
    }
    return out;
  }

  return {
    name: "wasm",
    fastMath: true,
    threads,
    matmul: async (args) => matmulSync(args),
    async dispose() {
      if (disposed) return;
      disposed = true;
      Atomics.store(header, H.quit, 1);
      Atomics.add(header, H.generation, 1);
      Atomics.notify(header, H.generation);
      await Promise.all(workers.map((w) => new Promise<void>((resolve) => {
        w.once("exit", () => resolve());
        w.ref();
      })));
    },
  };
}

function align(x: number, to: number): number {
  return Math.ceil(x / to) * to;
}
