/**
 * Exact and near-duplicate detection of contributions (issue 12), where the plaintext is: the trainer
 * before training and attribution, the custodian/curators at review time. A duplicate shares the credit
 * of the contribution it copies, and the earlier registration keeps it.
 *
 * - Text: every record's strings (chat contents, prompt/completion, text), NFKC, lower-cased, punctuation
 *   stripped, whitespace collapsed.
 * - Exact: SHA-256 of the normalised text of the whole contribution.
 * - Near: MinHash signatures (k = 128 over character 5-grams: records are short, so word shingles would
 *   move too much on one changed word) banded for LSH (32 bands x 4 rows: a pair at Jaccard 0.5 is a
 *   candidate with p ~ 0.87, at 0.6 with p ~ 0.99); each candidate pair is verified by the exact
 *   Jaccard of the shingle sets: >= `threshold` (default 0.8) is a duplicate, [`reviewThreshold`,
 *   `threshold`) (default 0.7) is flagged for a curator to judge. Pairwise against the earlier
 *   contribution, no transitive chains: a duplicate points at the earliest contribution it matches.
 * Paraphrases (the same facts in other words) evade this by design; they are a review matter.
 */
import { createHash } from "node:crypto";

export interface DedupItem {
  /** The contribution's id (its registration order decides who keeps the credit: earlier first). */
  id: string;
  /** The contribution's records, in any of the training record shapes, or plain strings. */
  records: ReadonlyArray<unknown>;
}

export interface DuplicateMatch {
  /** The later contribution. */
  id: string;
  /** The earlier contribution it copies (which keeps the credit). */
  of: string;
  kind: "exact" | "near";
  /** Jaccard similarity of the character 5-gram sets (1 for exact). */
  similarity: number;
}

export interface DedupResult {
  /** Contributions that share the credit of an earlier one (they earn nothing of their own). */
  duplicates: DuplicateMatch[];
  /** Pairs similar enough to show a curator but below the duplicate threshold. */
  review: DuplicateMatch[];
}

export interface DedupOptions {
  threshold?: number;
  reviewThreshold?: number;
  numHashes?: number;
  bands?: number;
  shingle?: number;
}

/** Strings of one record in reading order. */
function recordText(r: unknown): string[] {
  if (typeof r === "string") return [r];
  if (r && typeof r === "object") {
    const o = r as Record<string, unknown>;
    if (Array.isArray(o.messages)) return o.messages.map((m) => (m && typeof m === "object" ? String((m as Record<string, unknown>).content ?? "") : ""));
    if (typeof o.prompt === "string" || typeof o.completion === "string") return [String(o.prompt ?? ""), String(o.completion ?? "")];
    if (typeof o.text === "string") return [o.text];
    return [JSON.stringify(o)];
  }
  return [String(r)];
}

/** NFKC, lower case, punctuation and symbols dropped, whitespace collapsed. */
export function normalizeText(s: string): string {
  return s
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[\p{P}\p{S}]+/gu, " ")
    .replace(/\s+/gu, " ")
    .trim();
}

export function contributionText(records: ReadonlyArray<unknown>): string {
  return records.map((r) => recordText(r).map(normalizeText).join(" \u0001 ")).join(" \u0002 ");
}

function shingles(text: string, k: number): Set<string> {
  const out = new Set<string>();
  if (text.length <= k) {
    if (text) out.add(text);
    return out;
  }
  for (let i = 0; i + k <= text.length; i++) out.add(text.slice(i, i + k));
  return out;
}

// 32-bit FNV-1a of a string, then one multiply-xorshift per hash function (seeded, deterministic)
function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
function mix(x: number, seed: number): number {
  let h = Math.imul(x ^ seed, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function minhash(sh: Set<string>, numHashes = 128): Uint32Array {
  const sig = new Uint32Array(numHashes).fill(0xffffffff);
  const seeds = Array.from({ length: numHashes }, (_, i) => mix(i + 1, 0x9e3779b9));
  for (const s of sh) {
    const base = fnv(s);
    for (let i = 0; i < numHashes; i++) {
      const h = mix(base, seeds[i]);
      if (h < sig[i]) sig[i] = h;
    }
  }
  return sig;
}

export function jaccard(a: Set<string>, b: Set<string>): number {
  if (!a.size && !b.size) return 1;
  let inter = 0;
  const [s, l] = a.size <= b.size ? [a, b] : [b, a];
  for (const x of s) if (l.has(x)) inter++;
  return inter / (a.size + b.size - inter);
}

/**
 * Duplicates among contributions given in registration order (earliest first). Each later contribution
 * is matched against the earlier ones only; the first (earliest) verified match wins.
 */
export function duplicateGroups(items: ReadonlyArray<DedupItem>, o: DedupOptions = {}): DedupResult {
  const threshold = o.threshold ?? 0.8;
  const reviewThreshold = o.reviewThreshold ?? 0.7;
  const k = o.numHashes ?? 128;
  const bands = o.bands ?? 32;
  const rows = Math.floor(k / bands);
  const n = o.shingle ?? 5;
  if (!(threshold > 0 && threshold <= 1) || !(reviewThreshold > 0 && reviewThreshold <= threshold)) {
    throw new RangeError(`dedup thresholds must satisfy 0 < reviewThreshold (${reviewThreshold}) <= threshold (${threshold}) <= 1`);
  }
  const seen = new Set<string>();
  const exact = new Map<string, string>(); // sha256 -> earliest id
  const buckets = new Map<string, number[]>(); // band key -> indices of earlier items
  const sets: Set<string>[] = [];
  const duplicates: DuplicateMatch[] = [];
  const review: DuplicateMatch[] = [];
  items.forEach((item, idx) => {
    if (seen.has(item.id)) throw new RangeError(`contribution id ${item.id} appears twice in the dedup input`);
    seen.add(item.id);
    const text = contributionText(item.records);
    const sh = shingles(text, n);
    sets.push(sh);
    const digest = createHash("sha256").update(text).digest("hex");
    const sig = minhash(sh, k);
    const keys = Array.from({ length: bands }, (_, b) => `${b}:${Array.from(sig.subarray(b * rows, (b + 1) * rows)).join(",")}`);
    const first = exact.get(digest);
    if (first !== undefined) {
      duplicates.push({ id: item.id, of: first, kind: "exact", similarity: 1 });
    } else {
      exact.set(digest, item.id);
      const candidates = new Set<number>();
      for (const key of keys) for (const j of buckets.get(key) ?? []) candidates.add(j);
      let best: DuplicateMatch | null = null;
      let flagged: DuplicateMatch | null = null;
      for (const j of [...candidates].sort((a, b) => a - b)) {
        const sim = jaccard(sh, sets[j]);
        if (sim >= threshold && !best) best = { id: item.id, of: items[j].id, kind: "near", similarity: Number(sim.toFixed(4)) };
        else if (sim >= reviewThreshold && !flagged) flagged = { id: item.id, of: items[j].id, kind: "near", similarity: Number(sim.toFixed(4)) };
      }
      if (best) duplicates.push(best);
      else if (flagged) review.push(flagged);
    }
    for (const key of keys) {
      const list = buckets.get(key);
      if (list) list.push(idx);
      else buckets.set(key, [idx]);
    }
  });
  // a duplicate of a duplicate points at the original that keeps the credit
  const root = new Map(duplicates.map((d) => [d.id, d.of]));
  for (const d of duplicates) {
    let of = d.of;
    while (root.has(of)) of = root.get(of)!;
    d.of = of;
  }
  return { duplicates, review };
}
