// Worker thread of the `wasm` kernel: waits for a new job generation in the shared header, claims tiles
// until none are left, reports done. See wasm.ts for the protocol.
import { parentPort, workerData } from "node:worker_threads";
import { H } from "./wasm.ts";
import type { MatmulExports } from "./wasm.ts";
import { WebAssemblyApi } from "./wasm-api.ts";
import type { WasmModule, WasmMemory } from "./wasm-api.ts";

const { module, memory, id } = workerData as { module: WasmModule; memory: WasmMemory; id: number };
const instance = new WebAssemblyApi.Instance(module, { env: { memory, abort: () => { throw new Error("wasm matmul aborted"); } } });
const wasm = instance.exports as unknown as MatmulExports;
const header = new Int32Array(memory.buffer, 0, 64);

let generation = Atomics.load(header, H.generation);
parentPort!.postMessage("ready");
for (;;) {
  Atomics.wait(header, H.generation, generation);
  generation = Atomics.load(header, H.generation);
  if (Atomics.load(header, H.quit)) break;
  const scratch = header[H.scratch] + id * header[H.scratchStride];
  try {
    wasm.runTiles(header[H.a], header[H.b], header[H.c], header[H.m], header[H.n], header[H.k],
      header[H.transA], header[H.transB], H.counter * 4, scratch);
  } catch (err) {
    // Report instead of dying: the calling thread is blocked until every worker says done.
    process.emitWarning(`wasm kernel worker ${id}: ${String(err)}`);
    Atomics.store(header, H.failed, id);
  }
  Atomics.add(header, H.done, 1);
  Atomics.notify(header, H.done);
}
parentPort!.close();
