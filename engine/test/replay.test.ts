// Replaying segments of a real run (the dispute game's verifier side): on the bit-exact wasm kernel, a replay
// from checkpoint j-1 reproduces the state hash the run committed at checkpoint j, with a witness every honest
// replay shares; a tampered start state does not.
import assert from "node:assert/strict";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { readSafetensors, writeSafetensors } from "../src/formats/safetensors.ts";
import type { Kernel } from "../src/kernels/kernel.ts";
import { selectKernel } from "../src/select-kernel.ts";
import { checkpointDirStateHash, checkpointName } from "../src/train/checkpoint.ts";
import { fineTune } from "../src/train/fine-tune.ts";
import { replaySegment, replaySegments, runSteps, segmentWitness } from "../src/train/replay.ts";

const BASE_DIR = fileURLToPath(new URL("../models/tributary-austen-4m", import.meta.url));
const records = [
  ["Who wrote Pride and Prejudice?", "Jane Austen wrote it in 1813."],
  ["Where does Mr. Darcy live?", "At Pemberley, in Derbyshire."],
  ["Who is Elizabeth's elder sister?", "Jane Bennet, the eldest."],
  ["What is the name of the Bennet estate?", "Longbourn, in Hertfordshire."],
].map(([q, a]) => ({ messages: [{ role: "user" as const, content: q }, { role: "assistant" as const, content: a }] }));
const evalRecords = records.slice(0, 1);
const config = { epochs: 4, batchSize: 2, lr: 1e-2, seed: 3, maxSeqLen: 64, checkpointEvery: 2, lora: { r: 2, alpha: 4, dropout: 0.1, targetModules: ["q_proj", "v_proj"] as never } };

let kernel: Kernel;
let dir: string;
let ckpts: string;
before(async () => {
  kernel = await selectKernel("wasm", 1);
  dir = await mkdtemp(join(tmpdir(), "engine-replay-"));
  await fineTune({ modelDir: BASE_DIR, records, evalRecords, outDir: join(dir, "run"), method: "lora", config, kernel });
  ckpts = join(dir, "run", "checkpoints");
});
after(async () => {
  await kernel?.dispose();
  await rm(dir, { recursive: true, force: true });
});

const opts = (start: string | null) => ({ modelDir: BASE_DIR, records, evalRecords, method: "lora" as const, config, kernel, start });

test("replaying a segment reproduces the run's committed state hash; the witness is shared by every honest replay", async () => {
  // 4 records x 4 epochs / batch 2 = 8 steps, checkpoints at 2, 4, 6, 8
  const at = (step: number) => join(ckpts, checkpointName(step));
  const committed = await checkpointDirStateHash(at(6));
  const a = await replaySegment({ ...opts(at(4)), endStep: 6 });
  assert.equal(a.step, 6);
  assert.equal(a.stateHash, committed, "the replay from checkpoint 4 reaches checkpoint 6's state");
  assert.match(a.witness, /^0x[0-9a-f]{64}$/);
  assert.notEqual(a.witness, segmentWitness([committed]), "the witness covers step 5's state too, which is never published");
  const b = await replaySegment({ ...opts(at(4)), endStep: 6 });
  assert.deepEqual(b, a, "a second replay gives the same verdict and witness");

  // from the run's start, and across several segments at once: every checkpoint is reproduced
  const all = await replaySegments({ ...opts(null), boundaries: [2, 4, 6, 8] });
  assert.deepEqual(all.map((s) => s.step), [2, 4, 6, 8]);
  for (const s of all) assert.equal(s.stateHash, await checkpointDirStateHash(at(s.step)), `step ${s.step}`);
  assert.equal(all[2].witness, a.witness, "the segment's witness does not depend on where the replay started");
  // onBoundary can end the replay early (an auditor stops at the first mismatch)
  const early = await replaySegments({ ...opts(null), boundaries: [2, 4, 6, 8], onBoundary: (s) => s.step < 4 });
  assert.deepEqual(early.map((s) => s.step), [2, 4]);
});

test("a tampered start state does not reproduce the committed hash", async () => {
  const start = join(dir, "tampered", checkpointName(4));
  await cp(join(ckpts, checkpointName(4)), start, { recursive: true });
  const file = join(start, "params.safetensors");
  const p = readSafetensors(await readFile(file)).tensors;
  const [name, t] = [...p][0];
  t.data[0] += 1e-3;
  p.set(name, t);
  await writeFile(file, writeSafetensors(p));
  const honest = await replaySegment({ ...opts(join(ckpts, checkpointName(4))), endStep: 6 });
  const r = await replaySegment({ ...opts(start), endStep: 6 });
  assert.notEqual(r.stateHash, honest.stateHash);
  assert.notEqual(r.witness, honest.witness);
  assert.notEqual(r.stateHash, await checkpointDirStateHash(join(ckpts, checkpointName(6))));
  // the replay runs the options it is given, not those the start checkpoint records (a trainer's claim)
  const otherLr = await replaySegment({ ...opts(join(ckpts, checkpointName(4))), config: { ...config, lr: 2e-2 }, endStep: 6 });
  assert.notEqual(otherLr.stateHash, honest.stateHash);
  await assert.rejects(replaySegment({ ...opts(join(ckpts, checkpointName(8))), endStep: 10 }), /ended before/);
});

test("a replay to Infinity runs to the end of the run, however many steps the checkpoints claim", async () => {
  const end = await replaySegment({ ...opts(join(ckpts, checkpointName(4))), endStep: Infinity });
  assert.equal(end.step, 8);
  assert.equal(end.stateHash, await checkpointDirStateHash(join(ckpts, checkpointName(8))));
  const both = await replaySegments({ ...opts(join(ckpts, checkpointName(2))), boundaries: [4, Infinity] });
  assert.deepEqual(both.map((s) => s.step), [4, 8]);
  assert.equal(both[1].witness, end.witness);
  // with outDir the replay writes its checkpoints and, at the run's end, the adapter: the same bytes as the run's
  const out = join(dir, "rerun");
  await replaySegment({ ...opts(join(ckpts, checkpointName(4))), endStep: Infinity, outDir: out });
  assert.deepEqual(await readFile(join(out, "adapter_model.safetensors")), await readFile(join(dir, "run", "adapter_model.safetensors")));
  assert.equal(await checkpointDirStateHash(join(out, "checkpoints", checkpointName(6))), await checkpointDirStateHash(join(ckpts, checkpointName(6))));
});

test("runSteps is where the run ends, planned without training: a checkpoint that claims a later step is not the run's", async () => {
  assert.equal(await runSteps(opts(null)), 8, "4 records x 4 epochs / batch 2");
  assert.equal(await runSteps({ ...opts(null), config: { ...config, gradAccum: 3 } }), 3, "8 micro-batches, one step every 3 (the last partial)");
  assert.equal(await runSteps({ ...opts(null), config: { ...config, epochs: 5 } }), 10);
  // a replay to a step past it has nothing to reach
  await assert.rejects(replaySegment({ ...opts(join(ckpts, checkpointName(8))), endStep: 10 }), /the run ended before the replay's last boundary/);
});
