// Turns the Project Gutenberg line layout of a novel (hard-wrapped lines, blank lines between
// paragraphs, `_emphasis_`, headings) into clean paragraphs grouped by chapter.

export type Chapter = { book: string; index: number; paragraphs: string[] };

const HEADING = /^(chapter|volume|vol\.)\s+([ivxlc]+|\d+|[a-z-]+)\.?$/i;
const END_MARK = /^(the end|finis)\.?$/i;

/** Joins hard-wrapped lines into paragraphs, with inline whitespace collapsed. */
export function paragraphsOf(lines: readonly (string | null)[]): string[] {
  const out: string[] = [];
  let current: string[] = [];
  const flush = () => {
    if (current.length) out.push(current.join(" ").replace(/\s+/g, " ").trim());
    current = [];
  };
  for (const line of lines) {
    if (line === null || line.trim() === "") flush();
    else current.push(line.trim());
  }
  flush();
  return out.filter((p) => p.length > 0);
}

/** Removes Gutenberg's `_italic_` markers and normalises typographic quotes and dashes to ASCII. */
export function cleanParagraph(p: string): string {
  return p
    .replace(/_/g, "")
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/\u2014/g, "--")
    .replace(/\s+/g, " ")
    .trim();
}

/**
 * Splits a book's lines into chapters. Text before the first chapter heading (title page, author,
 * prefaces) is dropped, as are the headings themselves and closing marks such as "THE END".
 */
export function chaptersOf(book: string, lines: readonly (string | null)[]): Chapter[] {
  const chapters: Chapter[] = [];
  let current: Chapter | null = null;
  for (const raw of paragraphsOf(lines)) {
    if (HEADING.test(raw)) {
      if (/^chapter/i.test(raw)) {
        current = { book, index: chapters.length, paragraphs: [] };
        chapters.push(current);
      }
      continue;
    }
    if (current === null || END_MARK.test(raw)) continue;
    const p = cleanParagraph(raw);
    if (p.length > 0) current.paragraphs.push(p);
  }
  return chapters.filter((c) => c.paragraphs.length > 0);
}

/**
 * Deterministic held-out split by whole chapters: chapter number `k` (counted across all books in
 * the given order) goes to eval when `k % every === offset`. Whole chapters keep the eval text
 * unseen, not just the neighbouring paragraph of a training one.
 */
export function splitChapters(chapters: readonly Chapter[], every = 25, offset = 12): { train: Chapter[]; eval: Chapter[] } {
  const train: Chapter[] = [];
  const evalSet: Chapter[] = [];
  chapters.forEach((c, k) => (k % every === offset ? evalSet : train).push(c));
  return { train, eval: evalSet };
}
