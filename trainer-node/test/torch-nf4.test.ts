// QLoRA's one format: the torch worker's NF4 quantization (trainer-node/torch/tributary_torch/nf4.py) packs
// a base model's weights byte for byte as the engine's quantizeNf4 does — codes, double-quantized block
// scales, group scales and offset — for real model weights and for the edge cases (an odd element count,
// a partial block and group, an all-zero matrix, a matrix of one repeated value); and QLoRA's backward keeps
// no dequantized weight (autograd saves what a LoRA step on the unquantized base saves) yet computes the
// same gradients as F.linear over the dense weight.
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

test("QLoRA: the backward dequantizes again instead of keeping each layer's dense weight, with the same gradients", async () => {
  const missing = torchUnavailable();
  assert.equal(missing, null, missing ?? "");
  const dir = mkdtempSync(join(tmpdir(), "torch-nf4-"));
  try {
    const model = fileURLToPath(new URL("../../engine/models/tributary-austen-4m", import.meta.url));
    await run(torchPython(), [FIXTURES, "qlora-backward", model, join(dir, "out.json")], { maxBuffer: 1 << 24 });
    const r = JSON.parse(await readFile(join(dir, "out.json"), "utf8"));
    assert.equal(r.chunked_equal, true, "dequantizing in chunks gives other values than the whole matrix at once");
    assert.ok(r.grads > 0);
    assert.equal(r.loss, r.loss_reference);
    assert.ok(r.grad_max_abs > 0, "the LoRA gradients are all zero: the comparison would prove nothing");
    assert.ok(r.grad_max_abs_diff <= 1e-6 * r.grad_max_abs, `LoRA gradients differ from the dense reference by ${r.grad_max_abs_diff}`);
    // what autograd keeps beyond the model's own tensors: activations only, as for LoRA on the unquantized base
    assert.ok(r.saved_bytes <= r.saved_bytes_lora, `QLoRA saves ${r.saved_bytes} bytes for the backward, LoRA ${r.saved_bytes_lora}`);
    // the reference (plain F.linear over the dense weight) keeps the dense weights too: the check can tell them apart
    assert.ok(r.saved_bytes_reference - r.saved_bytes > r.dense_weight_bytes / 2, `the reference saved only ${r.saved_bytes_reference} bytes`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
