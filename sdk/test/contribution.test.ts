import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { KuboContentStore } from "../src/content/index.ts";
import { ContentHashMismatchError, prepareContribution, readContribution, uploadContribution } from "../src/contribution/index.ts";
import { generateKeyPair, KeyNotFoundError, rewrapDataKey, unwrapDataKey } from "../src/crypto/index.ts";
import { NormaliseError } from "../src/records/index.ts";
import { startTestNode } from "./helpers/node.ts";

const contributor = `0x${"ab".repeat(20)}`;
const csv = "question,answer\nWhat is a tributary?,A stream that flows into a larger river.\nWhat is a delta?,Land formed where a river meets the sea.\n";

describe("contribution flow", () => {
  let node: Awaited<ReturnType<typeof startTestNode>>;
  let store: KuboContentStore;
  before(async () => {
    node = await startTestNode();
    store = new KuboContentStore({ url: node.apiUrl });
  });
  after(() => node.cleanup());

  it("encrypts for the custodian, stores, and reads back for a trainer the custodian re-wrapped for", async () => {
    const custodian = generateKeyPair();
    const trainer = generateKeyPair();
    const prepared = await prepareContribution("faq.csv", csv, { recipients: [custodian.publicKey] });
    assert.equal(prepared.records.length, 2);
    assert.ok(!new TextDecoder().decode(prepared.payload).includes("tributary"), "payload is ciphertext");
    const { manifest, manifestCid } = await uploadContribution(store, prepared, { datanetId: 3n, contributor });
    assert.equal(manifest.records, 2);
    assert.deepEqual(manifest.recordKinds, ["prompt-completion"]);
    assert.match(manifest.contentHash, /^0x[0-9a-f]{64}$/);

    const asCustodian = await readContribution(store, manifestCid, { privateKey: custodian.privateKey });
    assert.deepEqual(asCustodian.records[0], { prompt: "What is a tributary?", completion: "A stream that flows into a larger river." });
    await assert.rejects(readContribution(store, manifestCid, { privateKey: trainer.privateKey }), KeyNotFoundError);
    const forTrainer = await rewrapDataKey(manifest.encryption!.wrappedKeys[0], custodian.privateKey, trainer.publicKey);
    const dataKey = await unwrapDataKey(forTrainer, trainer.privateKey);
    assert.deepEqual((await readContribution(store, manifest, { dataKey })).records, asCustodian.records);
  });

  it("stores open contributions in plaintext and catches a manifest whose hash does not match", async () => {
    const prepared = await prepareContribution("notes.md", "# River\n\nWater flows.\n\nDown hill.", { normalise: { maxChunkChars: 12 } });
    assert.equal(prepared.encryption, undefined);
    const { manifest } = await uploadContribution(store, prepared, { datanetId: "1", contributor });
    assert.deepEqual((await readContribution(store, manifest)).records, [{ text: "# River" }, { text: "Water flows." }, { text: "Down hill." }]);
    const forged = { ...manifest, contentHash: `0x${"00".repeat(32)}` as const };
    await assert.rejects(readContribution(store, forged), ContentHashMismatchError);
  });

  it("refuses a malformed file before anything is stored", async () => {
    const before = (await store.listPins()).length;
    await assert.rejects(prepareContribution("bad.jsonl", '{"text":"ok"}\n{"messages":[]}\n'), (e: unknown) =>
      e instanceof NormaliseError && e.line === 2 && e.field === "messages");
    assert.equal((await store.listPins()).length, before);
  });
});
