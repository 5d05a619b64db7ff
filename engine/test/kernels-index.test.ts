import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { createKernel, kernelNames, UnknownKernelError } from "../src/kernels/index.ts";
import type { KernelName } from "../src/kernels/index.ts";
import { assertClose, randomMatrix, sequentialF32Matmul } from "./kernels-helpers.ts";

test("createKernel builds every named kernel, and they agree on one product", async () => {
  assert.deepEqual([...kernelNames].sort(), ["ort", "ts", "wasm"]);
  const args = { a: randomMatrix(40 * 30, 1), b: randomMatrix(20 * 30, 2), m: 40, n: 20, k: 30, transB: true };
  const results = new Map<string, Float32Array>();
  for (const name of kernelNames) {
    const kernel = await createKernel(name, { threads: 2 });
    try {
      assert.equal(kernel.name, name);
      assert.equal(kernel.threads, name === "ts" ? 1 : 2);
      results.set(name, await kernel.matmul(args));
    } finally {
      await kernel.dispose();
    }
  }
  assertClose(results.get("wasm")!, results.get("ts")!, args, "wasm vs ts");
  assertClose(results.get("ort")!, results.get("ts")!, args, "ort vs ts");
});

test("createKernel rejects an unknown name, naming the known ones", async () => {
  await assert.rejects(createKernel("cuda" as KernelName), (err: unknown) => {
    assert.ok(err instanceof UnknownKernelError);
    assert.match(err.message, /unknown kernel "cuda".*ts, wasm, ort/);
    return true;
  });
});

test("createKernel('ort') fails with KernelUnavailableError when onnxruntime-node cannot load", () => {
  // The missing native package is simulated in a child process by a resolve hook that refuses it:
  // the only way to make an installed package unloadable without uninstalling it.
  const hook = `import { registerHooks } from "node:module";
registerHooks({ resolve(spec, ctx, next) { if (spec === "onnxruntime-node") throw new Error("Cannot find package 'onnxruntime-node'"); return next(spec, ctx); } });`;
  const index = fileURLToPath(new URL("../src/kernels/index.ts", import.meta.url));
  const script = `const { createKernel } = await import(${JSON.stringify(index)});
try { await createKernel("ort"); console.log("created"); } catch (e) { console.log(e.name + ": " + e.message); }`;
  const r = spawnSync(process.execPath, ["--import", `data:text/javascript,${encodeURIComponent(hook)}`, "--input-type=module", "-e", script], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^KernelUnavailableError: kernel "ort" is unavailable: onnxruntime-node could not be loaded .*use the wasm kernel/);
});

test("every kernel reads and writes subarray views at an offset, touching nothing around out", async () => {
  const big = randomMatrix(10_000, 5);
  const [m, n, k] = [7, 9, 11];
  const args = { a: big.subarray(101, 101 + m * k), b: big.subarray(3001, 3001 + k * n), m, n, k };
  const want = sequentialF32Matmul(args);
  for (const name of kernelNames) {
    const kernel = await createKernel(name);
    try {
      const outer = new Float32Array(200).fill(7);
      const out = outer.subarray(13, 13 + m * n);
      await kernel.matmul({ ...args, out });
      assertClose(out, want, args, name);
      assert.ok(outer.subarray(0, 13).every((v) => v === 7) && outer.subarray(13 + m * n).every((v) => v === 7), `${name} wrote outside out`);
    } finally {
      await kernel.dispose();
    }
  }
});
