import assert from "node:assert/strict";
import { test } from "node:test";
import { FormatError } from "../src/errors.ts";
import { f16ToF32, f32ToBf16, readSafetensors, writeSafetensors } from "../src/formats/safetensors.ts";

test("safetensors F32 round-trips exactly, with metadata and a sorted, 8-byte aligned header", () => {
  const a = { shape: [2, 3], data: new Float32Array([1, -2.5, 3.25, 1e-30, -0, 65504.5]) };
  const b = { shape: [1], data: new Float32Array([Math.PI]) };
  const bytes = writeSafetensors({ zeta: a, alpha: b }, { metadata: { format: "pt", note: "x" } });
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(headerLen % 8, 0);
  const header = new TextDecoder().decode(bytes.subarray(8, 8 + headerLen));
  assert.ok(header.indexOf('"alpha"') < header.indexOf('"zeta"'), "tensors are written in name order");
  const back = readSafetensors(bytes);
  assert.deepEqual(back.metadata, { format: "pt", note: "x" });
  assert.deepEqual(back.tensors.get("zeta")!.shape, [2, 3]);
  assert.deepEqual([...back.tensors.get("zeta")!.data], [...a.data]);
  assert.deepEqual([...back.tensors.get("alpha")!.data], [...b.data]);
  // the same tensors give the same bytes
  assert.deepEqual(writeSafetensors({ alpha: b, zeta: a }, { metadata: { format: "pt", note: "x" } }), bytes);
});

test("BF16 writing rounds to nearest even and reads back as the rounded value", () => {
  // 1 + 2^-8 lies halfway between bf16 1 and 1 + 2^-7: ties go to the even mantissa (1).
  // 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 and 1 + 2^-6: goes to 1 + 2^-6.
  const values = new Float32Array([1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, -3, 0.1]);
  const back = readSafetensors(writeSafetensors({ t: { shape: [5], data: values } }, { dtype: "BF16" })).tensors.get("t")!.data;
  assert.equal(back[0], 1);
  assert.equal(back[1], 1 + 2 ** -6);
  assert.equal(back[2], 1 + 2 ** -7);
  assert.equal(back[3], -3);
  assert.ok(Math.abs(back[4] - 0.1) < 0.1 * 2 ** -8);
  assert.equal(f32ToBf16(NaN) & 0x7f80, 0x7f80);
});

test("F16 tensors are read, including subnormals and infinities", () => {
  const halves = [0x3c00, 0xc000, 0x0001, 0x7bff, 0xfc00, 0x3555];
  const want = [1, -2, 2 ** -24, 65504, -Infinity, f16ToF32(0x3555)];
  assert.ok(Math.abs(want[5] - 1 / 3) < 1e-3);
  const header = new TextEncoder().encode(JSON.stringify({ h: { dtype: "F16", shape: [6], data_offsets: [0, 12] } }));
  const bytes = new Uint8Array(8 + header.length + 12);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(header.length), true);
  bytes.set(header, 8);
  halves.forEach((h, i) => view.setUint16(8 + header.length + 2 * i, h, true));
  assert.deepEqual([...readSafetensors(bytes).tensors.get("h")!.data], want);
});

test("bad safetensors input fails with a FormatError", () => {
  assert.throws(() => readSafetensors(new Uint8Array(4)), FormatError);
  const bytes = writeSafetensors({ t: { shape: [2], data: new Float32Array(2) } });
  assert.throws(() => readSafetensors(bytes.subarray(0, bytes.length - 1)), /bad offsets/);
  const header = new TextEncoder().encode(JSON.stringify({ t: { dtype: "I64", shape: [1], data_offsets: [0, 8] } }));
  const bad = new Uint8Array(8 + header.length + 8);
  new DataView(bad.buffer).setBigUint64(0, BigInt(header.length), true);
  bad.set(header, 8);
  assert.throws(() => readSafetensors(bad), /unsupported safetensors dtype/);
  assert.throws(() => writeSafetensors({ t: { shape: [3], data: new Float32Array(2) } }), /shape does not match/);
});
