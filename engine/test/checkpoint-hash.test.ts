import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { AdamW } from "../src/train/adamw.ts";
import { checkpointDirStateHash, checkpointStateHash, loadCheckpoint, saveCheckpoint } from "../src/train/checkpoint.ts";
import type { TrainerState } from "../src/train/checkpoint.ts";

function run(order: string[]) {
  const params = new Map<string, Float32Array>();
  for (const name of order) params.set(name, Float32Array.from({ length: 6 }, (_, i) => (name.length + i) / 7));
  const opt = new AdamW(params);
  const grads = new Map([...params].map(([n, p]) => [n, p.map((x) => x - 0.5)]));
  opt.step(grads, 1e-2);
  opt.step(grads, 1e-2);
  const state: TrainerState = { step: 2, microStep: 4, dropoutRng: [1, 2, 3, 4], tokens: 64, lossHistory: [], evalHistory: [], run: {} };
  return { params, opt, state };
}

test("checkpoint state hash: covers tensors, moments, step, data cursor and RNG; survives a save/load round trip", async () => {
  const a = run(["lora_A", "lora_B"]);
  const h = checkpointStateHash(a.params, a.opt, a.state);
  assert.match(h, /^0x[0-9a-f]{64}$/);
  const b = run(["lora_B", "lora_A"]);
  assert.equal(checkpointStateHash(b.params, b.opt, b.state), h, "tensor order does not matter");
  const changed = (mutate: (r: ReturnType<typeof run>) => void) => {
    const r = run(["lora_A", "lora_B"]);
    mutate(r);
    return checkpointStateHash(r.params, r.opt, r.state);
  };
  assert.notEqual(changed((r) => (r.params.get("lora_A")![0] += 1e-6)), h, "adapter");
  assert.notEqual(changed((r) => (r.opt.m.get("lora_B")![5] *= 2)), h, "first moment");
  assert.notEqual(changed((r) => (r.opt.v.get("lora_B")![5] *= 2)), h, "second moment");
  assert.notEqual(changed((r) => (r.opt.t += 1)), h, "optimizer step");
  assert.notEqual(changed((r) => (r.state.microStep += 1)), h, "data cursor");
  assert.notEqual(changed((r) => (r.state.dropoutRng[0] ^= 1)), h, "RNG state");
  assert.notEqual(checkpointStateHash(a.params, a.opt, a.state, ["0xadapter", "0xroot"]), h, "the last checkpoint's extras");

  const dir = await mkdtemp(join(tmpdir(), "ckpt-hash-"));
  try {
    const path = await saveCheckpoint(dir, a.params, a.opt, a.state);
    const c = run(["lora_A", "lora_B"]);
    c.params.get("lora_A")!.fill(0);
    c.opt.m.get("lora_A")!.fill(0);
    c.opt.t = 0;
    const restored = await loadCheckpoint(path, c.params, c.opt);
    assert.equal(checkpointStateHash(c.params, c.opt, restored), h, "a resumed run hashes like the one that saved");
    assert.equal(await checkpointDirStateHash(path), h, "the folder hashes like the state it holds");
    assert.equal(await checkpointDirStateHash(path, ["0xadapter", "0xroot"]), checkpointStateHash(a.params, a.opt, a.state, ["0xadapter", "0xroot"]));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
