// The real corpus (Debian's r-cran-janeaustenr, fetched with `apt-get download` into .tributary/cache)
// and a tokenizer trained on it. Skips with a message where apt cannot fetch the package.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { Tokenizer } from "@huggingface/tokenizers";
import { buildCorpus, type CorpusResult } from "../scripts/corpus.ts";
import { chunkDocument } from "../scripts/base-model/chunk.ts";
import { chaptersOf, cleanParagraph, paragraphsOf } from "../scripts/corpus/clean.ts";
import { trainBaseTokenizer } from "../scripts/tokenizer/base-tokenizer.ts";

function tryCorpus(): CorpusResult | string {
  try {
    execFileSync("apt-get", ["--version"], { stdio: "ignore" });
  } catch {
    return "apt-get is not available on this machine";
  }
  try {
    return buildCorpus();
  } catch (err) {
    return (err as Error).message;
  }
}

describe("corpus cleaning", () => {
  it("joins wrapped lines into paragraphs and drops headings and front matter", () => {
    const lines = ["EMMA", "", "By Jane Austen", "", "VOLUME I", "", "CHAPTER I", "", "", "Emma Woodhouse, handsome,", "clever, and  rich.", "", "She was _very_ young.", "", "Chapter 2", "", "Next \u201cquoted\u201d text.", "", "THE END"];
    const chapters = chaptersOf("emma", lines);
    assert.deepEqual(
      chapters.map((c) => c.paragraphs),
      [["Emma Woodhouse, handsome, clever, and rich.", "She was very young."], ['Next "quoted" text.']],
    );
    assert.deepEqual(paragraphsOf(["a", null, "b", "c", ""]), ["a", "b c"]);
    assert.equal(cleanParagraph("a\u2014b \u2018c\u2019"), "a--b 'c'");
  });
});

describe("pretraining records", () => {
  const words = (s: string) => s.split(/\s+/).filter(Boolean).length;
  it("groups whole paragraphs up to the budget, then splits long ones at sentences, then words", () => {
    const doc = "One two three.\n\nFour five.\n\nSix seven eight nine. Ten eleven.\n\nA b c d e f g h i j";
    assert.deepEqual(chunkDocument(doc, 5, words), [
      "One two three.\n\nFour five.",
      "Six seven eight nine.",
      "Ten eleven.",
      "A b c d e",
      "f g h i j",
    ]);
    assert.deepEqual(chunkDocument("a\n\n\n\nb", 10, words), ["a\n\nb"]);
    assert.throws(() => chunkDocument("a", 0, words), RangeError);
  });
});

describe("Austen corpus from Debian", () => {
  const corpus = tryCorpus();
  const skip = typeof corpus === "string" ? `corpus unavailable: ${corpus}` : false;

  it("has the six novels with their published chapter counts and a disjoint eval split", { skip }, () => {
    const c = corpus as CorpusResult;
    const chapters = Object.fromEntries(c.manifest.books.map((b) => [b.name, b.chapters]));
    // Chapter counts of the novels as published (Emma 3 volumes: 18+18+19; Pride and Prejudice 61; ...).
    assert.deepEqual(chapters, { sensesensibility: 50, prideprejudice: 61, mansfieldpark: 48, emma: 55, northangerabbey: 31, persuasion: 24 });
    assert.equal(c.manifest.train.chapters + c.manifest.eval.chapters, 269);
    const train = readFileSync(c.trainTxt, "utf8");
    const evalText = readFileSync(c.evalTxt, "utf8");
    assert.ok(train.startsWith("The family of Dashwood had long been settled in Sussex."));
    assert.ok(train.length > 3_000_000 && evalText.length > 100_000);
    assert.doesNotMatch(train, /_|^CHAPTER|^Chapter \d/m);
    const evalParagraphs = evalText.split(/\n\n+/).filter((p) => p.length > 200);
    assert.ok(evalParagraphs.length > 100);
    for (const p of evalParagraphs) assert.ok(!train.includes(p), `eval paragraph also in train: ${p.slice(0, 60)}`);
    const jsonl = readFileSync(c.trainJsonl, "utf8").trim().split("\n");
    assert.equal(jsonl.length, c.manifest.train.chapters);
    assert.equal(typeof JSON.parse(jsonl[0]!).text, "string");
  });

  it("trains a 4096-token tokenizer that round-trips the held-out chapters and compresses them", { skip }, () => {
    const c = corpus as CorpusResult;
    const trained = trainBaseTokenizer(readFileSync(c.trainTxt, "utf8").split(/\n\n+/), { vocabSize: 4096, modelMaxLength: 512 });
    assert.equal(trained.model.vocab.size, 4096);
    const tok = new Tokenizer(JSON.parse(JSON.stringify(trained.tokenizerJson)), JSON.parse(JSON.stringify(trained.tokenizerConfig)));
    const evalText = readFileSync(c.evalTxt, "utf8");
    const ids = tok.encode(evalText, { add_special_tokens: false }).ids;
    assert.equal(tok.decode(ids), evalText);
    const charsPerToken = evalText.length / ids.length;
    assert.ok(charsPerToken > 3.5, `chars per token ${charsPerToken}`);
    // Records for pretraining fit 254 tokens and lose no words.
    const count = (s: string) => tok.encode(s, { add_special_tokens: false }).ids.length;
    const chunks = evalText.split(/\n\n\n+/).flatMap((ch) => chunkDocument(ch, 254, count));
    for (const c of chunks) assert.ok(count(c) <= 254);
    assert.equal(chunks.join(" ").split(/\s+/).join(" "), evalText.trim().split(/\s+/).join(" "));
  });
});
