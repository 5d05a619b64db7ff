import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Template } from "@huggingface/jinja";
import { Tokenizer } from "@huggingface/tokenizers";
import { byteToUnicode, countWords, TokenizerTrainError, trainBpe } from "../scripts/tokenizer/bpe-trainer.ts";
import { BOS, EOS, SPECIAL_TOKENS, trainBaseTokenizer } from "../scripts/tokenizer/base-tokenizer.ts";

// Training text written for this test (plain English, short sentences, some repetition).
const TRAIN = [
  "The little boat sailed down the river. The river was wide and slow, and the boat was small.",
  "Anna lived in a house by the river. Every morning she walked to the water and watched the boats.",
  "One day a small red boat stopped near the house. A tired old man was sitting in it.",
  "\"Good morning,\" said Anna. \"Would you like some bread and tea?\" The old man smiled and nodded.",
  "They sat together by the water. He told her about the sea, the wind, and the long roads of the river.",
  "When the sun went down, the old man thanked her, and the little red boat sailed away again.",
  "Anna often thought about the sea after that. She wanted to see it one day, with her own eyes.",
].flatMap((p) => [p, p.toLowerCase(), p.replace(/river/g, "stream")]);

// Text that does not occur in TRAIN, with characters the training text never had.
const UNSEEN = [
  "Zebras quickly jumped over 12,345 lazy foxes -- didn't they?",
  "Ünïcödé naïve café, 日本語のテキスト, emoji 🙂👍🏽 and a ZWJ family 👨‍👩‍👧.",
  "  leading spaces, trailing spaces   \n\n\ttabs\r\nwindows newlines\u0000nul and \u00a0nbsp ",
  "",
];

function tokenizerFor(t: { tokenizerJson: object; tokenizerConfig: object }): Tokenizer {
  // Load through JSON text, exactly as a file would be read.
  return new Tokenizer(JSON.parse(JSON.stringify(t.tokenizerJson)), JSON.parse(JSON.stringify(t.tokenizerConfig)));
}

/** Textbook BPE: recount every pair each round. Ties go to the lowest (left id, right id). */
function naiveMerges(words: Map<string, number>, count: number): [string, string][] {
  const symbols = byteToUnicode();
  const ids = new Map(symbols.map((s, i) => [s, i]));
  let seqs = [...words].map(([w, n]) => ({ s: Array.from(w, (c) => ids.get(c)!), n }));
  const merges: [string, string][] = [];
  while (merges.length < count) {
    const counts = new Map<string, number>();
    for (const { s, n } of seqs) for (let i = 0; i + 1 < s.length; i++) counts.set(`${s[i]},${s[i + 1]}`, (counts.get(`${s[i]},${s[i + 1]}`) ?? 0) + n);
    let best: [number, number] | null = null;
    let bestCount = 0;
    for (const [k, c] of counts) {
      const [a, b] = k.split(",").map(Number) as [number, number];
      if (c > bestCount || (c === bestCount && best !== null && (a < best[0] || (a === best[0] && b < best[1])))) {
        best = [a, b];
        bestCount = c;
      }
    }
    if (best === null || bestCount < 2) break;
    const [a, b] = best;
    const id = symbols.length;
    symbols.push(symbols[a]! + symbols[b]!);
    merges.push([symbols[a]!, symbols[b]!]);
    seqs = seqs.map(({ s, n }) => {
      const out: number[] = [];
      for (let i = 0; i < s.length; i++) {
        if (s[i] === a && s[i + 1] === b) {
          out.push(id);
          i++;
        } else out.push(s[i]!);
      }
      return { s: out, n };
    });
  }
  return merges;
}

describe("byte-level BPE trainer", () => {
  it("learns the same merges, in the same order, as textbook BPE", () => {
    const words = countWords(TRAIN);
    const model = trainBpe(words, { vocabSize: 256 + 150, specialTokens: [] });
    assert.equal(model.merges.length, 150);
    assert.deepEqual(model.merges, naiveMerges(words, 150));
  });

  it("is deterministic and gives the exact vocabulary size, specials first, then all 256 bytes", () => {
    const a = trainBaseTokenizer(TRAIN, { vocabSize: 450, modelMaxLength: 256 });
    const b = trainBaseTokenizer([...TRAIN], { vocabSize: 450, modelMaxLength: 256 });
    assert.equal(JSON.stringify(a.tokenizerJson), JSON.stringify(b.tokenizerJson));
    assert.equal(a.model.vocab.size, 450);
    SPECIAL_TOKENS.forEach((t, i) => assert.equal(a.model.vocab.get(t), i));
    const ids = new Set(a.model.vocab.values());
    assert.equal(ids.size, 450, "ids are unique");
    for (const c of byteToUnicode()) assert.ok(a.model.vocab.has(c), `byte token ${c}`);
  });

  it("stops early when no pair occurs twice", () => {
    const model = trainBpe(countWords(["ab"]), { vocabSize: 1000, specialTokens: ["<s>"] });
    assert.equal(model.merges.length, 0);
    assert.equal(model.vocab.size, 257);
  });

  it("rejects a vocabulary too small for the byte alphabet", () => {
    assert.throws(() => trainBpe(new Map(), { vocabSize: 200, specialTokens: [] }), TokenizerTrainError);
    assert.throws(() => trainBpe(new Map(), { vocabSize: 300, specialTokens: ["<a>", "<a>"] }), TokenizerTrainError);
  });
});

describe("trained tokenizer.json in @huggingface/tokenizers", () => {
  const trained = trainBaseTokenizer(TRAIN, { vocabSize: 700, modelMaxLength: 256 });
  const tok = tokenizerFor(trained);

  it("round-trips unseen text exactly, including bytes never seen in training", () => {
    for (const text of UNSEEN) {
      const { ids } = tok.encode(text, { add_special_tokens: false });
      if (text === "") {
        assert.deepEqual(ids, []);
        continue;
      }
      assert.equal(tok.decode(ids), text);
    }
  });

  it("uses the learned merges (common words are single tokens; text compresses)", () => {
    const { tokens } = tok.encode("The river and the boat", { add_special_tokens: false });
    assert.deepEqual(tokens, ["The", "Ġriver", "Ġand", "Ġthe", "Ġboat"]);
    const sample = TRAIN.slice(0, 7).join("\n\n");
    const n = tok.encode(sample, { add_special_tokens: false }).ids.length;
    assert.ok(n < new TextEncoder().encode(sample).length / 3, `${n} tokens`);
  });

  it("prepends <|bos|> by default, keeps special tokens atomic, and can skip them when decoding", () => {
    const enc = tok.encode("Hello<|eos|>");
    assert.equal(enc.ids[0], trained.model.vocab.get(BOS));
    assert.equal(enc.ids.at(-1), trained.model.vocab.get(EOS));
    assert.equal(enc.ids.filter((id: number) => id < SPECIAL_TOKENS.length).length, 2);
    assert.equal(tok.decode(enc.ids, { skip_special_tokens: true }), "Hello");
    assert.equal(tok.decode(enc.ids), "<|bos|>Hello<|eos|>");
  });

  it("renders the chat template with @huggingface/jinja for system, user, assistant and a generation prompt", () => {
    const config = trained.tokenizerConfig as { chat_template: string; bos_token: string; eos_token: string };
    const template = new Template(config.chat_template);
    const messages = [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Where is Anna?" },
      { role: "assistant", content: "By the river." },
      { role: "user", content: "And the boat?" },
    ];
    const rendered = template.render({ messages, bos_token: config.bos_token, eos_token: config.eos_token, add_generation_prompt: true });
    assert.equal(
      rendered,
      "<|bos|><|system|>\nBe brief.<|eos|><|user|>\nWhere is Anna?<|eos|><|assistant|>\nBy the river.<|eos|><|user|>\nAnd the boat?<|eos|><|assistant|>\n",
    );
    const noPrompt = template.render({ messages: messages.slice(1, 3), bos_token: config.bos_token, eos_token: config.eos_token, add_generation_prompt: false });
    assert.equal(noPrompt, "<|bos|><|user|>\nWhere is Anna?<|eos|><|assistant|>\nBy the river.<|eos|>");
    // The rendered prompt already carries BOS: encode it without adding another.
    const ids = tok.encode(rendered, { add_special_tokens: false }).ids;
    const specials = ids.filter((id: number) => id < SPECIAL_TOKENS.length).map((id: number) => SPECIAL_TOKENS[id]);
    assert.deepEqual(specials, ["<|bos|>", "<|system|>", "<|eos|>", "<|user|>", "<|eos|>", "<|assistant|>", "<|eos|>", "<|user|>", "<|eos|>", "<|assistant|>"]);
    assert.equal(tok.decode(ids), rendered);
  });

  it("rejects an unknown chat role", () => {
    const config = trained.tokenizerConfig as { chat_template: string };
    const render = () =>
      new Template(config.chat_template).render({
        messages: [{ role: "tool", content: "x" }],
        bos_token: BOS,
        eos_token: EOS,
      });
    assert.throws(render, /Unknown role: tool/);
  });
});
