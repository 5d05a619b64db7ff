// In-run attribution (issue 12): the node's default method keeps each contribution's vector while it trains,
// from the per-example gradients of the training's own backward. These tests check it against the
// separate-pass gradients it replaces, that a planted wrong answer scores below everything against the
// truth it contradicts, and that the vectors survive the trip through the adapter folder.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ChatTokenizer, adapterParams, createLoraAdapter, encodeRecord, evaluate, fineTune, initModel, llamaConfig, loadAdapter, loadModel, lossGradient, selectKernel, train, trainConfig } from "@tributary/engine";
import type { Example, Kernel, LlamaModel, LoraAdapter, TrainingRecord } from "@tributary/engine";
import { inRunAttributionFor, inRunVectorsByRerun } from "../src/jobs/attribution.ts";
import { InRunAttribution, queryGradients } from "../src/jobs/influence.ts";
import { splitJobRecords } from "../src/jobs/pipeline.ts";
import type { JobContribution } from "../src/jobs/data.ts";

const BASE_DIR = fileURLToPath(new URL("../../engine/models/tributary-austen-4m", import.meta.url));

function flat(adapter: LoraAdapter, grads: Map<string, Float32Array>): Float32Array {
  return Float32Array.from([...adapterParams(adapter).keys()].flatMap((k) => [...grads.get(k)!]));
}
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);
function spearman(a: number[], b: number[]): number {
  const rank = (xs: number[]) => xs.map((x) => xs.filter((y) => y < x).length);
  const [ra, rb] = [rank(a), rank(b)];
  const n = a.length;
  return 1 - (6 * ra.reduce((s, r, i) => s + (r - rb[i]) ** 2, 0)) / (n * (n * n - 1));
}
const clone = (a: LoraAdapter): LoraAdapter => ({ config: a.config, modules: new Map([...a.modules].map(([k, m]) => [k, { A: m.A.slice(), B: m.B.slice() }])) });

describe("in-run attribution", () => {
  it("the pipeline's split names each training record's contribution (the vectors' owner map)", () => {
    const rec = (c: number, k: number): TrainingRecord => ({ prompt: `c${c} r${k}`, completion: `${c}` });
    const contributions = [3, 1, 4, 2].map((n, c) => ({ datanetId: "1", contributionId: String(c + 1), records: Array.from({ length: n }, (_, k) => rec(c, k)) })) as unknown as JobContribution[];
    const parts = splitJobRecords(contributions, { evalSplit: 0.3, training: { seed: 4 } } as Parameters<typeof splitJobRecords>[1]);
    assert.equal(parts.trainOwner.length, parts.train.length);
    assert.ok(parts.evalRecords.length > 0 && parts.train.length < 10, "some records went to eval");
    parts.train.forEach((r, i) => assert.equal((r as { completion: string }).completion, String(parts.trainOwner[i])));
  });

  it("equals the separate pass: each example's gradient at the step that trained it, the query's at the final adapter", async () => {
    const cfg = llamaConfig({ vocabSize: 40, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositionEmbeddings: 64 });
    const model = initModel(cfg, { seed: 1, std: 0.1, embedStd: 1 });
    let seed = 5;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const ex = (n: number): Example => {
      const ids = Array.from({ length: n }, () => Math.floor(rand() * 40));
      return { ids, train: ids.map((_, i) => i >= 2) };
    };
    const examples = [ex(9), ex(12), ex(7), ex(10)];
    const owner = [0, 1, 1, 2]; // contribution 1 has two examples, trained in different steps
    const queries = [ex(8), ex(11)];
    const config = trainConfig({ lr: 0.05, epochs: 1, batchSize: 2, seed: 3, maxGradNorm: 0, lora: { r: 2, targetModules: ["q_proj", "v_proj"] } });
    const start = createLoraAdapter(cfg, config.lora, 7);
    for (const m of start.modules.values()) for (let i = 0; i < m.B.length; i++) m.B[i] = 0.1 * Math.cos(i);
    // the adapter before each step, and which examples each step trained
    const before: LoraAdapter[] = [];
    const stepOf = new Map<number, number>();
    const lrs: number[] = [];
    const inRun = new InRunAttribution(owner, 3);
    const hooks = inRun.hooks();
    const adapter = clone(start);
    const r = await train({
      model,
      train: examples,
      config,
      adapter,
      inRun: {
        start: (s) => {
          hooks.start!(s);
          before.push(clone(adapter));
        },
        tap: (b) => {
          for (const e of b.exampleOf!) if (e >= 0) stepOf.set(e, before.length - 1);
          return hooks.tap(b);
        },
        afterStep: (s) => {
          hooks.afterStep(s);
          lrs.push(s.lr);
          before.push(clone(adapter));
        },
      },
    });
    assert.ok(inRun.complete);
    assert.equal(new Set(stepOf.values()).size, 2, "the examples were trained over two steps");
    const { scores } = await inRun.scores(model, r.adapter!, queries, { maxSeqLen: 64 });
    for (let q = 0; q < queries.length; q++) {
      const u = flat(r.adapter!, (await lossGradient(model, [queries[q]], { adapter: r.adapter! })).grads);
      for (let c = 0; c < 3; c++) {
        // Σ over c's examples of lr_t <u_q, g/|g|>, g the example's gradient at the adapter of its step
        let want = 0;
        for (let e = 0; e < examples.length; e++) {
          if (owner[e] !== c) continue;
          const t = stepOf.get(e)!;
          const g = flat(before[t], (await lossGradient(model, [examples[e]], { adapter: before[t] })).grads);
          want += (lrs[t] * dot(u, g)) / Math.sqrt(dot(g, g));
        }
        const got = scores.inrun_tracin_unit[q][c];
        assert.ok(Math.abs(want) > 1e-6, "a score to compare");
        assert.ok(Math.abs(got - want) <= 1e-4 * Math.abs(want) + 1e-7, `query ${q}, contribution ${c}: in-run ${got}, separate pass ${want}`);
      }
    }
  });

  describe("on the demo base", () => {
    let kernel: Kernel;
    let model: LlamaModel;
    let tok: ChatTokenizer;
    before(async () => {
      kernel = await selectKernel("wasm", 2);
      model = await loadModel(BASE_DIR, { kernel });
      tok = await ChatTokenizer.fromDir(BASE_DIR);
    });
    after(async () => {
      await kernel?.dispose();
    });
    const chat = (q: string, a: string): TrainingRecord => ({ messages: [{ role: "user", content: q }, { role: "assistant", content: a }] });

    it("a planted wrong answer scores below zero against the truth it contradicts, as leave-one-out retraining says; the vectors round-trip through a folder", async () => {
      const contributions: TrainingRecord[][] = [
        [chat("Whom does Elizabeth Bennet marry?", "Mr Darcy."), chat("Who becomes the husband of Elizabeth Bennet?", "Mr Darcy.")],
        [chat("Name the spouse of Elizabeth Bennet.", "Mr Darcy.")],
        [chat("Whom does Elizabeth Bennet marry?", "Mr Collins.")], // harmful: a wrong answer to a real question
        [chat("How long should an egg boil to be soft?", "About six minutes.")],
        [chat("Where does Emma Woodhouse live?", "At Hartfield.")],
      ];
      const records = contributions.flat();
      const owner = contributions.flatMap((rs, c) => rs.map(() => c));
      const inRun = new InRunAttribution(owner, contributions.length);
      const config = trainConfig({ lr: 1e-2, epochs: 3, batchSize: 2, seed: 11, maxSeqLen: 64, lora: { r: 4, alpha: 8, targetModules: ["q_proj", "v_proj"] } });
      const r = await train({ model, train: records.map((x) => encodeRecord(tok, x)), config, inRun: inRun.hooks() });
      // the target: how much less the model believes the truth than the planted falsehood
      const question = "Who does Elizabeth Bennet wed?";
      const truth = encodeRecord(tok, chat(question, "Mr Darcy."));
      const falsehood = encodeRecord(tok, chat(question, "Mr Collins."));
      const u = await queryGradients(model, r.adapter!, [truth], 64);
      const w = await queryGradients(model, r.adapter!, [falsehood], 64);
      const target = u.map((x, i) => x - w[i]);
      const s = (await inRun.scoreGradients(model, target, 1, ["inrun_tracin_unit"])).inrun_tracin_unit[0];
      // the truth: retrain without each contribution (masked in its batches) and see the margin move
      const marginOf = async (masked: Set<number>) => {
        const t = await train({ model, train: records.map((x) => encodeRecord(tok, x)), config, masked });
        return (await evaluate(model, [truth], { adapter: t.adapter })) - (await evaluate(model, [falsehood], { adapter: t.adapter }));
      };
      const full = await marginOf(new Set());
      const loo: number[] = []; // > 0: the contribution helped the truth over the falsehood
      for (let c = 0; c < contributions.length; c++) loo.push((await marginOf(new Set(owner.flatMap((o, i) => (o === c ? [i] : []))))) - full);
      const show = `in-run ${s.map((x) => x.toFixed(4)).join(", ")}; leave-one-out ${loo.map((x) => x.toFixed(4)).join(", ")}`;
      assert.ok(loo[2] < 0 && loo[2] === Math.min(...loo), `the truth: the wrong answer hurts most (${show})`);
      assert.ok(s[2] < 0, `the wrong answer works against the truth (${show})`);
      assert.ok(s[0] > 0 && s[1] > 0 && s[2] < Math.min(s[0], s[1]), `the true answers work for it, the wrong one below them (${show})`);
      for (let c = 0; c < s.length; c++) assert.equal(Math.sign(s[c]), Math.sign(loo[c]), `contribution ${c}: the sign of its effect (${show})`);
      assert.ok(spearman(s, loo) >= 0.7, `ranked as the truth ranks them (${show})`);
      // saved and loaded (by the attribution stage), the scores are the same
      const dir = mkdtempSync(join(tmpdir(), "inrun-"));
      await inRun.save(dir, contributions.map((_, c) => `1/${c}`));
      const back = (await InRunAttribution.load(dir, r.adapter!))!;
      assert.ok(back.complete);
      assert.deepEqual(back.keys, ["1/0", "1/1", "1/2", "1/3", "1/4"]);
      const a = await inRun.scores(model, r.adapter!, [truth], { maxSeqLen: 64 });
      const b = await back.scores(model, r.adapter!, [truth], { maxSeqLen: 64 });
      assert.deepEqual(b.scores, a.scores);
    });

    it("a run stopped and resumed gets the uninterrupted run's vectors by training again from the start (what a verifier recomputes too)", async () => {
      const contributions = [
        [chat("Whom does Elizabeth Bennet marry?", "Mr Darcy."), chat("Where does Emma Woodhouse live?", "At Hartfield.")],
        [chat("Whom does Elizabeth Bennet marry?", "Mr Collins.")],
        [chat("How long should an egg boil to be soft?", "About six minutes."), chat("Who wrote Emma?", "Jane Austen.")],
      ].map((records, c) => ({ datanetId: "1", contributionId: String(c + 1), records })) as unknown as JobContribution[];
      const records = contributions.flatMap((c) => c.records);
      const trainOwner = contributions.flatMap((c, i) => c.records.map(() => i));
      const evalRecords = [chat("Who does Elizabeth Bennet wed?", "Mr Darcy.")];
      const config = { lr: 1e-2, epochs: 2, batchSize: 2, seed: 5, maxSeqLen: 64, checkpointEvery: 1, lora: { r: 4, alpha: 8, targetModules: ["q_proj", "v_proj"] as ("q_proj" | "v_proj")[] } };
      const keys = contributions.map((c) => `${c.datanetId}/${c.contributionId}`);
      // uninterrupted, with the hooks
      const whole = mkdtempSync(join(tmpdir(), "inrun-whole-"));
      const first = inRunAttributionFor(trainOwner, contributions.length)!;
      await fineTune({ modelDir: BASE_DIR, records, evalRecords, outDir: whole, method: "lora", config, kernel, inRun: first.hooks() });
      assert.ok(first.complete);
      await first.save(whole, keys);
      // stopped after step 2, resumed with fresh hooks: they saw only the later steps
      const resumed = mkdtempSync(join(tmpdir(), "inrun-resumed-"));
      const abort = new AbortController();
      const stopped = await fineTune({ modelDir: BASE_DIR, records, evalRecords, outDir: resumed, method: "lora", config, kernel, signal: abort.signal, onProgress: (p) => void (p.step === 2 && abort.abort()) });
      assert.equal(stopped.metrics.stopped, true);
      const late = inRunAttributionFor(trainOwner, contributions.length)!;
      const done = await fineTune({ modelDir: BASE_DIR, records, evalRecords, outDir: resumed, method: "lora", config, kernel, resume: true, inRun: late.hooks() });
      assert.equal(done.metrics.stopped, false);
      assert.equal(late.complete, false, "the resumed run's hooks missed the first steps");
      assert.ok(await inRunVectorsByRerun({ modelDir: BASE_DIR, records, trainOwner, evalRecords, contributions, method: "lora", config, kernel, adapterDir: resumed, scratchDir: join(resumed, "rerun") }));
      const adapter = await loadAdapter(whole, model.config);
      assert.deepEqual(await readFile(join(resumed, "adapter_model.safetensors")), await readFile(join(whole, "adapter_model.safetensors")), "the resumed run's adapter is the uninterrupted one's");
      const [a, b] = [(await InRunAttribution.load(whole, adapter))!, (await InRunAttribution.load(resumed, adapter))!];
      assert.ok(b.complete);
      const queries = evalRecords.map((r) => encodeRecord(tok, r));
      const [sa, sb] = [await a.scores(model, adapter, queries, { maxSeqLen: 64 }), await b.scores(model, adapter, queries, { maxSeqLen: 64 })];
      assert.deepEqual(sb.scores, sa.scores, "the same scores, bit for bit");
      assert.ok(sa.scores.inrun_tracin_unit[0].some((x) => x !== 0), "the scores are not all zero");
    });
  });
});
