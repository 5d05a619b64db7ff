// Turning zod issues into one error that names each bad field and why.
import type { z } from "zod";

export interface FieldIssue {
  /** Dotted path to the field, e.g. `lora.targetModules[2]`; empty for the document itself. */
  path: string;
  message: string;
}

/** Formats a zod issue path as `a.b[2].c`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** Flattens zod issues (descending into union branches by the best match) into field issues. */
export function fieldIssues(issues: ReadonlyArray<z.core.$ZodIssue>, prefix: ReadonlyArray<PropertyKey> = []): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    out.push({ path: formatPath(path), message: issue.message });
  }
  return out;
}

/** A document or record failed validation. `issues` lists every bad field with the reason. */
export class SchemaValidationError extends Error {
  readonly schema: string;
  readonly issues: FieldIssue[];
  constructor(schema: string, issues: FieldIssue[]) {
    const first = issues.slice(0, 3).map((i) => `${i.path || "(document)"}: ${i.message}`).join("; ");
    const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : "";
    super(`Invalid ${schema}: ${first}${more}. Fix the named fields and try again.`);
    this.name = "SchemaValidationError";
    this.schema = schema;
    this.issues = issues;
  }
}

/** Parses `value` with `schema`, throwing SchemaValidationError (named after `label`) on failure. */
export function parseWith<S extends z.ZodType>(schema: S, label: string, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new SchemaValidationError(label, fieldIssues(result.error.issues));
  return result.data;
}
