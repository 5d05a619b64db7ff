// The "Create a Datanet" form's checks and the upload reader (src/lib/datanet-form.ts): each problem is a
// sentence on its field, and files go through the SDK's normaliser with every bad line reported.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseEther } from "viem";
import {
  checkDatanetForm,
  composeDescription,
  EMPTY_DATANET_FORM,
  readUpload,
  summaryOf,
} from "../src/lib/datanet-form.ts";

const OWNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const CURATOR = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc";
const form = (patch: Partial<typeof EMPTY_DATANET_FORM>) => ({
  ...EMPTY_DATANET_FORM,
  name: "Recipes",
  ...patch,
});
const bytes = (s: string) => new TextEncoder().encode(s);

describe("Datanet form", () => {
  it("accepts a complete open Datanet and normalises tags and curators", () => {
    const { errors, value } = checkDatanetForm(
      form({
        summary: "Family recipes.",
        description: "## Sources\nHand-written cards.",
        tags: "Cooking, recipes, cooking ,",
        curators: `${CURATOR}\n${CURATOR.toUpperCase().replace("0X", "0x")}`,
      }),
      OWNER,
    );
    assert.deepEqual(errors, {});
    assert.equal(value!.description, "Family recipes.\n\n## Sources\nHand-written cards.");
    assert.deepEqual(value!.tags, ["cooking", "recipes"]);
    assert.deepEqual(value!.curators, ["0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"]);
    assert.equal(value!.price, 0n);
  });

  it("says what is wrong with each field", () => {
    const { errors, value } = checkDatanetForm(
      {
        ...EMPTY_DATANET_FORM,
        license: " ",
        tags: "x".repeat(41),
        curators: "0x1234",
        policy: "paid",
        price: "",
      },
      OWNER,
    );
    assert.equal(value, undefined);
    assert.match(errors.name!, /Give the Datanet a name/);
    assert.match(errors.license!, /Name a licence/);
    assert.match(errors.tags!, /longer than 40 characters/);
    assert.match(errors.curators!, /"0x1234" is not an address/);
    assert.match(errors.price!, /needs a price per job/);
  });

  it("parses a paid price in OPEN and refuses zero, junk and too many decimals", () => {
    assert.equal(checkDatanetForm(form({ policy: "paid", price: "2.5" })).value!.price, parseEther("2.5"));
    assert.match(checkDatanetForm(form({ policy: "paid", price: "0" })).errors.price!, /above 0/);
    assert.match(
      checkDatanetForm(form({ policy: "paid", price: "1,5" })).errors.price!,
      /not an amount of OPEN/,
    );
    assert.match(
      checkDatanetForm(form({ policy: "paid", price: "0.0000000000000000001" })).errors.price!,
      /at most 18 decimals/,
    );
    // a price typed before switching back to Open is ignored, not sent
    assert.equal(checkDatanetForm(form({ policy: "open", price: "7" })).value!.price, 0n);
  });

  it("refuses the owner as a curator (the owner curates already)", () => {
    assert.match(
      checkDatanetForm(form({ curators: OWNER.toLowerCase() }), OWNER).errors.curators!,
      /You own/,
    );
  });

  it("stores the summary as the description's first paragraph", () => {
    assert.equal(composeDescription("  One line. ", ""), "One line.");
    assert.equal(summaryOf(composeDescription("One line.", "Body\n\nmore")), "One line.");
    assert.equal(summaryOf(undefined), "");
  });
});

describe("upload reader", () => {
  it("reads chat .jsonl into records with a preview of the first rows", () => {
    const lines = Array.from({ length: 7 }, (_, i) =>
      JSON.stringify({
        messages: [
          { role: "user", content: `Question ${i}?` },
          { role: "assistant", content: `Answer ${i}.` },
        ],
      }),
    );
    const u = readUpload("qa.jsonl", bytes(lines.join("\n")));
    assert.equal(u.problems, undefined);
    assert.equal(u.records, 7);
    assert.deepEqual(u.kinds, ["chat"]);
    assert.equal(u.preview!.length, 5);
    assert.deepEqual(u.preview![1].parts, [
      { label: "user", text: "Question 1?" },
      { label: "assistant", text: "Answer 1." },
    ]);
  });

  it("reports every bad line of a .jsonl file by number", () => {
    const text = [
      JSON.stringify({ prompt: "p", completion: "c" }),
      "{not json",
      JSON.stringify({ prompt: "p", completion: "c" }),
      JSON.stringify({ nothing: true }),
    ].join("\n");
    const u = readUpload("mixed.jsonl", bytes(text));
    assert.equal(u.records, undefined);
    assert.deepEqual(
      u.problems!.map((p) => p.line),
      [2, 4],
    );
  });

  it("reads .csv with prompt/completion columns and .md text into chunks", () => {
    const csv = readUpload("pairs.csv", bytes("prompt,completion\nHi,Hello\nBye,See you\n"));
    assert.equal(csv.records, 2);
    assert.equal(csv.preview![0].kind, "prompt-completion");
    const md = readUpload("notes.md", bytes("# Title\n\nFirst paragraph.\n\nSecond paragraph.\n"));
    assert.ok(md.records! >= 1);
    assert.equal(md.preview![0].kind, "text");
  });

  it("refuses other file types with what to use instead", () => {
    const u = readUpload("data.xlsx", bytes("PK"));
    assert.match(u.problems![0].reason, /\.jsonl, \.csv, \.txt or \.md/);
  });
});
