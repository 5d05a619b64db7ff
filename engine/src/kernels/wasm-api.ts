/**
 * The slice of the WebAssembly JS API the `wasm` kernel uses, typed here because TypeScript declares
 * `WebAssembly` only in its DOM library, which this Node package does not load.
 */
export interface WasmModule { readonly __brand?: "WebAssembly.Module" }
export interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
  grow(pages: number): number;
}
export interface WasmGlobal { readonly value: number }
export interface WasmInstance { readonly exports: Record<string, unknown> }

interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Memory: new (descriptor: { initial: number; maximum: number; shared: true }) => WasmMemory;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => WasmInstance;
}

export const WebAssemblyApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
