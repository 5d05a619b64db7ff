// The attribution benchmark (issue 12): how close each training-data attribution method's scores come to
// the truth, on the planted Datanet of bench/attribution-data.ts and the demo base (tributary-austen-4m).
//
// Ground truth comes from retraining with the bit-exact `wasm` kernel: a removed contribution's records
// are masked inside their own batches (engine `train({ masked })`), so a retrain differs from the full
// run only by what was removed. f(query) = mean NLL of the query's answer tokens.
// - LDS (Park et al. 2023): m random subsets of half the contributions, each retrained at the training
//   seed; per query, Spearman over subsets between Σ_{c∈S} τ(q, c) and −f(q; θ(S)); mean over queries
//   with a 95% bootstrap CI over queries. Noise ceiling: the same subsets retrained at another seed, one
//   seed's outputs predicting the other's (a method above it would be suspect).
// - LOO Spearman (sanity check): k contributions (stratified over the categories) each left out alone.
// Methods, all on the LoRA parameters, from the same full run and its per-epoch checkpoints:
//   tracin_last (the node's method before issue 12), tracin_cp (TracInCP over the epoch checkpoints,
//   each weighted by its epoch's mean learning rate), grad_cos_cp (cosine, summed over checkpoints),
//   adam_tracin_cp / adam_cos_cp (the training gradient preconditioned by the checkpoint's AdamW second
//   moment, as the optimizer would have stepped; cos: unit-normalised both sides, LESS-style),
//   datainf_last / datainf_cp (DataInf, Kwon et al. 2023: per-module damped Gauss-Newton inverse by
//   Sherman-Morrison over the contributions' gradients), and a random baseline.
// Also: harmful_auc, duplicate_credit_ratio (with the SDK's near-duplicate detection), per-category
// credit, influence_fraction_of_training, and the citation index's lookup time and size.
//
// In-run methods (the node's default): per-example gradients from the training's own backward, scored
// against the queries' gradients at the final adapter; their cost is what they add to a training run.
// harmful_auc: on harmful targets, f = NLL(true answer) - NLL(a harmful contribution's wrong answer).
//
// Usage: npm run bench:attribution [-- --subsets M --loo K --threads N]   (run it under nice -n 10)
//        npm run bench:attribution -- --only citation   reruns the citation index part alone and updates its
//        keys (citation, citation_lookup_ms_1m_tokens, suffix_array_bytes_per_token, their goals) in the JSON
import { existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createKernel } from "../engine/src/kernels/index.ts";
import { adapterParams, createLoraAdapter } from "../engine/src/lora/adapter.ts";
import type { LoraAdapter } from "../engine/src/lora/adapter.ts";
import { loadModel } from "../engine/src/model/io.ts";
import { forward } from "../engine/src/model/llama.ts";
import type { LlamaModel } from "../engine/src/model/llama.ts";
import { ChatTokenizer } from "../engine/src/model/tokenizer.ts";
import { Rng } from "../engine/src/random/prng.ts";
import { AdamW } from "../engine/src/train/adamw.ts";
import { loadCheckpoint } from "../engine/src/train/checkpoint.ts";
import { encodeRecord, makeBatch } from "../engine/src/train/data.ts";
import type { Example } from "../engine/src/train/data.ts";
import { train, trainConfig } from "../engine/src/train/trainer.ts";
import { duplicateGroups } from "../sdk/src/dedup/index.ts";
import { CitationIndex } from "../trainer-node/src/serve/citations.ts";
import { ranks, spearman } from "../trainer-node/src/jobs/eval-check.ts";
import { CATEGORIES, plantedDatanet } from "./attribution-data.ts";
import { attributionScores, INRUN_METHODS, InRunAttribution, METHODS, queryGradients, vectorsOf } from "../trainer-node/src/jobs/influence.ts";
import type { Checkpoint, InRunMethod } from "../trainer-node/src/jobs/influence.ts";
import { DEFAULT_METHOD } from "../trainer-node/src/jobs/attribution.ts";

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    subsets: { type: "string", default: "14" },
    loo: { type: "string", default: "8" },
    threads: { type: "string", default: "2" },
    "loo-harmful": { type: "string", default: "1" }, // 0: leave out only the stratified sample (a quick smoke run; no harmful_auc_truth)
    out: { type: "string", default: join(here, "results", "attribution.json") },
    only: { type: "string" },
  },
});
if (values.only !== undefined) {
  if (values.only !== "citation") throw new Error(`--only ${values.only}: only "citation" can run alone (the rest shares its training runs)`);
  if (!existsSync(values.out!)) throw new Error(`${values.out} does not exist: run the whole benchmark first (npm run bench:attribution)`);
  const doc = JSON.parse(readFileSync(values.out!, "utf8")) as Record<string, unknown> & { goals: Record<string, unknown> };
  const c = await citationBench();
  doc.citation = { ...c, rerun_alone_at: new Date().toISOString(), rerun_load_avg_1m: Number(loadavg()[0].toFixed(2)), rerun_note: "only this part was rerun (npm run bench:attribution -- --only citation) on a shared 2-core machine; the rest is from the run at `started`" };
  doc.citation_lookup_ms_1m_tokens = c.lookup_ms;
  doc.suffix_array_bytes_per_token = c.bytes_per_token;
  doc.goals.citation_lookup_ms_1m_tokens = { goal: "<= 5", met: c.lookup_ms <= 5 };
  doc.goals.suffix_array_bytes_per_token = { goal: "<= 8", met: c.bytes_per_token <= 8 };
  writeFileSync(values.out!, JSON.stringify(doc, null, 2) + "\n");
  console.log(`citations: ${JSON.stringify(c)}; updated ${values.out}`);
  process.exit(0);
}
const M = Number(values.subsets);
const K = Number(values.loo);
const started = new Date();
const load0 = loadavg();
const t00 = performance.now();
const log = (s: string) => console.log(`[${((performance.now() - t00) / 1000).toFixed(0)} s] ${s}`);

// --- data and model ---
const data = plantedDatanet();
const N = data.contributions.length;
const modelDir = join(here, "..", "engine", "models", "tributary-austen-4m");
const kernel = await createKernel("wasm", { threads: Number(values.threads) });
const model = await loadModel(modelDir, { kernel });
const tok = await ChatTokenizer.fromDir(modelDir);
const examples: Example[] = [];
const ownerOf: number[] = [];
const recordsOf: number[][] = data.contributions.map(() => []);
for (const c of data.contributions) {
  for (const r of c.records) {
    recordsOf[c.id].push(examples.length);
    examples.push(encodeRecord(tok, r));
    ownerOf.push(c.id);
  }
}
const queries = data.queries.map((q) => encodeRecord(tok, q.record));
const Q = queries.length;
// harmful targets: for each query whose fact a harmful contribution contradicts, the query's question with
// that contribution's wrong answer. f = NLL(true answer) - NLL(wrong answer): how much less the model
// believes the truth than the planted falsehood (the recipe is unchanged: the wrong answers are the harmful
// contributions' own)
const contrast = data.queries.flatMap((q, qi) =>
  data.contributions
    .filter((c) => c.category === "harmful" && c.facts.includes(q.fact))
    .map((c) => {
      const [user] = (q.record as { messages: { role: string; content: string }[] }).messages;
      const wrong = (c.records[0] as { messages: { role: string; content: string }[] }).messages[1];
      return { qi, c: c.id, wrong: encodeRecord(tok, { messages: [user, { role: "assistant", content: wrong.content }] } as never) };
    }),
);
const E = contrast.length;
const EPOCHS = 1;
const CHECKPOINTS = 3; // TracInCP's checkpoints, evenly spaced over the run
const INRUN_PAIRS = 3; // plain and hooked runs, interleaved, for the in-run method's cost
const SEEDS = [42, 7];
const config = (seed: number) =>
  trainConfig({ lr: 5e-3, epochs: EPOCHS, batchSize: 8, scheduler: "cosine", warmupRatio: 0, seed, maxSeqLen: 64, lora: { r: 8, alpha: 16, targetModules: ["q_proj", "v_proj"] } });
log(`planted datanet ${data.hash.slice(0, 12)}: ${N} contributions, ${examples.length} records (${examples.reduce((s, e) => s + e.ids.length, 0)} tokens), ${Q} queries`);

/** Mean NLL of each example's target tokens, one row per example. */
async function perExampleLoss(m: LlamaModel, adapter: LoraAdapter | null, xs: Example[]): Promise<number[]> {
  const out: number[] = [];
  const V = m.config.vocabSize;
  for (let i = 0; i < xs.length; i += 16) {
    const chunk = xs.slice(i, i + 16);
    const T = Math.max(...chunk.map((e) => e.ids.length));
    const b = makeBatch(chunk.map((e) => [e]), T);
    const { logits } = await forward(m, b, { adapter });
    for (let r = 0; r < chunk.length; r++) {
      let s = 0;
      let n = 0;
      for (let t = 0; t < T; t++) {
        const y = b.targets[r * T + t];
        if (y < 0) continue;
        const row = logits.subarray((r * T + t) * V, (r * T + t + 1) * V);
        let mx = -Infinity;
        for (let v = 0; v < V; v++) if (row[v] > mx) mx = row[v];
        let z = 0;
        for (let v = 0; v < V; v++) z += Math.exp(row[v] - mx);
        s += mx + Math.log(z) - row[y];
        n++;
      }
      out.push(s / n);
    }
  }
  return out;
}

async function retrain(removed: ReadonlySet<number>, seed: number, checkpointDir?: string) {
  const masked = new Set<number>();
  for (const c of removed) for (const i of recordsOf[c]) masked.add(i);
  const cfg = config(seed);
  const steps = Math.ceil(examples.length / cfg.batchSize) * cfg.epochs;
  const r = await train({ model, train: examples, config: checkpointDir ? { ...cfg, checkpointEvery: Math.ceil(steps / CHECKPOINTS) } : cfg, masked, checkpointDir });
  const losses = await perExampleLoss(model, r.adapter, queries);
  const wrong = await perExampleLoss(model, r.adapter, contrast.map((x) => x.wrong));
  // margins[k] = NLL(true) - NLL(wrong) for harmful target k
  return { ...r, losses, margins: contrast.map((x, k) => losses[x.qi] - wrong[k]) };
}

// --- the full run, with a checkpoint per epoch ---
const ckDir = mkdtempSync(join(tmpdir(), "attribution-bench-"));
const full = await retrain(new Set(), SEEDS[0], ckDir);
// in-run attribution (the node's default): the same training with the per-example hooks, then the queries'
// gradients at the final adapter. Its cost is what it adds to a training run, timed inside the hooked run
// (the hooks' own time, the query gradients, the scoring) over that run's own training time, so both sides
// share the machine's load at that moment (a shared machine's load swings plain runs by 2-3x); plain runs
// interleaved with the hooked ones give the paired difference as a cross-check
const owner = examples.map((_, i) => ownerOf[i]);
const plainSeconds: number[] = [];
const inrunExtra: number[] = [];
const inrunFraction: number[] = [];
const inrunParts: { hooked_run: number; hooks: number; queries: number; scoring: number; plain_run: number; paired_extra: number }[] = [];
let inrun: InRunAttribution | null = null;
let inrunScores: Record<string, number[][]> = {};
let inrunAdapter: LoraAdapter | null = null;
for (let r = 0; r < INRUN_PAIRS; r++) {
  const plainRun = async () => plainSeconds.push((await train({ model, train: examples, config: config(SEEDS[0]) })).seconds);
  if (r % 2 === 0) await plainRun();
  // timed as the node runs it: the default method's vectors only
  const a = new InRunAttribution(owner, N, [vectorsOf(DEFAULT_METHOD as InRunMethod)]);
  const h = await train({ model, train: examples, config: config(SEEDS[0]), inRun: a.hooks() });
  const sc = await a.scores(model, h.adapter!, queries, { maxSeqLen: 64 });
  if (r % 2 === 1) await plainRun();
  const extra = a.hookSeconds + sc.querySeconds + sc.scoringSeconds;
  inrunExtra.push(extra);
  inrunFraction.push(extra / (h.seconds - a.hookSeconds));
  inrunParts.push({ hooked_run: h.seconds, hooks: a.hookSeconds, queries: sc.querySeconds, scoring: sc.scoringSeconds, plain_run: plainSeconds[r], paired_extra: h.seconds - plainSeconds[r] + sc.querySeconds + sc.scoringSeconds });
  inrunAdapter = h.adapter;
}
{
  // every in-run method's scores (both kinds of vectors), from one more hooked run (untimed)
  const a = new InRunAttribution(owner, N);
  const h = await train({ model, train: examples, config: config(SEEDS[0]), inRun: a.hooks() });
  [inrun, inrunScores] = [a, (await a.scores(model, h.adapter!, queries, { maxSeqLen: 64 })).scores];
}
// the hooks only read the run: the hooked adapter is the full run's, bit for bit
const inrunBitIdentical = [...full.adapter!.modules].every(([k, m]) => Buffer.from(m.B.buffer).equals(Buffer.from(inrunAdapter!.modules.get(k)!.B.buffer)) && Buffer.from(m.A.buffer).equals(Buffer.from(inrunAdapter!.modules.get(k)!.A.buffer)));
const trainSeconds = median(plainSeconds);
log(`in-run: plain runs ${plainSeconds.map((x) => x.toFixed(1)).join(", ")} s; extra ${inrunExtra.map((x) => x.toFixed(2)).join(", ")} s, fraction ${inrunFraction.map((x) => x.toFixed(3)).join(", ")} (${JSON.stringify(inrunParts.map((p) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, round(v, 2)]))))}); bit-identical ${inrunBitIdentical}`);
log(`full run: ${full.steps} steps, ${full.tokens} tokens, ${trainSeconds.toFixed(1)} s; mean query loss ${mean(full.losses).toFixed(3)} (base ${mean(await perExampleLoss(model, null, queries)).toFixed(3)})`);
const lrByStep = full.lossHistory.map((h) => h.lr);
const checkpoints: Checkpoint[] = [];
let prevStep = 0;
for (const name of readdirSync(ckDir).filter((n) => /^step-\d+$/.test(n)).sort()) {
  const adapter = createLoraAdapter(model.config, config(SEEDS[0]).lora, new Rng(1));
  const params = adapterParams(adapter);
  const opt = new AdamW(params);
  const st = await loadCheckpoint(join(ckDir, name), params, opt);
  // each checkpoint stands for the steps since the previous one, at their mean learning rate
  checkpoints.push({ adapter, opt, lr: mean(lrByStep.slice(prevStep, st.step)) });
  prevStep = st.step;
}
rmSync(ckDir, { recursive: true, force: true });

// --- attribution by every method, timed ---
const scoring = await attributionScores(model, {
  checkpoints,
  contributions: recordsOf.map((ix) => ix.map((i) => examples[i])),
  queries,
  extraQueries: contrast.map((x) => ({ plus: queries[x.qi], minus: x.wrong })),
  maxSeqLen: 64,
  methods: [...METHODS],
});
log(`gradients: ${scoring.gradientSeconds.map((s) => s.toFixed(1)).join(" + ")} s per checkpoint; scoring ${JSON.stringify(scoring.scoringSeconds)}`);
const rng = new Rng(2026);
const random = Array.from({ length: Q }, () => Array.from({ length: N }, () => rng.next()));
// the in-run methods against the harmful targets: the difference of the two queries' gradients
const Ut = await queryGradients(model, inrunAdapter!, queries, 64);
const Uw = await queryGradients(model, inrunAdapter!, contrast.map((x) => x.wrong), 64);
const P = inrun!.size;
const Uc = new Float32Array(E * P);
contrast.forEach((x, k) => {
  for (let i = 0; i < P; i++) Uc[k * P + i] = Ut[x.qi * P + i] - Uw[k * P + i];
});
const inrunContrast = await inrun!.scoreGradients(model, Uc, E);
const rngC = new Rng(2027);
const randomContrast = Array.from({ length: E }, () => Array.from({ length: N }, () => rngC.next()));
// scores[method] rows: the Q queries; contrastScores[method] rows: the E harmful targets
const scores: Record<string, number[][]> = { ...Object.fromEntries(Object.entries(scoring.scores).map(([m, rows]) => [m, rows.slice(0, Q)])), ...inrunScores, random };
const contrastScores: Record<string, number[][]> = { ...Object.fromEntries(Object.entries(scoring.scores).map(([m, rows]) => [m, rows.slice(Q)])), ...inrunContrast, random: randomContrast };
const methodSeconds: Record<string, number> = { ...scoring.methodSeconds, ...Object.fromEntries(INRUN_METHODS.map((m) => [m, median(inrunExtra)])), random: 0 };
// cost over training: the checkpoint methods' separate passes over the median plain run; the in-run ones
// as measured inside their runs (above)
const fractionOf = (m: string) => ((INRUN_METHODS as readonly string[]).includes(m) ? median(inrunFraction) : methodSeconds[m] / trainSeconds);

// --- ground truth retrains ---
const subsets: Set<number>[] = [];
for (let j = 0; j < M; j++) subsets.push(new Set(rng.shuffle(data.contributions.map((c) => c.id)).slice(0, N / 2)));
const truth: number[][][] = SEEDS.map(() => []); // [seed][subset][query] loss
for (let j = 0; j < M; j++) {
  for (let s = 0; s < SEEDS.length; s++) truth[s].push((await retrain(subsets[j], SEEDS[s])).losses);
  if (j % 4 === 3) log(`LDS retrains: ${j + 1}/${M} subsets x ${SEEDS.length} seeds`);
}
const fullOther = await retrain(new Set(), SEEDS[1]);
// LOO on k contributions, stratified over the categories
const looIds: number[] = [];
for (let i = 0; looIds.length < K; i++) {
  const cat = CATEGORIES[i % CATEGORIES.length];
  const pool = data.contributions.filter((c) => c.category === cat && !looIds.includes(c.id));
  if (pool.length) looIds.push(pool[rng.int(pool.length)].id);
}
// and, for the harmful targets' ground truth, every contradicting harmful contribution and the first
// on_topic one stating each contradicted fact
const looStratified = looIds.length;
for (const x of values["loo-harmful"] === "0" ? [] : contrast) {
  const good = data.contributions.find((c) => c.category === "on_topic" && c.facts.includes(data.queries[x.qi].fact))!;
  for (const c of [x.c, good.id]) if (!looIds.includes(c)) looIds.push(c);
}
const looDelta: number[][] = []; // [k][query]: loss without it - full loss
const looMargin: number[][] = []; // [k][harmful target]: margin without it - full margin
for (const c of looIds) {
  const r = await retrain(new Set([c]), SEEDS[0]);
  looDelta.push(r.losses.map((l, q) => l - full.losses[q]));
  looMargin.push(r.margins.map((m, e) => m - full.margins[e]));
}
log(`LOO retrains: ${looIds.length} (${looStratified} stratified + ${looIds.length - looStratified} for the harmful targets)`);

// --- metrics ---
function lds(tau: number[][], outputs: number[][], kept: Set<number>[]): number[] {
  // kept = the contributions trained in each subset (the complement of the removed half)
  return Array.from({ length: Q }, (_, q) => {
    const pred = kept.map((S) => [...S].reduce((s, c) => s + tau[q][c], 0));
    return spearman(pred, outputs.map((o) => -o[q]));
  });
}
const kept = subsets.map((removed) => new Set(data.contributions.map((c) => c.id).filter((c) => !removed.has(c))));
const noisePerQuery = Array.from({ length: Q }, (_, q) => spearman(truth[0].map((o) => o[q]), truth[1].map((o) => o[q])));
const seedNoise = mean(full.losses.map((l, q) => Math.abs(l - fullOther.losses[q])));
const isHarmful = (c: number) => data.contributions[c].category === "harmful";
/**
 * Harmful AUC on the harmful targets: per target e (a query and one wrong answer to it), do the harmful
 * contributions that contradict e's query rank below every other contribution in `pool` by `help(e, c)`
 * (how much c lowers f_e)? Mean over the targets.
 */
function harmfulTargetAuc(help: (e: number, c: number) => number, pool: number[]): number {
  return mean(
    contrast.map((x, e) => {
      const bad = contrast.filter((y) => y.qi === x.qi).map((y) => y.c);
      const pos = pool.filter((c) => bad.includes(c));
      const neg = pool.filter((c) => !bad.includes(c));
      return pos.length && neg.length ? auc(pos.map((c) => -help(e, c)), neg.map((c) => -help(e, c))) : NaN;
    }),
  );
}
// ground truth: removing a contribution that helps f_e raises it (looMargin > 0)
const truthHarmfulAuc = harmfulTargetAuc((e, c) => looMargin[looIds.indexOf(c)][e], looIds);
// and under the earlier definition (the mean effect on the query loss, harmful against every other category)
const looMeanEffect = looIds.map((_, k) => mean(looDelta[k]));
const truthHarmfulAucMeanLoss = auc(looIds.filter(isHarmful).map((c) => -looMeanEffect[looIds.indexOf(c)]), looIds.filter((c) => !isHarmful(c)).map((c) => -looMeanEffect[looIds.indexOf(c)]));
const truthHarmfulAucContradictedQueryLoss = harmfulTargetAuc((e, c) => looDelta[looIds.indexOf(c)][contrast[e].qi], looIds);
const looEffect = mean(looDelta.flat().map(Math.abs));

const deduped = duplicateGroups(data.contributions.map((c) => ({ id: String(c.id), records: c.records })));
const dupOf = new Map(deduped.duplicates.map((d) => [Number(d.id), Number(d.of)]));
const rootOf = (c: number) => dupOf.get(c) ?? c; // the SDK points every duplicate at the earliest original
const planted = data.contributions.filter((c) => c.copyOf !== null);
const caught = (c: { id: number; copyOf: number | null }) => dupOf.has(c.id) && dupOf.get(c.id) === rootOf(c.copyOf!);
// the recipe's on_topic contributions state each fact ~2x in one of 3 phrasings, so a few repeat an
// earlier one verbatim by chance: real duplicates (same text, another address), counted apart
const sameText = (a: number, b: number) => JSON.stringify(data.contributions[a].records) === JSON.stringify(data.contributions[b].records);
const detection = {
  planted: planted.length,
  detected: planted.filter(caught).length,
  incidental_exact_on_topic: deduped.duplicates.filter((d) => data.contributions[Number(d.id)].copyOf === null && sameText(Number(d.id), Number(d.of))).length,
  false_flags: deduped.duplicates.filter((d) => data.contributions[Number(d.id)].copyOf === null && !sameText(Number(d.id), Number(d.of))).length,
  flagged_for_review: deduped.review.map((r) => ({ id: Number(r.id), of: Number(r.of), similarity: r.similarity, category: data.contributions[Number(r.id)].category })),
};

const perMethod: Record<string, unknown> = {};
for (const [name, tau] of Object.entries(scores)) {
  const per = lds(tau, truth[0], kept);
  const cross = lds(tau, truth[1], kept);
  // removing a helpful contribution (tau > 0) raises the query's loss (delta > 0)
  const looPer = Array.from({ length: Q }, (_, q) => spearman(looIds.map((_, k) => tau[q][looIds[k]]), looDelta.map((d) => d[q])));
  const total = data.contributions.map((c) => mean(tau.map((row) => row[c.id])));
  // per query about a fact that some harmful contribution contradicts: do the contradicting ones rank
  // below every other contribution on that query? (their overall credit also carries the chat format
  // they teach every query, like any other record)
  const ownQuery = data.queries
    .map((q, qi) => ({ qi, bad: data.contributions.filter((c) => c.category === "harmful" && c.facts.includes(q.fact)).map((c) => c.id) }))
    .filter((x) => x.bad.length)
    .map(({ qi, bad }) => auc(bad.map((c) => -tau[qi][c]), data.contributions.filter((c) => !bad.includes(c.id)).map((c) => -tau[qi][c.id])));
  const harmful = data.contributions.filter((c) => c.category === "harmful").map((c) => -total[c.id]);
  const others = data.contributions.filter((c) => c.category !== "harmful").map((c) => -total[c.id]);
  const ct = contrastScores[name];
  const harmfulAuc = harmfulTargetAuc((e, c) => ct[e][c], data.contributions.map((c) => c.id));
  const harmfulAucLoo = harmfulTargetAuc((e, c) => ct[e][c], looIds);
  // payout: negatives clipped to 0, normalised; duplicates detected by the SDK pay nothing extra
  const pay = total.map((t) => Math.max(0, t));
  const payDedup = total.map((t, c) => (dupOf.has(c) ? 0 : Math.max(0, t)));
  const sum = pay.reduce((a, b) => a + b, 0) || 1;
  const sumDedup = payDedup.reduce((a, b) => a + b, 0) || 1;
  const pairs = planted.filter((c) => pay[c.copyOf!] > 0);
  // raw: the pair's credit over the original's; with dedup, the copy is dropped before training and
  // attribution, so a detected pair earns what the original alone would (ratio 1)
  const rawRatio = mean(pairs.map((c) => (pay[c.copyOf!] + pay[c.id]) / pay[c.copyOf!]));
  const dedupRatio = mean(pairs.map((c) => (caught(c) ? 1 : (pay[c.copyOf!] + pay[c.id]) / pay[c.copyOf!])));
  const perCategory: Record<string, unknown> = {};
  for (const cat of CATEGORIES) {
    const ids = data.contributions.filter((c) => c.category === cat).map((c) => c.id);
    const looIn = looIds.map((c, k) => [c, k] as const).filter(([c]) => data.contributions[c].category === cat);
    perCategory[cat] = {
      contributions: ids.length,
      credit_share: round(ids.reduce((s, c) => s + pay[c], 0) / sum),
      credit_share_dedup: round(ids.reduce((s, c) => s + payDedup[c], 0) / sumDedup),
      mean_score_rank: round(mean(ids.map((c) => rankOf(total, c))) / N),
      loo_mean_effect: looIn.length ? round(mean(looIn.map(([, k]) => mean(looDelta[k]))), 6) : null, // query loss rise when left out
      loo_mean_predicted: looIn.length ? round(mean(looIn.map(([c]) => total[c])), 6) : null,
    };
  }
  perMethod[name] = {
    lds: round(mean(per)),
    lds_ci95: bootstrapCi(per),
    lds_cross_seed: round(mean(cross)),
    lds_cross_seed_ci95: bootstrapCi(cross),
    loo_spearman: round(mean(looPer)),
    loo_spearman_ci95: bootstrapCi(looPer),
    harmful_auc: round(harmfulAuc),
    harmful_auc_on_loo_sample: round(harmfulAucLoo),
    harmful_auc_mean_query_loss: round(auc(harmful, others)),
    harmful_auc_on_contradicted_queries: round(mean(ownQuery)),
    harmful_contradicted_queries: ownQuery.length,
    duplicate_credit_ratio: round(dedupRatio),
    duplicate_credit_ratio_without_dedup: round(rawRatio),
    attribution_seconds: round(methodSeconds[name], 2),
    influence_fraction_of_training: round(fractionOf(name)),
    per_category: perCategory,
  };
  log(`${name}: LDS ${round(mean(per))} ${JSON.stringify(bootstrapCi(per))}, cross-seed ${round(mean(cross))}, LOO ${round(mean(looPer))}, harmful AUC ${round(harmfulAuc)} (mean query loss ${round(auc(harmful, others))}), fraction ${round(fractionOf(name))}`);
}

// --- citations: a suffix array over 1M tokens of the base model's own corpus-like text ---
const citation = await citationBench();
log(`citations: ${JSON.stringify(citation)}`);

// the default: the best same-seed LDS among the methods within the cost goal (all of them if none is)
const ranked = Object.entries(perMethod)
  .filter(([n]) => n !== "random")
  .sort((a, b) => (b[1] as { lds: number }).lds - (a[1] as { lds: number }).lds);
const affordable = ranked.filter(([, m]) => (m as { influence_fraction_of_training: number }).influence_fraction_of_training <= 0.25);
const best = (affordable.length ? affordable : ranked)[0][0];
const b = perMethod[best] as Record<string, number>;
const result = {
  benchmark: "attribution",
  started: started.toISOString(),
  finished: new Date().toISOString(),
  wall_seconds: round((performance.now() - t00) / 1000, 1),
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, loadavg_start: load0.map((x) => round(x, 2)), loadavg_end: loadavg().map((x) => round(x, 2)) },
  command: "nice -n 10 npm run bench:attribution" + (M !== 14 || K !== 8 ? ` -- --subsets ${M} --loo ${K}` : ""),
  data: { recipe: "bench/attribution-data.ts", sha256: data.hash, contributions: N, records: examples.length, queries: Q, categories: Object.fromEntries(CATEGORIES.map((c) => [c, data.contributions.filter((x) => x.category === c).length])) },
  training: {
    note: "small fixed configuration so the whole benchmark fits in ~15 min on a shared 2-core machine under nice -n 10",
    kernel: "wasm (bit-exact)",
    base: "tributary-austen-4m",
    config: (({ lr, epochs, batchSize, scheduler, seed, maxSeqLen, lora }) => ({ lr, epochs, batchSize, scheduler, seed, maxSeqLen, lora: { r: lora.r, alpha: lora.alpha, targetModules: lora.targetModules } }))(config(SEEDS[0])),
    seeds: SEEDS,
    checkpoints: CHECKPOINTS,
    full_run_seconds: round(trainSeconds, 2),
    full_run_seconds_note: `median of ${INRUN_PAIRS} plain runs (no checkpoints, no hooks), interleaved with the hooked runs; the denominator of the checkpoint methods' influence_fraction_of_training`,
    plain_run_seconds: plainSeconds.map((x) => round(x, 2)),
    query_loss_full: round(mean(full.losses)),
  },
  ground_truth: {
    lds_subsets: M,
    lds_alpha: 0.5,
    loo_contributions: looIds.length,
    loo_stratified: looStratified,
    loo_note: "the stratified sample (--loo) plus every harmful contribution contradicting a query and the first on_topic one stating each contradicted fact (the harmful targets' ground truth); loo_spearman is over all of them",
    harmful_targets: E,
    harmful_targets_note:
      "harmful_auc is measured on harmful targets: for each query whose fact a harmful contribution contradicts, f = NLL(true answer) - NLL(that contribution's wrong answer), both after the query's question; a method scores every contribution against f's gradient (signed, as for the queries) and harmful_auc = P(a contradicting harmful contribution ranks below another contribution), mean over the targets. Why not the earlier definition (harmful below others by the mean score over all queries, f = NLL of the true answers): the ground truth itself does not rank them lowest (harmful_auc_truth_mean_query_loss, and on the contradicted queries alone harmful_auc_truth_contradicted_query_loss): on this 4M base a wrong answer of the right kind (another character's name) still teaches the answer format and the question's words, so removing it raises the true answer's NLL too; what it does teach wrongly shows only against the falsehood it states",
    harmful_auc_truth: round(truthHarmfulAuc),
    harmful_auc_truth_mean_query_loss: round(truthHarmfulAucMeanLoss),
    harmful_auc_truth_contradicted_query_loss: round(truthHarmfulAucContradictedQueryLoss),
    removal: "records masked inside their own batches (engine train({ masked })): same batch plan, zero loss weight",
    noise_ceiling: round(mean(noisePerQuery)),
    noise_ceiling_ci95: bootstrapCi(noisePerQuery),
    noise_ceiling_note:
      "noise_ceiling: per query, Spearman over the subsets between the retrains at seed 42 and at seed 7, averaged. Same-seed LDS can exceed it: the attribution follows the seed-42 trajectory (same order, masks inside batches) whose retrains it is scored against. Cross-seed LDS is the comparable figure; if each seed's outputs are a common expectation plus independent noise, a noise-free predictor reaches sqrt(noise_ceiling) against another seed",
    noise_free_cross_seed_ceiling: round(Math.sqrt(Math.max(0, mean(noisePerQuery)))),
    seed_noise_mean_abs_query_loss: round(seedNoise, 6),
    loo_mean_abs_effect: round(looEffect, 6),
    loo_signal_to_seed_noise: round(looEffect / seedNoise),
  },
  dedup: { ...detection, method: "SDK duplicateGroups: normalised text, SHA-256 exact + MinHash (128 x char 5-grams, LSH 32x4) verified by Jaccard >= 0.8; earlier registration keeps credit" },
  default_method: best,
  default_method_rule: "the best same-seed LDS among the methods with influence_fraction_of_training <= 0.25 (among all methods when none is)",
  notes: [
    "inrun_adam_cos / inrun_adam_tracin (trainer-node/src/jobs/influence.ts InRunAttribution): per-example LoRA gradients split from the training step's own backward (engine ExampleGradients), Adam-preconditioned by the step's second moment and weighted by its learning rate, summed per contribution; one batched backward over the queries at the final adapter; cosine / dot product. Their cost: see inrun.note; nothing is revisited after training. inrun_tracin_unit: each example's gradient unit-normalised at its step, summed with the step's learning rate, dot product with the query gradient (no Adam preconditioning: in-run, the early steps' tiny second moments blow the preconditioned gradients up)",
    "the checkpoint methods' attribution_seconds are their separate passes (contribution and query gradients at the checkpoints they read, plus scoring) as before; their scoring arithmetic now also covers the harmful targets (rows after the queries; the targets' gradients are timed apart, extra_query_seconds)",
    "harmful_auc: see ground_truth.harmful_targets_note; the earlier definition stays per method as harmful_auc_mean_query_loss",
  ],
  inrun: {
    pairs: INRUN_PAIRS,
    extra_seconds: inrunExtra.map((x) => round(x, 2)),
    fraction_per_run: inrunFraction.map((x) => round(x)),
    paired_fraction_median: round(median(inrunParts.map((p) => p.paired_extra / p.plain_run))),
    note: "extra = the hooks' own time + the query gradients + scoring; fraction = extra / (the hooked run's time - its hooks), median over runs (influence_fraction_of_training of the inrun_* methods). Cross-check: paired_extra = hooked run - the interleaved plain run + queries + scoring; paired_fraction_median = median of paired_extra / plain run (noisy on a loaded machine)", parts_seconds: inrunParts.map((p) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, round(v, 2)]))), hooked_run_bit_identical_to_full: inrunBitIdentical, extra_query_seconds_checkpoint_methods: round(scoring.extraQuerySeconds, 2) },
  node_default_method: DEFAULT_METHOD,
  node_default_is_best: DEFAULT_METHOD === best,
  methods_ranked_by_lds: ranked.map(([n]) => n),
  // headline keys: the default method's
  lds: b.lds,
  lds_ci95: b.lds_ci95,
  noise_ceiling: round(mean(noisePerQuery)),
  loo_spearman: b.loo_spearman,
  harmful_auc: b.harmful_auc,
  duplicate_credit_ratio: b.duplicate_credit_ratio,
  influence_fraction_of_training: b.influence_fraction_of_training,
  citation_lookup_ms_1m_tokens: citation.lookup_ms,
  suffix_array_bytes_per_token: citation.bytes_per_token,
  goals: {
    lds: { goal: ">= 0.4", met: b.lds >= 0.4 },
    harmful_auc: { goal: ">= 0.9", met: b.harmful_auc >= 0.9 },
    duplicate_credit_ratio: { goal: "<= 1.1", met: b.duplicate_credit_ratio <= 1.1 },
    influence_fraction_of_training: { goal: "<= 0.25", met: b.influence_fraction_of_training <= 0.25 },
    citation_lookup_ms_1m_tokens: { goal: "<= 5", met: citation.lookup_ms <= 5 },
    suffix_array_bytes_per_token: { goal: "<= 8", met: citation.bytes_per_token <= 8 },
  },
  methods: perMethod,
  citation,
};
mkdirSync(dirname(values.out!), { recursive: true });
writeFileSync(values.out!, JSON.stringify(result, null, 2) + "\n");
log(`default ${best}: LDS ${b.lds} (noise ceiling ${result.noise_ceiling}); wrote ${values.out}`);
await kernel.dispose();

async function citationBench() {
  // 1M tokens: the planted records and the base model's chat-free corpus text are too small, so
  // entries are drawn from the tokenizer's vocabulary as Zipf-like sequences of 64 tokens
  const r = new Rng(99);
  const total = 1_000_000;
  const entries: { ids: number[]; source: { datanetId: string; contributionId: string; contributor: string } }[] = [];
  let n = 0;
  for (let e = 0; n < total; e++) {
    const ids = Array.from({ length: 64 }, () => Math.floor(4096 * r.next() ** 2));
    entries.push({ ids, source: { datanetId: "1", contributionId: String(e), contributor: "0x0" } });
    n += ids.length;
  }
  const t0 = performance.now();
  const index = CitationIndex.build(entries);
  const buildMs = performance.now() - t0;
  // responses: half copy a 24-token span of some entry inside fresh tokens, half are fresh
  const responses = Array.from({ length: 200 }, (_, i) => {
    const fresh = Array.from({ length: 128 }, () => Math.floor(4096 * r.next() ** 2));
    if (i % 2 === 0) fresh.splice(50, 24, ...entries[r.int(entries.length)].ids.slice(10, 34));
    return fresh;
  });
  let found = 0;
  const t1 = performance.now();
  for (const ids of responses) found += index.find(ids, 8).length;
  const lookupMs = (performance.now() - t1) / responses.length;
  return {
    tokens: index.size - entries.length,
    entries: entries.length,
    build_seconds: round(buildMs / 1000, 2),
    lookup_ms: round(lookupMs, 3),
    response_tokens: 128,
    spans_found: found,
    // what trainer-node/src/serve/citations.ts holds (16-bit text when the vocabulary fits, 32-bit suffix
    // positions, one separator and one 32-bit start per entry) per token of the records
    bytes_per_token: round(index.bytes / (index.size - entries.length), 3),
  };
}

function mean(xs: number[]): number {
  const ok = xs.filter((x) => Number.isFinite(x));
  return ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : NaN;
}
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
function round(x: number, d = 4): number {
  return Number.isFinite(x) ? Number(x.toFixed(d)) : x;
}
function rankOf(xs: number[], i: number): number {
  return ranks(xs)[i];
}
function bootstrapCi(perQuery: number[]): [number, number] {
  const xs = perQuery.filter((x) => Number.isFinite(x));
  const r = new Rng(7);
  const means = Array.from({ length: 2000 }, () => mean(Array.from({ length: xs.length }, () => xs[r.int(xs.length)]))).sort((a, b) => a - b);
  return [round(means[Math.floor(0.025 * means.length)]), round(means[Math.floor(0.975 * means.length)])];
}
/** P(a random `pos` > a random `neg`), ties half. */
function auc(pos: number[], neg: number[]): number {
  let s = 0;
  for (const p of pos) for (const n of neg) s += p > n ? 1 : p === n ? 0.5 : 0;
  return s / (pos.length * neg.length);
}
