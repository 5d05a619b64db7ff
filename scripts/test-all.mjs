// Runs every test suite of the repository in turn and prints one summary line at the end:
// "N passed, N failed, N skipped". Each step is an npm script; a step fails the run if it exits non-zero.
// Counts and the skipped tests are read from the runners' own output (scripts/test-counts.ts). Any skip
// (or todo) not covered by scripts/skip-allow.json fails the run; with CI=true that list is empty, since
// CI installs everything the tests need.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { allowList, describeSkip, judgeSkips, parseTestOutput } from "./test-counts.ts";

const root = new URL("..", import.meta.url);
const pkg = JSON.parse(readFileSync(new URL("package.json", root), "utf8"));

/**
 * Stages in dependency order; the steps of one stage run side by side. First the contracts are compiled
 * (the ABIs every package imports), then the contract tests, ESLint + solhint, tsc and the subgraph's tests
 * together (none of them touches what another writes), then each other workspace's tests one at a time (they
 * start chains, IPFS nodes and servers).
 */
const stages = [[["root", "compile"]], [["root", "test:contracts"], ["root", "lint"], ["root", "typecheck"]]];
/**
 * Workspaces whose tests join the lint/typecheck stage: tsc holds one core for minutes while the contract tests
 * and ESLint are done in a minute, and these tests take ports by asking the OS (port 0) and folders of their own.
 * The engine's (kernels, training on the demo model; no chain) fit in the idle core: the stage took 289 s with
 * them and 302 s without, where they had taken a stage of their own (114 s).
 */
const besideTypecheck = new Set(["subgraph", "engine"]);
for (const ws of pkg.workspaces ?? []) {
  const wsPkg = JSON.parse(readFileSync(new URL(`${ws}/package.json`, root), "utf8"));
  if (!wsPkg.scripts?.test) continue;
  if (besideTypecheck.has(ws)) stages[1].push([ws, "test"]);
  else stages.push([[ws, "test"]]);
}
const only = process.argv.slice(2);
const allow = allowList(JSON.parse(readFileSync(new URL("scripts/skip-allow.json", root), "utf8")), process.env);

let passed = 0;
let failed = 0;
let skippedTotal = 0;
const failedSteps = [];
const refusedSkips = [];

/** Runs one step; beside others, its lines carry the step's name so the log stays readable. */
async function run(where, script, prefixed) {
  const args = where === "root" ? ["run", script] : ["run", script, "--workspace", where];
  console.log(`\n=== ${where}: npm ${args.join(" ")} ===`);
  const started = Date.now();
  const tag = where === "root" ? script : where;
  const { code, out } = await new Promise((resolve) => {
    const child = spawn("npm", args, { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: process.env });
    let out = "";
    const take = (stream, sink) => {
      let partial = "";
      stream.on("data", (d) => {
        out += d;
        if (!prefixed) return void sink.write(d);
        const lines = (partial + d).split("\n");
        partial = lines.pop();
        for (const line of lines) sink.write(`[${tag}] ${line}\n`);
      });
      stream.on("end", () => partial && sink.write(`[${tag}] ${partial}\n`));
    };
    take(child.stdout, process.stdout);
    take(child.stderr, process.stderr);
    child.on("close", (c) => resolve({ code: c ?? 1, out }));
  });
  const { passed: p, failed: f, skipped } = parseTestOutput(out);
  const { allowed, refused } = judgeSkips(where, skipped, allow);
  passed += p;
  failed += f;
  skippedTotal += skipped.length;
  if (code !== 0) {
    failedSteps.push(where === "root" ? script : where);
    if (f === 0) failed += 1; // a crash with no counted failure still fails the run
  }
  for (const s of allowed) console.log(`    allowed by scripts/skip-allow.json: ${describeSkip(s)}`);
  for (const s of refused) refusedSkips.push(`${where}: ${describeSkip(s)}`);
  console.log(
    `=== ${where}: ${script} exit ${code}, ${p} passed, ${f} failed, ${skipped.length} skipped, ${((Date.now() - started) / 1000).toFixed(1)} s ===`,
  );
}

for (const stage of stages) {
  const chosen = stage.filter(([where, script]) => (!only.length || only.includes(where)) && (where !== "root" || pkg.scripts?.[script]));
  await Promise.all(chosen.map(([where, script]) => run(where, script, chosen.length > 1)));
  if (stage[0][1] === "compile" && failedSteps.length) break; // nothing else can run without the ABIs
}
console.log(`\nSuites failed: ${failedSteps.length ? failedSteps.join(", ") : "none"}`);
if (refusedSkips.length) {
  console.log(
    `Skips not on the allow-list (scripts/skip-allow.json${process.env.CI === "true" ? ", empty with CI=true" : ""}); each is a failure:`,
  );
  for (const line of refusedSkips) console.log(`  ${line}`);
}
console.log(`${passed} passed, ${failed} failed, ${skippedTotal} skipped`);
process.exit(failedSteps.length || refusedSkips.length ? 1 : 0);
