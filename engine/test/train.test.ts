import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { adapterParams } from "../src/lora/adapter.ts";
import { saveAdapter } from "../src/lora/peft.ts";
import { llamaConfig } from "../src/model/config.ts";
import { backward, forward, initModel } from "../src/model/llama.ts";
import { ChatTokenizer } from "../src/model/tokenizer.ts";
import { crossEntropyBackward } from "../src/nn/cross-entropy.ts";
import { AdamW, clipGradNorm } from "../src/train/adamw.ts";
import { DataError, encodeRecord, makeBatch, parseRecordsJsonl, planBatches, splitEval } from "../src/train/data.ts";
import { learningRate } from "../src/train/schedule.ts";
import { train, trainConfig } from "../src/train/trainer.ts";
import { TINY_VOCAB, tinyTokenizerFiles } from "./helpers/tiny-tokenizer.ts";

const { tokenizerJson, tokenizerConfig } = tinyTokenizerFiles();
const tok = new ChatTokenizer(tokenizerJson, tokenizerConfig);
const cfg = llamaConfig({ vocabSize: TINY_VOCAB, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositionEmbeddings: 128 });
const records = parseRecordsJsonl(
  [
    { prompt: "2+2=", completion: "4" },
    { prompt: "sky?", completion: "blue" },
    { text: "hello world" },
    { messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "yo" }] },
    { prompt: "cat?", completion: "meow" },
    { prompt: "dog?", completion: "woof" },
  ]
    .map((r) => JSON.stringify(r))
    .join("\n"),
);
const examples = records.map((r) => encodeRecord(tok, r));

test("schedules: warmup from 0, then constant / linear / cosine decay to 0", () => {
  const o = { lr: 1, warmupSteps: 10, totalSteps: 110 };
  for (const type of ["constant", "linear", "cosine"] as const) {
    assert.equal(learningRate(0, { ...o, type }), 0);
    assert.equal(learningRate(5, { ...o, type }), 0.5);
    assert.equal(learningRate(10, { ...o, type }), 1);
  }
  assert.equal(learningRate(60, { ...o, type: "constant" }), 1);
  assert.equal(learningRate(60, { ...o, type: "linear" }), 0.5);
  assert.ok(Math.abs(learningRate(60, { ...o, type: "cosine" }) - 0.5) < 1e-12);
  assert.ok(Math.abs(learningRate(110, { ...o, type: "cosine" })) < 1e-12);
  assert.ok(learningRate(35, { ...o, type: "cosine" }) > learningRate(35, { ...o, type: "linear" }));
});

test("AdamW: first step moves by lr * sign(g); decoupled weight decay; clipping", () => {
  const p = new Float32Array([1, -2, 3, 0.5]);
  const opt = new AdamW(new Map([["w", p]]), { eps: 0 });
  opt.step(new Map([["w", new Float32Array([0.1, -5, 1e-3, 0])]]), 0.01);
  for (const [i, want] of [0.99, -1.99, 2.99].entries()) assert.ok(Math.abs(p[i] - want) < 1e-6, `p[${i}] = ${p[i]}`);
  assert.equal(Number.isNaN(p[3]), true, "0/0 with eps = 0"); // eps guards exactly this case
  const q = new Float32Array([2, -4]);
  const decay = new AdamW(new Map([["w", q], ["model.norm.weight", new Float32Array([2])]]), { weightDecay: 0.1, noDecay: (n) => n.endsWith("norm.weight") });
  decay.step(new Map([["w", new Float32Array(2)], ["model.norm.weight", new Float32Array(1)]]), 0.5);
  assert.deepEqual([...q], [2 * 0.95, -4 * 0.95].map(Math.fround));
  assert.deepEqual([...decay.params.get("model.norm.weight")!], [2]);
  const g = new Map([["a", new Float32Array([3])], ["b", new Float32Array([4])]]);
  assert.equal(clipGradNorm(g, 1), 5);
  assert.ok(Math.abs(g.get("a")![0] - 0.6) < 1e-6 && Math.abs(g.get("b")![0] - 0.8) < 1e-6);
  assert.ok(Math.abs(clipGradNorm(g, 10) - 1) < 1e-6);
  assert.ok(Math.abs(g.get("a")![0] - 0.6) < 1e-6, "no clipping under the limit");
});

test("records: shapes are validated; masks cover completion+EOS only; eval split is deterministic", () => {
  assert.throws(() => parseRecordsJsonl('{"prompt":"x"}'), DataError);
  assert.throws(() => parseRecordsJsonl('{"text":"ok"}\nnot json'), /line":2/);
  const e = encodeRecord(tok, { prompt: "ab", completion: "cd" });
  assert.deepEqual(e.ids, [tok.bosId, 97, 98, 99, 100, tok.eosId]);
  assert.deepEqual(e.train, [false, false, false, true, true, true]);
  const b = makeBatch([[e]], 8);
  assert.deepEqual([...b.targets], [-100, -100, 99, 100, tok.eosId, -100, -100, -100]);
  const s1 = splitEval(examples, 0.34, 3);
  const s2 = splitEval(examples, 0.34, 3);
  assert.equal(s1.eval.length, 2);
  assert.deepEqual(s1, s2);
  assert.equal(s1.train.length + s1.eval.length, examples.length);
});

test("a packed row gives the same loss and gradients as the examples in separate rows", async () => {
  const model = initModel(cfg, { seed: 3 });
  const ex = examples.slice(0, 3);
  const packed = makeBatch([ex], 64);
  const T = Math.max(...ex.map((e) => e.ids.length));
  const separate = makeBatch(ex.map((e) => [e]), T);
  const run = async (b: typeof packed) => {
    const grads = new Map([["model.layers.0.self_attn.q_proj.weight", new Float32Array(16 * 16)], ["model.embed_tokens.weight", new Float32Array(TINY_VOCAB * 16)]]);
    const { logits, cache } = await forward(model, b);
    const ce = crossEntropyBackward(logits, b.targets, cfg.vocabSize, 1);
    await backward(model, cache, ce.dlogits, grads);
    return { loss: ce.lossSum, count: ce.count, grads };
  };
  const a = await run(packed);
  const s = await run(separate);
  assert.equal(a.count, s.count);
  assert.ok(Math.abs(a.loss - s.loss) < 1e-4, `${a.loss} vs ${s.loss}`);
  for (const [k, g] of a.grads) {
    const h = s.grads.get(k)!;
    for (let i = 0; i < g.length; i++) assert.ok(Math.abs(g[i] - h[i]) < 1e-5, k);
  }
  const plan = planBatches(examples, { batchSize: 2, maxSeqLen: 32, pack: true, seed: 1, epochs: 2 });
  assert.ok(plan.length >= 2 && plan.every((b) => b.T === 32));
});

async function sha(adapter: NonNullable<Awaited<ReturnType<typeof train>>["adapter"]>, dir: string): Promise<string> {
  await saveAdapter(dir, adapter);
  return createHash("sha256").update(await readFile(join(dir, "adapter_model.safetensors"))).digest("hex");
}

test("LoRA training lowers the loss, is deterministic, and resumes bit-identically from a checkpoint", async () => {
  const dir = await mkdtemp(join(tmpdir(), "engine-train-"));
  try {
    const config = trainConfig({ lr: 2e-2, epochs: 4, batchSize: 2, seed: 5, checkpointEvery: 2, lora: { r: 4, alpha: 8, dropout: 0.1, targetModules: ["q_proj", "v_proj", "down_proj"] } });
    const progress: number[] = [];
    const full = await train({ model: initModel(cfg, { seed: 1, std: 0.1, embedStd: 0.5 }), train: examples, config, onProgress: (p) => progress.push(p.step) });
    assert.equal(full.steps, 12);
    assert.deepEqual(progress, [...Array(12).keys()].map((i) => i + 1));
    const first = full.lossHistory.slice(0, 3).reduce((s, x) => s + x.loss, 0);
    const last = full.lossHistory.slice(-3).reduce((s, x) => s + x.loss, 0);
    assert.ok(last < first * 0.9, `loss fell: ${first / 3} -> ${last / 3}`);
    const h1 = await sha(full.adapter!, join(dir, "a"));
    const again = await train({ model: initModel(cfg, { seed: 1, std: 0.1, embedStd: 0.5 }), train: examples, config });
    assert.equal(await sha(again.adapter!, join(dir, "b")), h1);
    const other = await train({ model: initModel(cfg, { seed: 1, std: 0.1, embedStd: 0.5 }), train: examples, config: { ...config, seed: 6 } });
    assert.notEqual(await sha(other.adapter!, join(dir, "c")), h1);

    const ckpt = join(dir, "ckpt");
    const cut = await train({ model: initModel(cfg, { seed: 1, std: 0.1, embedStd: 0.5 }), train: examples, config, checkpointDir: ckpt, stopAfterSteps: 5 });
    assert.equal(cut.stopped, true);
    assert.deepEqual((await readdir(ckpt)).sort(), ["step-000002", "step-000004"]);
    const resumed = await train({ model: initModel(cfg, { seed: 1, std: 0.1, embedStd: 0.5 }), train: examples, config, checkpointDir: ckpt, resume: true });
    assert.equal(resumed.steps, 12);
    assert.equal(await sha(resumed.adapter!, join(dir, "d")), h1);
    assert.deepEqual(resumed.lossHistory, full.lossHistory);
    await assert.rejects(train({ model: initModel(cfg, { seed: 1, std: 0.1, embedStd: 0.5 }), train: examples, config: { ...config, lr: 0.123 }, checkpointDir: ckpt, resume: true }), /different run configuration/);
    await assert.rejects(train({ model: initModel(cfg, { seed: 1 }), train: examples.slice(1), config, checkpointDir: ckpt, resume: true }), /different run configuration/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("an AbortSignal stops training between steps", async () => {
  const ac = new AbortController();
  const r = await train({ model: initModel(cfg, { seed: 1 }), train: examples, config: trainConfig({ epochs: 5, batchSize: 2 }), signal: ac.signal, onProgress: (p) => p.step === 2 && ac.abort() });
  assert.equal(r.stopped, true);
  assert.equal(r.steps, 2);
  assert.equal(r.totalSteps, 15);
});

test("gradient accumulation (2 x 2) matches one batch of 4", async () => {
  const base = { lr: 1e-2, epochs: 1, seed: 2, lora: { r: 2, targetModules: ["q_proj" as const, "up_proj" as const] } };
  const ex = examples.slice(0, 4);
  const one = await train({ model: initModel(cfg, { seed: 4 }), train: ex, config: trainConfig({ ...base, batchSize: 4 }) });
  const acc = await train({ model: initModel(cfg, { seed: 4 }), train: ex, config: trainConfig({ ...base, batchSize: 2, gradAccum: 2 }) });
  assert.equal(one.steps, 1);
  assert.equal(acc.steps, 1);
  assert.ok(Math.abs(one.lossHistory[0].loss - acc.lossHistory[0].loss) < 1e-5);
  const pa = adapterParams(one.adapter!);
  for (const [k, v] of adapterParams(acc.adapter!)) {
    const w = pa.get(k)!;
    for (let i = 0; i < v.length; i++) assert.ok(Math.abs(v[i] - w[i]) < 1e-5, k);
  }
});

test("full fine-tuning trains every tensor and lowers the eval loss on memorised data", async () => {
  const model = initModel(cfg, { seed: 9 });
  const embedBefore = (model.embed as Float32Array).slice();
  const normBefore = model.layers[1].postNorm.slice();
  const r = await train({ model, train: examples, eval: examples.slice(0, 2), config: trainConfig({ method: "full", lr: 3e-3, epochs: 6, batchSize: 3, scheduler: "linear", warmupSteps: 2, evalEvery: 4 }) });
  assert.equal(r.adapter, null);
  assert.ok((model.embed as Float32Array).some((v, i) => v !== embedBefore[i]));
  assert.ok(model.layers[1].postNorm.some((v, i) => v !== normBefore[i]));
  assert.deepEqual(r.evalHistory.map((e) => e.step), [0, 4, 8, 12]);
  assert.ok(r.evalHistory[3].loss < r.evalHistory[0].loss - 0.3, JSON.stringify(r.evalHistory));
  assert.equal(r.lossHistory[0].lr, 0, "warmup starts at 0");
});
