// Compiles the contracts (Hardhat, solc WASM) and generates the SDK's ABI module, i.e. `npm run compile`.
// Run by the stack when the generated ABIs are missing or older than a contract source.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { repoRoot } from "../config.ts";

const require = createRequire(import.meta.url);
const hardhat = path.join(path.dirname(require.resolve("hardhat/package.json")), "dist", "src", "cli.js");

for (const args of [[hardhat, "compile"], [path.join(repoRoot, "scripts", "gen-abis.ts")]]) {
  const r = spawnSync(process.execPath, args, { cwd: repoRoot, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
