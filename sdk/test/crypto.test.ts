import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import {
  decryptContent, DecryptionError, encryptContent, generateKeyPair, InvalidKeyError, keyIdOf, KeyNotFoundError,
  publicKeyOf, rewrapDataKey, unwrapDataKey, wrappedKeyFor,
} from "../src/crypto/index.ts";
import { parseContributionManifest } from "../src/schemas/index.ts";

const text = new TextEncoder().encode('{"text":"secret record"}\n'.repeat(1000));

describe("envelope encryption", () => {
  it("round-trips for every recipient and produces a manifest-valid encryption block", async () => {
    const custodian = generateKeyPair();
    const backup = generateKeyPair();
    const { ciphertext, encryption } = await encryptContent(text, [custodian.publicKey, backup.publicKey]);
    assert.equal(ciphertext.length, text.length + 16);
    assert.notDeepEqual(ciphertext.subarray(0, 32), text.subarray(0, 32));
    assert.deepEqual(encryption.wrappedKeys.map((w) => w.keyId), [custodian.keyId, backup.keyId]);
    assert.deepEqual(await decryptContent(ciphertext, encryption, custodian.privateKey), text);
    assert.deepEqual(await decryptContent(ciphertext, encryption, backup.privateKey), text);
    const manifest = parseContributionManifest({
      datanetId: "1", contributor: `0x${"11".repeat(20)}`, contentCid: "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e",
      contentHash: `0x${"00".repeat(32)}`, records: 1000, bytes: text.length, recordKinds: ["text"], encryption,
      createdAt: new Date().toISOString(),
    });
    assert.equal(manifest.encryption?.wrappedKeys.length, 2);
  });

  it("accepts hex keys (an Ethereum private key) and uncompressed public keys", async () => {
    const priv = secp256k1.utils.randomSecretKey();
    const privHex = "0x" + Buffer.from(priv).toString("hex");
    const uncompressed = secp256k1.getPublicKey(priv, false);
    assert.equal(keyIdOf(uncompressed), keyIdOf(publicKeyOf(privHex)));
    const { ciphertext, encryption } = await encryptContent(text, [uncompressed]);
    assert.deepEqual(await decryptContent(ciphertext, encryption, privHex), text);
    assert.throws(() => keyIdOf("02" + "00".repeat(32)), InvalidKeyError);
    assert.throws(() => publicKeyOf("0x1234"), InvalidKeyError);
  });

  it("refuses a key the envelope was not wrapped for", async () => {
    const custodian = generateKeyPair();
    const stranger = generateKeyPair();
    const { ciphertext, encryption } = await encryptContent(text, [custodian.publicKey]);
    await assert.rejects(decryptContent(ciphertext, encryption, stranger.privateKey), (e: unknown) => {
      assert.ok(e instanceof KeyNotFoundError);
      assert.equal(e.keyId, stranger.keyId);
      assert.deepEqual(e.available, [custodian.keyId]);
      return true;
    });
    // A wrapped key relabelled with the stranger's id still cannot be opened with the stranger's key.
    const forged = { ...encryption.wrappedKeys[0], keyId: stranger.keyId };
    await assert.rejects(unwrapDataKey(forged, stranger.privateKey), (e: unknown) => e instanceof DecryptionError && e.part === "wrapped-key");
  });

  it("fails with a clear error when ciphertext or wrapped key is tampered with", async () => {
    const custodian = generateKeyPair();
    const { ciphertext, encryption } = await encryptContent(text, [custodian.publicKey]);
    const flipped = ciphertext.slice();
    flipped[100] ^= 1;
    await assert.rejects(decryptContent(flipped, encryption, custodian.privateKey), (e: unknown) => {
      assert.ok(e instanceof DecryptionError);
      assert.equal(e.part, "content");
      assert.match(e.message, /tampered/);
      return true;
    });
    await assert.rejects(decryptContent(ciphertext.subarray(0, ciphertext.length - 1), encryption, custodian.privateKey), DecryptionError);
    const w = encryption.wrappedKeys[0];
    const badWrap = { ...w, ciphertext: (w.ciphertext[0] === "0" ? "1" : "0") + w.ciphertext.slice(1) };
    await assert.rejects(decryptContent(ciphertext, { ...encryption, wrappedKeys: [badWrap] }, custodian.privateKey),
      (e: unknown) => e instanceof DecryptionError && e.part === "wrapped-key");
  });

  it("re-wraps a data key for a trainer without touching the content", async () => {
    const custodian = generateKeyPair();
    const trainer = generateKeyPair();
    const { ciphertext, encryption } = await encryptContent(text, [custodian.publicKey]);
    const forTrainer = await rewrapDataKey(wrappedKeyFor(encryption, custodian.privateKey), custodian.privateKey, trainer.publicKey);
    assert.equal(forTrainer.keyId, trainer.keyId);
    assert.notEqual(forTrainer.ephemeralPublicKey, encryption.wrappedKeys[0].ephemeralPublicKey);
    const trainerView = { ...encryption, wrappedKeys: [forTrainer] };
    assert.deepEqual(await decryptContent(ciphertext, trainerView, trainer.privateKey), text);
    // The trainer cannot re-wrap the custodian's original.
    await assert.rejects(rewrapDataKey(encryption.wrappedKeys[0], trainer.privateKey, trainer.publicKey), DecryptionError);
  });
});
