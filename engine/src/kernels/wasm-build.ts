import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { KernelUnavailableError } from "./errors.ts";
import { WebAssemblyApi } from "./wasm-api.ts";
import type { WasmModule } from "./wasm-api.ts";

/**
 * Compiles engine/assembly/matmul.ts with AssemblyScript into a WebAssembly module (SIMD128 + threads,
 * imported shared memory). The binary is never committed: it is built on first use and cached under
 * engine/build/kernels/, keyed by the source, the compiler version and the options.
 */

const engineRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const cacheDir = join(engineRoot, "build", "kernels");

/** Wasm pages (64 KiB) the shared memory may grow to: 4 GiB, the wasm32 limit. */
export const MAX_PAGES = 65536;

const compilerOptions = {
  optimizeLevel: 3,
  shrinkLevel: 0,
  runtime: "stub",
  noAssert: true,
  importMemory: true,
  sharedMemory: true,
  initialMemory: 2,
  maximumMemory: MAX_PAGES,
  // The first KiB of memory belongs to the host (the job header, see wasm.ts).
  memoryBase: 1024,
  // SIMD128 and atomics only; relaxed-SIMD (non-deterministic FMA) stays off.
  enable: ["simd", "threads"],
  disable: ["relaxed-simd"],
};

/** Options of the elementwise module (assembly/elementwise.ts): its own, unshared memory. */
const elementwiseOptions = {
  optimizeLevel: 3,
  shrinkLevel: 0,
  runtime: "stub",
  noAssert: true,
  initialMemory: 1,
  enable: ["simd"],
  disable: ["relaxed-simd"],
};

const cached = new Map<string, Promise<WasmModule>>();

function load(name: string, options: object): Promise<WasmModule> {
  let m = cached.get(name);
  if (!m) {
    m = build(name, options).catch((err: unknown) => {
      cached.delete(name);
      throw err;
    });
    cached.set(name, m);
  }
  return m;
}

/** The compiled matmul module (compiled once per process, from the disk cache when present). */
export function loadMatmulModule(): Promise<WasmModule> {
  return load("matmul", compilerOptions);
}

/** The compiled elementwise module (fast exp, SwiGLU, cross-entropy rows), cached likewise. */
export function loadElementwiseModule(): Promise<WasmModule> {
  return load("elementwise", elementwiseOptions);
}

async function build(name: string, options: object): Promise<WasmModule> {
  const sourcePath = join(engineRoot, "assembly", `${name}.ts`);
  const source = await readFile(sourcePath, "utf8");
  let version: string;
  try {
    version = createRequire(import.meta.url)("assemblyscript/package.json").version as string;
  } catch (err) {
    throw new KernelUnavailableError("wasm", "the AssemblyScript compiler (npm package `assemblyscript`) is not installed", "run `npm install` in the repository root", err);
  }
  const key = createHash("sha256").update(JSON.stringify([source, version, options])).digest("hex").slice(0, 16);
  const file = join(cacheDir, `${name}-${key}.wasm`);
  try {
    return new WebAssemblyApi.Module(await readFile(file));
  } catch {
    // not built yet (or unreadable): compile below
  }
  // Imported through a variable so that TypeScript does not load asc's declaration files, which
  // redeclare globals such as `console` for the whole program.
  const ascModule = "assemblyscript/asc";
  const { default: asc } = (await import(ascModule)) as { default: AscCompiler };
  const result = await asc.compileString({ [`${name}.ts`]: source }, options);
  if (result.error || !result.binary) {
    throw new KernelUnavailableError("wasm", `AssemblyScript failed to compile ${sourcePath}: ${result.error?.message ?? "no binary"}\n${result.stderr.toString()}`, "fix the AssemblyScript source", result.error);
  }
  const module = new WebAssemblyApi.Module(result.binary);
  try {
    await mkdir(cacheDir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, result.binary);
    await rename(tmp, file);
  } catch {
    // a read-only install still works, it just recompiles in each process
  }
  return module;
}

/** The part of AssemblyScript's `asc` API used here. */
interface AscCompiler {
  compileString(
    sources: Record<string, string>,
    options: object,
  ): Promise<{ error: Error | null; binary: Uint8Array | null; stderr: { toString(): string } }>;
}
