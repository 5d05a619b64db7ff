// Reads a test runner's output (node:test spec or TAP reporter, Hardhat's solidity/node summary, mocha)
// into counts and the list of skipped tests, and judges the skips against the allow-list
// (scripts/skip-allow.json). Used by scripts/test-all.mjs; tested in scripts/stack/test/test-counts.test.ts.
import { stripVTControlCharacters } from "node:util";

/** A skipped (or todo) test; `name` is "" when only a summary counted it. */
export interface Skip {
  name: string;
  reason: string;
  kind: "skip" | "todo";
}
export interface Counts {
  passed: number;
  failed: number;
  skipped: Skip[];
}
/** An entry of scripts/skip-allow.json. */
export interface AllowEntry {
  suite: string;
  match: string;
  reason: string;
}

const sum = (text: string, re: RegExp) => [...text.matchAll(re)].reduce((s, m) => s + Number(m[1]), 0);

/**
 * Counts in one step's output. Skipped and todo tests are listed by name and reason where the reporter
 * prints them (node:test spec: "﹣ name (1ms) # reason", "✔ name (1ms) # todo reason"; TAP: "# SKIP" /
 * "# TODO"); where a summary counts more skips than were listed (another reporter, a skipped describe's
 * tests), the rest are listed without a name, so they can never match the allow-list.
 */
export function parseTestOutput(output: string): Counts {
  const text = stripVTControlCharacters(output);
  // node:test ("ℹ pass N" spec, "# pass N" TAP); cancelled tests are failures.
  let passed = sum(text, /^(?:#|ℹ) pass (\d+)$/gm);
  let failed = sum(text, /^(?:#|ℹ) (?:fail|cancelled) (\d+)$/gm);
  let summarySkips = sum(text, /^(?:#|ℹ) (?:skipped|todo) (\d+)$/gm);
  // Hardhat prints one total per label ("3 skipped (1 solidity, 2 nodejs)") after its runners' own lines.
  const hardhat = /^\s*\d+ (?:passing|failing|skipped|todo) \((?:\d+ \w+)(?:, \d+ \w+)*\)$/m.test(text);
  const tail = hardhat ? String.raw` \((?:\d+ \w+)(?:, \d+ \w+)*\)$` : String.raw`\b`;
  const mocha = (label: string) => sum(text, new RegExp(String.raw`^\s*(\d+) ${label}${tail}`, "gm"));
  passed += mocha("passing");
  failed += mocha("failing");
  summarySkips += mocha("(?:skipped|pending|todo)");

  const skipped: Skip[] = [];
  for (const line of text.split("\n")) {
    let m = /^\s*﹣ (.*) \([\d.]+m?s\)(?: # (.*))?$/.exec(line);
    if (m) {
      skipped.push({ name: m[1], reason: m[2] === "SKIP" ? "" : (m[2] ?? ""), kind: "skip" });
      continue;
    }
    m = /^\s*[✔✖] (.*) \([\d.]+m?s\) # (.*)$/.exec(line);
    if (m) {
      skipped.push({ name: m[1], reason: m[2], kind: "todo" });
      continue;
    }
    m = /^\s*(?:not )?ok \d+ - (.*?) # (SKIP|TODO)\b ?(.*)$/.exec(line);
    if (m) skipped.push({ name: m[1], reason: m[3], kind: m[2] === "SKIP" ? "skip" : "todo" });
  }
  for (let i = skipped.length; i < summarySkips; i++) skipped.push({ name: "", reason: "", kind: "skip" });
  return { passed, failed, skipped };
}

/**
 * Reads the allow-list file's entries (`json` is the parsed scripts/skip-allow.json); with CI=true (CI
 * installs everything the tests need) it is empty.
 */
export function allowList(json: unknown, env: Record<string, string | undefined>): AllowEntry[] {
  if (env.CI === "true") return [];
  const entries = (json as { allow?: unknown } | null)?.allow;
  if (!Array.isArray(entries)) throw new Error('skip-allow.json: expected { "allow": [ { suite, match, reason } ] }');
  for (const [i, e] of entries.entries()) {
    for (const key of ["suite", "match", "reason"]) {
      const v = (e as Record<string, unknown> | null)?.[key];
      if (typeof v !== "string" || v.trim() === "")
        throw new Error(`skip-allow.json: allow[${i}] needs a non-empty string "${key}"`);
    }
    try {
      new RegExp((e as AllowEntry).match);
    } catch (err) {
      throw new Error(`skip-allow.json: allow[${i}].match is not a regular expression: ${(err as Error).message}`);
    }
  }
  return entries as AllowEntry[];
}

/**
 * Splits a suite's skips into those the allow-list covers and those it does not. An entry covers a skip
 * when its suite is the same and its `match` (a regular expression) matches "name # reason".
 */
export function judgeSkips(suite: string, skipped: Skip[], allow: AllowEntry[]): { allowed: Skip[]; refused: Skip[] } {
  const allowed: Skip[] = [];
  const refused: Skip[] = [];
  for (const s of skipped) {
    const covered = s.name !== "" && allow.some((e) => e.suite === suite && new RegExp(e.match).test(`${s.name} # ${s.reason}`));
    (covered ? allowed : refused).push(s);
  }
  return { allowed, refused };
}

/** One skip as a line of the report. */
export function describeSkip(s: Skip): string {
  if (!s.name) return "(a skipped test the runner did not name)";
  return `${s.kind === "todo" ? "todo" : "skipped"}: ${s.name}${s.reason ? ` # ${s.reason}` : ""}`;
}
