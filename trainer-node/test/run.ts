// Runs the trainer node's test files two at a time, the slowest first. `node --test` sorts its files by name,
// which left the two longest (visible-finetune, verify) for last, one core idle while they ran alone; starting
// them first lets the short files fill the other slot. Usage: node test/run.ts [files...] (default: every
// test/*.test.ts). Output is the spec reporter's; the exit code is 1 when a test failed.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { run } from "node:test";
import { spec } from "node:test/reporters";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The longest files, longest first (about 150 to 35 s each in CI); any other file runs after them, by name. */
const SLOWEST = [
  "visible-finetune",
  "torch-eval-dispute",
  "torch-backend",
  "torch-distributed",
  "verify",
  "torch-attribution",
  "pipeline",
  "torch-serve",
  "torch-evaluate",
];

const dir = fileURLToPath(new URL(".", import.meta.url));
const given = process.argv.slice(2);
const names = given.length ? given : readdirSync(dir).filter((f) => f.endsWith(".test.ts")).sort().map((f) => join(dir, f));
const rank = (f: string) => {
  const i = SLOWEST.indexOf(f.replace(/^.*\//, "").replace(/\.test\.ts$/, ""));
  return i === -1 ? SLOWEST.length : i;
};
const files = [...names].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
// the torch files' tiny models, built once for the run by the first file that needs them (helpers/tiny-models.ts)
const fixtureCache = mkdtempSync(join(tmpdir(), "torch-fixture-cache-"));
process.env.TRIBUTARY_TORCH_FIXTURE_CACHE = fixtureCache;
const stream = run({ files, concurrency: 2 });
stream.on("test:fail", () => {
  process.exitCode = 1;
});
process.on("exit", () => rmSync(fixtureCache, { recursive: true, force: true }));
stream.compose(spec).pipe(process.stdout);
