import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chunkText, NormaliseError, normaliseFile, recordsToJsonl } from "../src/records/index.ts";

function fails(fn: () => unknown, check: (e: NormaliseError) => void) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof NormaliseError, String(e));
    check(e);
    return true;
  });
}

describe("jsonl", () => {
  it("reads all three record kinds, skipping blank lines and CRLF", () => {
    const text = [
      JSON.stringify({ messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "hello" }] }),
      "",
      JSON.stringify({ prompt: "2+2?", completion: "4" }),
      JSON.stringify({ text: "plain" }),
    ].join("\r\n");
    const out = normaliseFile("data.jsonl", new TextEncoder().encode("\ufeff" + text));
    assert.equal(out.records.length, 3);
    assert.deepEqual(out.kinds, ["chat", "prompt-completion", "text"]);
    assert.deepEqual(out.records[1], { prompt: "2+2?", completion: "4" });
  });

  it("names file, line and field of each bad line", () => {
    const text = [
      JSON.stringify({ text: "ok" }),
      "{not json",
      JSON.stringify({ messages: [{ role: "user", content: "q" }, { role: "bot", content: "a" }] }),
      JSON.stringify({ prompt: "q", completion: "" }),
    ].join("\n");
    fails(() => normaliseFile("upload.jsonl", text), (e) => {
      assert.equal(e.file, "upload.jsonl");
      assert.deepEqual(e.problems.map((p) => [p.line, p.field]), [[2, undefined], [3, "messages[1].role"], [4, "completion"]]);
      assert.match(e.message, /^Cannot read upload\.jsonl: upload\.jsonl:2: is not valid JSON/);
      assert.match(e.message, /upload\.jsonl:3 messages\[1\]\.role: /);
    });
  });

  it("rejects invalid UTF-8, unknown extensions and empty files", () => {
    fails(() => normaliseFile("x.jsonl", new Uint8Array([0x7b, 0xff, 0x7d])), (e) => assert.match(e.message, /not valid UTF-8/));
    fails(() => normaliseFile("x.pdf", "abc"), (e) => assert.match(e.message, /unsupported extension/));
    fails(() => normaliseFile("x.jsonl", "\n\n"), (e) => assert.match(e.message, /contains no records/));
  });
});

describe("text and markdown", () => {
  it("packs whole paragraphs up to the limit", () => {
    const paras = ["a".repeat(40), "b".repeat(40), "c".repeat(40)];
    const chunks = chunkText(paras.join("\n\n  \n"), { maxChunkChars: 90 });
    assert.deepEqual(chunks, [`${paras[0]}\n\n${paras[1]}`, paras[2]]);
  });

  it("splits an over-long paragraph at sentence ends and never exceeds the limit", () => {
    const sentence = "This is a sentence of some length. ";
    const long = sentence.repeat(20).trim();
    const chunks = chunkText(long, { maxChunkChars: 100 });
    assert.ok(chunks.length > 1);
    for (const c of chunks) {
      assert.ok(c.length <= 100, `chunk of ${c.length}`);
      assert.ok(c.endsWith("."), c);
    }
    assert.equal(chunks.join(" "), long);
    const unbroken = "x".repeat(250);
    assert.deepEqual(chunkText(unbroken, { maxChunkChars: 100 }).map((c) => c.length), [100, 100, 50]);
  });

  it("keeps a fenced code block with blank lines in one paragraph in markdown", () => {
    const md = "# Title\n\n```py\ndef f():\n\n    return 1\n```\n\nAfter.";
    const out = normaliseFile("notes.md", md, { maxChunkChars: 35 });
    assert.deepEqual(out.records.map((r) => (r as { text: string }).text), ["# Title", "```py\ndef f():\n\n    return 1\n```", "After."]);
    // As plain text the blank line inside the block is a paragraph boundary.
    const asText = normaliseFile("notes.txt", md, { maxChunkChars: 35 }).records.map((r) => (r as { text: string }).text);
    assert.ok(asText.every((t) => !t.includes("def f():\n\n    return")), JSON.stringify(asText));
  });
});

describe("csv", () => {
  it("maps prompt/completion columns by header, including quoted multi-line cells", () => {
    const csv = 'id,question,answer\n1,"What is 2+2?",4\n2,"Say ""hi""","line one\nline two"\n';
    const out = normaliseFile("qa.csv", csv);
    assert.deepEqual(out.records, [
      { prompt: "What is 2+2?", completion: "4" },
      { prompt: 'Say "hi"', completion: "line one\nline two" },
    ]);
  });

  it("uses a text column, or the columns asked for", () => {
    assert.deepEqual(normaliseFile("t.csv", "Text,src\nhello,a\n").records, [{ text: "hello" }]);
    const out = normaliseFile("t.csv", "q,a,text\nx,y,z\n", { csvColumns: { prompt: "q", completion: "a" } });
    assert.deepEqual(out.records, [{ prompt: "x", completion: "y" }]);
  });

  it("names the line and column of a bad cell and explains a bad header", () => {
    fails(() => normaliseFile("qa.csv", "prompt,completion\na,b\nc,\n"), (e) => {
      assert.equal(e.line, 3);
      assert.equal(e.field, 'column "completion"');
    });
    fails(() => normaliseFile("qa.csv", "foo,bar\n1,2\n"), (e) => {
      assert.equal(e.field, "header");
      assert.match(e.message, /found \[foo, bar\]/);
    });
    fails(() => normaliseFile("qa.csv", 'text\n"unclosed\n'), (e) => assert.match(e.message, /not valid CSV/));
  });
});

describe("jsonl output", () => {
  it("round-trips through the jsonl reader", () => {
    const records = [{ text: "a\nb" }, { prompt: "p", completion: "c" }];
    const jsonl = recordsToJsonl(records);
    assert.equal(jsonl.split("\n").length, 3);
    assert.deepEqual(normaliseFile("x.jsonl", jsonl).records, records);
  });
});
