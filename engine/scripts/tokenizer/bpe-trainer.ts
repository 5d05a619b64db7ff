// A byte-level BPE trainer (GPT-2 style) that writes a Hugging Face `tokenizer.json`.
//
// Why our own: the maintained npm trainer (`tokenizers`, HF's native Node bindings) only exposes
// `Tokenizer.train(files)` with the model's default trainer: no vocabulary size, no special tokens, no
// byte-level initial alphabet. `@huggingface/tokenizers` (pure JS) encodes and decodes but does not train.
//
// Algorithm: split text with GPT-2's pre-tokenizer regex (the one HF's ByteLevel pre-tokenizer and
// llama.cpp's "gpt2" pre-tokenizer use), map each word's UTF-8 bytes to GPT-2's printable byte
// alphabet, count words, then repeatedly merge the most frequent adjacent symbol pair. Pair counts are
// updated incrementally (only words containing the merged pair are touched) and the best pair is
// taken from a max-heap with lazy invalidation. Ties break on the lower (left id, right id), so a
// run is deterministic.

/** GPT-2's pre-tokenizer regex, identical to HF ByteLevel(use_regex=true). */
export const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * GPT-2's reversible byte -> printable character map: bytes that are printable Latin-1 characters
 * map to themselves; the other 68 bytes map, in order, to code points 256, 257, ...
 */
export function byteToUnicode(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const map = new Array<string>(256);
  let next = 256;
  for (let b = 0; b < 256; b++) map[b] = String.fromCharCode(printable(b) ? b : next++);
  return map;
}

export type BpeTrainOptions = {
  /** Total vocabulary size including special tokens and the 256 byte tokens. */
  vocabSize: number;
  /** Special tokens, given ids 0..n-1 in this order. */
  specialTokens: string[];
  /** A pair must occur at least this often to be merged (default 2). */
  minFrequency?: number;
};

export type BpeModel = {
  /** token string (byte-level alphabet) -> id; special tokens included */
  vocab: Map<string, number>;
  /** merges in rank order, as [left, right] token strings */
  merges: [string, string][];
  specialTokens: string[];
};

export class TokenizerTrainError extends Error {
  constructor(message: string, details: string, next: string) {
    super(`${message}: ${details}. ${next}`);
    this.name = "TokenizerTrainError";
  }
}

/** Counts pre-tokenized words (as byte-level strings) over a set of texts. */
export function countWords(texts: Iterable<string>): Map<string, number> {
  const enc = new TextEncoder();
  const b2u = byteToUnicode();
  const raw = new Map<string, number>();
  for (const text of texts) {
    for (const m of text.matchAll(GPT2_SPLIT)) raw.set(m[0], (raw.get(m[0]) ?? 0) + 1);
  }
  const words = new Map<string, number>();
  for (const [w, n] of raw) {
    let s = "";
    for (const b of enc.encode(w)) s += b2u[b];
    words.set(s, (words.get(s) ?? 0) + n);
  }
  return words;
}

/** Max-heap of [count, pairKey] with ties broken by the smaller key. */
class PairHeap {
  readonly counts: number[] = [];
  readonly keys: number[] = [];
  #before(i: number, j: number): boolean {
    const a = this.counts[i]!, b = this.counts[j]!;
    return a > b || (a === b && this.keys[i]! < this.keys[j]!);
  }
  #swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j]!, this.counts[i]!];
    [this.keys[i], this.keys[j]] = [this.keys[j]!, this.keys[i]!];
  }
  get size(): number {
    return this.counts.length;
  }
  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    for (let i = this.counts.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!this.#before(i, p)) break;
      this.#swap(i, p);
      i = p;
    }
  }
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0]!, this.keys[0]!];
    const lastC = this.counts.pop()!, lastK = this.keys.pop()!;
    if (this.counts.length > 0) {
      this.counts[0] = lastC;
      this.keys[0] = lastK;
      for (let i = 0; ; ) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < this.counts.length && this.#before(l, m)) m = l;
        if (r < this.counts.length && this.#before(r, m)) m = r;
        if (m === i) break;
        this.#swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

/** Trains byte-level BPE merges on word counts from {@link countWords}. */
export function trainBpe(words: Map<string, number>, options: BpeTrainOptions): BpeModel {
  const { vocabSize, specialTokens } = options;
  const minFrequency = options.minFrequency ?? 2;
  const base = specialTokens.length + 256;
  if (!Number.isInteger(vocabSize) || vocabSize < base || vocabSize > 65536) {
    throw new TokenizerTrainError("invalid vocabulary size", `${vocabSize} (needs ${base}..65536 for ${specialTokens.length} special tokens + 256 bytes)`, "Pick a vocab size such as 4096");
  }
  if (new Set(specialTokens).size !== specialTokens.length) {
    throw new TokenizerTrainError("duplicate special tokens", specialTokens.join(", "), "List each special token once");
  }
  // Symbols: ids 0..255 are the byte-level characters in byte order; merged symbols follow.
  const b2u = byteToUnicode();
  const symbolText: string[] = [...b2u];
  const charId = new Map(b2u.map((c, i) => [c, i]));
  const wordSyms: number[][] = [];
  const wordFreq: number[] = [];
  for (const [w, n] of words) {
    wordSyms.push(Array.from(w, (c) => charId.get(c)!));
    wordFreq.push(n);
  }
  const KEY = 65536;
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPairs = (wi: number, sign: 1 | -1) => {
    const s = wordSyms[wi]!, f = wordFreq[wi]! * sign;
    for (let i = 0; i + 1 < s.length; i++) {
      const key = s[i]! * KEY + s[i + 1]!;
      pairCount.set(key, (pairCount.get(key) ?? 0) + f);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, (set = new Set()));
        set.add(wi);
      }
    }
  };
  for (let wi = 0; wi < wordSyms.length; wi++) addPairs(wi, 1);
  const heap = new PairHeap();
  for (const [key, count] of pairCount) heap.push(count, key);

  const merges: [string, string][] = [];
  const target = vocabSize - specialTokens.length;
  while (symbolText.length < target && heap.size > 0) {
    const [count, key] = heap.pop();
    const current = pairCount.get(key) ?? 0;
    if (current !== count) {
      if (current > 0) heap.push(current, key); // stale entry: requeue with its current count
      continue;
    }
    if (count < minFrequency) break;
    const left = Math.floor(key / KEY), right = key % KEY;
    const merged = symbolText.length;
    symbolText.push(symbolText[left]! + symbolText[right]!);
    merges.push([symbolText[left]!, symbolText[right]!]);
    const touched = new Set<number>();
    for (const wi of pairWords.get(key) ?? []) {
      const s = wordSyms[wi]!;
      let has = false;
      for (let i = 0; i + 1 < s.length; i++) if (s[i] === left && s[i + 1] === right) has = true;
      if (!has) continue;
      addPairs(wi, -1);
      const out: number[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === left && s[i + 1] === right) {
          out.push(merged);
          i++;
        } else out.push(s[i]!);
      }
      wordSyms[wi] = out;
      addPairs(wi, 1);
      for (let i = 0; i + 1 < out.length; i++) touched.add(out[i]! * KEY + out[i + 1]!);
    }
    pairCount.delete(key);
    pairWords.delete(key);
    for (const k of touched) {
      const c = pairCount.get(k) ?? 0;
      if (c > 0) heap.push(c, k);
    }
  }
  const vocab = new Map<string, number>();
  specialTokens.forEach((t, i) => vocab.set(t, i));
  symbolText.forEach((t, i) => {
    if (vocab.has(t)) throw new TokenizerTrainError("special token collides with a learned token", t, "Use special tokens that are not plain text");
    vocab.set(t, specialTokens.length + i);
  });
  return { vocab, merges, specialTokens };
}

/** The Hugging Face tokenizer.json for a trained model. `bosToken`, when given, is added by the post-processor. */
export function toTokenizerJson(model: BpeModel, options: { bosToken?: string } = {}): object {
  const vocab: Record<string, number> = {};
  for (const [t, id] of model.vocab) vocab[t] = id;
  const bos = options.bosToken;
  if (bos !== undefined && !model.specialTokens.includes(bos)) {
    throw new TokenizerTrainError("BOS token is not a special token", bos, "Add it to specialTokens");
  }
  const postProcessor =
    bos === undefined
      ? { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true }
      : {
          type: "TemplateProcessing",
          single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
          pair: [
            { SpecialToken: { id: bos, type_id: 0 } },
            { Sequence: { id: "A", type_id: 0 } },
            { SpecialToken: { id: bos, type_id: 1 } },
            { Sequence: { id: "B", type_id: 1 } },
          ],
          special_tokens: { [bos]: { id: bos, ids: [model.vocab.get(bos)!], tokens: [bos] } },
        };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: model.specialTokens.map((content) => ({
      id: model.vocab.get(content)!,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: postProcessor,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: model.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}
