/**
 * A byte-level BPE tokenizer.json with no merges (one token per byte, GPT-2's byte-to-unicode map)
 * plus a few special tokens and a small chat template: enough to test everything that tokenizes.
 * Its post-processor puts BOS in front of a text (as `tokenizer(text)` of a Llama-style checkpoint);
 * `postProcessor` replaces it (`null`: none).
 */
export const SPECIALS = ["<|bos|>", "<|end|>", "<|user|>", "<|assistant|>", "<|system|>"];

export const CHAT_TEMPLATE =
  "{{ bos_token }}{% for m in messages %}<|{{ m.role }}|>{{ m.content }}<|end|>{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";

function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const out: string[] = new Array(256);
  bs.forEach((b, i) => (out[b] = String.fromCodePoint(cs[i])));
  return out;
}

/** TemplateProcessing adding `prefix` before and `suffix` after the text (tokens of the tiny tokenizer). */
export function templateProcessing(prefix: string[], suffix: string[] = []): Record<string, unknown> {
  const piece = (t: string) => ({ SpecialToken: { id: t, type_id: 0 } });
  const seq = (id: string, type_id: number) => ({ Sequence: { id, type_id } });
  const special_tokens = Object.fromEntries([...prefix, ...suffix].map((t) => [t, { id: t, ids: [256 + SPECIALS.indexOf(t)], tokens: [t] }]));
  return {
    type: "TemplateProcessing",
    single: [...prefix.map(piece), seq("A", 0), ...suffix.map(piece)],
    pair: [...prefix.map(piece), seq("A", 0), ...suffix.map(piece), ...prefix.map(piece), seq("B", 1), ...suffix.map(piece)],
    special_tokens,
  };
}

export function tinyTokenizerFiles({ postProcessor = templateProcessing(["<|bos|>"]) }: { postProcessor?: Record<string, unknown> | null } = {}): {
  tokenizerJson: Record<string, unknown>; tokenizerConfig: Record<string, unknown> } {
  const vocab: Record<string, number> = {};
  bytesToUnicode().forEach((ch, b) => (vocab[ch] = b));
  const added = SPECIALS.map((content, i) => ({ id: 256 + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  for (const a of added) vocab[a.content] = a.id;
  const tokenizerJson = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: postProcessor,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [] },
  };
  const tokenizerConfig = { bos_token: "<|bos|>", eos_token: "<|end|>", add_bos_token: true, chat_template: CHAT_TEMPLATE, model_max_length: 512 };
  return { tokenizerJson, tokenizerConfig };
}

export const TINY_VOCAB = 256 + SPECIALS.length;
