import { UnknownKernelError } from "./errors.ts";
import type { Kernel, KernelName } from "./kernel.ts";
import { createOrtKernel } from "./ort.ts";
import { createReferenceKernel } from "./reference.ts";
import { createWasmKernel } from "./wasm.ts";

export { KernelUnavailableError, UnknownKernelError } from "./errors.ts";
export type { Kernel, KernelName, MatmulArgs } from "./kernel.ts";

/** Every kernel createKernel knows, in order of preference for replayable work. */
export const kernelNames: readonly KernelName[] = ["ts", "wasm", "ort"];

export interface KernelOptions {
  /** Threads that compute (the calling thread included). Default 1. The `ts` kernel is single-threaded. */
  threads?: number;
  /** ort only: let idle onnxruntime threads spin-wait (faster on idle cores, much slower on shared ones). Default false. */
  spin?: boolean;
}

/**
 * Creates a kernel by name:
 *  - "ts": plain TypeScript reference, single-threaded (ignores `threads`);
 *  - "wasm": WebAssembly SIMD128 over worker threads, bit-identical for any thread count and machine;
 *  - "ort": onnxruntime-node, the fastest on CPU, not bit-stable across thread counts or CPUs.
 * Throws UnknownKernelError for another name and KernelUnavailableError when the kernel cannot load here.
 * Dispose the kernel when done: wasm and ort hold threads.
 */
export async function createKernel(name: KernelName, opts: KernelOptions = {}): Promise<Kernel> {
  switch (name) {
    case "ts":
      return createReferenceKernel();
    case "wasm":
      return createWasmKernel(opts);
    case "ort":
      return createOrtKernel(opts);
    default:
      throw new UnknownKernelError(String(name), kernelNames);
  }
}
