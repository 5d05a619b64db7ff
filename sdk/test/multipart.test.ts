import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { boundaryOf, MultipartError, readMultipart } from "../src/ipfs/multipart.ts";
import { patternBytes } from "./helpers/node.ts";

const boundary = "-----------------------------abc123";

function body(parts: Array<{ name: string; filename: string; type: string; data: Uint8Array }>): Uint8Array {
  const enc = new TextEncoder();
  const out: Uint8Array[] = [];
  parts.forEach((p, i) => {
    out.push(enc.encode(`${i > 0 ? "\r\n" : ""}--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"; filename="${encodeURIComponent(p.filename)}"\r\nContent-Type: ${p.type}\r\n\r\n`));
    out.push(p.data);
  });
  out.push(enc.encode(`\r\n--${boundary}--\r\n`));
  return Buffer.concat(out);
}

async function* chunked(bytes: Uint8Array, size: number) {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

describe("multipart reader", () => {
  // Content that almost contains the delimiter, to catch partial-match bugs at chunk edges.
  const tricky = new TextEncoder().encode(`a\r\n--${boundary.slice(0, -1)}X\r\n-\r\n--`);
  const big = patternBytes(30_000, 4);
  const parts = [
    { name: "file", filename: "dir/a b.txt", type: "application/octet-stream", data: tricky },
    { name: "dir-1", filename: "dir", type: "application/x-directory", data: new Uint8Array() },
    { name: "file-2?mode=0644", filename: "dir/big.bin", type: "application/octet-stream", data: big },
  ];

  for (const size of [1, 7, 65_536]) {
    it(`reads every part intact with ${size}-byte chunks`, async () => {
      const got = [];
      for await (const part of readMultipart(chunked(body(parts), size), boundary)) {
        const pieces: Uint8Array[] = [];
        for await (const c of part.body) pieces.push(c);
        got.push({ name: part.name, filename: part.filename, type: part.headers["content-type"], data: Buffer.concat(pieces) });
      }
      assert.deepEqual(got.map((g) => [g.name, g.filename, g.type]), parts.map((p) => [p.name, p.filename, p.type]));
      got.forEach((g, i) => assert.deepEqual(g.data, Buffer.from(parts[i].data)));
    });
  }

  it("skips a body the consumer does not read", async () => {
    const names = [];
    for await (const part of readMultipart(chunked(body(parts), 1000), boundary)) names.push(part.filename);
    assert.deepEqual(names, ["dir/a b.txt", "dir", "dir/big.bin"]);
  });

  it("rejects truncated bodies and finds the boundary in Content-Type", async () => {
    const whole = body(parts);
    await assert.rejects(async () => {
      for await (const part of readMultipart(chunked(whole.subarray(0, whole.length - 40), 512), boundary)) for await (const _ of part.body) { /* */ }
    }, MultipartError);
    assert.equal(boundaryOf(`multipart/form-data; boundary=${boundary}`), boundary);
    assert.equal(boundaryOf('multipart/form-data; boundary="q r"'), "q r");
    assert.equal(boundaryOf("application/json"), undefined);
  });
});
