/**
 * Kernel by name for the CLI and benchmarks: `ts` is always here; `wasm` and `ort` come from
 * kernels/index.ts (`createKernel`) when the build includes it, otherwise a clear error says so.
 */
import { EngineError } from "./errors.ts";
import type { Kernel } from "./kernels/kernel.ts";
import { createReferenceKernel } from "./kernels/reference.ts";

export async function selectKernel(name: string, threads = 1): Promise<Kernel> {
  if (name === "ts") return createReferenceKernel();
  if (name !== "wasm" && name !== "ort") throw new EngineError("unknown kernel", { kernel: name }, "Use ts, wasm or ort");
  const path = "./kernels/index.ts"; // a variable, so that builds without the fast kernels still typecheck
  let mod: { createKernel?: (n: string, o: { threads: number }) => Promise<Kernel> };
  try {
    mod = await import(path);
  } catch {
    mod = {};
  }
  if (!mod.createKernel) throw new EngineError(`kernel ${name} is not available in this build`, { kernel: name }, "Use --kernel ts");
  return mod.createKernel(name, { threads });
}
