/**
 * Inference-time attribution (infini-gram style): a suffix array over the token ids of the training
 * records behind a model finds the longest spans of a response that occur verbatim in some contribution.
 * Responses carry them as citations, and each cited span is logged per contribution (usage for
 * epoch-based distribution). The array is built by prefix doubling (O(n log^2 n)); a lookup walks the
 * response left to right, narrowing the suffix range one token at a time (O(m log n) per matched token).
 * Layout: when every token id is below 65,535 (the vocabularies served here), the text is 16-bit with
 * 0xFFFF after each entry (no response token can match it, so no span crosses entries): 2 bytes a token
 * plus a 4-byte suffix position, ~6 bytes a token. Larger vocabularies keep 32-bit text with a unique
 * negative separator per entry (~8 bytes a token).
 */
const SEP16 = 0xffff;

export interface CitationSource {
  datanetId: string;
  contributionId: string;
  contributor: string;
}

export interface Span {
  /** Token offsets in the response, [start, end). */
  start: number;
  end: number;
  source: CitationSource;
}

export class CitationIndex {
  private readonly text: Int32Array | Uint16Array; // every entry's ids, each followed by a separator
  private readonly sa: Int32Array; // suffix start positions in lexicographic order
  private readonly starts: Int32Array; // first position of each entry
  private readonly sources: CitationSource[];

  private constructor(text: Int32Array | Uint16Array, sa: Int32Array, starts: Int32Array, sources: CitationSource[]) {
    this.text = text;
    this.sa = sa;
    this.starts = starts;
    this.sources = sources;
  }

  get size(): number {
    return this.text.length;
  }

  /** Bytes the index holds: text, suffix array and entry starts. */
  get bytes(): number {
    return this.text.byteLength + this.sa.byteLength + this.starts.byteLength;
  }

  static build(entries: ReadonlyArray<{ ids: readonly number[]; source: CitationSource }>): CitationIndex {
    const n = entries.reduce((s, e) => s + e.ids.length + 1, 0);
    let max = 0;
    for (const e of entries) {
      for (const id of e.ids) {
        if (!Number.isInteger(id) || id < 0) throw new RangeError(`token id ${id} is not a non-negative integer`);
        if (id > max) max = id;
      }
    }
    const compact = max < SEP16;
    const text = compact ? new Uint16Array(n) : new Int32Array(n);
    const starts = new Int32Array(entries.length);
    let at = 0;
    entries.forEach((e, k) => {
      starts[k] = at;
      for (const id of e.ids) text[at++] = id;
      // separator: no match crosses from one entry into the next
      text[at++] = compact ? SEP16 : -1 - k;
    });
    return new CitationIndex(text, suffixArray(text), starts, entries.map((e) => e.source));
  }

  /** The entry holding text position `p`. */
  private entryAt(p: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= p) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Length of the longest prefix of ids[i..] found in the text, and one suffix position holding it. */
  private longestAt(ids: readonly number[], i: number): { len: number; pos: number } {
    let lo = 0;
    let hi = this.sa.length; // the range [lo, hi) of suffixes matching ids[i, i + len)
    let len = 0;
    let pos = -1;
    const compact = this.text instanceof Uint16Array;
    while (i + len < ids.length) {
      const c = ids[i + len];
      if (compact && c >= SEP16) break; // not in the text (and never matches a separator)
      const at = (s: number) => (this.sa[s] + len < this.text.length ? this.text[this.sa[s] + len] : -Infinity);
      // first suffix in range whose token at offset len is >= c, then first one > c
      let a = lo;
      let b = hi;
      while (a < b) {
        const m = (a + b) >> 1;
        if (at(m) < c) a = m + 1;
        else b = m;
      }
      let d = a;
      let e = hi;
      while (d < e) {
        const m = (d + e) >> 1;
        if (at(m) <= c) d = m + 1;
        else e = m;
      }
      if (a >= d) break;
      lo = a;
      hi = d;
      len++;
      pos = this.sa[lo];
    }
    return { len, pos };
  }

  /** Maximal spans of at least `minTokens` tokens of `ids` that occur in a contribution, left to right. */
  find(ids: readonly number[], minTokens = 6): Span[] {
    const out: Span[] = [];
    let i = 0;
    while (i < ids.length) {
      const { len, pos } = this.longestAt(ids, i);
      if (len >= minTokens) {
        out.push({ start: i, end: i + len, source: this.sources[this.entryAt(pos)] });
        i += len;
      } else i++;
    }
    return out;
  }
}

/** Suffix array of `s` by prefix doubling: ranks of 2^k-prefixes, sorted by (rank, rank at +2^k). */
function suffixArray(s: Int32Array | Uint16Array): Int32Array {
  const n = s.length;
  const sa = Int32Array.from({ length: n }, (_, i) => i);
  if (n === 0) return sa;
  let rank = Int32Array.from(s);
  const tmp = new Int32Array(n);
  for (let k = 1; ; k <<= 1) {
    const second = (i: number) => (i + k < n ? rank[i + k] : -2147483648);
    sa.sort((a, b) => rank[a] - rank[b] || second(a) - second(b));
    tmp[sa[0]] = 0;
    for (let j = 1; j < n; j++) {
      const p = sa[j - 1];
      const q = sa[j];
      tmp[q] = tmp[p] + (rank[p] !== rank[q] || second(p) !== second(q) ? 1 : 0);
    }
    rank = Int32Array.from(tmp);
    if (rank[sa[n - 1]] === n - 1 || k >= n) break;
  }
  return sa;
}
