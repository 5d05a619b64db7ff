/**
 * The decoding state of one sequence (one choice of a request): its KV cache and last logits, sampler
 * (seeded RNG, temperature, top-p), presence/frequency penalties and logit bias, grammar constraint,
 * stop sequences, logprobs and streaming cursor. The generation loop (models.ts) only asks each
 * sequence for its next token, feeds it back, and runs the model where the sequence needs it, so a
 * batched loop can step many sequences with one forward pass.
 *
 * Logprobs are those of the distribution the token was drawn from: the logits after penalties, logit
 * bias and the grammar mask, divided by the temperature, restricted to the top-p nucleus and normalised.
 * Greedy decoding (temperature 0) reports the same processed logits at temperature 1, whose top entry is
 * the chosen token.
 */
import { Rng } from "@tributary/engine";
import type { KvCache } from "@tributary/engine";
import type { TokenConstraint } from "./grammar/xgrammar.ts";

export interface DecodeOptions {
  maxTokens: number;
  temperature: number;
  topP: number;
  presencePenalty: number;
  frequencyPenalty: number;
  /** Added to the logit of each token id. */
  logitBias: ReadonlyMap<number, number>;
  /** Number of top alternatives to report per token; null: no logprobs. */
  topLogprobs: number | null;
  stop: readonly string[];
  eos: ReadonlySet<number>;
}

export interface TokenLogprob {
  id: number;
  logprob: number;
  /** The most likely tokens of the same distribution, most likely first. */
  top: { id: number; logprob: number }[];
}

export type FinishReason = "stop" | "length";

export class Sequence {
  readonly index: number;
  readonly seed: number;
  /** Generated token ids (EOS not included). */
  readonly ids: number[] = [];
  readonly logprobs: TokenLogprob[] = [];
  /** Decoded text of `ids`, cut before a stop sequence. */
  text = "";
  finishReason: FinishReason | null = null;
  kv: KvCache;
  logits: Float32Array;
  private emitted = 0;
  private readonly rng: Rng;
  private readonly counts = new Map<number, number>();
  private readonly o: DecodeOptions;
  private readonly decode: (ids: number[]) => string;
  readonly constraint: TokenConstraint | null;

  constructor(index: number, seed: number, o: DecodeOptions, kv: KvCache, logits: Float32Array, decode: (ids: number[]) => string, constraint: TokenConstraint | null = null) {
    this.o = o;
    this.decode = decode;
    this.constraint = constraint;
    this.index = index;
    this.seed = seed;
    this.rng = new Rng(seed);
    this.kv = kv;
    this.logits = logits;
  }

  get done(): boolean {
    return this.finishReason !== null;
  }

  /** The logits the next token is drawn from: penalties, logit bias, grammar mask applied. */
  private async processed(): Promise<Float32Array> {
    const z = Float32Array.from(this.logits);
    for (const [id, c] of this.counts) z[id] -= c * this.o.frequencyPenalty + (c > 0 ? this.o.presencePenalty : 0);
    for (const [id, b] of this.o.logitBias) if (id < z.length) z[id] += b;
    if (this.constraint) {
      const m = await this.constraint.mask();
      for (let i = 0; i < z.length; i++) if (!((m[i >> 5] >>> (i & 31)) & 1)) z[i] = -Infinity;
    }
    return z;
  }

  /** Picks the next token from the current logits (recording its logprobs when asked). */
  async choose(): Promise<number> {
    const z = await this.processed();
    const T = this.o.temperature;
    const scale = T > 0 ? 1 / T : 1;
    let max = -Infinity;
    for (let i = 0; i < z.length; i++) if (z[i] > max) max = z[i];
    if (max === -Infinity) throw new Error("no token is allowed: the logit bias or the grammar excludes every token");
    if (T <= 0 && this.o.topLogprobs === null) {
      // greedy without logprobs: the first maximal logit, as below, without the distribution
      let id = 0;
      for (let i = 1; i < z.length; i++) if (z[i] > z[id]) id = i;
      return id;
    }
    // unnormalised probabilities of the distribution actually used
    const p = new Float64Array(z.length);
    let sum = 0;
    for (let i = 0; i < z.length; i++) {
      p[i] = z[i] === -Infinity ? 0 : Math.exp((z[i] - max) * scale);
      sum += p[i];
    }
    if (T > 0 && this.o.topP < 1) {
      const idx = Array.from(p.keys()).filter((i) => p[i] > 0).sort((a, b) => p[b] - p[a] || a - b);
      let cum = 0;
      let keep = idx.length;
      for (let k = 0; k < idx.length; k++) {
        cum += p[idx[k]] / sum;
        if (cum >= this.o.topP) {
          keep = k + 1;
          break;
        }
      }
      for (let k = keep; k < idx.length; k++) p[idx[k]] = 0;
      sum = 0;
      for (let k = 0; k < keep; k++) sum += p[idx[k]];
    }
    let id: number;
    if (T <= 0) {
      id = 0;
      for (let i = 1; i < z.length; i++) if (z[i] > z[id]) id = i;
    } else {
      let u = this.rng.next() * sum;
      id = -1;
      for (let i = 0; i < p.length; i++) {
        if (p[i] === 0) continue;
        id = i;
        u -= p[i];
        if (u < 0) break;
      }
    }
    if (this.o.topLogprobs !== null) {
      const lp = (i: number) => Math.log(p[i] / sum);
      const top: { id: number; logprob: number }[] = [];
      const k = this.o.topLogprobs;
      if (k > 0) {
        for (let i = 0; i < p.length; i++) {
          if (p[i] === 0 || (top.length === k && p[i] <= p[top[k - 1].id])) continue;
          let at = top.length;
          while (at > 0 && p[top[at - 1].id] < p[i]) at--;
          top.splice(at, 0, { id: i, logprob: 0 });
          if (top.length > k) top.pop();
        }
        for (const t of top) t.logprob = lp(t.id);
      }
      this.logprobs.push({ id, logprob: lp(id), top });
    }
    return id;
  }

  /**
   * Takes `id` as the next token. Returns the text that became safe to stream (not a possible start of a
   * stop sequence, no partial character); sets finishReason on EOS, a stop sequence or the token limit.
   */
  advance(id: number): string {
    if (this.constraint && !this.constraint.accept(id)) throw new Error(`the grammar rejected token ${id} it allowed`);
    if (this.o.eos.has(id)) {
      if (this.logprobs.at(-1)?.id === id) this.logprobs.pop(); // the end of a turn is not part of the answer
      this.finishReason = "stop";
      return this.flush();
    }
    this.ids.push(id);
    this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
    let text = this.decode(this.ids);
    const hit = firstStop(text, this.o.stop);
    if (hit >= 0) {
      text = text.slice(0, hit);
      this.text = text;
      this.finishReason = "stop";
      return this.flush();
    }
    this.text = text;
    if (this.ids.length >= this.o.maxTokens || this.kv.length >= this.kv.maxLen) {
      this.finishReason = "length";
      return this.flush();
    }
    const safe = text.length - heldBack(text, this.o.stop);
    if (safe <= this.emitted) return "";
    const delta = text.slice(this.emitted, safe);
    this.emitted = safe;
    return delta;
  }

  private flush(): string {
    const delta = this.text.slice(this.emitted);
    this.emitted = this.text.length;
    return delta;
  }

  dispose(): void {
    this.constraint?.dispose();
  }
}

function firstStop(text: string, stops: readonly string[]): number {
  let at = -1;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  return at;
}

/** Characters at the end of `text` to hold back: a possible stop-sequence prefix or a partial character. */
function heldBack(text: string, stops: readonly string[]): number {
  let hold = text.endsWith("\uFFFD") ? 1 : 0;
  for (const s of stops) {
    for (let k = Math.min(s.length - 1, text.length); k > hold; k--) {
      if (text.endsWith(s.slice(0, k))) {
        hold = k;
        break;
      }
    }
  }
  return hold;
}
