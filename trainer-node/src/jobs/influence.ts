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
import { lossGradient } from "@tributary/engine";
import type { AdamW, Example, LlamaModel, LoraAdapter } from "@tributary/engine";
import { adapterParams } from "@tributary/engine";

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
  maxSeqLen: number;
  methods: readonly MethodName[];
  onProgress?: (done: number, total: number) => void;
}

export interface ScoringResult {
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
  const Q = o.queries.length;
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
  const totalWork = K * (N + Q);
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
    for (const q of o.queries) {
      gq.push(flatten((await lossGradient(model, Array.isArray(q) ? q : [q], opts)).grads, keys, P, 1));
      o.onProgress?.(++done, totalWork);
    }
    gradientSeconds.push((performance.now() - t0) / 1000);

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
  return { scores, gradientSeconds, scoringSeconds, methodSeconds };
}

function add(into: number[][], from: number[][], w: number): void {
  for (let q = 0; q < into.length; q++) for (let c = 0; c < into[q].length; c++) into[q][c] += w * from[q][c];
}
