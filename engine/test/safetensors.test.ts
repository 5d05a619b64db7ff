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
  assert.throws(() => readSafetensors(bytes.subarray(0, bytes.length - 1)), /tensor bytes run past the end of the file/);
  const header = new TextEncoder().encode(JSON.stringify({ t: { dtype: "I64", shape: [1], data_offsets: [0, 8] } }));
  const bad = new Uint8Array(8 + header.length + 8);
  new DataView(bad.buffer).setBigUint64(0, BigInt(header.length), true);
  bad.set(header, 8);
  assert.throws(() => readSafetensors(bad), /unsupported safetensors dtype/);
  assert.throws(() => writeSafetensors({ t: { shape: [3], data: new Float32Array(2) } }), /shape does not match/);
});

/** A safetensors file with exactly this header (any JSON) and `dataBytes` bytes of data. */
function crafted(header: unknown, dataBytes: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

/** A header of a JSON string holding the byte 0xff, which is not UTF-8. */
function notUtf8(): Uint8Array {
  const out = crafted('"x"', 0);
  out[9] = 0xff;
  return out;
}

test("crafted safetensors headers are refused by name, before any tensor is decoded", () => {
  const f32 = (shape: number[], data_offsets: unknown) => ({ dtype: "F32", shape, data_offsets });
  const cases: [string, Uint8Array, RegExp][] = [
    ["negative begin", crafted({ a: f32([2], [-8, 0]) }, 8), /data_offsets must be two whole numbers \[begin, end\] >= 0 .*"name":"a"/],
    ["fractional offset", crafted({ a: f32([2], [0.5, 8.5]) }, 16), /data_offsets must be two whole numbers/],
    ["one offset", crafted({ a: f32([2], [8]) }, 8), /data_offsets must be two whole numbers/],
    ["begin after end", crafted({ a: f32([0], [8, 0]) }, 8), /begin after end .*"begin":8,"end":0/],
    ["end past the file", crafted({ a: f32([4], [0, 16]) }, 8), /tensor bytes run past the end of the file .*"end":16,"dataBytes":8/],
    ["length not shape x dtype", crafted({ a: f32([3], [0, 8]) }, 8), /byte length does not match its shape and dtype .*"bytes":8,"expected":12/],
    ["shape with a negative dim", crafted({ a: f32([-1, -8], [0, 32]) }, 32), /shape must be a list of whole numbers/],
    ["shape overflowing", crafted({ a: f32([2 ** 40, 2 ** 40], [0, 8]) }, 8), /byte length does not match/],
    ["overlapping tensors", crafted({ a: f32([2], [0, 8]), b: f32([2], [4, 12]) }, 12), /two tensors' bytes overlap .*"first":"a".*"second":"b"/],
    ["a tensor inside another", crafted({ big: f32([4], [0, 16]), small: f32([1], [4, 8]) }, 16), /overlap .*"first":"big".*"second":"small"/],
    ["header not an object", crafted("[1,2]", 0), /header is not a JSON object/],
    ["header not UTF-8", notUtf8(), /header is not UTF-8 JSON/],
    ["metadata not strings", crafted({ __metadata__: { n: 1 } }, 0), /__metadata__ values must be strings/],
    ["tensor entry null", crafted({ a: null }, 0), /tensor entry is not an object/],
  ];
  for (const [what, bytes, re] of cases) {
    assert.throws(() => readSafetensors(bytes), (e: unknown) => e instanceof FormatError && re.test(e.message), what);
  }
  // a header length of 2^63 (or over the format's 100 MB cap) is refused without reading it
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 2n ** 63n, true);
  assert.throws(() => readSafetensors(huge), /header length is over the format's 100 MB limit/);
  const past = new Uint8Array(16);
  new DataView(past.buffer).setBigUint64(0, 1000n, true);
  assert.throws(() => readSafetensors(past), /header runs past the end of the file/);
  // empty tensors hold no bytes, so they overlap nothing; adjacent tensors do not overlap
  const ok = readSafetensors(crafted({ e: f32([0], [4, 4]), a: f32([1], [0, 4]), b: f32([1], [4, 8]) }, 8));
  assert.deepEqual([...ok.tensors.keys()].sort(), ["a", "b", "e"]);
  assert.equal(ok.tensors.get("e")!.data.length, 0);
});
