#!/usr/bin/env node
// `npm run bench:faults`: the whole fault matrix on the real local stack (scripts/stack/faults.ts): for
// each of chain, IPFS, custodian, trainer node and indexer, SIGKILL at each stage of a job (claiming,
// fetching data, training, attributing, pinning, submitting, finalizing); the supervisor brings the
// service back after a 2 s pause. A scenario survives when its job finalizes with the adapter hash of an
// undisturbed run (wasm kernel), one claim and one submission on chain (and, for the indexer, a subgraph
// that agrees with the chain). Writes bench/results/faults.json: scenarios, survived, and the extra wall
// time each fault cost against the undisturbed run.
//   npm run bench:faults                     the whole matrix (35 scenarios; ~25 min on 2 cores)
//   npm run bench:faults -- chain ipfs       only these services
//   npm run bench:faults -- --stages training,pinning
//   npm run bench:faults -- chain ipfs --merge   keep the file's other scenarios (the matrix in parts)
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { FaultStack, SERVICES, STAGES, type FaultStage, type ScenarioResult, type Service } from "../scripts/stack/faults.ts";
import { testEnv } from "../scripts/stack/test/helpers.ts";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { stages: { type: "string" }, epochs: { type: "string" }, out: { type: "string" }, merge: { type: "boolean", default: false } } });
const services = (positionals.length ? positionals : SERVICES) as Service[];
for (const s of services) if (!SERVICES.includes(s)) throw new Error(`unknown service ${s}; pick from ${SERVICES.join(", ")}`);
const stages = (values.stages ? values.stages.split(",") : STAGES) as FaultStage[];
for (const s of stages) if (!STAGES.includes(s)) throw new Error(`unknown stage ${s}; pick from ${STAGES.join(", ")}`);
const epochs = Number(values.epochs ?? 2);
const out = values.out ?? fileURLToPath(new URL("./results/faults.json", import.meta.url));

const t0 = Date.now();
const env = await testEnv();
const stack = new FaultStack({ env, epochs, log: (l) => console.log(`${((Date.now() - t0) / 1000).toFixed(0).padStart(5)} ${l}`) });
const results: ScenarioResult[] = [];
let reference: ScenarioResult | undefined;
try {
  await stack.start();
  reference = await stack.scenario("none", "none");
  if (!reference.survived) throw new Error(`the undisturbed job did not finalize: ${reference.error}`);
  console.log(`reference: adapter ${reference.adapterHash} in ${reference.wallSeconds.toFixed(1)} s`);
  for (const service of services) {
    for (const stage of stages) {
      const r = await stack.scenario(service, stage, { hash: reference.adapterHash!, seconds: reference.wallSeconds }, { timeoutMs: 300_000 });
      results.push(r);
      console.log(`${r.survived ? "SURVIVED" : "LOST    "} ${service.padEnd(9)} at ${stage.padEnd(11)} (killed at record stage ${r.killedAt ?? "-"}) +${r.extraSeconds ?? "?"} s${r.error ? `: ${r.error}` : ""}`);
    }
  }
} finally {
  await stack.stop();
  fs.rmSync(path.dirname(env.TRIBUTARY_HOME!), { recursive: true, force: true });
}
// --merge: keep the out file's scenarios that this run did not repeat (the matrix in parts, one run each)
type Row = { service: string; stage: string; survived: boolean; measuredAt?: string };
const kept: Row[] = values.merge && fs.existsSync(out)
  ? ((JSON.parse(fs.readFileSync(out, "utf8")) as { results?: Row[]; measuredAt?: string }).results ?? [])
      .filter((r) => !results.some((n) => n.service === r.service && n.stage === r.stage))
  : [];
const survived = results.filter((r) => r.survived).length + kept.filter((r) => r.survived).length;
const report = {
  benchmark: "faults",
  command: "npm run bench:faults",
  measuredAt: new Date().toISOString(),
  machine: { cpus: os.availableParallelism(), node: process.version },
  job: { datanet: "demo cooking Q&A (20 records, encrypted)", epochs, kernel: "wasm", restartPauseSeconds: 2, trainerTimeScale: 30 },
  reference: reference && { adapterHash: reference.adapterHash, wallSeconds: reference.wallSeconds },
  scenarios: results.length + kept.length,
  survived,
  ...(kept.length ? { merged: `${kept.length} scenarios kept from an earlier run (--merge); each row has its measuredAt` } : {}),
  results: [...kept, ...results.map((r) => ({
    measuredAt: new Date().toISOString(),
    service: r.service,
    stage: r.stage,
    killedAtRecordStage: r.killedAt ?? null,
    survived: r.survived,
    extraWallSeconds: r.extraSeconds ?? null,
    wallSeconds: Math.round(r.wallSeconds * 10) / 10,
    claims: r.claims,
    submissions: r.submissions,
    nodeFailedAttempts: r.failedAttempts,
    ...(r.error ? { error: r.error } : {}),
  }))],
  totalSeconds: Math.round((Date.now() - t0) / 1000),
};
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
console.log(`${survived}/${results.length + kept.length} scenarios survived; wrote ${out}`);
process.exit(survived === results.length + kept.length ? 0 : 1);
