// The matchstick-as unit tests in tests/*.test.ts, compiled and run by the runner (matchstick's binary
// cannot run on these machines). Each AssemblyScript test is reported here as a node test.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { runMatchstickFile, type MatchstickTestResult } from "../runner/matchstick.ts";
import { parseSchema } from "../runner/schema.ts";
import { ensureBuilt, subgraphDir } from "../scripts/prepare.ts";

const files = readdirSync(join(subgraphDir, "tests")).filter((f) => f.endsWith(".test.ts"));
const outDir = mkdtempSync(join(tmpdir(), "matchstick-"));
after(() => rmSync(outDir, { recursive: true, force: true }));

// Compile and run before registering node tests, so that each AssemblyScript test gets its own line.
await ensureBuilt(); // generated/ (codegen) is what the tests import
const schema = parseSchema(readFileSync(join(subgraphDir, "schema.graphql"), "utf8"));
const results = new Map<string, MatchstickTestResult[]>();
for (const f of files) results.set(f, await runMatchstickFile(subgraphDir, `tests/${f}`, schema, outDir));

for (const f of files) {
  describe(`matchstick ${f}`, () => {
    it("registers its tests", () => assert.ok(results.get(f)!.length >= 3));
    for (const t of results.get(f)!) {
      it(t.name + (t.shouldFail ? " (expected to fail)" : ""), () =>
        assert.ok(t.passed, t.error ?? "passed, but was expected to fail"),
      );
    }
  });
}

describe("the matchstick runner", () => {
  it("reports a failing assertion with the expected and actual values", () => {
    const t = results
      .get("datanets.test.ts")!
      .find((x) => x.name.endsWith("a wrong expectation fails the test"))!;
    assert.equal(t.shouldFail, true);
    assert.match(t.error ?? "", /Datanet\[3\]\.policy: expected Paid, got Open/);
  });
});
