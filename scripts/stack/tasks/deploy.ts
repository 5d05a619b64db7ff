// Deploys the contracts for the stack (contracts' scripts/deploy.ts, idempotent) as the demo deployer,
// with the demo base model: the committed model folder (engine/models/tributary-austen-4m) is pinned to
// the stack's IPFS node first as a file set, so the base model registered on chain is one a trainer node
// can fetch and train.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { demoAccount } from "../accounts.ts";
import { repoRoot } from "../config.ts";

const plan = JSON.parse(
  fs.readFileSync(path.join(repoRoot, "scripts", "seed-data", "demo.json"), "utf8"),
) as {
  baseModel: { name: string; dir: string };
};

async function pinBaseModel(apiUrl: string): Promise<string> {
  const { KuboContentStore } = await import("@tributary/sdk/content");
  const { addFileSet } = await import("@tributary/sdk/files");
  const { cid } = await addFileSet(new KuboContentStore({ url: apiUrl }), path.join(repoRoot, plan.baseModel.dir));
  return cid;
}

const env: NodeJS.ProcessEnv = { ...process.env, TRIBUTARY_PRIVATE_KEY: demoAccount("deployer").privateKey };
env.TRIBUTARY_BASE_MODEL_NAME ??= plan.baseModel.name;
if (
  !env.TRIBUTARY_BASE_MODEL_CID &&
  env.TRIBUTARY_IPFS_API_URL &&
  process.env.TRIBUTARY_IPFS_RUNNING === "1"
) {
  env.TRIBUTARY_BASE_MODEL_CID = await pinBaseModel(env.TRIBUTARY_IPFS_API_URL);
  console.log(`base model ${env.TRIBUTARY_BASE_MODEL_NAME}: ${plan.baseModel.dir} pinned as file set ${env.TRIBUTARY_BASE_MODEL_CID}`);
}
const r = spawnSync(process.execPath, [path.join(repoRoot, "scripts", "deploy.ts")], {
  cwd: repoRoot,
  env,
  stdio: "inherit",
});
process.exit(r.status ?? 1);
