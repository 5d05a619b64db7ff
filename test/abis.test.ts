// scripts/gen-abis.ts turns the compiled artifacts into importable `as const` ABIs for TypeScript consumers.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { pathToFileURL } from "node:url";

describe("scripts/gen-abis.ts", () => {
  it("writes one typed ABI constant per contract, matching the artifacts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tributary-abis-"));
    try {
      const out = join(dir, "abis.ts");
      const res = spawnSync(process.execPath, ["scripts/gen-abis.ts", out], { cwd: join(import.meta.dirname, ".."), encoding: "utf8" });
      assert.equal(res.status, 0, res.stderr);
      const text = readFileSync(out, "utf8");
      assert.equal(text.match(/^export const \w+Abi = \[/gm)?.length, 12);
      assert.match(text, /\] as const;/);
      const abis = (await import(pathToFileURL(out).href)) as Record<string, { type: string; name?: string }[]>;
      const artifact = JSON.parse(
        readFileSync(join(import.meta.dirname, "..", "artifacts/contracts/jobs/JobMarket.sol/JobMarket.json"), "utf8"),
      ) as { abi: unknown };
      assert.deepEqual(abis.jobMarketAbi, artifact.abi);
      const names = (abi: { type: string; name?: string }[], type: string) =>
        abi.filter((e) => e.type === type).map((e) => e.name);
      assert.ok(names(abis.datanetRegistryAbi, "event").includes("ContributionSubmitted"));
      assert.ok(names(abis.paymentChannelsAbi, "function").includes("redeemVoucher"));
      assert.ok(names(abis.rewardDistributorAbi, "error").includes("InvalidProof"));
      assert.ok(names(abis.openTokenAbi, "function").includes("permit"));
      assert.ok(names(abis.usageGameAbi, "function").includes("openChallenge"));
      assert.ok(names(abis.verifierPoolAbi, "function").includes("stake"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
