/**
 * Training data: JSONL records -> token ids with a per-token training flag -> batches.
 * Records are `{"messages": [{role, content}, ...]}` (chat template; loss on assistant turns),
 * `{"prompt", "completion"}` (loss on the completion and EOS) or `{"text"}` (loss on everything).
 * Batches either hold one example per row (padded to the longest) or pack several examples per row
 * of `maxSeqLen` tokens, each with its own positions and an attention segment of its own.
 */
import { EngineError } from "../errors.ts";
import type { Batch } from "../model/llama.ts";
import type { ChatMessage, ChatTokenizer } from "../model/tokenizer.ts";
import { IGNORE_INDEX } from "../nn/cross-entropy.ts";
import { Rng, deriveSeed } from "../random/prng.ts";

export class DataError extends EngineError {}

export type TrainingRecord = { messages: ChatMessage[] } | { prompt: string; completion: string } | { text: string };

/** One tokenized example: ids[t], and train[t] = "ids[t] is a prediction target". */
export interface Example {
  ids: number[];
  train: boolean[];
}

export function parseRecordsJsonl(text: string): TrainingRecord[] {
  const out: TrainingRecord[] = [];
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    let r: any;
    try {
      r = JSON.parse(line);
    } catch {
      throw new DataError("records file line is not JSON", { line: i + 1 }, "Write one JSON object per line");
    }
    const ok =
      (Array.isArray(r?.messages) && r.messages.every((m: any) => typeof m?.role === "string" && typeof m?.content === "string")) ||
      (typeof r?.prompt === "string" && typeof r?.completion === "string") ||
      typeof r?.text === "string";
    if (!ok) {
      throw new DataError("record has no known shape", { line: i + 1 }, 'Use {"messages":[{"role","content"}]}, {"prompt","completion"} or {"text"}');
    }
    out.push(r);
  });
  return out;
}

/**
 * One record as token ids, with the special tokens transformers' `tokenizer(text)` puts around a text
 * (BOS only where the model's post-processor adds one) and EOS at the end unless it is already there:
 * - text: tokenizer(text) + EOS; trained on everything after the post-processor's prefix;
 * - prompt/completion: prefix + prompt (not trained), then completion + the post-processor's suffix
 *   + EOS (trained); the prompt is encoded as `generate` encodes it, so what was trained is what runs;
 * - messages: the chat template's render, encoded without added specials (as apply_chat_template).
 */
export function encodeRecord(tok: ChatTokenizer, r: TrainingRecord): Example {
  if ("messages" in r) {
    if (!r.messages.some((m) => m.role === "assistant")) {
      throw new DataError("chat record has no assistant message to train on", { roles: r.messages.map((m) => m.role) });
    }
    return tok.encodeChat(r.messages);
  }
  const withEos = (ids: number[]) => (tok.eosId === null || ids.at(-1) === tok.eosId ? ids : [...ids, tok.eosId]);
  if ("prompt" in r) {
    const p = tok.encodePrompt(r.prompt);
    const c = withEos([...tok.encode(r.completion), ...tok.frame.suffix]);
    return { ids: [...p, ...c], train: [...p.map(() => false), ...c.map(() => true)] };
  }
  const ids = withEos(tok.encode(r.text, { addSpecialTokens: true }));
  const context = tok.frame.prefix.length;
  return { ids, train: ids.map((_, i) => i >= context) };
}

/** Deterministic split: a seeded shuffle, then the first round(fraction * n) examples (at least 1) for eval. */
export function splitEval<T>(items: T[], fraction: number, seed: number): { train: T[]; eval: T[] } {
  if (fraction <= 0 || items.length < 2) return { train: items, eval: [] };
  const order = new Rng(deriveSeed(seed, "eval-split")).shuffle(items.map((_, i) => i));
  const nEval = Math.min(items.length - 1, Math.max(1, Math.round(items.length * fraction)));
  const evalSet = new Set(order.slice(0, nEval));
  return { train: items.filter((_, i) => !evalSet.has(i)), eval: items.filter((_, i) => evalSet.has(i)) };
}

function truncate(e: Example, maxLen: number): Example {
  return e.ids.length <= maxLen ? e : { ids: e.ids.slice(0, maxLen), train: e.train.slice(0, maxLen) };
}

/**
 * Rows of examples -> one Batch (targets shifted by one, padding and untrained tokens ignored). `src`, in
 * the shape of `rows`: each example's index, kept per token in `exampleOf` (per-example gradients).
 */
export function makeBatch(rows: Example[][], T: number, src?: number[][]): Batch {
  const B = rows.length;
  const tokens = new Int32Array(B * T);
  const positions = new Int32Array(B * T);
  const segments = new Int32Array(B * T).fill(-1);
  const targets = new Int32Array(B * T).fill(IGNORE_INDEX);
  const exampleOf = src ? new Int32Array(B * T).fill(-1) : null;
  rows.forEach((row, b) => {
    let at = b * T;
    row.forEach((e, s) => {
      for (let t = 0; t < e.ids.length; t++) {
        if (exampleOf) exampleOf[at + t] = src![b][s];
        tokens[at + t] = e.ids[t];
        positions[at + t] = t;
        segments[at + t] = s;
        if (t + 1 < e.ids.length && e.train[t + 1]) targets[at + t] = e.ids[t + 1];
      }
      at += e.ids.length;
    });
  });
  return exampleOf ? { B, T, tokens, positions, segments, targets, exampleOf } : { B, T, tokens, positions, segments, targets };
}

export interface BatchPlanOptions {
  batchSize: number;
  maxSeqLen: number;
  pack: boolean;
  seed: number;
  epochs: number;
  shuffle?: boolean;
  /**
   * Examples (by index into `examples`) that keep their place in the plan but train nothing: their
   * tokens still fill their row, their targets are ignored. Retraining with some examples masked thus
   * differs from the full run only by them (the order, the batches and every other row are the same).
   */
  masked?: ReadonlySet<number>;
}

/** Every micro-batch of every epoch, in order; epoch e's order comes from its own seeded stream. */
export function planBatches(examples: Example[], o: BatchPlanOptions): Batch[] {
  const ex = examples
    .map((e, i) => (o.masked?.has(i) ? { ...truncate(e, o.maxSeqLen), masked: true, src: i } : { ...truncate(e, o.maxSeqLen), masked: false, src: i }))
    .filter((e) => e.train.some((f, i) => f && i > 0))
    .map((e) => (e.masked ? { ids: e.ids, train: e.train.map(() => false), src: e.src } : { ids: e.ids, train: e.train, src: e.src }));
  if (!ex.length) throw new DataError("no example has a token to train on", { examples: examples.length }, "Check the records and maxSeqLen");
  const out: Batch[] = [];
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    const order = ex.map((_, i) => i);
    if (o.shuffle !== false) new Rng(deriveSeed(o.seed, "data-order", epoch)).shuffle(order);
    const rows: (Example & { src: number })[][] = [];
    if (o.pack) {
      let row: (Example & { src: number })[] = [];
      let used = 0;
      for (const i of order) {
        if (used + ex[i].ids.length > o.maxSeqLen && row.length) {
          rows.push(row);
          row = [];
          used = 0;
        }
        row.push(ex[i]);
        used += ex[i].ids.length;
      }
      if (row.length) rows.push(row);
    } else {
      for (const i of order) rows.push([ex[i]]);
    }
    for (let i = 0; i < rows.length; i += o.batchSize) {
      const chunk = rows.slice(i, i + o.batchSize);
      const T = o.pack ? o.maxSeqLen : Math.max(...chunk.map((r) => r[0].ids.length));
      out.push(makeBatch(chunk.map((r) => r.map((e) => ({ ids: e.ids, train: e.train }))), T, chunk.map((r) => r.map((e) => e.src))));
    }
  }
  return out;
}

export function countTargets(b: Batch): number {
  let n = 0;
  for (let i = 0; i < b.targets.length; i++) if (b.targets[i] >= 0) n++;
  return n;
}

/** Real (non-padding) tokens in a batch. */
export function countTokens(b: Batch): number {
  if (!b.segments) return b.B * b.T;
  let n = 0;
  for (let i = 0; i < b.segments.length; i++) if (b.segments[i] >= 0) n++;
  return n;
}
