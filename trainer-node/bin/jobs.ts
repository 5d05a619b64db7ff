// `tributary-trainer jobs [retry|abandon <id>]`: the operator's view of the node's jobs and the two
// decisions about a job that failed or is stuck: retry it, or give it back on chain (releaseJob).
// Works whether the node runs or not: it reads the node's records from the data folder, and leaves a
// request the running node (or its next start) acts on.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { connect, getJob, loadAccount, releaseJob } from "@tributary/sdk/chain";
import type { ChainConnection, JobInfo } from "@tributary/sdk/chain";
import { JobStore } from "../src/jobs/store.ts";
import type { JobRecord } from "../src/types.ts";

export interface JobsCommandOptions {
  dataDir: string;
  rpcUrl: string;
  chainId: number;
  deployments: string;
  json: boolean;
  env: NodeJS.ProcessEnv;
}

const when = (unix?: bigint | string) => (unix === undefined ? "-" : new Date(Number(unix) * 1000).toISOString().replace(/\.000Z$/, "Z"));

export async function jobsCommand(args: string[], o: JobsCommandOptions): Promise<number> {
  const dir = join(o.dataDir, "jobs");
  if (!existsSync(dir)) {
    console.error(`tributary-trainer jobs: no job records in ${dir}; point --data-dir (TRIBUTARY_TRAINER_DIR) at the node's data folder`);
    return 2;
  }
  const store = await JobStore.open(dir);
  const account = (() => {
    try {
      return loadAccount({}, o.env);
    } catch {
      return undefined;
    }
  })();
  let conn: ChainConnection | undefined;
  let chainError: string | undefined;
  try {
    conn = await connect({ rpcUrl: o.rpcUrl, chainId: o.chainId, deployments: o.deployments, account });
  } catch (err) {
    chainError = (err as Error).message;
  }
  const [cmd, id] = args;
  if (cmd === undefined) return list(store, conn, chainError, o.json);
  if (cmd !== "retry" && cmd !== "abandon") {
    console.error(`tributary-trainer jobs: unknown command ${cmd}; use \`jobs\`, \`jobs retry <id>\` or \`jobs abandon <id>\``);
    return 2;
  }
  if (!id || !/^\d+$/.test(id)) {
    console.error(`tributary-trainer jobs ${cmd}: give the job id, e.g. \`tributary-trainer jobs ${cmd} 3\``);
    return 2;
  }
  const rec = store.get(id);
  if (!rec) {
    console.error(`tributary-trainer jobs ${cmd}: this node has no job ${id} (see \`tributary-trainer jobs\`)`);
    return 2;
  }
  if (cmd === "retry") {
    if (rec.stage !== "failed" && !rec.failure) {
      console.error(`tributary-trainer jobs retry: job ${id} is ${rec.stage} and not failing; nothing to retry`);
      return 2;
    }
    store.addRequest(id, "retry");
    console.log(`job ${id}: retry requested; the running node acts at its next pass (or at its next start)`);
    return 0;
  }
  // abandon: give the job back on chain now
  if (!conn || !account) {
    console.error(`tributary-trainer jobs abandon: ${!account ? "needs the operator key (TRIBUTARY_PRIVATE_KEY, or TRIBUTARY_KEYSTORE + TRIBUTARY_KEYSTORE_PASSWORD) to release the job on chain" : `cannot reach the chain: ${chainError}`}`);
    return 2;
  }
  const job = await getJob(conn, BigInt(id));
  if (job.status !== "claimed" || job.trainer?.toLowerCase() !== account.address.toLowerCase()) {
    console.error(`tributary-trainer jobs abandon: job ${id} is ${job.status}${job.trainer ? ` (trainer ${job.trainer})` : ""} on chain; only a job this operator has claimed can be released`);
    return 2;
  }
  store.addRequest(id, "abandon"); // first, so the node does not take the reopened job for a vanished claim
  const tx = await releaseJob(conn, BigInt(id));
  console.log(`job ${id}: released on chain (tx ${tx.hash}); release fee ${tx.fee} wei paid to the job's Datanet pools. The node stops working on it at its next pass.`);
  return 0;
}

async function list(store: JobStore, conn: ChainConnection | undefined, chainError: string | undefined, json: boolean): Promise<number> {
  const rows: Array<JobRecord & { chain?: Pick<JobInfo, "status" | "trainer"> & { dueAt?: string } }> = [];
  for (const rec of store.list()) {
    let chain: (Pick<JobInfo, "status" | "trainer"> & { dueAt?: string }) | undefined;
    if (conn) {
      try {
        const j = await getJob(conn, BigInt(rec.jobId));
        chain = { status: j.status, trainer: j.trainer, dueAt: j.dueAt?.toString() };
      } catch {
        chain = undefined;
      }
    }
    rows.push({ ...rec, chain });
  }
  if (json) {
    console.log(JSON.stringify(rows.map((r) => ({ jobId: r.jobId, stage: r.stage, reason: r.error ?? r.reason, failure: r.failure, release: r.release, chainStatus: r.chain?.status, trainer: r.chain?.trainer, dueAt: r.chain?.dueAt ?? r.dueAt })), null, 2));
    return 0;
  }
  if (!conn) console.log(`(chain not reachable: ${chainError}; on-chain status not shown)`);
  if (rows.length === 0) {
    console.log("no jobs yet");
    return 0;
  }
  const table = [["JOB", "STAGE", "ON CHAIN", "DEADLINE", "REASON"]];
  for (const r of rows) {
    const reason = r.release ? `released (${r.release.reason}${r.release.fee ? `, fee ${r.release.fee} wei` : ", pending"}): ${r.release.message}` : (r.error ?? r.reason ?? "");
    table.push([r.jobId, r.stage, r.chain?.status ?? "?", when(r.chain?.dueAt ?? r.dueAt), reason.length > 100 ? `${reason.slice(0, 97)}...` : reason]);
  }
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  for (const row of table) console.log(row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join("  "));
  return 0;
}
