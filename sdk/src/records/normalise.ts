// Turns uploaded .jsonl/.txt/.md/.csv files into validated training records. Pure functions over
// strings and bytes: they run the same in the browser (before encryption) and in Node.
// `#csv-parse` is csv-parse/sync in Node and its self-contained browser build under the "browser" condition.
import { parse as parseCsv } from "#csv-parse";
import { SchemaValidationError } from "../schemas/errors.ts";
import { kindOfRecord, parseRecord } from "../schemas/records.ts";
import type { RecordKind, TrainingRecord } from "../schemas/records.ts";
import { NormaliseError } from "./errors.ts";
import type { FileProblem } from "./errors.ts";

export type InputFormat = "jsonl" | "txt" | "md" | "csv";

export interface CsvColumns {
  prompt?: string;
  completion?: string;
  text?: string;
}

export interface NormaliseOptions {
  /** Override the format otherwise taken from the file extension. */
  format?: InputFormat;
  /** Text chunk size limit in characters for .txt/.md (default 2000). */
  maxChunkChars?: number;
  /** CSV header names to use for each record field (default: detected from the header). */
  csvColumns?: CsvColumns;
  /** Stop collecting problems after this many (default 100). */
  maxProblems?: number;
}

export interface NormalisedFile {
  fileName: string;
  format: InputFormat;
  records: TrainingRecord[];
  /** Record kinds present, in first-seen order. */
  kinds: RecordKind[];
  /** Size of the input in bytes (UTF-8). */
  inputBytes: number;
}

export const DEFAULT_MAX_CHUNK_CHARS = 2000;

const EXTENSIONS: Record<string, InputFormat> = {
  jsonl: "jsonl", ndjson: "jsonl", txt: "txt", text: "txt", md: "md", markdown: "md", csv: "csv",
};

/** The input format implied by a file name, or undefined if the extension is not supported. */
export function formatOf(fileName: string): InputFormat | undefined {
  const ext = /\.([^./\\]+)$/.exec(fileName)?.[1]?.toLowerCase();
  return ext === undefined ? undefined : EXTENSIONS[ext];
}

const utf8 = new TextEncoder();

/** Decodes UTF-8 bytes (dropping a BOM); invalid UTF-8 is a NormaliseError naming the file. */
export function decodeText(fileName: string, content: string | Uint8Array): string {
  if (typeof content === "string") return content.charCodeAt(0) === 0xfeff ? content.slice(1) : content;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(content);
  } catch {
    throw new NormaliseError(fileName, [{ reason: "is not valid UTF-8 text (save it as UTF-8)" }]);
  }
}

/** Normalises one uploaded file into records, choosing the parser by extension (or `opts.format`). */
export function normaliseFile(fileName: string, content: string | Uint8Array, opts: NormaliseOptions = {}): NormalisedFile {
  const format = opts.format ?? formatOf(fileName);
  if (format === undefined) {
    throw new NormaliseError(fileName, [{ reason: "has an unsupported extension (use .jsonl, .txt, .md or .csv)" }]);
  }
  const text = decodeText(fileName, content);
  const inputBytes = typeof content === "string" ? utf8.encode(content).length : content.length;
  let records: TrainingRecord[];
  if (format === "jsonl") records = normaliseJsonl(fileName, text, opts);
  else if (format === "csv") records = normaliseCsv(fileName, text, opts);
  else records = chunkText(text, { maxChunkChars: opts.maxChunkChars, markdown: format === "md" }).map((t) => ({ text: t }));
  if (records.length === 0) throw new NormaliseError(fileName, [{ reason: "contains no records" }]);
  const kinds: RecordKind[] = [];
  for (const r of records) {
    const k = kindOfRecord(r);
    if (!kinds.includes(k)) kinds.push(k);
  }
  return { fileName, format, records, kinds, inputBytes };
}

function recordProblems(err: unknown, line: number): FileProblem[] {
  if (err instanceof SchemaValidationError) {
    return err.issues.map((i) => ({ line, field: i.path || undefined, reason: i.message }));
  }
  throw err;
}

/** Parses JSON Lines: one record per non-blank line. */
export function normaliseJsonl(fileName: string, text: string, opts: NormaliseOptions = {}): TrainingRecord[] {
  const max = opts.maxProblems ?? 100;
  const problems: FileProblem[] = [];
  const records: TrainingRecord[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length && problems.length < max; i++) {
    const raw = lines[i].endsWith("\r") ? lines[i].slice(0, -1) : lines[i];
    if (raw.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      problems.push({ line: i + 1, reason: `is not valid JSON (${(e as Error).message})` });
      continue;
    }
    try {
      records.push(parseRecord(value));
    } catch (e) {
      problems.push(...recordProblems(e, i + 1));
    }
  }
  if (problems.length > 0) throw new NormaliseError(fileName, problems.slice(0, max));
  return records;
}

const PROMPT_ALIASES = ["prompt", "instruction", "question", "input", "query"];
const COMPLETION_ALIASES = ["completion", "response", "answer", "output"];
const TEXT_ALIASES = ["text", "content", "body"];

function pick(header: string[], wanted: string | undefined, aliases: string[]): string | undefined {
  if (wanted !== undefined) return header.find((h) => h === wanted) ?? header.find((h) => h.trim().toLowerCase() === wanted.toLowerCase());
  for (const a of aliases) {
    const found = header.find((h) => h.trim().toLowerCase() === a);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Parses CSV with a header row. Columns map to prompt/completion (preferred) or text, either named in
 * `opts.csvColumns` or detected from common header names (prompt|instruction|question, completion|
 * response|answer|output, text|content|body).
 */
export function normaliseCsv(fileName: string, text: string, opts: NormaliseOptions = {}): TrainingRecord[] {
  const max = opts.maxProblems ?? 100;
  let rows: Array<{ record: string[]; info: { lines: number } }>;
  try {
    rows = parseCsv(text, { info: true, skip_empty_lines: true, relax_quotes: false }) as unknown as Array<{ record: string[]; info: { lines: number } }>;
  } catch (e) {
    const err = e as Error & { lines?: number };
    throw new NormaliseError(fileName, [{ line: err.lines, reason: `is not valid CSV (${err.message.replace(/^Invalid [^:]*: /, "")})` }]);
  }
  if (rows.length === 0) throw new NormaliseError(fileName, [{ reason: "is empty (expected a header row)" }]);
  const header = rows[0].record;
  const cols = opts.csvColumns ?? {};
  const textOnly = cols.text !== undefined && cols.prompt === undefined && cols.completion === undefined;
  const promptCol = textOnly ? undefined : pick(header, cols.prompt, PROMPT_ALIASES);
  const completionCol = textOnly ? undefined : pick(header, cols.completion, COMPLETION_ALIASES);
  const pairAsked = cols.prompt !== undefined || cols.completion !== undefined;
  const textCol = pairAsked ? undefined : pick(header, cols.text, TEXT_ALIASES);
  const usePair = promptCol !== undefined && completionCol !== undefined;
  if (!usePair && textCol === undefined) {
    const wanted = Object.entries(cols).map(([k, v]) => `${k}="${v}"`).join(", ");
    throw new NormaliseError(fileName, [{
      line: rows[0].info.lines, field: "header",
      reason: `needs prompt and completion columns or a text column${wanted ? ` (asked for ${wanted})` : ""}; found [${header.join(", ")}]`,
    }]);
  }
  const index = (name: string) => header.indexOf(name);
  const problems: FileProblem[] = [];
  const records: TrainingRecord[] = [];
  for (const { record, info } of rows.slice(1)) {
    if (problems.length >= max) break;
    const value = usePair
      ? { prompt: record[index(promptCol!)] ?? "", completion: record[index(completionCol!)] ?? "" }
      : { text: record[index(textCol!)] ?? "" };
    try {
      records.push(parseRecord(value));
    } catch (e) {
      for (const p of recordProblems(e, info.lines)) {
        const column = p.field === "prompt" ? promptCol : p.field === "completion" ? completionCol : p.field === "text" ? textCol : p.field;
        problems.push({ ...p, field: column === undefined ? undefined : `column "${column}"` });
      }
    }
  }
  if (problems.length > 0) throw new NormaliseError(fileName, problems.slice(0, max));
  return records;
}

/** Splits text into paragraphs at blank lines; a fenced Markdown code block stays one paragraph. */
export function paragraphs(text: string, markdown = false): string[] {
  const out: string[] = [];
  let current: string[] = [];
  let fence: string | undefined;
  const flush = () => {
    const p = current.join("\n").trim();
    if (p !== "") out.push(p);
    current = [];
  };
  for (const rawLine of text.split("\n")) {
    const line = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine;
    if (markdown) {
      const m = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
      if (m && (fence === undefined || m[1].startsWith(fence))) fence = fence === undefined ? m[1] : undefined;
    }
    if (fence === undefined && line.trim() === "") flush();
    else current.push(line);
  }
  flush();
  return out;
}

/** Breaks a paragraph longer than `max` at sentence ends, then at spaces, then anywhere. */
function splitLong(p: string, max: number): string[] {
  const pieces: string[] = [];
  let rest = p;
  while (rest.length > max) {
    const window = rest.slice(0, max + 1);
    let cut = -1;
    const sentence = /[.!?。]["')\]]?\s+/g;
    for (let m = sentence.exec(window); m !== null; m = sentence.exec(window)) {
      if (m.index + m[0].length <= max) cut = m.index + m[0].length;
    }
    if (cut <= 0) cut = window.lastIndexOf(" ") > 0 ? window.lastIndexOf(" ") + 1 : max;
    pieces.push(rest.slice(0, cut).trim());
    rest = rest.slice(cut);
  }
  if (rest.trim() !== "") pieces.push(rest.trim());
  return pieces.filter((s) => s !== "");
}

/**
 * Chunks text into pieces of at most `maxChunkChars` characters on paragraph boundaries: whole
 * paragraphs are packed together (joined by a blank line) while they fit; a paragraph larger than the
 * limit is split at sentence ends or spaces.
 */
export function chunkText(text: string, opts: { maxChunkChars?: number; markdown?: boolean } = {}): string[] {
  const max = opts.maxChunkChars ?? DEFAULT_MAX_CHUNK_CHARS;
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxChunkChars must be a positive integer, got ${max}`);
  const chunks: string[] = [];
  let current = "";
  for (const para of paragraphs(text, opts.markdown)) {
    for (const piece of para.length > max ? splitLong(para, max) : [para]) {
      if (current === "") current = piece;
      else if (current.length + 2 + piece.length <= max) current += "\n\n" + piece;
      else {
        chunks.push(current);
        current = piece;
      }
    }
  }
  if (current !== "") chunks.push(current);
  return chunks;
}

/** Serialises records as JSON Lines (one record per line, trailing newline): the contribution content. */
export function recordsToJsonl(records: readonly TrainingRecord[]): string {
  let out = "";
  for (const r of records) out += JSON.stringify(r) + "\n";
  return out;
}
