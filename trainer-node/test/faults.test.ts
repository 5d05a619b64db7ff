// The failure policy on its own: which errors are transient and which deterministic, the capped
// exponential backoff with jitter, and retries bounded by the job's deadline and remaining work, run on a
// fake clock so that an hour-long outage takes milliseconds. (The same policy against real processes
// killed mid-job: scripts/stack/test/faults.test.ts.)
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HttpRequestError } from "viem";
import { ContractRevertError, NotFoundError } from "@tributary/sdk/chain";
import { ContentStoreError, ContentTamperedError } from "@tributary/sdk/content";
import { ContentHashMismatchError } from "@tributary/sdk/contribution";
import { KeyReleaseDeniedError } from "@tributary/sdk/custody";
import { FileSetMismatchError } from "@tributary/sdk/files";
import { backoffMs, classify, nextRetry, remainingWorkSeconds, scaledClock } from "../src/jobs/faults.ts";
import type { Clock } from "../src/jobs/faults.ts";
import type { JobRecord } from "../src/types.ts";

const refused = () => new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5001"), { code: "ECONNREFUSED" }) });

describe("failure classification", () => {
  it("calls a dependency that is down or slow transient, naming it", () => {
    assert.deepEqual(
      [
        classify(new HttpRequestError({ url: "http://127.0.0.1:8545", body: {}, details: "fetch failed" })),
        classify(new ContentStoreError("Content store add failed at http://127.0.0.1:5001/api/v0/add: fetch failed. Check the IPFS node is running and reachable.", { cause: refused() })),
        classify(new KeyReleaseDeniedError(503, "chain_unavailable", "the chain does not answer")),
        classify(new NotFoundError("Job 3", "List jobs")),
        classify(new ContractRevertError({ contract: "JobMarket", functionName: "getJob", errorName: "JobNotFound", reason: "Job 6 does not exist" })),
        classify(refused()),
        classify(new Error("something nobody classified")),
      ].map((f) => [f.kind, f.source]),
      [["transient", "chain"], ["transient", "ipfs"], ["transient", "custodian"], ["transient", "chain"], ["transient", "chain"], ["transient", "network"], ["transient", "unclassified"]],
    );
  });

  it("calls reverts, tampered content, refused keys and an unrunnable spec deterministic", () => {
    const errors = [
      new ContractRevertError({ contract: "JobMarket", functionName: "submitResult", errorName: "NotTrainer", reason: "not the trainer" }),
      new ContentTamperedError("bafy", "bafy"),
      new ContentHashMismatchError("0x01", "0x02"),
      new FileSetMismatchError("adapter_model.safetensors", "sha256 differs"),
      new KeyReleaseDeniedError(403, "not_trainer", "the job is not claimed by you"),
      new Error("the job's data has no training records left after the eval split; it cannot be trained as posted"),
    ];
    assert.deepEqual(errors.map((e) => classify(e).kind), Array(errors.length).fill("deterministic"));
  });
});

describe("backoff bounded by the deadline", () => {
  it("grows exponentially to the cap, with jitter between half and all of it", () => {
    const lo = [1, 2, 3, 4, 5, 10, 30].map((n) => backoffMs(n, { baseMs: 1000, capMs: 60_000, random: () => 0 }));
    const hi = [1, 2, 3, 4, 5, 10, 30].map((n) => backoffMs(n, { baseMs: 1000, capMs: 60_000, random: () => 0.999999 }));
    assert.deepEqual(lo, [500, 1000, 2000, 4000, 8000, 30_000, 30_000]);
    assert.deepEqual(hi, [1000, 2000, 4000, 8000, 16_000, 60_000, 60_000]);
  });

  /** A clock whose sleep only moves time on. */
  const fakeClock = (start: number): Clock & { t: number } => {
    const c = { t: start, now: () => c.t, sleep: async (ms: number) => void (c.t += ms) };
    return c;
  };
  const job = (stage: JobRecord["stage"], dueAt: number, extra: Partial<JobRecord> = {}): JobRecord => ({
    jobId: "7", stage, updatedAt: "", lossHistory: [], evalHistory: [], txs: {}, dueAt: String(dueAt), estimate: { trainSeconds: 600 }, ...extra,
  });

  it("keeps retrying through an outage far longer than the old 5-attempt budget, then gives up only when the work no longer fits", async () => {
    const clock = fakeClock(1_000_000_000_000);
    const t0 = clock.now() / 1000;
    const rec = job("pinning", t0 + 3600); // an hour left, 30 s of work left
    const outageEnds = t0 + 15 * 60; // IPFS down for 15 minutes
    let n = 0;
    for (;;) {
      const d = nextRetry({ failures: ++n, rec, nowSec: clock.now() / 1000, backoff: { random: () => 0.5 } });
      assert.ok(d.retry, `gave up after ${n} attempts`);
      await clock.sleep(d.waitMs);
      if (clock.now() / 1000 >= outageEnds) break;
    }
    assert.ok(n > 15, `retried ${n} times over 15 minutes (the old budget was 5 attempts, about a minute)`);
    // the outage goes on until the deadline: the node gives up while there is still time to release
    let last: ReturnType<typeof nextRetry>;
    do {
      last = nextRetry({ failures: ++n, rec, nowSec: clock.now() / 1000, backoff: { random: () => 0.5 } });
      if (last.retry) await clock.sleep(last.waitMs);
    } while (last.retry);
    const left = Number(rec.dueAt) - clock.now() / 1000;
    assert.ok(left >= remainingWorkSeconds(rec) && left < remainingWorkSeconds(rec) + 60, `gave up with ${left} s left for ${remainingWorkSeconds(rec)} s of work`);
    assert.match(last.why, /s are left before the deadline and the remaining work needs about 30 s/);
  });

  it("estimates the remaining work from the stage and the measured pace", () => {
    const due = 2_000_000_000;
    assert.equal(remainingWorkSeconds(job("claimed", due)), 600 * 1.3 + 30);
    assert.equal(remainingWorkSeconds(job("training", due, { progress: { step: 90, totalSteps: 100, loss: 1, lr: 1, tokensPerSec: 1, etaSec: 42 } })), 42 + 180 + 30);
    assert.equal(remainingWorkSeconds(job("attributing", due)), 180 + 30);
    assert.equal(remainingWorkSeconds(job("submitted", due)), 0);
    // with the fit check's own attribution estimate (records made by this release)
    const est = { estimate: { trainSeconds: 600, attributeSeconds: 450 } };
    assert.equal(remainingWorkSeconds(job("claimed", due, est)), 600 + 450 + 30);
    assert.equal(remainingWorkSeconds(job("attributing", due, est)), 450 + 30);
    // a job with more work than time left is given up at once; a submitted one is never (no deadline)
    assert.equal(nextRetry({ failures: 1, rec: job("claimed", due), nowSec: due - 300 }).retry, false);
    assert.equal(nextRetry({ failures: 1, rec: job("submitted", due), nowSec: due + 999 }).retry, true);
  });

  it("scales a clock for tests of real processes", async () => {
    const base = fakeClock(0);
    const c = scaledClock(30, base);
    await c.sleep(60_000);
    assert.equal(base.now(), 2000, "a minute of backoff sleeps 2 s");
    assert.equal(c.now(), 60_000);
    assert.throws(() => scaledClock(0), /positive number/);
  });
});
