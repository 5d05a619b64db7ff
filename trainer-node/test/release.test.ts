// Failed jobs on real components (a Hardhat chain with the protocol, an embedded IPFS node, the
// custodian, the committed base model): a deterministic failure after the claim releases the job on
// chain at once (releaseJob, the fee recorded); a job an older node marked failed for a transient cause
// is resumed at start while the node still holds it; and the operator's `tributary-trainer jobs`
// lists, retries and abandons jobs (the CLI in a child process).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { claimJob, connect, contribute, createDatanet, getJob, grantAccess, postJob, review, sendTx, stake } from "@tributary/sdk/chain";
import type { ChainConnection } from "@tributary/sdk/chain";
import { startCustodian } from "@tributary/sdk/custody";
import type { RunningCustodian } from "@tributary/sdk/custody";
import { addFileSet } from "@tributary/sdk/files";
import { selectKernel } from "@tributary/engine";
import type { Kernel } from "@tributary/engine";
import { startContentStore, startDevChain, TEST_KEYS } from "../../sdk/test/helpers/devchain.ts";
import type { DevChain } from "../../sdk/test/helpers/devchain.ts";
import { TrainerLoop } from "../src/jobs/loop.ts";
import { JobStore } from "../src/jobs/store.ts";
import type { JobRecord } from "../src/types.ts";

const BASE_DIR = fileURLToPath(new URL("../../engine/models/tributary-austen-4m", import.meta.url));
const BIN = fileURLToPath(new URL("../bin/tributary-trainer.ts", import.meta.url));
const jsonl = (pairs: Array<[string, string]>) => pairs.map(([q, a]) => JSON.stringify({ messages: [{ role: "user", content: q }, { role: "assistant", content: a }] })).join("\n") + "\n";
const spec = {
  baseModel: "tributary-austen-4m",
  method: "lora",
  lora: { r: 4, alpha: 8, dropout: 0, targetModules: ["q_proj", "v_proj"] },
  training: { learningRate: 1e-2, epochs: 2, batchSize: 2, seed: 5, maxSeqLength: 96 },
  data: [{ datanetId: "1", version: 1 }],
  evalSplit: 0,
};

describe("failed jobs: release, resume, operator commands", () => {
  let chain: DevChain;
  let ipfs: Awaited<ReturnType<typeof startContentStore>>;
  let custodian: RunningCustodian;
  let refusing: Server;
  let refusingUrl = "";
  let kernel: Kernel;
  const conns: ChainConnection[] = [];
  const [deployer, owner, alice, builder, trainer] = [0, 1, 2, 4, 5];
  const dataDir = mkdtempSync(join(tmpdir(), "trainer-release-"));
  const logs: string[] = [];

  before(async () => {
    chain = await startDevChain();
    ipfs = await startContentStore();
    for (let i = 0; i < 6; i++) conns.push(await connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, deployments: chain.deploymentsFile, account: privateKeyToAccount(TEST_KEYS[i]), pollingInterval: 50 }));
    custodian = await startCustodian({ conn: conns[owner], store: ipfs.store, stateDir: mkdtempSync(join(tmpdir(), "custodian-")), port: 0 });
    // a custodian that refuses every key release: the one failure here that cannot be caused otherwise
    refusing = createServer((_req, res) => res.writeHead(403, { "content-type": "application/json" }).end(JSON.stringify({ error: "not_trainer", message: "this trainer has not claimed the job" })));
    await new Promise<void>((r) => refusing.listen(0, "127.0.0.1", r));
    refusingUrl = `http://127.0.0.1:${(refusing.address() as { port: number }).port}`;
    const d = conns[deployer];
    for (const who of [builder, trainer]) await sendTx(d, d.contracts.OpenToken, "mint", [conns[who].account!.address, parseEther("1000")]);
    const baseCid = (await addFileSet(ipfs.store, BASE_DIR)).cid;
    await sendTx(d, d.contracts.ModelRegistry, "registerBaseModel", ["tributary-austen-4m", baseCid]);
    const { datanetId } = await createDatanet(conns[owner], ipfs.store, { name: "Austen Q&A", policy: "approval", custodian: { publicKey: custodian.publicKey, url: custodian.url } });
    await contribute(conns[alice], ipfs.store, { datanetId, fileName: "alice.jsonl", content: jsonl([["Who wrote Emma?", "Jane Austen, in 1815."], ["Where is Pemberley?", "In Derbyshire."]]) });
    await review(conns[owner], { datanetId, approve: [1n] });
    await grantAccess(conns[owner], { datanetId, account: conns[builder].account!.address, expiresAt: BigInt(Math.floor(Date.now() / 1000) + 86400), uses: 10 });
    await stake(conns[trainer], parseEther("500"));
    // the jobs are verified by replay (Llama base): a node trains them on wasm only
    kernel = await selectKernel("wasm", 2);
  });
  after(async () => {
    await kernel?.dispose();
    await new Promise((r) => refusing?.close(r));
    await custodian?.stop();
    await ipfs?.stop();
    await chain?.stop();
  });

  const loop = async (custodianUrl = custodian.url) => {
    const ctx = { conn: conns[trainer], store: ipfs.store, custodianUrl, dataDir, jobs: await JobStore.open(join(dataDir, "jobs")), kernel, log: (l: string) => logs.push(l) };
    return { ctx, loop: new TrainerLoop(ctx, { pollMs: 50 }) };
  };
  const cli = (args: string[]) =>
    new Promise<{ code: number; out: string }>((resolve) => {
      execFile(process.execPath, [BIN, ...args], { env: { ...process.env, TRIBUTARY_PRIVATE_KEY: TEST_KEYS[trainer], TRIBUTARY_RPC_URL: chain.rpcUrl, TRIBUTARY_CHAIN_ID: String(chain.chainId), TRIBUTARY_DEPLOYMENTS_FILE: chain.deploymentsFile, TRIBUTARY_TRAINER_DIR: dataDir } }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
      );
    });
  /** A record as an earlier run of the node left it. */
  const writeRecord = (r: Partial<JobRecord> & { jobId: string; stage: JobRecord["stage"] }) => {
    mkdirSync(join(dataDir, "jobs"), { recursive: true });
    writeFileSync(join(dataDir, "jobs", `${r.jobId}.json`), JSON.stringify({ updatedAt: "", lossHistory: [], evalHistory: [], txs: {}, baseModel: "tributary-austen-4m", datanets: [{ datanetId: "1", version: 1 }], ...r }));
  };
  const releasedEvents = async (jobId: bigint) => {
    const jm = conns[trainer].contracts.JobMarket;
    return conns[trainer].publicClient.getContractEvents({ address: jm.address, abi: jm.abi, eventName: "JobReleased", args: { jobId } as never, fromBlock: 0n });
  };

  it("releases a claimed job at once when it fails deterministically (the custodian refuses the keys), and records why", async () => {
    const posted = await postJob(conns[builder], ipfs.store, { spec, budget: parseEther("10"), duration: 3600 });
    const { ctx, loop: l } = await loop(refusingUrl);
    await l.tick();
    const rec = ctx.jobs.get(posted.jobId.toString())!;
    assert.equal(rec.stage, "failed", JSON.stringify(rec));
    assert.equal(rec.failure?.kind, "deterministic");
    assert.equal(rec.failure?.stage, "fetching");
    assert.match(rec.error!, /refused the key release \(403 not_trainer\)/);
    assert.equal(rec.release?.reason, "deterministic");
    assert.ok(rec.release?.at && BigInt(rec.release.fee!) > 0n, `the release fee is recorded: ${JSON.stringify(rec.release)}`);
    assert.equal((await getJob(conns[builder], posted.jobId)).status, "open", "reopened for other trainers at once");
    const [ev] = await releasedEvents(posted.jobId);
    assert.equal(ev.args.fee, BigInt(rec.release!.fee!));
    assert.equal(rec.txs.release, ev.transactionHash);
    // the next passes leave it alone: not claimed again, not released twice
    await l.tick();
    assert.equal((await getJob(conns[builder], posted.jobId)).status, "open");
    assert.equal((await releasedEvents(posted.jobId)).length, 1);

    const listed = await cli(["jobs", "--json"]);
    assert.equal(listed.code, 0, listed.out);
    const row = (JSON.parse(listed.out) as Array<{ jobId: string; stage: string; chainStatus: string; reason: string; release: { reason: string } }>).find((r) => r.jobId === posted.jobId.toString())!;
    assert.deepEqual([row.stage, row.chainStatus, row.release.reason], ["failed", "open", "deterministic"]);
    assert.match(row.reason, /refused the key release/);
  });

  it("resumes at start a job an older node marked failed after 5 attempts while it still holds it, and the operator can ask for it", async () => {
    const posted = await postJob(conns[builder], ipfs.store, { spec, budget: parseEther("10"), duration: 3600 });
    const jobId = posted.jobId.toString();
    await claimJob(conns[trainer], posted.jobId);
    writeRecord({ jobId, specCid: posted.specCid, stage: "failed", error: "Content store add failed at http://127.0.0.1:5001/api/v0/add: fetch failed. Check the IPFS node is running and reachable." });
    const table = await cli(["jobs"]);
    assert.equal(table.code, 0, table.out);
    assert.match(table.out, new RegExp(`^${jobId}\\s+failed\\s+claimed\\s+\\d{4}-\\d\\d-\\d\\dT`, "m"), table.out);
    const retry = await cli(["jobs", "retry", jobId]);
    assert.equal(retry.code, 0, retry.out);
    assert.match(retry.out, /retry requested/);
    const { ctx, loop: l } = await loop();
    await l.tick();
    const rec = ctx.jobs.get(jobId)!;
    assert.equal(rec.stage, "submitted", `${rec.stage}: ${rec.error}\n${logs.join("\n")}`);
    assert.ok(logs.some((x) => x.includes(`job ${jobId}: retry asked by the operator: the node still holds it on chain (claimed); back to stage claimed`)), logs.join("\n"));
    assert.equal((await getJob(conns[builder], posted.jobId)).status, "submitted");
    assert.equal(ctx.jobs.request(jobId, "retry"), undefined, "the request was consumed");
  });

  it("abandons a held job on the operator's word: released on chain, and the node does not take it back", async () => {
    const posted = await postJob(conns[builder], ipfs.store, { spec, budget: parseEther("10"), duration: 3600 });
    const jobId = posted.jobId.toString();
    const claimed = await claimJob(conns[trainer], posted.jobId);
    writeRecord({ jobId, stage: "training", dueAt: claimed.dueAt.toString(), txs: { claim: claimed.hash } });
    const bad = await cli(["jobs", "retry", jobId]);
    assert.equal(bad.code, 2);
    assert.match(bad.out, new RegExp(`job ${jobId} is training and not failing; nothing to retry`));
    const res = await cli(["jobs", "abandon", jobId]);
    assert.equal(res.code, 0, res.out);
    assert.match(res.out, /released on chain \(tx 0x[0-9a-f]{64}\); release fee [1-9]\d* wei/);
    assert.equal((await getJob(conns[builder], posted.jobId)).status, "open");
    const { ctx, loop: l } = await loop();
    await l.tick();
    const rec = ctx.jobs.get(jobId)!;
    assert.equal(rec.stage, "failed");
    assert.match(rec.release?.message ?? rec.error ?? "", /abandoned by the operator/);
    assert.equal((await getJob(conns[builder], posted.jobId)).status, "open", "not claimed again as a vanished claim");
    const again = await cli(["jobs", "abandon", jobId]);
    assert.equal(again.code, 2);
    assert.match(again.out, /is open on chain; only a job this operator has claimed can be released/);
  });
});
