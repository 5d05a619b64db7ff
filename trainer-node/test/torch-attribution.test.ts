// Attribution on the torch backend (the worker's `attribute` command, trainer-node/torch/tributary_torch/attribution.py)
// against the engine's (src/jobs/influence.ts), on a random tiny Llama made by transformers in the test (needs
// engine/.venv; fails, saying how to build it, without it). One LoRA run of the torch worker writes its checkpoints;
// the same checkpoints are rewritten in the engine's layout (test/helpers/torch_fixtures.py engine-checkpoints), so
// the engine and the worker score the same states: the worker on either layout, the engine on its own. A duplicate
// contribution gets weight 0 and `duplicateOf` in both reports. A Qwen2 base (which the engine cannot load) gets a
// real report through the worker.
//
// Tolerance: both compute in fp32 (the engine's wasm/JS kernels, torch's CPU kernels), with different summation
// orders (matmuls, attention, the batch's padding); measured: the reports' scores differ by ~6e-7 of the largest
// |score| (adam_cos_cp). Asserted, with 100x margin for other thread counts and CPUs: every score within 1e-4 x
// the largest |score| of the engine's report, the same sign wherever |score| is above that, and the same ranking
// (Spearman rank correlation 1 on the live scores); each comparison is logged.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { selectKernel } from "@tributary/engine";
import type { Kernel, TrainingRecord } from "@tributary/engine";
import type { AttributionReport } from "@tributary/sdk/schemas";
import { runTorchTraining, TorchWorker, torchPython, torchUnavailable } from "../src/backends/torch-worker.ts";
import { attribute, dedupContributions } from "../src/jobs/attribution.ts";
import type { JobContribution } from "../src/jobs/data.ts";
import { makeTinyModels } from "./helpers/tiny-models.ts";

const run = promisify(execFile);
const FIXTURES = fileURLToPath(new URL("./helpers/torch_fixtures.py", import.meta.url));
const TOKENIZER_DIR = fileURLToPath(new URL("../../engine/models/tributary-austen-4m", import.meta.url));

const chat = (q: string, a: string): TrainingRecord => ({ messages: [{ role: "user", content: q }, { role: "assistant", content: a }] });
const qa: Array<Array<[string, string]>> = [
  [["Where is Longbourn?", "In Hertfordshire."], ["Who lives at Longbourn?", "The Bennet family."]],
  [["Who wrote the letter?", "Mr Darcy wrote it."], ["To whom did he write?", "To Elizabeth Bennet."]],
  [["What colour is the sky?", "Blue and wide."], ["What colour is the grass?", "Green after rain."]],
  [["Where is Pemberley?", "In Derbyshire."], ["Who owns Pemberley?", "Mr Darcy owns it."]],
  [["Where is Longbourn?", "In Hertfordshire."], ["Who lives at Longbourn?", "The Bennet family."]], // a copy of the first
];
const evalRecords = [chat("Where is Longbourn again?", "In Hertfordshire."), chat("Who wrote to Elizabeth?", "Mr Darcy wrote it."), chat("Where is Netherfield?", "Near Longbourn.")];
const contributions: JobContribution[] = qa.map((pairs, i) => ({
  datanetId: "1",
  contributionId: String(i + 1),
  contributor: `0x${String(i + 1).padStart(40, "0")}`,
  contentHash: `0x${String(i + 1).padStart(64, "0")}`,
  contentCid: "bafy",
  records: pairs.map(([q, a]) => chat(q, a)),
}) as JobContribution);

function ranks(xs: number[]): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(xs.length);
  order.forEach(([, i], k) => (r[i] = k));
  return r;
}
function spearman(a: number[], b: number[]): number {
  const ra = ranks(a);
  const rb = ranks(b);
  const n = a.length;
  const d2 = ra.reduce((s, r, i) => s + (r - rb[i]) ** 2, 0);
  return 1 - (6 * d2) / (n * (n * n - 1));
}

function assertSameReport(got: AttributionReport, want: AttributionReport, what: string) {
  assert.equal(got.method, want.method, `${what}: method`);
  assert.deepEqual(got.contributions.map((c) => c.duplicateOf ?? null), want.contributions.map((c) => c.duplicateOf ?? null), `${what}: duplicates`);
  const g = got.contributions.map((c) => c.score);
  const w = want.contributions.map((c) => c.score);
  const scale = Math.max(...w.map(Math.abs));
  assert.ok(scale > 0, `${what}: the engine's scores are not all 0`);
  g.forEach((x, i) => {
    assert.ok(Math.abs(x - w[i]) <= 1e-4 * scale, `${what}: contribution ${i + 1} score ${x} vs the engine's ${w[i]} (tolerance 1e-4 x ${scale})`);
    if (Math.abs(w[i]) > 1e-4 * scale) assert.equal(Math.sign(x), Math.sign(w[i]), `${what}: contribution ${i + 1} sign`);
  });
  console.log(`${what}: scores ${g.map((x) => x.toPrecision(7)).join(" ")}; the engine's ${w.map((x) => x.toPrecision(7)).join(" ")}; largest difference ${(Math.max(...g.map((x, i) => Math.abs(x - w[i]))) / scale).toExponential(2)} x the largest |score|`);
  const live = got.contributions.map((c, i) => i).filter((i) => !got.contributions[i].duplicateOf);
  assert.equal(spearman(live.map((i) => g[i]), live.map((i) => w[i])), 1, `${what}: ranking ${g} vs ${w}`);
}

describe("torch attribution", () => {
  let dir = "";
  let kernel: Kernel;
  const adapter = () => join(dir, "adapter");
  const engineLayout = () => join(dir, "adapter-engine-layout");
  const duplicates = dedupContributions(contributions);
  const trainRecords = contributions.map((c, i) => (duplicates.has(i) ? [] : c.records));
  const input = (modelDir: string, adapterDir: string) => ({ kernel, modelDir, adapterDir, quantize: false, learningRate: 0.01, maxSeqLen: 64, trainRecords, evalRecords, contributions, duplicates });

  before(async () => {
    const missing = torchUnavailable();
    assert.equal(missing, null, missing ?? "");
    dir = mkdtempSync(join(tmpdir(), "torch-attribution-"));
    kernel = await selectKernel("wasm", 1);
    await makeTinyModels(TOKENIZER_DIR, dir, ["llama", "qwen2"]);
    const train = join(dir, "train.jsonl");
    writeFileSync(train, trainRecords.flat().map((r) => JSON.stringify(r)).join("\n") + "\n");
    for (const arch of ["llama", "qwen2"]) {
      const done = await runTorchTraining({
        type: "train",
        spec: {
          method: "lora",
          lora: { r: 4, alpha: 8, dropout: 0.1, targetModules: ["q_proj", "v_proj", "down_proj"], rslora: false },
          training: { learningRate: 0.01, epochs: 3, batchSize: 2, gradientAccumulation: 1, maxSeqLength: 64, scheduler: "cosine", warmupRatio: 0.1, weightDecay: 0, maxGradNorm: 1, seed: 3 },
        },
        model_dir: join(dir, arch),
        train_file: train,
        out_dir: arch === "llama" ? adapter() : join(dir, "adapter-qwen2"),
        checkpoint_every: 2,
        threads: 1,
      });
      assert.equal(done.stopped, false);
    }
    // the same states in the engine's checkpoint layout
    mkdirSync(join(engineLayout(), "checkpoints"), { recursive: true });
    for (const f of ["adapter_model.safetensors", "adapter_config.json"]) cpSync(join(adapter(), f), join(engineLayout(), f));
    await run(torchPython(), [FIXTURES, "engine-checkpoints", join(dir, "llama"), adapter(), join(engineLayout(), "checkpoints")]);
  });
  after(async () => {
    await kernel?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("adam_cos_cp (the node's method without in-run vectors: the torch worker, fused kernels, resumed runs) and tracin_last: the worker's report is the engine's on a tiny Llama, on checkpoints of either layout; the duplicate scores 0", async () => {
    const llama = join(dir, "llama");
    const engine = (await attribute({ ...input(llama, engineLayout()) })).report;
    assert.equal(engine.method, "adam_cos_cp", "the engine read the optimizer state of the checkpoints");
    assert.equal(engine.contributions[4].weight, "0");
    assert.deepEqual(engine.contributions[4].duplicateOf, { datanetId: "1", contributionId: "1", kind: "exact", similarity: 1 });
    const progress: number[] = [];
    const torchOwn = (await attribute({ ...input(llama, adapter()), backend: "torch", torch: { threads: 1 } }, (d) => progress.push(d))).report;
    assertSameReport(torchOwn, engine, "worker on its own checkpoints");
    // 3 checkpoints x (5 contributions + 3 queries) gradients, counted one by one
    assert.deepEqual(progress, Array.from({ length: 24 }, (_, i) => i + 1));
    const torchEngineLayout = (await attribute({ ...input(llama, engineLayout()), backend: "torch", torch: { threads: 1 } })).report;
    assertSameReport(torchEngineLayout, engine, "worker on the engine's checkpoints");
    assert.equal(torchEngineLayout.merkleRoot, torchOwn.merkleRoot, "the same states give the same weights on either layout");

    const engineLast = (await attribute({ ...input(llama, engineLayout()), method: "tracin_last" })).report;
    const torchLast = (await attribute({ ...input(llama, adapter()), method: "tracin_last", backend: "torch", torch: { threads: 1 } })).report;
    assertSameReport(torchLast, engineLast, "tracin_last");
    assert.notDeepEqual(torchLast.contributions.map((c) => c.score), torchOwn.contributions.map((c) => c.score), "tracin_last is another method's scores");
  });

  it("a Qwen2 base (q/k/v biases; the engine cannot load it) gets its report from the worker: adam_cos_cp over its checkpoints, the duplicate at 0", async () => {
    const qwen = join(dir, "qwen2");
    await assert.rejects(attribute({ ...input(qwen, join(dir, "adapter-qwen2")) }), /llama|Llama|architecture|model_type/i, "the engine refuses a Qwen2 base");
    const { report } = await attribute({ ...input(qwen, join(dir, "adapter-qwen2")), backend: "torch", torch: { threads: 1 } });
    assert.equal(report.method, "adam_cos_cp");
    assert.equal(report.contributions.length, 5);
    assert.ok(report.contributions.every((c) => Number.isFinite(c.score)));
    assert.ok(report.contributions.slice(0, 4).some((c) => c.score !== 0));
    assert.equal(report.contributions[4].weight, "0");
    assert.equal(report.contributions[4].duplicateOf?.contributionId, "1");
    assert.equal(report.contributions.reduce((s, c) => s + BigInt(c.weight), 0n), BigInt(report.totalWeight));
  });

  it("the worker refuses what it cannot attribute, saying what to do; a stop line ends a running attribution and only it", async () => {
    const w = await TorchWorker.start();
    try {
      assert.ok(w.hello.commands?.includes("attribute"));
      const file = join(dir, "attr-data.json");
      writeFileSync(file, JSON.stringify({ contributions: trainRecords, queries: evalRecords }));
      const req = { type: "attribute" as const, model_dir: join(dir, "llama"), adapter_dir: adapter(), data_file: file, learning_rate: 0.01, max_seq_len: 64, threads: 1 };
      await assert.rejects(w.attribute({ ...req, adapter_dir: join(dir, "nowhere") }), /holds no adapter \(no adapter_config.json\); train the job first/);
      const abort = new AbortController();
      await assert.rejects(w.attribute(req, { signal: abort.signal, onProgress: (d) => d === 2 && abort.abort() }), (e: Error & { transient?: boolean }) => /attribution was stopped/.test(e.message) && e.transient === true);
      // the stop applied to that command only: the next one runs to the end
      const r = await w.attribute({ ...req, method: "tracin_last", per_query: true });
      assert.equal(r.scores!.length, 3);
      assert.deepEqual(r.totals.map((t) => Number(t.toFixed(9))), r.totals.map((_, c) => Number(r.scores!.reduce((s, row) => s + row[c], 0).toFixed(9))));
    } finally {
      await w.close();
    }
  });
});

