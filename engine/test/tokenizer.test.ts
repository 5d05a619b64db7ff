import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ChatTokenizer, postProcessorFrame } from "../src/model/tokenizer.ts";
import { encodeRecord } from "../src/train/data.ts";
import { CHAT_TEMPLATE, templateProcessing, tinyTokenizerFiles } from "./helpers/tiny-tokenizer.ts";

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

// --- special tokens as transformers adds them: the post-processor decides --------------------------

const BOS = 256;
const END = 257;
const bytes = (s: string) => [...new TextEncoder().encode(s)];
function withPost(postProcessor: Record<string, unknown> | null, config: Record<string, unknown> = {}): ChatTokenizer {
  const files = tinyTokenizerFiles({ postProcessor });
  const { add_bos_token: _, ...rest } = files.tokenizerConfig;
  return new ChatTokenizer(files.tokenizerJson, { ...rest, ...config });
}

test("(a) GPT-2-style ByteLevel post-processor: bos_token is set but nothing is added, anywhere", () => {
  const t = withPost({ type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: true });
  assert.equal(t.bosId, BOS);
  assert.equal(t.addBos, false);
  assert.deepEqual(t.encode("Hi ☕", { addSpecialTokens: true }), bytes("Hi ☕"));
  assert.deepEqual(t.encode("", { addSpecialTokens: true }), []);
  assert.deepEqual(t.encodePrompt("Hi"), bytes("Hi"));
  assert.deepEqual(encodeRecord(t, { text: "ab" }).ids, [97, 98, END]);
  assert.deepEqual(encodeRecord(t, { prompt: "a", completion: "b" }), { ids: [97, 98, END], train: [false, true, true] });
  assert.deepEqual(t.notes, []);
});

test("(b) TemplateProcessing adding BOS: tokenizer(text) starts with it, the JS library agrees", () => {
  const t = withPost(templateProcessing(["<|bos|>"]));
  assert.equal(t.addBos, true);
  assert.deepEqual(t.encode("Hi ☕", { addSpecialTokens: true }), [BOS, ...bytes("Hi ☕")]);
  assert.deepEqual(t.encode("Hi ☕", { addSpecialTokens: true }), t.tokenizer.encode("Hi ☕", { add_special_tokens: true }).ids);
  assert.deepEqual(t.encode("", { addSpecialTokens: true }), [BOS]);
  assert.deepEqual(t.encodePrompt("a"), [BOS, 97]);
  const rec = encodeRecord(t, { text: "ab" });
  assert.deepEqual(rec, { ids: [BOS, 97, 98, END], train: [false, true, true, true] });
  // a chat template writes BOS itself; the render is encoded without added specials: one BOS
  const chat = t.encodeChat([{ role: "user", content: "q" }, { role: "assistant", content: "a" }]);
  assert.equal(chat.ids.filter((id) => id === BOS).length, 1);
});

test("(c) Llama-style add_bos_token + add_eos_token (baked into the post-processor): BOS and EOS, EOS never twice", () => {
  const t = withPost(templateProcessing(["<|bos|>"], ["<|end|>"]), { add_bos_token: true, add_eos_token: true });
  assert.ok(t.addBos && t.addEos);
  assert.deepEqual(t.notes, []);
  assert.deepEqual(t.encode("ab", { addSpecialTokens: true }), [BOS, 97, 98, END]);
  assert.deepEqual(encodeRecord(t, { text: "ab" }).ids, [BOS, 97, 98, END]);
  assert.deepEqual(encodeRecord(t, { text: "ab<|end|>" }).ids, [BOS, 97, 98, END, END], "tokenizer(text) already ends with EOS: none appended");
  // the prompt is continued, so the post-processor's suffix goes after the completion
  assert.deepEqual(t.encodePrompt("a"), [BOS, 97]);
  assert.deepEqual(encodeRecord(t, { prompt: "a", completion: "b" }), { ids: [BOS, 97, 98, END], train: [false, false, true, true] });
});

test("(d) add_bos_token false: nothing added; a config that disagrees with its post-processor loses, with a note", () => {
  const none = withPost(null, { add_bos_token: false });
  assert.equal(none.addBos, false);
  assert.deepEqual(none.encode("ab", { addSpecialTokens: true }), [97, 98]);
  assert.deepEqual(none.notes, []);
  // transformers 5 ignores add_bos_token/add_eos_token when tokenizer.json is there
  const conflict = withPost(templateProcessing(["<|bos|>"]), { add_bos_token: false, add_eos_token: true });
  assert.deepEqual(conflict.encode("ab", { addSpecialTokens: true }), [BOS, 97, 98]);
  assert.equal(conflict.notes.length, 2);
  assert.match(conflict.notes[0], /add_bos_token: false.*adds <\|bos\|>/);
  assert.match(conflict.notes[1], /add_eos_token: true.*does not add <\|end\|>/);
  const noPost = withPost(null, { add_bos_token: true });
  assert.deepEqual(noPost.encode("ab", { addSpecialTokens: true }), [97, 98], "no post-processor: transformers adds nothing");
  assert.equal(noPost.notes.length, 1);
});

test("post-processors: Roberta/Bert cls+sep, Sequence, the string template form, ids from special_tokens, bad ones refused", () => {
  assert.deepEqual(postProcessorFrame({ type: "RobertaProcessing", sep: ["</s>", 2], cls: ["<s>", 0], trim_offsets: true, add_prefix_space: false }), { prefix: [0], suffix: [2] });
  assert.deepEqual(postProcessorFrame({ type: "BertProcessing", sep: ["[SEP]", 102], cls: ["[CLS]", 101] }), { prefix: [101], suffix: [102] });
  const tp = templateProcessing(["<|bos|>"], ["<|end|>"]);
  assert.deepEqual(postProcessorFrame({ type: "Sequence", processors: [{ type: "ByteLevel" }, tp, { type: "BertProcessing", sep: ["S", 9], cls: ["C", 8] }] }), {
    prefix: [8, BOS],
    suffix: [END, 9],
  });
  assert.deepEqual(postProcessorFrame({ ...tp, single: "<|bos|> $A:0 <|end|>:0" }), { prefix: [BOS], suffix: [END] });
  // Rust uses special_tokens[name].ids; the JS library looks the name up as a token instead
  const alias = { type: "TemplateProcessing", single: [{ SpecialToken: { id: "[BOS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }], pair: [], special_tokens: { "[BOS]": { id: "[BOS]", ids: [BOS, 258], tokens: ["<|bos|>", "<|user|>"] } } };
  const t = withPost(alias);
  assert.deepEqual(t.encode("a", { addSpecialTokens: true }), [BOS, 258, 97]);
  assert.notDeepEqual(t.tokenizer.encode("a", { add_special_tokens: true }).ids, [BOS, 258, 97]);
  assert.throws(() => postProcessorFrame({ type: "Mystery" }), /unsupported type "Mystery"/);
  assert.throws(() => postProcessorFrame({ ...tp, single: "<|bos|> $A $B" }), /\$A exactly once/);
  assert.throws(() => postProcessorFrame({ ...tp, single: "<|nope|> $A" }), /missing from special_tokens.*nope/);
});

test("config special tokens in the vocabulary but not added become special tokens, as transformers adds them", () => {
  const files = tinyTokenizerFiles();
  (files.tokenizerJson.model as { vocab: Record<string, number> }).vocab["<|pad|>"] = 261;
  assert.deepEqual(new ChatTokenizer(files.tokenizerJson, files.tokenizerConfig).encode("a<|pad|>").length, 8);
  const t = new ChatTokenizer(files.tokenizerJson, { ...files.tokenizerConfig, pad_token: "<|pad|>" });
  assert.deepEqual(t.encode("a<|pad|>"), [97, 261]);
  // transformers 5's named extra special tokens (a dict) count too
  assert.deepEqual(new ChatTokenizer(files.tokenizerJson, { ...files.tokenizerConfig, extra_special_tokens: { image_token: "<|pad|>" } }).encode("<|pad|>"), [261]);
});

test("chat templates get transformers' variables: special tokens, tools/documents none, raise_exception, strftime_now", () => {
  const files = tinyTokenizerFiles();
  const tpl =
    "{% if tools is not none %}TOOLS{% endif %}{% if documents is defined and documents is none %}[nodocs]{% endif %}{{ unk_token }}|{{ pad_token is defined }}|" +
    "{{ strftime_now('%Y') | length }}|{% for m in messages %}{% if m.role == 'bad' %}{{ raise_exception('no bad roles: ' + m.role) }}{% endif %}{{ m.content }}{% endfor %}";
  const t = new ChatTokenizer(files.tokenizerJson, { ...files.tokenizerConfig, unk_token: { content: "<|user|>" }, chat_template: tpl });
  assert.equal(t.applyChatTemplate([{ role: "user", content: "x" }]), "[nodocs]<|user|>|false|4|x");
  assert.throws(() => t.applyChatTemplate([{ role: "bad", content: "x" }]), /chat template refused the conversation: no bad roles: bad/);
  assert.throws(() => t.applyChatTemplate([]), /empty conversation/);
  assert.throws(() => new ChatTokenizer(files.tokenizerJson, { chat_template: "{% for %}" }), /chat template does not parse/);
});

test("a model directory: special_tokens_map.json fills the special tokens (legacy), chat_template.jinja wins over the config", async () => {
  const dir = await mkdtemp(join(tmpdir(), "engine-tok-"));
  try {
    const { bos_token: _, ...config } = tokenizerConfig;
    await writeFile(join(dir, "tokenizer.json"), JSON.stringify(tokenizerJson));
    await writeFile(join(dir, "tokenizer_config.json"), JSON.stringify(config));
    await writeFile(join(dir, "special_tokens_map.json"), JSON.stringify({ bos_token: { content: "<|system|>", special: true }, eos_token: "<|end|>" }));
    await writeFile(join(dir, "chat_template.jinja"), "J{{ bos_token }}");
    const t = await ChatTokenizer.fromDir(dir);
    assert.equal(t.bosId, 260);
    assert.equal(t.applyChatTemplate([{ role: "user", content: "x" }]), "J<|system|>");
    // with added_tokens_decoder in the config, transformers no longer reads special_tokens_map.json
    await writeFile(join(dir, "tokenizer_config.json"), JSON.stringify({ ...config, added_tokens_decoder: {} }));
    assert.equal((await ChatTokenizer.fromDir(dir)).bosId, null);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
