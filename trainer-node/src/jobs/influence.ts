/**
 * Training-data influence of contributions on queries, on the LoRA parameters, by several methods from
 * the same gradients (issue 12; compared against retraining ground truth by bench/attribution.ts):
 * - tracin_last: lr x <grad query loss, grad of the contribution's summed token loss> at the final
 *   adapter (Pruthi et al. 2020, one checkpoint);
 * - tracin_cp: the same summed over checkpoints, each weighted by its learning rate (TracInCP);
 * - grad_cos_cp: cosine of the two gradients, summed over checkpoints;
 * - adam_tracin_cp / adam_cos_cp: the contribution's gradient preconditioned by the checkpoint's AdamW
 *   second moment (1 / (sqrt(v_hat) + eps): the direction the optimizer steps); cos: both unit-normalised
 *   (LESS-style, Xia et al. 2024);
 * - datainf_last / datainf_cp: DataInf (Kwon et al. 2023): per LoRA module l, the damped Gauss-Newton
 *   inverse (G_l + lambda_l I)^-1 replaced by the mean of (g_il g_il^T + lambda_l I)^-1 over the
 *   contributions i (Sherman-Morrison), lambda_l = 0.1 x mean(g_il^2); score = (H^-1 grad query)^T g_c.
 * Positive: training on the contribution lowered the query's loss.
 */
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ExampleGradients, adapterParams, lossBackward, lossGradient, planBatches } from "@tributary/engine";
import type { AdamW, Example, InRunHooks, InRunStep, LlamaModel, LoraAdapter } from "@tributary/engine";

export const METHODS = ["tracin_last", "tracin_cp", "grad_cos_cp", "adam_tracin_cp", "adam_cos_cp", "datainf_last", "datainf_cp"] as const;
export type MethodName = (typeof METHODS)[number];

export interface Checkpoint {
  adapter: LoraAdapter;
  /** AdamW state at the checkpoint (its second moment preconditions the adam_* methods). */
  opt: AdamW | null;
  /** The learning rate this checkpoint stands for (the mean over the steps it closes). */
  lr: number;
}

export interface ScoringInput {
  /** In training order; the last is the final adapter. */
  checkpoints: Checkpoint[];
  /** Each contribution's examples (possibly none). */
  contributions: Example[][];
  /** Each query is one example, or several whose mean token loss is the query's loss. */
  queries: (Example | Example[])[];
  /**
   * More targets scored alike, after the queries (rows Q.. of the scores), whose gradients are timed apart
   * (extraQuerySeconds, in no method's seconds): e.g. a contrast, the loss of `plus` minus that of `minus`.
   */
  extraQueries?: QueryTarget[];
  maxSeqLen: number;
  methods: readonly MethodName[];
  onProgress?: (done: number, total: number) => void;
}

/** A query's loss: one example's mean token loss, several examples' together, or a difference of two such. */
export type QueryTarget = Example | Example[] | { plus: Example | Example[]; minus: Example | Example[] };

export interface ScoringResult {
  /** Seconds of the extraQueries' gradients (all checkpoints). */
  extraQuerySeconds: number;
  /** scores[method][query][contribution] */
  scores: Record<MethodName, number[][]>;
  /** Seconds spent on the gradients of each checkpoint. */
  gradientSeconds: number[];
  /** Seconds per method of the scoring arithmetic on top of the gradients. */
  scoringSeconds: Record<MethodName, number>;
  /** What each method costs alone: the gradients of the checkpoints it reads plus its scoring. */
  methodSeconds: Record<MethodName, number>;
}

const LAST_ONLY: ReadonlySet<MethodName> = new Set(["tracin_last", "datainf_last"]);

function flatten(grads: Map<string, Float32Array>, keys: string[], total: number, scale: number): Float32Array {
  const out = new Float32Array(total);
  let at = 0;
  for (const k of keys) {
    const g = grads.get(k)!;
    for (let i = 0; i < g.length; i++) out[at + i] = g[i] * scale;
    at += g.length;
  }
  return out;
}

function dot(a: Float32Array, b: Float32Array, lo = 0, hi = a.length): number {
  let s = 0;
  for (let i = lo; i < hi; i++) s += a[i] * b[i];
  return s;
}

export async function attributionScores(model: LlamaModel, o: ScoringInput): Promise<ScoringResult> {
  const N = o.contributions.length;
  const Q = o.queries.length + (o.extraQueries?.length ?? 0);
  let extraQuerySeconds = 0;
  const K = o.checkpoints.length;
  const want = new Set(o.methods);
  const zero = () => Array.from({ length: Q }, () => new Array<number>(N).fill(0));
  const scores = Object.fromEntries(o.methods.map((m) => [m, zero()])) as Record<MethodName, number[][]>;
  const scoringSeconds = Object.fromEntries(o.methods.map((m) => [m, 0])) as Record<MethodName, number>;
  const gradientSeconds: number[] = [];
  const timed = (m: MethodName, f: () => void) => {
    if (!want.has(m)) return;
    const t = performance.now();
    f();
    scoringSeconds[m] += (performance.now() - t) / 1000;
  };
  let done = 0;
  const totalWork = K * (N + o.queries.length);
  for (let k = 0; k < K; k++) {
    const ck = o.checkpoints[k];
    const last = k === K - 1;
    if (!last && [...want].every((m) => LAST_ONLY.has(m))) {
      gradientSeconds.push(0);
      continue;
    }
    const params = adapterParams(ck.adapter);
    const keys = [...params.keys()];
    const P = keys.reduce((s, key) => s + params.get(key)!.length, 0);
    // modules: [lo, hi) ranges of the flat vector (lora_A and lora_B of one module together)
    const blocks: [number, number][] = [];
    {
      let at = 0;
      let prev = "";
      for (const key of keys) {
        const mod = key.replace(/\.lora_[AB]\.weight$/, "");
        const len = params.get(key)!.length;
        if (mod === prev) blocks[blocks.length - 1][1] += len;
        else blocks.push([at, at + len]);
        prev = mod;
        at += len;
      }
    }
    const t0 = performance.now();
    const opts = { adapter: ck.adapter, batchSize: 8, maxSeqLen: o.maxSeqLen };
    const G: Float32Array[] = []; // summed over the contribution's target tokens
    const gbar: Float32Array[] = []; // mean over its target tokens
    const tokens: number[] = [];
    for (const exs of o.contributions) {
      const usable = exs.filter((e) => e.train.some((f, i) => f && i > 0));
      if (!usable.length) {
        G.push(new Float32Array(P));
        gbar.push(new Float32Array(P));
        tokens.push(0);
      } else {
        const g = await lossGradient(model, usable, opts);
        gbar.push(flatten(g.grads, keys, P, 1));
        G.push(flatten(g.grads, keys, P, g.tokens));
        tokens.push(g.tokens);
      }
      o.onProgress?.(++done, totalWork);
    }
    const gq: Float32Array[] = [];
    const grad = async (q: Example | Example[]) => flatten((await lossGradient(model, Array.isArray(q) ? q : [q], opts)).grads, keys, P, 1);
    for (const q of o.queries) {
      gq.push(await grad(q));
      o.onProgress?.(++done, totalWork);
    }
    gradientSeconds.push((performance.now() - t0) / 1000);
    const tx = performance.now();
    for (const q of o.extraQueries ?? []) {
      if (Array.isArray(q) || !("plus" in q)) gq.push(await grad(q));
      else {
        const a = await grad(q.plus);
        const b = await grad(q.minus);
        for (let i = 0; i < P; i++) a[i] -= b[i];
        gq.push(a);
      }
    }
    extraQuerySeconds += (performance.now() - tx) / 1000;

    let D: number[][] | null = null;
    const dots = () => (D ??= gq.map((v) => G.map((g) => dot(v, g))));
    const nq = gq.map((v) => Math.sqrt(dot(v, v)));
    const ng = G.map((g) => Math.sqrt(dot(g, g)));
    if (last) timed("tracin_last", () => add(scores.tracin_last, dots(), 1));
    timed("tracin_cp", () => add(scores.tracin_cp, dots(), ck.lr));
    timed("grad_cos_cp", () => add(scores.grad_cos_cp, dots().map((row, q) => row.map((d, c) => (nq[q] && ng[c] ? d / (nq[q] * ng[c]) : 0))), ck.lr));
    if ((want.has("adam_tracin_cp") || want.has("adam_cos_cp")) && ck.opt) {
      const t = performance.now();
      const { beta2, eps } = ck.opt.opts;
      const bc2 = 1 - beta2 ** Math.max(1, ck.opt.t);
      const pre = new Float32Array(P);
      let at = 0;
      for (const key of keys) {
        const v = ck.opt.v.get(key)!;
        for (let i = 0; i < v.length; i++) pre[at + i] = 1 / (Math.sqrt(v[i] / bc2) + eps);
        at += v.length;
      }
      const AG = G.map((g) => g.map((x, i) => x * pre[i]));
      const A = gq.map((v) => AG.map((g) => dot(v, g)));
      const na = AG.map((g) => Math.sqrt(dot(g, g)));
      const shared = (performance.now() - t) / 1000;
      timed("adam_tracin_cp", () => add(scores.adam_tracin_cp, A, ck.lr));
      timed("adam_cos_cp", () => add(scores.adam_cos_cp, A.map((row, q) => row.map((d, c) => (nq[q] && na[c] ? d / (nq[q] * na[c]) : 0))), ck.lr));
      if (want.has("adam_tracin_cp")) scoringSeconds.adam_tracin_cp += shared;
      if (want.has("adam_cos_cp")) scoringSeconds.adam_cos_cp += shared;
    }
    const datainf = () => {
      const out = Array.from({ length: Q }, () => new Array<number>(N).fill(0));
      const live = gbar.map((_, i) => i).filter((i) => tokens[i] > 0);
      const n = live.length;
      if (!n) return out;
      for (const [lo, hi] of blocks) {
        let sq = 0;
        for (const i of live) for (let j = lo; j < hi; j++) sq += gbar[i][j] * gbar[i][j];
        const lambda = (0.1 * sq) / (n * (hi - lo)) || 1e-12;
        const s = live.map((i) => lambda + dot(gbar[i], gbar[i], lo, hi));
        // W[a][c] = <gbar_i, G_c> = tokens_c <gbar_i, gbar_c>: a symmetric Gram matrix, half computed
        const W = live.map(() => new Float64Array(N));
        const pos = new Map(live.map((i, a) => [i, a]));
        for (let a = 0; a < n; a++) {
          for (let c = 0; c < N; c++) {
            const b = pos.get(c);
            if (b !== undefined && b < a) continue;
            const d = tokens[c] ? dot(gbar[live[a]], gbar[c], lo, hi) : 0;
            W[a][c] = d * tokens[c];
            if (b !== undefined) W[b][live[a]] = d * tokens[live[a]];
          }
        }
        for (let q = 0; q < Q; q++) {
          const v = gq[q];
          const cq = live.map((i, a) => dot(v, gbar[i], lo, hi) / s[a]);
          for (let c = 0; c < N; c++) {
            let corr = 0;
            for (let a = 0; a < n; a++) corr += cq[a] * W[a][c];
            out[q][c] += (n * dot(v, G[c], lo, hi) - corr) / (n * lambda);
          }
        }
      }
      return out;
    };
    if (want.has("datainf_last") || want.has("datainf_cp")) {
      const t = performance.now();
      const di = datainf();
      const sec = (performance.now() - t) / 1000;
      if (last && want.has("datainf_last")) {
        add(scores.datainf_last, di, 1);
        scoringSeconds.datainf_last += sec;
      }
      if (want.has("datainf_cp")) {
        add(scores.datainf_cp, di, ck.lr);
        scoringSeconds.datainf_cp += sec;
      }
    }
  }
  const allGrad = gradientSeconds.reduce((a, b) => a + b, 0);
  const methodSeconds = Object.fromEntries(o.methods.map((m) => [m, (LAST_ONLY.has(m) ? gradientSeconds[K - 1] : allGrad) + scoringSeconds[m]])) as Record<MethodName, number>;
  return { scores, gradientSeconds, scoringSeconds, methodSeconds, extraQuerySeconds };
}

function add(into: number[][], from: number[][], w: number): void {
  for (let q = 0; q < into.length; q++) for (let c = 0; c < into[q].length; c++) into[q][c] += w * from[q][c];
}

/**
 * In-run attribution (issue 12): the training's own backward gives each example's LoRA gradient g at the
 * step t that trained it (ExampleGradients: per-example sums of the batch's outer products, no pass of its
 * own), so no checkpoint is revisited and no contribution is run again. Each contribution accumulates a
 * vector over its examples' steps; after training, one batched backward over the queries at the final
 * adapter (the same per-row split) gives each query's gradient u_q, and
 * - inrun_tracin_unit: <u_q, Σ lr_t g/|g|> (TracIn along the actual trajectory, each example's gradient
 *   unit-normalised at its step: a record counts by its direction, not by how large its loss was then);
 * - inrun_adam_cos / inrun_adam_tracin: with Σ lr_t (g ⊙ pre_t), g the example's summed token loss gradient
 *   as clipped by the step, pre_t = 1/(sqrt(v_hat_t) + eps) the optimizer's second moment after the step
 *   (as adam_* above): the cosine with u_q / the dot product.
 * Signed: a contribution whose training moved the adapter against the query's gradient scores < 0.
 * Train with `hooks()` as the engine's `inRun`; examples map to contributions by `owner`.
 */
export const INRUN_METHODS = ["inrun_tracin_unit", "inrun_adam_cos", "inrun_adam_tracin"] as const;
export type InRunMethod = (typeof INRUN_METHODS)[number];
/** The vectors a method reads. */
export type InRunVectors = "unit" | "adam";
export const vectorsOf = (m: InRunMethod): InRunVectors => (m === "inrun_tracin_unit" ? "unit" : "adam");

export class InRunAttribution {
  grads: ExampleGradients | null = null;
  /** Per kind, per contribution: its accumulated vector (null until one of its examples trained). */
  vectors: Partial<Record<InRunVectors, (Float32Array | null)[]>> = {};
  readonly kinds: readonly InRunVectors[];
  /** Seconds spent in the training hooks (splitting gradients, accumulating). */
  hookSeconds = 0;
  /** The first step this collector saw (0 unless training resumed) and the last, of totalSteps. */
  startStep = 0;
  steps = 0;
  totalSteps = 0;
  private pre = new Float32Array(0);
  /** Example index (into the training examples) -> contribution index, -1 for none. */
  private readonly owner: ArrayLike<number>;

  readonly contributions: number;

  /** `kinds`: the vectors to keep (default: those of every in-run method). */
  constructor(owner: ArrayLike<number>, contributions: number, kinds: readonly InRunVectors[] = ["unit", "adam"]) {
    this.owner = owner;
    this.contributions = contributions;
    this.kinds = kinds;
    for (const k of kinds) this.vectors[k] = Array.from({ length: contributions }, () => null);
  }

  /** Whether it saw the whole run (a resumed run misses the steps before its checkpoint). */
  get complete(): boolean {
    return this.grads !== null && this.startStep === 0 && this.steps === this.totalSteps && this.totalSteps > 0;
  }

  /** Length of a contribution's vector (the adapter's parameter count). */
  get size(): number {
    return this.grads?.size ?? 0;
  }

  hooks(): InRunHooks {
    return {
      start: ({ adapter, step, totalSteps }) => {
        if (!adapter) throw new Error("in-run attribution needs a LoRA adapter (full fine-tuning has none)");
        this.grads = new ExampleGradients(adapter);
        this.pre = new Float32Array(this.grads.size);
        this.startStep = step;
        this.steps = step;
        this.totalSteps = totalSteps;
      },
      tap: (batch) => {
        const tap = this.grads!.tap(batch);
        return (module, f) => {
          const t = performance.now();
          tap(module, f);
          this.hookSeconds += (performance.now() - t) / 1000;
        };
      },
      afterStep: (s) => {
        const t = performance.now();
        this.afterStep(s);
        this.hookSeconds += (performance.now() - t) / 1000;
      },
    };
  }

  private afterStep(s: InRunStep): void {
    this.steps = s.step;
    const byExample = this.grads!.take();
    if (!byExample.size) return;
    const unit = this.vectors.unit;
    const adam = this.vectors.adam;
    const pre = this.pre;
    if (adam) {
      const { beta2, eps } = s.opt.opts;
      const bc2 = 1 - beta2 ** Math.max(1, s.opt.t);
      let at = 0;
      for (const v of s.opt.v.values()) {
        for (let i = 0; i < v.length; i++) pre[at + i] = 1 / (Math.sqrt(v[i] / bc2) + eps);
        at += v.length;
      }
    }
    // adam: the gradient of the example's summed token loss, clipped as the step was, times the learning rate
    const w = s.normalizer * s.clip * s.lr;
    for (const [e, g] of byExample) {
      const c = this.owner[e];
      if (c === undefined || c < 0) continue;
      if (unit) {
        let ss = 0;
        for (let i = 0; i < g.length; i++) ss += g[i] * g[i];
        if (ss > 0) {
          const v = (unit[c] ??= new Float32Array(this.size));
          const k = s.lr / Math.sqrt(ss);
          for (let i = 0; i < g.length; i++) v[i] += k * g[i];
        }
      }
      if (adam) {
        const v = (adam[c] ??= new Float32Array(this.size));
        for (let i = 0; i < g.length; i++) v[i] += w * g[i] * pre[i];
      }
    }
  }

  /** Names of the contributions by index (saved with the vectors, so a reader can match them by name). */
  keys: string[] | null = null;

  /** Writes the vectors (and what the run covered) into `dir`: inrun-attribution.json + .bin. */
  async save(dir: string, keys?: readonly string[]): Promise<void> {
    if (keys && keys.length !== this.contributions) throw new Error(`in-run attribution: ${keys.length} keys for ${this.contributions} contributions`);
    const live: Partial<Record<InRunVectors, number[]>> = {};
    const parts: Uint8Array[] = [];
    for (const k of this.kinds) {
      const vs = this.vectors[k]!;
      live[k] = vs.map((v, c) => (v ? c : -1)).filter((c) => c >= 0);
      for (const c of live[k]) parts.push(new Uint8Array(vs[c]!.buffer, vs[c]!.byteOffset, vs[c]!.byteLength));
    }
    await writeFile(join(dir, "inrun-attribution.bin"), Buffer.concat(parts));
    await writeFile(join(dir, "inrun-attribution.json"), JSON.stringify({ size: this.size, contributions: this.contributions, keys: keys ?? null, kinds: this.kinds, live, startStep: this.startStep, steps: this.steps, totalSteps: this.totalSteps, hookSeconds: this.hookSeconds }) + "\n");
  }

  /** What `save` wrote, or null when `dir` has none. The adapter gives the layout of the gradients. */
  static async load(dir: string, adapter: LoraAdapter): Promise<InRunAttribution | null> {
    const meta = join(dir, "inrun-attribution.json");
    if (!existsSync(meta)) return null;
    const m = JSON.parse(await readFile(meta, "utf8")) as { size: number; contributions: number; keys: string[] | null; kinds: InRunVectors[]; live: Record<InRunVectors, number[]>; startStep: number; steps: number; totalSteps: number; hookSeconds: number };
    const a = new InRunAttribution([], m.contributions, m.kinds);
    a.grads = new ExampleGradients(adapter);
    if (a.grads.size !== m.size) throw new Error(`${meta}: vectors of ${m.size} parameters, but the adapter has ${a.grads.size}`);
    const buf = await readFile(join(dir, "inrun-attribution.bin"));
    const bin = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    let at = 0;
    for (const k of m.kinds) {
      for (const c of m.live[k]) {
        a.vectors[k]![c] = bin.slice(at, at + m.size);
        at += m.size;
      }
    }
    Object.assign(a, { keys: m.keys, startStep: m.startStep, steps: m.steps, totalSteps: m.totalSteps, hookSeconds: m.hookSeconds });
    return a;
  }

  /**
   * scores[method][query][contribution] against the queries' gradients at the final adapter (each query's
   * mean token loss; a query of several examples: the mean over all their target tokens).
   */
  async scores(model: LlamaModel, adapter: LoraAdapter, queries: (Example | Example[])[], o: { maxSeqLen: number; batchSize?: number; methods?: readonly InRunMethod[] }): Promise<{ scores: Record<InRunMethod, number[][]>; querySeconds: number; scoringSeconds: number }> {
    if (!this.grads) throw new Error("in-run attribution: the training never started its hooks");
    const t0 = performance.now();
    const U = await queryGradients(model, adapter, queries, o.maxSeqLen, o.batchSize ?? 8);
    const t1 = performance.now();
    const r = await this.scoreGradients(model, U, queries.length, o.methods);
    return { scores: r, querySeconds: (t1 - t0) / 1000, scoringSeconds: (performance.now() - t1) / 1000 };
  }

  /** scores[method][query][contribution] against given query gradients U [Q, size] (e.g. a difference of two queries' gradients). */
  async scoreGradients(model: LlamaModel, U: Float32Array, Q: number, methods: readonly InRunMethod[] = INRUN_METHODS.filter((m) => this.kinds.includes(vectorsOf(m)))): Promise<Record<InRunMethod, number[][]>> {
    const N = this.contributions;
    const P = this.size;
    const scores = Object.fromEntries(methods.map((m) => [m, Array.from({ length: Q }, () => new Array<number>(N).fill(0))])) as Record<InRunMethod, number[][]>;
    const nq = Array.from({ length: Q }, (_, q) => Math.sqrt(dot(U, U, q * P, (q + 1) * P)));
    for (const kind of this.kinds) {
      const ms = methods.filter((m) => vectorsOf(m) === kind);
      if (!ms.length) continue;
      const vs = this.vectors[kind]!;
      const live = vs.map((v, c) => (v ? c : -1)).filter((c) => c >= 0);
      if (!live.length || !Q) continue;
      const Vm = new Float32Array(live.length * P);
      live.forEach((c, k) => Vm.set(vs[c]!, k * P));
      const D = await model.kernel.matmul({ a: U, b: Vm, m: Q, n: live.length, k: P, transB: true }); // [Q, live]
      const nv = live.map((c) => Math.sqrt(dot(vs[c]!, vs[c]!)));
      for (const m of ms) {
        const cos = m === "inrun_adam_cos";
        for (let q = 0; q < Q; q++) {
          live.forEach((c, k) => {
            const d = D[q * live.length + k];
            scores[m][q][c] = !cos ? d : nq[q] && nv[k] ? d / (nq[q] * nv[k]) : 0;
          });
        }
      }
    }
    return scores;
  }
}

/** Each query's gradient of its mean target-token loss on the adapter, [Q, P] flat, from batched backwards. */
export async function queryGradients(model: LlamaModel, adapter: LoraAdapter, queries: (Example | Example[])[], maxSeqLen: number, batchSize = 8): Promise<Float32Array> {
  const per = new ExampleGradients(adapter);
  const P = per.size;
  const flat: Example[] = [];
  const queryOf: number[] = [];
  queries.forEach((q, qi) => {
    for (const e of Array.isArray(q) ? q : [q]) {
      flat.push(e);
      queryOf.push(qi);
    }
  });
  const U = new Float32Array(queries.length * P);
  const targets = new Array<number>(queries.length).fill(0);
  // shortest first: batches of similar lengths pad least
  const order = flat.map((_, i) => i).sort((a, b) => flat[a].ids.length - flat[b].ids.length);
  const batches = planBatches(order.map((i) => flat[i]), { batchSize, maxSeqLen, pack: false, seed: 0, epochs: 1, shuffle: false });
  for (const b of batches) {
    for (let i = 0; i < b.targets.length; i++) if (b.targets[i] >= 0) targets[queryOf[order[b.exampleOf![i]]]]++;
    await lossBackward(model, b, 1, new Map(), { adapter, loraTap: per.tap(b) });
    for (const [e, g] of per.take()) {
      const q = queryOf[order[e]];
      for (let i = 0; i < P; i++) U[q * P + i] += g[i];
    }
  }
  for (let q = 0; q < queries.length; q++) if (targets[q]) for (let i = 0; i < P; i++) U[q * P + i] /= targets[q];
  return U;
}
