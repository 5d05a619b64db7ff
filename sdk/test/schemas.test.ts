import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  DEFAULT_EVAL_TOLERANCE, describeVerification, verificationOf,
  jsonSchemas, parseAttributionReport, parseCheckpointManifest, parseDatanetMetadata, parseDocument, parseJobSpec, parseRecord,
  SchemaValidationError,
} from "../src/schemas/index.ts";

const addr = (n: number) => `0x${n.toString(16).padStart(40, "0")}`;

describe("job spec", () => {
  it("fills LLaMA-Factory-like defaults for a minimal spec", () => {
    const spec = parseJobSpec({ baseModel: "tributary/tiny-llama", data: [{ datanetId: "1", version: 3 }] });
    assert.equal(spec.schema, "tributary/job-spec@1");
    assert.equal(spec.method, "lora");
    assert.deepEqual(spec.lora, { r: 8, alpha: 16, dropout: 0.05, targetModules: ["q_proj", "v_proj"], rslora: false });
    assert.equal(spec.training.learningRate, 2e-4);
    assert.equal(spec.training.epochs, 3);
    assert.equal(spec.training.batchSize, 4);
    assert.equal(spec.training.scheduler, "cosine");
    assert.deepEqual(spec.quantization, { type: "nf4", doubleQuant: true, blockSize: 64, computeDtype: "bf16" });
    assert.equal(spec.evalSplit, 0.1);
  });

  it("keeps values given and defaults the rest of a partly given section", () => {
    const spec = parseJobSpec({
      baseModel: "m", method: "qlora", data: [{ datanetId: "7", version: 1 }],
      lora: { r: 16 }, training: { learningRate: 1e-4, scheduler: "linear" },
    });
    assert.equal(spec.lora.r, 16);
    assert.equal(spec.lora.alpha, 16);
    assert.equal(spec.training.learningRate, 1e-4);
    assert.equal(spec.training.epochs, 3);
    assert.equal(spec.training.scheduler, "linear");
  });

  it("names the field and the reason on bad input", () => {
    assert.throws(
      () => parseJobSpec({ baseModel: "m", data: [{ datanetId: "1", version: 1 }], training: { learningRate: -1 }, lora: { targetModules: ["q", 3] } }),
      (err: unknown) => {
        assert.ok(err instanceof SchemaValidationError);
        const paths = err.issues.map((i) => i.path);
        assert.ok(paths.includes("training.learningRate"), paths.join());
        assert.ok(paths.includes("lora.targetModules[1]"), paths.join());
        assert.match(err.message, /training\.learningRate: .*0/);
        return true;
      });
  });

  it("rejects a wrong schema version, missing data and duplicate datanets", () => {
    assert.throws(() => parseJobSpec({ schema: "tributary/job-spec@2", baseModel: "m", data: [{ datanetId: "1", version: 1 }] }),
      /schema: expected "tributary\/job-spec@1", got "tributary\/job-spec@2"/);
    assert.throws(() => parseJobSpec({ baseModel: "m", data: [] }), /data: must reference at least one Datanet version/);
    assert.throws(() => parseJobSpec({ baseModel: "m", data: [{ datanetId: "1", version: 1 }, { datanetId: "1", version: 2 }] }),
      /must not list a Datanet twice/);
    assert.throws(() => parseJobSpec({ baseModel: "m", method: "full", data: [{ datanetId: "1", version: 1 }] }), /method/);
  });

  it("verification: replay or eval; absent, the base decides (replay where the engine loads it); eval needs held-out records; a tolerance only for eval", () => {
    const data = [{ datanetId: "1", version: 1 }];
    const plain = parseJobSpec({ baseModel: "m", data });
    assert.equal(plain.verification, undefined);
    assert.deepEqual(verificationOf(plain, true), { class: "replay", tolerance: null, explicit: false });
    assert.deepEqual(verificationOf(plain, false), { class: "eval", tolerance: DEFAULT_EVAL_TOLERANCE, explicit: false });
    const ev = parseJobSpec({ baseModel: "m", data, verification: "eval", evalTolerance: 0.02 });
    assert.deepEqual(verificationOf(ev, true), { class: "eval", tolerance: 0.02, explicit: true });
    assert.match(describeVerification(verificationOf(ev, true)), /^eval \(any backend; the held-out eval loss is recomputed, tolerance 2%\)$/);
    assert.deepEqual(verificationOf(parseJobSpec({ baseModel: "m", data, verification: "replay" }), false), { class: "replay", tolerance: null, explicit: true });
    assert.match(describeVerification(null, plain), /replay on Llama bases .* eval on others/);
    assert.throws(() => parseJobSpec({ baseModel: "m", data, verification: "eval", evalSplit: 0 }), /evalSplit: must be above 0 for verification eval/);
    assert.throws(() => parseJobSpec({ baseModel: "m", data, verification: "replay", evalTolerance: 0.1 }), /evalTolerance: applies to verification eval only/);
    assert.throws(() => parseJobSpec({ baseModel: "m", data, verification: "bitwise" }), /verification/);
  });
});

describe("records", () => {
  it("accepts the three record shapes", () => {
    assert.deepEqual(parseRecord({ text: "hi" }), { text: "hi" });
    assert.deepEqual(parseRecord({ prompt: "q", completion: "a" }), { prompt: "q", completion: "a" });
    const chat = { messages: [{ role: "user", content: "q" }, { role: "assistant", content: "a" }] };
    assert.deepEqual(parseRecord(chat), chat);
  });

  it("names the bad field of the shape the keys point to", () => {
    assert.throws(() => parseRecord({ messages: [{ role: "user", content: "q" }, { role: "robot", content: "a" }] }),
      (err: unknown) => err instanceof SchemaValidationError && err.issues[0].path === "messages[1].role");
    assert.throws(() => parseRecord({ messages: [{ role: "user", content: "q" }] }), /at least one assistant message/);
    assert.throws(() => parseRecord({ prompt: "q" }), /completion/);
    assert.throws(() => parseRecord({ foo: 1 }), /"messages", "prompt"\+"completion" or "text", got an object with keys \[foo\]/);
    assert.throws(() => parseRecord([1]), /got an array/);
  });
});

describe("documents", () => {
  it("validates datanet metadata with defaults", () => {
    const md = parseDatanetMetadata({ name: "Medical QA" });
    assert.equal(md.schema, "tributary/datanet@1");
    assert.deepEqual(md.recordKinds, ["chat", "prompt-completion", "text"]);
    assert.throws(() => parseDatanetMetadata({ name: "" }), /name: must not be empty/);
    assert.throws(() => parseDatanetMetadata({ name: "x", custodian: { publicKey: "02ab", keyId: "k" } }), /custodian\.publicKey/);
  });

  it("checks that attribution weights sum to the total", () => {
    const contribution = (id: string, who: number, weight: string) => ({ datanetId: "1", contributionId: id, contributor: addr(who), score: 1, weight });
    const base = {
      totalWeight: "100", merkleRoot: `0x${"ab".repeat(32)}`,
      contributions: [contribution("1", 1, "60"), contribution("2", 2, "40")],
      contributors: [{ account: addr(1), weight: "60" }, { account: addr(2), weight: "40" }],
    };
    assert.equal(parseAttributionReport(base).contributors.length, 2);
    assert.throws(() => parseAttributionReport({ ...base, totalWeight: "99" }), /contributors: weights sum to 100, expected totalWeight 99/);
    // the leaves that go on chain must carry the whole total too
    assert.throws(() => parseAttributionReport({ ...base, contributions: [contribution("1", 1, "60")] }), /contributions: contribution weights sum to 60, expected totalWeight 100/);
    assert.throws(() => parseAttributionReport({ ...base, contributors: [{ account: addr(1), weight: "50" }, { account: addr(1), weight: "50" }] }),
      /contributors\[1\]\.account: duplicate account/);
  });

  it("checks a checkpoint manifest: one leaf per checkpoint, in order, increasing steps, each folder's CID", () => {
    const h = (b: string) => `0x${b.repeat(64)}`;
    const cid = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
    const m = {
      schema: "tributary/checkpoint-manifest@1",
      jobId: "7",
      checkpointEvery: 2,
      root: h("a"),
      count: 3,
      leaves: [{ index: 0, step: 2, state: h("1"), cid }, { index: 1, step: 4, state: h("2"), cid }, { index: 2, step: 5, state: h("3"), cid }],
      final: { adapterHash: h("b"), attributionRoot: h("c"), attributionTotalWeight: "100" },
      createdAt: "2026-01-01T00:00:00Z",
    };
    assert.equal(parseCheckpointManifest(m).leaves.length, 3);
    assert.equal(parseDocument(m).schema, "tributary/checkpoint-manifest@1");
    assert.throws(() => parseCheckpointManifest({ ...m, count: 4 }), /leaves: must list count \(4\) leaves, got 3/);
    assert.throws(() => parseCheckpointManifest({ ...m, leaves: [m.leaves[1], m.leaves[0], m.leaves[2]] }), /leaves\[0\]\.index: must be 0/);
    assert.throws(() => parseCheckpointManifest({ ...m, leaves: [m.leaves[0], { ...m.leaves[1], step: 2 }, m.leaves[2]] }), /leaves\[1\]\.step: steps must increase/);
    assert.throws(() => parseCheckpointManifest({ ...m, leaves: [m.leaves[0], { ...m.leaves[1], cid: undefined }, m.leaves[2]] }), /leaves\[1\]\.cid: a checkpoint leaf needs the CID/);
    // a start leaf (step 0) has no folder
    assert.equal(parseCheckpointManifest({ ...m, count: 2, leaves: [{ index: 0, step: 0, state: h("1") }, { index: 1, step: 4, state: h("2"), cid }] }).count, 2);
  });

  it("dispatches on the schema field", () => {
    assert.equal(parseDocument({ schema: "tributary/datanet@1", name: "n" }).schema, "tributary/datanet@1");
    assert.throws(() => parseDocument({ schema: "tributary/nope@1" }), /schema: expected one of .*got "tributary\/nope@1"/);
  });
});

describe("JSON Schema export", () => {
  it("exports every document with its constraints and defaults", () => {
    const all = jsonSchemas();
    assert.deepEqual(Object.keys(all).sort(), [
      "adapter-manifest.v1.json", "attribution.v1.json", "base-model.v1.json", "checkpoint-manifest.v1.json", "contribution.v1.json", "datanet.v1.json",
      "job-spec.v1.json", "metrics.v1.json", "record.v1.json",
    ]);
    const job = all["job-spec.v1.json"] as any;
    assert.equal(job.properties.schema.const, "tributary/job-spec@1");
    assert.equal(job.properties.lora.properties.r.default, 8);
    assert.deepEqual(job.properties.method.enum, ["lora", "qlora"]);
    assert.ok(job.required.includes("baseModel") && job.required.includes("data"));
    assert.ok(!job.required.includes("method"), "fields with defaults are optional on input");
    const record = all["record.v1.json"] as any;
    assert.equal(record.anyOf.length, 3);
  });
});
