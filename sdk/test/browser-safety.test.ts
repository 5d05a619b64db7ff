import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";

const src = path.join(import.meta.dirname, "../src");
const browserSafe = ["schemas", "records", "crypto", "merkle", "content", "contribution"];

describe("browser-safe modules", () => {
  it("import no Node built-ins", () => {
    for (const dir of browserSafe) {
      for (const file of readdirSync(path.join(src, dir), { recursive: true }) as string[]) {
        if (!file.endsWith(".ts")) continue;
        const text = readFileSync(path.join(src, dir, file), "utf8");
        assert.doesNotMatch(text, /from\s+["'](node:|fs|path|os|crypto|http|stream)["'/]/, `${dir}/${file} imports a Node built-in`);
        assert.doesNotMatch(text, /\bBuffer\./, `${dir}/${file} uses Buffer`);
      }
    }
  });

  it("normalise CSV with the browser build of csv-parse (the `browser` condition)", () => {
    const script = `
      import { normaliseFile } from ${JSON.stringify(path.join(src, "records/index.ts"))};
      const out = normaliseFile("qa.csv", new TextEncoder().encode('prompt,completion\\n"a, b",c\\n'));
      console.log(JSON.stringify(out.records));`;
    const out = execFileSync(process.execPath, ["--conditions=browser", "--input-type=module", "-e", script], { encoding: "utf8" });
    assert.deepEqual(JSON.parse(out), [{ prompt: "a, b", completion: "c" }]);
  });
});
