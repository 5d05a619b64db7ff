/**
 * Kernel by name for the CLI and benchmarks (`ts`, `wasm`, `ort`): kernels/index.ts's `createKernel`,
 * with the CLI's error for an unknown name. A kernel that cannot load (a broken onnxruntime-node, say)
 * throws its own KernelUnavailableError, which names the cause.
 */
import { EngineError } from "./errors.ts";
import type { Kernel } from "./kernels/kernel.ts";
import { createKernel } from "./kernels/index.ts";

export async function selectKernel(name: string, threads = 1): Promise<Kernel> {
  if (name !== "ts" && name !== "wasm" && name !== "ort") throw new EngineError("unknown kernel", { kernel: name }, "Use ts, wasm or ort");
  return createKernel(name, { threads });
}
