// Splits running text into pretraining records of at most `maxTokens` tokens each, on paragraph
// boundaries where possible, then sentences, then words. The engine truncates records longer than its
// sequence length, so records must fit before they reach it; packing then fills each row.

export type CountTokens = (text: string) => number;

const SENTENCE_END = /(?<=[.!?;:]["')\]]*)\s+(?=\S)/;

function splitToFit(text: string, maxTokens: number, count: CountTokens): string[] {
  if (count(text) <= maxTokens) return [text];
  const sentences = text.split(SENTENCE_END);
  const pieces = sentences.length > 1 ? sentences : text.split(/\s+/);
  if (pieces.length === 1) {
    // One unbreakable run (no spaces): cut by characters.
    const out: string[] = [];
    let start = 0;
    while (start < text.length) {
      let end = text.length;
      while (end - start > 1 && count(text.slice(start, end)) > maxTokens) end = start + Math.floor((end - start) / 2);
      out.push(text.slice(start, end));
      start = end;
    }
    return out;
  }
  return groupPieces(pieces, " ", maxTokens, count);
}

function groupPieces(pieces: readonly string[], joiner: string, maxTokens: number, count: CountTokens): string[] {
  const out: string[] = [];
  let current = "";
  for (const piece of pieces) {
    for (const part of splitToFit(piece, maxTokens, count)) {
      const joined = current ? current + joiner + part : part;
      if (current && count(joined) > maxTokens) {
        out.push(current);
        current = part;
      } else current = joined;
    }
  }
  if (current) out.push(current);
  return out;
}

/**
 * Chunks a document (paragraphs separated by blank lines) into texts of at most `maxTokens` tokens.
 * Paragraphs stay whole and keep their blank-line separators when they fit.
 */
export function chunkDocument(doc: string, maxTokens: number, count: CountTokens): string[] {
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new RangeError(`maxTokens must be a positive integer, got ${maxTokens}`);
  const paragraphs = doc.split(/\n\n+/).map((p) => p.trim()).filter((p) => p.length > 0);
  return groupPieces(paragraphs, "\n\n", maxTokens, count);
}
