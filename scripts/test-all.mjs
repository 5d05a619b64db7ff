// Runs every test suite of the repository in turn and prints one summary line at the end.
// Each step is an npm script; a step fails the run if it exits non-zero. Test counts are read from the
// runners' own summaries (node:test "# pass N" / "# fail N", Hardhat/mocha "N passing" / "N failing").
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { stripVTControlCharacters } from "node:util";

const root = new URL("..", import.meta.url);
const pkg = JSON.parse(readFileSync(new URL("package.json", root), "utf8"));

/**
 * Steps in dependency order: contracts first (they compile and generate the ABIs the rest import), then
 * the static checks (ESLint + solhint, tsc over every package), then each workspace's tests.
 */
const steps = [["root", "test:contracts"], ["root", "lint"], ["root", "typecheck"]];
for (const ws of pkg.workspaces ?? []) {
  const wsPkg = JSON.parse(readFileSync(new URL(`${ws}/package.json`, root), "utf8"));
  if (wsPkg.scripts?.test) steps.push([ws, "test"]);
}
const only = process.argv.slice(2);

let passed = 0;
let failed = 0;
const failedSteps = [];
for (const [where, script] of steps) {
  if (only.length && !only.includes(where)) continue;
  if (where === "root" && !pkg.scripts?.[script]) continue;
  const args = where === "root" ? ["run", script] : ["run", script, "--workspace", where];
  console.log(`\n=== ${where}: npm ${args.join(" ")} ===`);
  const started = Date.now();
  const { code, out } = await new Promise((resolve) => {
    const child = spawn("npm", args, { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: process.env });
    let out = "";
    const take = (stream, sink) => stream.on("data", (d) => { out += d; sink.write(d); });
    take(child.stdout, process.stdout);
    take(child.stderr, process.stderr);
    child.on("close", (c) => resolve({ code: c ?? 1, out }));
  });
  const plain = stripVTControlCharacters(out);
  const count = (re) => [...plain.matchAll(re)].reduce((s, m) => s + Number(m[1]), 0);
  const p = count(/^(?:#|ℹ) pass (\d+)$/gm) + count(/^\s*(\d+) passing\b/gm);
  const f = count(/^(?:#|ℹ) fail (\d+)$/gm) + count(/^\s*(\d+) failing\b/gm);
  passed += p;
  failed += f;
  if (code !== 0) {
    failedSteps.push(where);
    if (f === 0) failed += 1; // a crash with no counted failure still fails the run
  }
  console.log(`=== ${where}: exit ${code}, ${p} passed, ${f} failed, ${((Date.now() - started) / 1000).toFixed(1)} s ===`);
}
console.log(`\nSuites failed: ${failedSteps.length ? failedSteps.join(", ") : "none"}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failedSteps.length ? 1 : 0);
