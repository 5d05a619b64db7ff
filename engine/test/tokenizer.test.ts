import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ChatTokenizer } from "../src/model/tokenizer.ts";
import { CHAT_TEMPLATE, tinyTokenizerFiles } from "./helpers/tiny-tokenizer.ts";

const { tokenizerJson, tokenizerConfig } = tinyTokenizerFiles();
const tok = new ChatTokenizer(tokenizerJson, tokenizerConfig);

test("byte-level tokenizer.json: encode is one id per UTF-8 byte and decode inverts it", () => {
  const text = "Hi, naïve café! ☕";
  const ids = tok.encode(text);
  assert.deepEqual(ids, [...new TextEncoder().encode(text)]);
  assert.equal(tok.decode(ids), text);
  assert.deepEqual(tok.encode("ab", { bos: true }), [tok.bosId, 97, 98]);
  assert.equal(tok.bosId, 256);
  assert.equal(tok.eosId, 257);
  assert.deepEqual(tok.encode("x<|end|>"), [120, 257]);
  assert.equal(tok.decode([120, 257]), "x");
  assert.equal(tok.decode([120, 257], { skipSpecial: false }), "x<|end|>");
});

test("chat template renders, and encodeChat trains on assistant turns only", () => {
  const messages = [
    { role: "system", content: "S" },
    { role: "user", content: "Q1" },
    { role: "assistant", content: "A1" },
    { role: "user", content: "Q2" },
    { role: "assistant", content: "A2" },
  ];
  const text = tok.applyChatTemplate(messages);
  assert.equal(text, "<|bos|><|system|>S<|end|><|user|>Q1<|end|><|assistant|>A1<|end|><|user|>Q2<|end|><|assistant|>A2<|end|>");
  assert.equal(tok.applyChatTemplate(messages.slice(0, 2), { addGenerationPrompt: true }), "<|bos|><|system|>S<|end|><|user|>Q1<|end|><|assistant|>");
  const { ids, train } = tok.encodeChat(messages);
  assert.deepEqual(ids, tok.encode(text));
  const trained = ids.filter((_, i) => train[i]);
  assert.equal(tok.decode(trained, { skipSpecial: false }), "A1<|end|>A2<|end|>");
});

test("a model directory's tokenizer loads, with the chat template from chat_template.jinja when present", async () => {
  const dir = await mkdtemp(join(tmpdir(), "engine-tok-"));
  try {
    const { chat_template: _, ...config } = tokenizerConfig;
    await writeFile(join(dir, "tokenizer.json"), JSON.stringify(tokenizerJson));
    await writeFile(join(dir, "tokenizer_config.json"), JSON.stringify(config));
    const plain = await ChatTokenizer.fromDir(dir);
    assert.throws(() => plain.applyChatTemplate([{ role: "user", content: "x" }]), /no chat template/);
    await writeFile(join(dir, "chat_template.jinja"), CHAT_TEMPLATE);
    const t = await ChatTokenizer.fromDir(dir);
    assert.equal(t.applyChatTemplate([{ role: "user", content: "x" }], { addGenerationPrompt: true }), "<|bos|><|user|>x<|end|><|assistant|>");
    await assert.rejects(ChatTokenizer.fromDir(join(dir, "missing")), /no tokenizer.json/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
