// The side-by-side chat's pair of models, and the base model card read in the browser (file set +
// sha256 check with WebCrypto).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { parseBaseModelCard } from "@tributary/sdk/schemas";
import { BaseModelCardError, formatParameters, readBaseModelCard } from "../src/lib/base-model-card.ts";
import { comparableWith, defaultPair, pairRoute } from "../src/lib/compare.ts";
import type { ServedModel } from "../src/lib/compare.ts";

const base = (id: string): ServedModel => ({ id, tributary: { kind: "base-model", base_model: id } });
const version = (n: number, of: string): ServedModel => ({
  id: `model-${n}`,
  tributary: { kind: "model-version", base_model: of, model_id: String(n) },
});
const served = [
  base("austen"),
  base("other"),
  version(1, "austen"),
  version(2, "other"),
  version(3, "austen"),
];

describe("side-by-side pair", () => {
  it("a fine-tune is compared with its base; a base with its newest fine-tune", () => {
    assert.deepEqual(defaultPair(served, "model-1"), ["austen", "model-1"]);
    assert.deepEqual(defaultPair(served, "model-2"), ["other", "model-2"]);
    assert.deepEqual(defaultPair(served, "austen"), ["austen", "model-3"]);
    assert.deepEqual(defaultPair([base("lonely")], "lonely"), ["lonely"]);
  });

  it("an explicit pair is kept; an unknown model alone", () => {
    assert.deepEqual(defaultPair(served, "model-1", "model-3"), ["model-1", "model-3"]);
    assert.deepEqual(defaultPair(served, "model-9"), ["model-9"]);
  });

  it("offers only models of the same base, base first", () => {
    assert.deepEqual(
      comparableWith(served, "model-3").map((m) => m.id),
      ["austen", "model-1"],
    );
    assert.deepEqual(
      comparableWith(served, "other").map((m) => m.id),
      ["model-2"],
    );
    assert.equal(pairRoute("a b", "model-1"), "/chat/a%20b/model-1");
    assert.equal(pairRoute("austen"), "/chat/austen");
  });
});

/** A file set in a map keyed by made-up content ids (the IPFS client's own CID check is not under test). */
function storeOf(files: Record<string, Uint8Array>, tamper?: string) {
  const blobs = new Map<string, Uint8Array>();
  const entries = Object.entries(files).map(([p, bytes], i) => {
    const cid = `file-${i}`;
    blobs.set(cid, p === tamper ? Uint8Array.from(bytes, (b, j) => (j === 0 ? b ^ 1 : b)) : bytes);
    return {
      path: p,
      cid,
      size: bytes.length,
      sha256: `0x${createHash("sha256").update(bytes).digest("hex")}`,
    };
  });
  const setCid = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
  blobs.set(
    setCid,
    new TextEncoder().encode(JSON.stringify({ schema: "tributary/file-set@1", files: entries })),
  );
  return {
    cid: setCid,
    store: {
      cat: async (cid: unknown) => {
        const b = blobs.get(String(cid));
        if (!b) throw new Error(`no ${String(cid)}`);
        return b;
      },
    },
  };
}

describe("base model card in the browser", () => {
  const dir = path.join(import.meta.dirname, "..", "..", "engine", "models", "tributary-austen-4m");
  const read = (f: string) => new Uint8Array(fs.readFileSync(path.join(dir, f)));

  it("reads the committed demo model's card from its file set, sha256 checked", async () => {
    const { store, cid } = storeOf({
      "config.json": read("config.json"),
      "tributary-model.json": read("tributary-model.json"),
    });
    const card = await readBaseModelCard(store, { name: "tributary-austen-4m", cid });
    assert.deepEqual(
      card,
      parseBaseModelCard(JSON.parse(fs.readFileSync(path.join(dir, "tributary-model.json"), "utf8"))),
    );
    assert.equal(formatParameters(card.parameters), "3.8M parameters");
  });

  it("refuses a card whose bytes do not match the file set", async () => {
    const { store, cid } = storeOf(
      { "tributary-model.json": read("tributary-model.json") },
      "tributary-model.json",
    );
    await assert.rejects(
      readBaseModelCard(store, { name: "x", cid }),
      (e: Error) => e instanceof BaseModelCardError && /sha256/.test(e.message),
    );
  });

  it("derives the card from config.json when the folder has none; a non-CID registration is refused by name", async () => {
    const { store, cid } = storeOf({ "config.json": read("config.json") });
    const card = await readBaseModelCard(store, { name: "austen-no-card", cid });
    assert.equal(card.name, "austen-no-card");
    assert.equal(card.contextLength, 512);
    assert.equal(card.recommended.training.maxSeqLength, 512);
    await assert.rejects(
      readBaseModelCard(store, { name: "tiny", cid: "tiny-llama" }),
      /tiny is registered with "tiny-llama", not an IPFS CID/,
    );
  });
});
