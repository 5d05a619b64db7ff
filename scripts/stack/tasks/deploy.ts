// Deploys the contracts for the stack (contracts' scripts/deploy.ts, idempotent) as the demo deployer,
// with the demo base model: its config.json is pinned to the stack's IPFS node first, so the base
// model registered on chain points at content that exists.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { demoAccount } from "../accounts.ts";
import { repoRoot } from "../config.ts";

const plan = JSON.parse(
  fs.readFileSync(path.join(repoRoot, "scripts", "seed-data", "demo.json"), "utf8"),
) as {
  baseModel: { name: string; config: unknown };
};

async function pinBaseModelConfig(apiUrl: string): Promise<string> {
  const form = new FormData();
  form.append("file", new Blob([JSON.stringify(plan.baseModel.config, null, 2) + "\n"]), "config.json");
  const res = await fetch(`${apiUrl}/api/v0/add?pin=true&cid-version=1`, { method: "POST", body: form });
  if (!res.ok)
    throw new Error(`IPFS add of the base model config failed: HTTP ${res.status} ${await res.text()}`);
  return (JSON.parse((await res.text()).trim().split("\n").pop()!) as { Hash: string }).Hash;
}

const env: NodeJS.ProcessEnv = { ...process.env, TRIBUTARY_PRIVATE_KEY: demoAccount("deployer").privateKey };
env.TRIBUTARY_BASE_MODEL_NAME ??= plan.baseModel.name;
if (
  !env.TRIBUTARY_BASE_MODEL_CID &&
  env.TRIBUTARY_IPFS_API_URL &&
  process.env.TRIBUTARY_IPFS_RUNNING === "1"
) {
  env.TRIBUTARY_BASE_MODEL_CID = await pinBaseModelConfig(env.TRIBUTARY_IPFS_API_URL);
  console.log(
    `base model ${env.TRIBUTARY_BASE_MODEL_NAME}: config.json pinned as ${env.TRIBUTARY_BASE_MODEL_CID}`,
  );
}
const r = spawnSync(process.execPath, [path.join(repoRoot, "scripts", "deploy.ts")], {
  cwd: repoRoot,
  env,
  stdio: "inherit",
});
process.exit(r.status ?? 1);
