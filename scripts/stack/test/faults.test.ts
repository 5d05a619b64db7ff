// Fault injection with real processes (a sample of `npm run bench:faults`): the local stack runs in a
// temp home; one job is trained undisturbed for the reference adapter hash, then for each service
// (chain, IPFS, custodian, trainer node, indexer) a job runs while that service is SIGKILLed at a stage
// and restarted by the supervisor after a pause. Every job must finalize with the reference adapter hash
// (wasm kernel), with exactly one claim and one submission on chain; the restarted indexer must agree
// with the chain. The trainer node runs its retry clock 30x fast, so the IPFS outage held across the
// pinning stage counts as minutes of failures: more than the old 5-attempt budget.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { FaultStack, type ScenarioResult } from "../faults.ts";
import { testEnv } from "./helpers.ts";

describe("faults: a service killed mid-job costs no work", { timeout: 900_000 }, () => {
  let stack: FaultStack;
  let reference: ScenarioResult;
  let home: string;
  const show = (r: ScenarioResult) =>
    `${JSON.stringify(r)}\n--- stack output:\n${stack.lines.slice(-40).join("\n")}`;
  const survives = (r: ScenarioResult) => {
    assert.equal(r.error, undefined, show(r));
    assert.ok(r.survived);
    assert.equal(r.adapterHash, reference.adapterHash, "the same adapter as the undisturbed run");
    assert.deepEqual([r.claims, r.submissions], [1, 1], "one claim and one submission on chain");
  };

  before(async () => {
    const env = await testEnv();
    home = env.TRIBUTARY_HOME!;
    stack = new FaultStack({ env, epochs: 1 });
    await stack.start();
    reference = await stack.scenario("none", "none");
    assert.ok(reference.survived, show(reference));
    assert.match(reference.adapterHash ?? "", /^0x[0-9a-f]{64}$/);
  });
  after(async () => {
    await stack?.stop();
    if (home) fs.rmSync(path.dirname(home), { recursive: true, force: true });
  });

  const ref = () => ({ hash: reference.adapterHash!, seconds: reference.wallSeconds });
  const restarted = (service: string) => {
    assert.ok(
      stack.lines.some((l) => l.startsWith(`[stack] ↻ ${service}: restarting in`)),
      `the supervisor said it restarts ${service}`,
    );
    assert.ok(
      stack.lines.some((l) => l.startsWith(`[stack] ✓ ${service}: restarted`)),
      `${service} came back`,
    );
  };

  it("trainer node SIGKILLed while training: restarted by the supervisor, resumes from the job folder", async () => {
    const r = await stack.scenario("trainer", "training", ref());
    survives(r);
    restarted("trainer");
  });

  it("IPFS down from training until past the old retry budget: the node keeps retrying the pin, then submits", async () => {
    // held down until the node has failed to pin 9 times: the old budget gave up after 5 attempts (~62 s),
    // and with the backoff's jitter (each wait between half and all of 1, 2, 4, ... 60 s) 8 waits always
    // span more than 62 s on the node's clock, where 5 may not
    const r = await stack.scenario("ipfs", "training", ref(), {
      holdUntil: (rec) => rec.stage === "pinning" && (rec.failure?.attempts ?? 0) >= 9,
    });
    survives(r);
    restarted("ipfs");
    assert.ok(r.failedAttempts >= 6, `failed attempts ${r.failedAttempts}`);
    assert.ok(
      r.failingSeconds > 62,
      `the outage lasted ${r.failingSeconds} s on the node's clock: longer than the old budget (about 62 s)`,
    );
  });

  it("custodian SIGKILLed while the node fetches the data keys", async () => {
    const r = await stack.scenario("custodian", "claiming", ref());
    survives(r);
    restarted("custodian");
  });

  it("chain SIGKILLed at the submission: restarted from its last state dump; a lost submission is redone", async () => {
    const r = await stack.scenario("chain", "submitting", ref());
    survives(r);
    restarted("chain");
  });

  it("indexer SIGKILLed while indexing the finalization: after its restart the subgraph agrees with the chain", async () => {
    const r = await stack.scenario("indexer", "finalizing", ref());
    survives(r);
    restarted("indexer");
  });
});
