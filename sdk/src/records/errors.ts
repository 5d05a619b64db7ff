// Errors raised while turning an uploaded file into training records.

/** One problem in an input file, located by line (1-based) and field where known. */
export interface FileProblem {
  line?: number;
  field?: string;
  reason: string;
}

function locate(file: string, p: FileProblem): string {
  return `${file}${p.line !== undefined ? `:${p.line}` : ""}${p.field ? ` ${p.field}` : ""}: ${p.reason}`;
}

/**
 * A file could not be normalised. `problems` lists every bad line found (up to a cap); the message
 * names the file, line and field of the first ones.
 */
export class NormaliseError extends Error {
  readonly file: string;
  readonly problems: FileProblem[];
  constructor(file: string, problems: FileProblem[]) {
    const shown = problems.slice(0, 3).map((p) => locate(file, p)).join("; ");
    const more = problems.length > 3 ? ` (and ${problems.length - 3} more problems)` : "";
    super(`Cannot read ${file}: ${shown}${more}. Fix these lines and upload the file again.`);
    this.name = "NormaliseError";
    this.file = file;
    this.problems = problems;
  }
  /** Line of the first problem, if it has one. */
  get line(): number | undefined { return this.problems[0]?.line; }
  /** Field of the first problem, if it has one. */
  get field(): string | undefined { return this.problems[0]?.field; }
}
