/**
 * A tokenizer's vocabulary, precomputed once per tokenizer: each token's bytes and display string (for
 * logprobs) and the encoded token strings XGrammar compiles grammars against. Read from the model's
 * `tokenizer.json` (BPE, WordPiece or Unigram models; added special tokens are never part of an answer).
 */
import type { Vocabulary } from "./xgrammar.ts";

/** GPT-2's byte-level alphabet: the printable character that stands for each byte. */
function byteLevelDecoder(): Map<string, number> {
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
  return new Map(bs.map((b, i) => [String.fromCodePoint(cs[i]), b]));
}

export interface TokenTable {
  vocab: Vocabulary;
  /** The bytes each token stands for (empty for special tokens). */
  bytes: Uint8Array[];
  /** Display strings (UTF-8 decoded bytes; a partial character shows as U+FFFD). */
  text: string[];
}

function kind(decoder: any): Vocabulary["type"] {
  if (!decoder) return "RAW";
  if (decoder.type === "ByteLevel") return "BYTE_LEVEL";
  if (decoder.type === "ByteFallback") return "BYTE_FALLBACK";
  if (decoder.type === "Sequence" && Array.isArray(decoder.decoders)) {
    const inner = decoder.decoders.map(kind);
    if (inner.includes("BYTE_LEVEL")) return "BYTE_LEVEL";
    if (inner.includes("BYTE_FALLBACK")) return "BYTE_FALLBACK";
  }
  return "RAW";
}

/** The table of `tokenizer.json` for logit rows of `vocabSize`, with `stopIds` ending a sequence. */
export function tokenTable(tokenizerJson: any, vocabSize: number, stopIds: number[]): TokenTable {
  const tokens: string[] = new Array(vocabSize).fill("");
  const model = tokenizerJson.model ?? {};
  if (Array.isArray(model.vocab)) model.vocab.forEach((e: [string, number], id: number) => id < vocabSize && (tokens[id] = e[0]));
  else for (const [t, id] of Object.entries(model.vocab ?? {})) if ((id as number) < vocabSize) tokens[id as number] = t;
  const special = new Set<number>();
  for (const a of tokenizerJson.added_tokens ?? []) {
    if (a.id >= vocabSize) continue;
    if (a.special) {
      tokens[a.id] = "";
      special.add(a.id);
    } else tokens[a.id] = a.content;
  }
  const type = kind(tokenizerJson.decoder);
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const byteOf = type === "BYTE_LEVEL" ? byteLevelDecoder() : null;
  const bytes = tokens.map((t, id) => {
    if (special.has(id) || !t) return new Uint8Array(0);
    if (byteOf) return Uint8Array.from([...t].map((c) => byteOf.get(c) ?? 63));
    const hex = /^<0x([0-9A-Fa-f]{2})>$/.exec(t);
    if (type === "BYTE_FALLBACK" && hex) return Uint8Array.of(parseInt(hex[1], 16));
    return enc.encode(t.replaceAll("\u2581", " "));
  });
  return { vocab: { tokens, type, vocabSize, stopIds }, bytes, text: bytes.map((b) => dec.decode(b)) };
}
