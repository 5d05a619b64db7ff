import { createRequire } from "node:module";
import hardhatToolboxViemPlugin from "@nomicfoundation/hardhat-toolbox-viem";
import { defineConfig } from "hardhat/config";

const require = createRequire(import.meta.url);

// Hardhat cannot download compilers offline; the npm `solc` package's WASM build is used instead.
const solc = {
  version: (require("solc/package.json") as { version: string }).version,
  path: require.resolve("solc/soljson.js"),
  settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun" },
};

export default defineConfig({
  plugins: [hardhatToolboxViemPlugin],
  solidity: {
    profiles: {
      default: solc,
      production: solc,
    },
  },
  paths: { sources: "./contracts", tests: { solidity: "./test", nodejs: "./test" } },
  // Fuzz runs per fuzz test; invariant campaigns (test/invariants/) run 256 x 64 with fail-on-revert on, unless
  // TRIBUTARY_INVARIANT_RUNS / TRIBUTARY_INVARIANT_DEPTH say otherwise (`npm run fuzz` runs the long campaign).
  // The seed is random on a developer's machine (new sequences each run) and fixed in CI (a CI failure replays
  // exactly); TRIBUTARY_FUZZ_SEED sets it anywhere.
  test: {
    solidity: {
      fuzz: { runs: 256, seed: process.env.TRIBUTARY_FUZZ_SEED ?? (process.env.CI ? "0x7472696275746172" : undefined) },
      invariant: {
        runs: Number(process.env.TRIBUTARY_INVARIANT_RUNS ?? 256),
        depth: Number(process.env.TRIBUTARY_INVARIANT_DEPTH ?? 64),
        failOnRevert: true,
      },
    },
  },
  networks: {
    localhost: { type: "http", chainType: "l1", url: process.env.TRIBUTARY_RPC_URL ?? "http://127.0.0.1:8545" },
  },
});
