export type { Kernel, KernelName, MatmulArgs } from "./kernels/kernel.ts";
export { createReferenceKernel, matmulReference } from "./kernels/reference.ts";
