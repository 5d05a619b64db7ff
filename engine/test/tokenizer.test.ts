import assert from "node:assert/strict";
import { test } from "node:test";
import { ChatTokenizer } from "../src/model/tokenizer.ts";
import { tinyTokenizerFiles } from "./helpers/tiny-tokenizer.ts";

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
