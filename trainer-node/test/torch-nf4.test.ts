// QLoRA's one format: the torch worker's NF4 quantization (trainer-node/torch/tributary_torch/nf4.py) packs
// a base model's weights byte for byte as the engine's quantizeNf4 does — codes, double-quantized block
// scales, group scales and offset — for real model weights and for the edge cases (an odd element count,
// a partial block and group, an all-zero matrix, a matrix of one repeated value).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { quantizeNf4, readSafetensors, Rng, writeSafetensors } from "@tributary/engine";
import type { Tensor } from "@tributary/engine";
import { torchPython, torchUnavailable } from "../src/backends/torch-worker.ts";

const run = promisify(execFile);
const FIXTURES = fileURLToPath(new URL("./helpers/torch_fixtures.py", import.meta.url));
const BASE = fileURLToPath(new URL("../../engine/models/tributary-austen-4m/model.safetensors", import.meta.url));

test("NF4: the torch worker packs weights byte for byte as the engine does", async () => {
  const missing = torchUnavailable();
  assert.equal(missing, null, missing ?? "");
  const dir = mkdtempSync(join(tmpdir(), "torch-nf4-"));
  try {
    const rng = new Rng(5);
    const normal = (n: number, std: number) => Float32Array.from({ length: n }, () => rng.normal() * std);
    const tensors = new Map<string, Tensor>([
      ["odd", { shape: [3, 37], data: normal(111, 1) }], // 2 blocks, the last partial; 56 bytes with a lone nibble
      ["groups", { shape: [300, 70], data: normal(21000, 0.02) }], // 329 blocks: two absmax groups, the second partial
      ["zeros", { shape: [4, 64], data: new Float32Array(256) }],
      ["constant", { shape: [2, 64], data: new Float32Array(128).fill(-0.75) }],
    ]);
    // real weights: the demo model's first layer and its (tied) embedding, bf16 on disk, f32 here
    const base = readSafetensors(await readFile(BASE)).tensors;
    for (const name of ["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.down_proj.weight"]) {
      tensors.set(name, { shape: base.get(name)!.shape, data: base.get(name)!.data });
    }
    await writeFile(join(dir, "in.safetensors"), writeSafetensors(tensors));
    await run(torchPython(), [FIXTURES, "nf4", join(dir, "in.safetensors"), join(dir, "out")]);
    for (const [name, t] of tensors) {
      const q = quantizeNf4(t.data, t.shape[0], t.shape[1]);
      const bytes = (part: string) => readFile(join(dir, "out", `${name}.${part}.bin`));
      const same = (got: Buffer, want: ArrayBufferView, what: string) =>
        assert.ok(got.equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength)), `${name}: ${what} differ (${got.length} vs ${want.byteLength} bytes)`);
      same(await bytes("codes"), q.codes, "codes");
      same(await bytes("absmax"), q.absmaxCodes, "absmax codes");
      same(await bytes("scales"), q.absmaxScales, "group scales");
      same(await bytes("offset"), Float32Array.of(q.absmaxOffset), "offset");
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
