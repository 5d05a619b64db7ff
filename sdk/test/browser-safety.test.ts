import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";

const src = path.join(import.meta.dirname, "../src");
const browserSafe = ["schemas", "records", "crypto", "merkle", "content", "contribution", "chain"];
/** The chain layer's Node-only files, kept out of `chain/browser.ts`. */
const nodeOnly = new Set(["chain/node.ts", "chain/keystore.ts", "chain/wallet.ts", "chain/index.ts", "chain/log-store.ts"]);

describe("browser-safe modules", () => {
  it("import no Node built-ins", () => {
    for (const dir of browserSafe) {
      for (const file of readdirSync(path.join(src, dir), { recursive: true }) as string[]) {
        if (!file.endsWith(".ts") || nodeOnly.has(`${dir}/${file}`)) continue;
        const text = readFileSync(path.join(src, dir, file), "utf8");
        assert.doesNotMatch(
          text,
          /from\s+["'](node:|fs|path|os|crypto|http|stream)["'/]/,
          `${dir}/${file} imports a Node built-in`,
        );
        assert.doesNotMatch(text, /\bBuffer\./, `${dir}/${file} uses Buffer`);
      }
    }
  });

  it("normalise CSV with the browser build of csv-parse (the `browser` condition)", () => {
    const script = `
      import { normaliseFile } from ${JSON.stringify(path.join(src, "records/index.ts"))};
      const out = normaliseFile("qa.csv", new TextEncoder().encode('prompt,completion\\n"a, b",c\\n'));
      console.log(JSON.stringify(out.records));`;
    const out = execFileSync(
      process.execPath,
      ["--conditions=browser", "--input-type=module", "-e", script],
      { encoding: "utf8" },
    );
    assert.deepEqual(JSON.parse(out), [{ prompt: "a, b", completion: "c" }]);
  });

  it("load the chain layer's browser entry, dependencies included, without any Node built-in", () => {
    // Resolution as a browser bundler does it; any Node built-in imported anywhere (a dependency's too)
    // fails the import.
    const script = `
      import ${JSON.stringify(path.join(import.meta.dirname, "helpers/browser-hooks.ts"))};
      const chain = await import(${JSON.stringify(path.join(src, "chain/browser.ts"))});
      const addr = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
      const contracts = Object.fromEntries(chain.CONTRACT_NAMES.map((n) => [n, { address: addr, deployBlock: 3 }]));
      const d = chain.parseDeployments({ chainId: 31337, contracts }, 31337, "https://app/deployments/31337.json");
      let wrongChain = "";
      try { chain.parseDeployments({ chainId: 1, contracts }, 31337); } catch (e) { wrongChain = e.name; }
      console.log(JSON.stringify({
        names: ["connectChain", "postJob", "signVoucher", "decodeRevert", "loadDeployments", "loadAccount"].filter((n) => typeof chain[n] === "function"),
        deployBlock: String(d.deployBlock),
        wrongChain,
      }));`;
    const out = execFileSync(
      process.execPath,
      ["--conditions=browser", "--input-type=module", "-e", script],
      {
        encoding: "utf8",
      },
    );
    assert.deepEqual(JSON.parse(out), {
      names: ["connectChain", "postJob", "signVoucher", "decodeRevert"],
      deployBlock: "3",
      wrongChain: "DeploymentsError",
    });
  });
});
