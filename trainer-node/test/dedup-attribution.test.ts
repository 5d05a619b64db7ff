// Duplicates cannot farm credit (issue 12): a contribution copied verbatim, or nearly, under a second
// address is found before training, is neither trained nor attributed, and earns nothing; the original's
// weight is exactly what it earns when the copy was never submitted. Real training (the committed base
// model, the wasm kernel) and the node's real attribution code, with per-run checkpoints.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { fineTune, selectKernel } from "@tributary/engine";
import type { Kernel, TrainingRecord } from "@tributary/engine";
import { parseAttributionReport } from "@tributary/sdk/schemas";
import { CHECKPOINT_METHOD, DEFAULT_METHOD, attribute, contributionKey, dedupContributions, inRunAttributionFor } from "../src/jobs/attribution.ts";
import type { JobContribution } from "../src/jobs/data.ts";

const BASE_DIR = fileURLToPath(new URL("../../engine/models/tributary-austen-4m", import.meta.url));
const chat = (q: string, a: string): TrainingRecord => ({ messages: [{ role: "user", content: q }, { role: "assistant", content: a }] });
const hash = (n: number) => `0x${n.toString(16).padStart(64, "0")}`;
const addr = (n: number) => `0x${n.toString(16).padStart(40, "0")}`;
const contribution = (id: number, who: number, records: TrainingRecord[]): JobContribution => ({
  datanetId: "1",
  contributionId: String(id),
  contributor: addr(who),
  manifestCid: "bafy",
  contentCid: "bafy",
  contentHash: hash(id),
  records,
});

const alice = contribution(1, 0xa11ce, [chat("Where does Mr Darcy live?", "At Pemberley, in Derbyshire."), chat("Whom does Elizabeth Bennet marry?", "Mr Darcy, in the end.")]);
const bob = contribution(2, 0xb0b, [chat("Where does Emma Woodhouse live?", "At Hartfield, in Highbury."), chat("Whom does Anne Elliot marry?", "Captain Wentworth, at last.")]);
const carol = contribution(3, 0xca201, structuredClone(alice.records)); // verbatim copy of alice's
const dave = contribution(4, 0xda7e, [chat("where does emma woodhouse live", "At Hartfield in Highbury!"), chat("Whom does Anne Elliot marry ?", "Captain Wentworth, at long last.")]); // near copy of bob's
const evalRecords = [chat("Which house is Mr Darcy's home?", "Pemberley, in Derbyshire."), chat("Who is Anne Elliot's husband?", "Captain Wentworth.")];

describe("duplicates cannot farm attribution credit", () => {
  let kernel: Kernel;
  const dir = mkdtempSync(join(tmpdir(), "dedup-attribution-"));
  before(async () => {
    kernel = await selectKernel("wasm", 2);
  });
  after(async () => {
    await kernel?.dispose();
  });

  it("finds the exact and the near copy, each pointing at the earlier registration", () => {
    const d = dedupContributions([alice, bob, carol, dave]);
    assert.deepEqual([...d.keys()].sort(), [2, 3]);
    assert.deepEqual({ ...d.get(2)!, similarity: undefined }, { datanetId: "1", contributionId: "1", kind: "exact", similarity: undefined });
    assert.equal(d.get(3)!.contributionId, "2");
    assert.equal(d.get(3)!.kind, "near");
    // registration order decides: the copy registered first keeps the credit
    const swapped = dedupContributions([carol, bob, alice]);
    assert.deepEqual([...swapped.keys()], [2]);
    assert.equal(swapped.get(2)!.contributionId, "3");
    assert.equal(dedupContributions([alice, bob]).size, 0, "distinct contributions are not flagged");
  });

  it("a duplicated contribution under a second address earns no extra", async () => {
    const all = [alice, bob, carol, dave];
    const duplicates = dedupContributions(all);
    // what the node trains: the duplicates' records are dropped before training
    const trainRecords = all.map((c, i) => (duplicates.has(i) ? [] : c.records));
    // as the pipeline trains: the default (in-run) method's vectors kept while training, saved beside the adapter
    const inRun = inRunAttributionFor(trainRecords.flatMap((rs, c) => rs.map(() => c)), all.length);
    assert.ok(inRun, "the default method is in-run");
    await fineTune({
      modelDir: BASE_DIR,
      records: trainRecords.flat(),
      evalRecords,
      outDir: join(dir, "adapter"),
      method: "lora",
      kernel,
      config: { lr: 1e-2, epochs: 6, batchSize: 2, seed: 3, checkpointEvery: 2, maxSeqLen: 64, lora: { r: 4, alpha: 8, targetModules: ["q_proj", "v_proj"] } },
      inRun: inRun.hooks(),
    });
    await inRun.save(join(dir, "adapter"), all.map(contributionKey));
    const common = { modelDir: BASE_DIR, adapterDir: join(dir, "adapter"), quantize: false, kernel, learningRate: 1e-2, maxSeqLen: 64, evalRecords };
    const withCopies = parseAttributionReport(JSON.parse(JSON.stringify((await attribute({ ...common, contributions: all, trainRecords, duplicates })).report)));
    const alone = (await attribute({ ...common, contributions: [alice, bob], trainRecords: [alice.records, bob.records] })).report;
    assert.equal(withCopies.method, DEFAULT_METHOD);
    assert.equal(alone.method, DEFAULT_METHOD);
    const weight = (r: typeof alone, c: JobContribution) => BigInt(r.contributions.find((x) => x.contributionId === c.contributionId)!.weight);
    const score = (r: typeof alone, c: JobContribution) => r.contributions.find((x) => x.contributionId === c.contributionId)!.score;
    // scores that mean something (the equalities below are not of zeros): leave-one-out retraining at this
    // configuration says bob's records lower both eval losses (by 0.44 and 1.16 nats), while alice's lower
    // the Darcy one (0.13) but raise the Anne Elliot one (0.34), a net harm the in-run default also finds
    assert.ok(score(alone, bob) > 0, `bob helped the eval loss: ${score(alone, bob)}`);
    assert.ok(score(alone, alice) !== 0 && Number.isFinite(score(alone, alice)), `alice is scored: ${score(alone, alice)}`);
    assert.equal(weight(withCopies, carol), 0n, "the verbatim copy earns nothing");
    assert.equal(weight(withCopies, dave), 0n, "the near copy earns nothing");
    assert.equal(score(withCopies, carol), 0);
    assert.deepEqual(withCopies.contributions.find((x) => x.contributionId === "3")!.duplicateOf, { datanetId: "1", contributionId: "1", kind: "exact", similarity: 1 });
    assert.equal(withCopies.contributions.find((x) => x.contributionId === "4")!.duplicateOf!.contributionId, "2");
    // the originals earn exactly what they earn when the copies were never submitted
    assert.equal(weight(withCopies, alice), weight(alone, alice));
    assert.equal(weight(withCopies, bob), weight(alone, bob));
    assert.equal(score(withCopies, alice), score(alone, alice));
    const byAccount = new Map(withCopies.contributors.map((c) => [c.account.toLowerCase(), BigInt(c.weight)]));
    assert.equal(byAccount.get(carol.contributor) ?? 0n, 0n);
    assert.equal(byAccount.get(dave.contributor) ?? 0n, 0n);
    assert.equal(byAccount.get(alice.contributor)! + byAccount.get(bob.contributor)!, BigInt(withCopies.totalWeight));
  });

  it("without in-run vectors it falls back to the checkpoint method; without checkpoints too, to the gradient cosine; and says so", async () => {
    const { cp } = await import("node:fs/promises");
    const common = { modelDir: BASE_DIR, quantize: false, kernel, learningRate: 1e-2, maxSeqLen: 64, evalRecords, contributions: [alice, bob], trainRecords: [alice.records, bob.records] };
    await cp(join(dir, "adapter"), join(dir, "no-inrun"), { recursive: true, filter: (src) => !src.includes("inrun-attribution") });
    assert.equal((await attribute({ ...common, adapterDir: join(dir, "no-inrun") })).report.method, CHECKPOINT_METHOD);
    await cp(join(dir, "adapter"), join(dir, "bare"), { recursive: true, filter: (src) => !src.includes("checkpoints") && !src.includes("inrun-attribution") });
    const r = await attribute({ modelDir: BASE_DIR, adapterDir: join(dir, "bare"), quantize: false, kernel, learningRate: 1e-2, maxSeqLen: 64, evalRecords, contributions: [alice, bob], trainRecords: [alice.records, bob.records] });
    assert.equal(r.report.method, "grad_cos_cp");
    assert.ok(r.report.contributions.every((c) => Number.isFinite(c.score) && c.score !== 0));
    assert.ok(r.report.contributions.some((c) => c.score > 0));
  });
});
