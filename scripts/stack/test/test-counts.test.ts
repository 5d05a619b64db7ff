// scripts/test-all.mjs's reading of test output (scripts/test-counts.ts): counts and skipped tests from a
// real node:test run (spec and TAP reporters) and from Hardhat's summary, and the allow-list's verdicts.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { allowList, judgeSkips, parseTestOutput, type AllowEntry } from "../../test-counts.ts";

const repoRoot = path.resolve(import.meta.dirname, "..", "..", "..");

const FIXTURE = `
import { describe, it, test } from "node:test";
import assert from "node:assert/strict";
test("adds", () => assert.equal(1 + 1, 2));
test("breaks", () => assert.equal(1 + 1, 3));
test("needs python", { skip: "no python at /x/.venv/bin/python" }, () => {});
test("bare skip", { skip: true }, () => {});
test("skips at run time", (t) => t.skip("corpus unavailable: no apt-get"));
test("not done yet", { todo: "write it" }, () => {});
describe("a skipped group", { skip: "group not ready" }, () => {
  it("inner one", () => {});
  it("inner two", () => {});
});
describe("a group", () => {
  it("nested skip", { skip: "nested reason" }, () => {});
  it("nested pass", () => {});
});
`;

describe("test-all's counting", () => {
  let dir: string;
  let spec: string;
  let tap: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "test-counts-"));
    const file = path.join(dir, "fixture.test.mjs");
    fs.writeFileSync(file, FIXTURE);
    const run = (reporter: string) => {
      const r = spawnSync(process.execPath, ["--test", `--test-reporter=${reporter}`, file], {
        encoding: "utf8",
        env: { ...process.env, NODE_TEST_CONTEXT: undefined, FORCE_COLOR: "1" },
      });
      assert.equal(r.status, 1, "the fixture has a failing test");
      return r.stdout + r.stderr;
    };
    spec = run("spec");
    tap = run("tap");
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const reporter of ["spec", "tap"] as const) {
    it(`reads passes, failures, and every skip with its reason from node:test's ${reporter} reporter`, () => {
      const c = parseTestOutput(reporter === "spec" ? spec : tap);
      assert.equal(c.passed, 2, "adds, nested pass");
      assert.equal(c.failed, 1);
      const byName = Object.fromEntries(c.skipped.map((s) => [s.name, s]));
      assert.deepEqual(byName["needs python"], { name: "needs python", reason: "no python at /x/.venv/bin/python", kind: "skip" });
      assert.equal(byName["bare skip"]?.reason, "");
      assert.equal(byName["skips at run time"]?.reason, "corpus unavailable: no apt-get");
      assert.deepEqual(byName["not done yet"], { name: "not done yet", reason: "write it", kind: "todo" });
      assert.equal(byName["nested skip"]?.reason, "nested reason");
      // a skipped describe is not in node:test's "skipped" count at all; it must still be seen
      assert.equal(byName["a skipped group"]?.reason, "group not ready");
      assert.equal(c.skipped.length, 6, c.skipped.map((s) => s.name).join(", "));
    });
  }

  it("reads Hardhat's totals once, not its runners' own lines as well", () => {
    const out = [
      "  12 passing (340ms)",
      "  1 skipped",
      "",
      "40 passing (28 solidity, 12 nodejs)",
      "2 failing (2 solidity)",
      "3 skipped (2 solidity, 1 nodejs)",
    ].join("\n");
    const c = parseTestOutput(out);
    assert.equal(c.passed, 40);
    assert.equal(c.failed, 2);
    assert.equal(c.skipped.length, 3, "counted, unnamed");
    assert.ok(c.skipped.every((s) => s.name === ""));
  });

  it("reads mocha's pending tests as skips", () => {
    const c = parseTestOutput("  5 passing (10ms)\n  2 pending\n  1 failing\n");
    assert.deepEqual([c.passed, c.failed, c.skipped.length], [5, 1, 2]);
  });
});

describe("the skip allow-list", () => {
  const allow: AllowEntry[] = [
    { suite: "engine", match: "# corpus unavailable: ", reason: "needs apt" },
    { suite: "engine", match: "^needs python # no python at ", reason: "needs pip" },
  ];

  it("allows only the skips an entry of the same suite matches", () => {
    const { allowed, refused } = judgeSkips(
      "engine",
      [
        { name: "skips at run time", reason: "corpus unavailable: no apt-get", kind: "skip" },
        { name: "needs python", reason: "no python at /x", kind: "skip" },
        { name: "other test", reason: "no python at /x", kind: "skip" },
        { name: "bare skip", reason: "", kind: "skip" },
        { name: "", reason: "", kind: "skip" },
      ],
      allow,
    );
    assert.deepEqual(allowed.map((s) => s.name), ["skips at run time", "needs python"]);
    assert.deepEqual(refused.map((s) => s.name), ["other test", "bare skip", ""]);
    const other = judgeSkips("sdk", [{ name: "x", reason: "corpus unavailable: y", kind: "skip" }], allow);
    assert.equal(other.refused.length, 1, "an entry covers its own suite only");
  });

  it("is empty with CI=true, and refuses malformed entries by name", () => {
    const json = { allow };
    assert.equal(allowList(json, {}).length, 2);
    assert.deepEqual(allowList(json, { CI: "true" }), []);
    assert.throws(() => allowList({ allow: [{ suite: "engine", match: "x" }] }, {}), /allow\[0\] needs a non-empty string "reason"/);
    assert.throws(() => allowList({ allow: [{ suite: "engine", match: "(", reason: "r" }] }, {}), /allow\[0\]\.match is not a regular expression/);
    assert.throws(() => allowList({}, {}), /expected \{ "allow"/);
  });

  it("the repository's allow-list is well formed and every entry gives a reason", () => {
    const entries = allowList(JSON.parse(fs.readFileSync(path.join(repoRoot, "scripts", "skip-allow.json"), "utf8")), {});
    assert.ok(entries.length > 0);
    for (const e of entries) assert.ok(e.reason.length > 20, `${e.suite} ${e.match}: a real reason`);
  });
});

describe("test-all.mjs", () => {
  it("prints skips in its closing line and fails on a skip not on the allow-list", () => {
    // the real test-all.mjs, copied into a one-workspace repository whose test skips
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "test-all-"));
    try {
      fs.mkdirSync(path.join(dir, "scripts"));
      fs.mkdirSync(path.join(dir, "ws"));
      for (const f of ["test-all.mjs", "test-counts.ts"])
        fs.copyFileSync(path.join(repoRoot, "scripts", f), path.join(dir, "scripts", f));
      fs.writeFileSync(
        path.join(dir, "scripts", "skip-allow.json"),
        JSON.stringify({ allow: [{ suite: "ws", match: "^allowed one # ", reason: "a reason long enough to read" }] }),
      );
      fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "t", private: true, type: "module", workspaces: ["ws"] }));
      fs.writeFileSync(
        path.join(dir, "ws", "package.json"),
        JSON.stringify({ name: "ws", type: "module", scripts: { test: "node --test --test-reporter=spec a.test.mjs" } }),
      );
      const write = (body: string) => fs.writeFileSync(path.join(dir, "ws", "a.test.mjs"), `import { test } from "node:test";\n${body}`);
      const run = (env: Record<string, string | undefined> = {}) =>
        spawnSync(process.execPath, [path.join(dir, "scripts", "test-all.mjs")], {
          cwd: dir,
          encoding: "utf8",
          env: { ...process.env, NODE_TEST_CONTEXT: undefined, CI: undefined, ...env },
        });

      write(`test("ok", () => {});\ntest("allowed one", { skip: "machine lacks it" }, () => {});\n`);
      let r = run();
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /^1 passed, 0 failed, 1 skipped$/m);
      assert.match(r.stdout, /allowed by scripts\/skip-allow\.json: skipped: allowed one # machine lacks it/);

      r = run({ CI: "true" });
      assert.equal(r.status, 1, "with CI=true nothing may skip");
      assert.match(r.stdout, /Skips not on the allow-list \(scripts\/skip-allow\.json, empty with CI=true\)/);
      assert.match(r.stdout, /ws: skipped: allowed one # machine lacks it/);

      write(`test("ok", () => {});\ntest("sneaky", { skip: "piece not merged" }, () => {});\n`);
      r = run();
      assert.equal(r.status, 1, "a skip not on the list fails the run");
      assert.match(r.stdout, /ws: skipped: sneaky # piece not merged/);
      assert.match(r.stdout, /^1 passed, 0 failed, 1 skipped$/m);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
