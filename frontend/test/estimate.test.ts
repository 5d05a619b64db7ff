// The wizard's estimate (src/lib/estimate.ts): tokens from the data's size and the settings, time across
// the trainers' published throughput, the deadline rule the nodes apply, the budget's split, and
// throughput read from a trainer profile.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { estimateJob, formatEstimate, formatTokens, throughputOf } from "../src/lib/estimate.ts";

const settings = { epochs: 30, maxSeqLength: 512, parameters: 3_800_000 };

describe("job estimate", () => {
  it("counts tokens from the bytes (3 per token), capped by records x max length, times epochs plus eval", () => {
    const e = estimateJob({ bytes: 30_000, records: 20 }, settings, []);
    assert.equal(e.dataTokens, 10_000);
    assert.equal(e.trainTokens, 330_000);
    // a short max length cuts every record: 20 records x 64 tokens
    const cut = estimateJob({ bytes: 30_000, records: 20 }, { ...settings, maxSeqLength: 64 }, []);
    assert.equal(cut.dataTokens, 1280);
    assert.ok(cut.flop < e.flop);
    // more epochs, more work; more data, more work
    assert.ok(estimateJob({ bytes: 30_000, records: 20 }, { ...settings, epochs: 60 }, []).flop > e.flop);
    assert.ok(estimateJob({ bytes: 60_000, records: 40 }, settings, []).flop > e.flop);
  });

  it("gives the time range across trainers that published a throughput, as the node counts it", () => {
    const trainers = [
      { trainer: "0xa", flops: 8e9 },
      { trainer: "0xb", flops: 2e9 },
      { trainer: "0xc", flops: null },
    ];
    const e = estimateJob({ bytes: 30_000, records: 20 }, settings, trainers);
    // 6 x params x (training tokens + attribution: data tokens x 3 checkpoints x 1.5)
    const flop = 6 * 3_800_000 * (330_000 + 10_000 * 3 * 1.5);
    assert.equal(e.flop, flop);
    assert.deepEqual(e.seconds, { fastest: flop / 8e9, slowest: flop / 2e9 });
    assert.equal(e.trainersMeasured, 2);
    assert.equal(e.trainersTotal, 3);
    assert.equal(
      estimateJob({ bytes: 30_000, records: 20 }, settings, [{ trainer: "0xc", flops: null }]).seconds,
      null,
    );
  });

  it("counts the trainers that can finish within 60% of the deadline (the rule nodes apply before claiming)", () => {
    const trainers = [
      { trainer: "0xa", flops: 8e9 },
      { trainer: "0xb", flops: 2e9 },
    ];
    const { seconds } = estimateJob({ bytes: 30_000, records: 20 }, settings, trainers);
    const fastOnly = Math.ceil(seconds!.fastest / 0.6) + 1;
    assert.equal(
      estimateJob({ bytes: 30_000, records: 20 }, { ...settings, durationSeconds: fastOnly }, trainers)
        .trainersInTime,
      1,
    );
    assert.equal(
      estimateJob({ bytes: 30_000, records: 20 }, { ...settings, durationSeconds: 86_400 }, trainers)
        .trainersInTime,
      2,
    );
    assert.equal(
      estimateJob({ bytes: 30_000, records: 20 }, { ...settings, durationSeconds: 1 }, trainers)
        .trainersInTime,
      0,
    );
    assert.equal(
      estimateJob({ bytes: 30_000, records: 20 }, settings, trainers).trainersInTime,
      null,
      "no deadline set",
    );
  });

  it("splits the budget into data fees and the trainer's pay", () => {
    const e = estimateJob(
      { bytes: 3, records: 1 },
      { ...settings, budgetWei: 100n * 10n ** 18n, dataFeeBps: 1500 },
      [],
    );
    assert.deepEqual(e.cost, {
      total: 100n * 10n ** 18n,
      dataFees: 15n * 10n ** 18n,
      trainer: 85n * 10n ** 18n,
    });
    assert.equal(estimateJob({ bytes: 3, records: 1 }, settings, []).cost, null);
  });

  it("refuses inputs it cannot estimate from, with a sentence", () => {
    assert.throws(
      () => estimateJob({ bytes: 1, records: 1 }, { ...settings, parameters: 0 }, []),
      /parameter count is unknown/,
    );
    assert.throws(
      () => estimateJob({ bytes: 1, records: 1 }, { ...settings, epochs: 0 }, []),
      /epochs and max length/,
    );
  });

  it("reads a profile's throughput only when it is a positive number", () => {
    assert.equal(throughputOf({ endpoint: "x", throughput: { kernel: "ort", flops: 8e9 } }), 8e9);
    assert.equal(throughputOf({ endpoint: "x" }), null);
    assert.equal(throughputOf({ throughput: { flops: "8e9" } }), null);
    assert.equal(throughputOf({ throughput: { flops: -1 } }), null);
    assert.equal(throughputOf(null), null);
  });

  it("formats estimates for people", () => {
    assert.equal(formatEstimate(42.4), "about 42 s");
    assert.equal(formatEstimate(600), "about 10 min");
    assert.equal(formatEstimate(3 * 3600), "about 3 h");
    assert.equal(formatEstimate(5 * 86_400), "about 5 days");
    assert.equal(formatTokens(12_345), "12,345 tokens");
    assert.equal(formatTokens(2_340_000), "2.3M tokens");
  });
});
