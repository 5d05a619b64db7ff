// The project's committed base model (engine/models/<name>/, built by scripts/make-base-model.ts) is a
// real language model of English, judged by the engine that ships it:
//   - its loss on held-out Austen chapters is far below the uniform loss ln(vocab) and below the best
//     interpolated bigram model counted on the training chapters (a threshold computed here, not copied);
//   - seeded samples from English prompts are mostly words that occur in the training text, varied, and a
//     random-init model of the same shape fails the same check (so the check is not passable by any model);
//   - a short LoRA fine-tune with the engine teaches it two chat answers that it did not know before.
// The held-out text comes from the corpus (Debian's r-cran-janeaustenr via apt-get download, cached in
// .tributary/cache); the tests that need it skip, saying why, where apt cannot fetch it.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { buildCorpus, type CorpusResult } from "../scripts/corpus.ts";
import { BASE_MODEL_RECIPE, COMMITTED_BASE_MODEL_DIR } from "../scripts/make-base-model.ts";
import {
  ChatTokenizer,
  encodeRecord,
  evaluate,
  fineTune,
  generate,
  generateChat,
  initModel,
  loadAdapter,
  loadModel,
  selectKernel,
  type Example,
  type Kernel,
  type LlamaModel,
} from "../src/index.ts";

const dir = COMMITTED_BASE_MODEL_DIR;

function tryCorpus(): CorpusResult | string {
  try {
    execFileSync("apt-get", ["--version"], { stdio: "ignore" });
    return buildCorpus();
  } catch (err) {
    return `the Austen corpus is not available here (${(err as Error).message.split("\n")[0]})`;
  }
}

const WORD = /[a-z]+(?:'[a-z]+)?/g;
const words = (s: string) => s.toLowerCase().match(WORD) ?? [];

describe("the committed base model", () => {
  let kernel: Kernel;
  let model: LlamaModel;
  let tok: ChatTokenizer;
  let corpus: CorpusResult | string;

  before(async () => {
    kernel = await selectKernel("wasm", 1);
    model = await loadModel(dir, { kernel });
    tok = await ChatTokenizer.fromDir(dir);
    corpus = tryCorpus();
  });
  after(async () => {
    await (kernel as { dispose?: () => Promise<void> | void })?.dispose?.();
  });

  it("is committed small, in HF layout, with its recipe and a chat template, and no GGUF", () => {
    const files = readdirSync(dir);
    for (const f of ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json", "recipe.json", "README.md"]) assert.ok(files.includes(f), `${f} in ${dir}`);
    assert.equal(files.filter((f) => f.endsWith(".gguf")).length, 0);
    assert.ok(statSync(join(dir, "model.safetensors")).size < 8e6, "bf16 weights under 8 MB");
    const header = readFileSync(join(dir, "model.safetensors"));
    const meta = JSON.parse(header.subarray(8, 8 + Number(header.readBigUInt64LE(0))).toString("utf8"));
    assert.ok(Object.entries(meta).every(([k, v]) => k === "__metadata__" || (v as { dtype: string }).dtype === "BF16"));
    const m = BASE_MODEL_RECIPE.model;
    assert.deepEqual(
      [model.config.vocabSize, model.config.hiddenSize, model.config.numLayers, model.config.numHeads, model.config.numKvHeads, model.config.intermediateSize],
      [m.vocabSize, m.hiddenSize, m.numLayers, m.numHeads, m.numKvHeads, m.intermediateSize],
    );
    const chat = tok.applyChatTemplate([{ role: "user", content: "Hello" }], { addGenerationPrompt: true });
    assert.equal(chat, "<|bos|><|user|>\nHello<|eos|><|assistant|>\n");
  });

  it("predicts held-out Austen far better than uniform and better than the best bigram model", async (t) => {
    if (typeof corpus === "string") return t.skip(corpus);
    const V = model.config.vocabSize;
    const records = (txt: string) => txt.split(/\n\n+/).filter((p) => p.length >= 80);
    // held out: paragraphs of the eval chapters (never seen in training), about 6k tokens
    const held: Example[] = [];
    let n = 0;
    for (const text of records(readFileSync(corpus.evalTxt, "utf8"))) {
      const e = encodeRecord(tok, { text });
      if (e.ids.length > 256) continue;
      held.push(e);
      n += e.ids.length;
      if (n > 6000) break;
    }
    const loss = await evaluate(model, held, { maxSeqLen: 256 });

    // Bigram baseline from the training chapters, with the same tokenizer, BOS and EOS:
    // p(b|a) = lam * c(a,b)/c(a) + (1 - lam) * (c(b) + 1)/(N + V), lam chosen on the held-out text itself
    // (which favours the baseline).
    const uni = new Float64Array(V);
    const ctx = new Float64Array(V);
    const bi = new Map<number, number>();
    let total = 0;
    for (const text of records(readFileSync(corpus.trainTxt, "utf8"))) {
      const ids = encodeRecord(tok, { text }).ids;
      for (let i = 1; i < ids.length; i++) {
        uni[ids[i]]++;
        ctx[ids[i - 1]]++;
        const k = ids[i - 1] * V + ids[i];
        bi.set(k, (bi.get(k) ?? 0) + 1);
        total++;
      }
    }
    const bigramLoss = (lam: number) => {
      let s = 0, c = 0;
      for (const e of held) {
        for (let i = 1; i < e.ids.length; i++) {
          const a = e.ids[i - 1], b = e.ids[i];
          const pb = ctx[a] ? (bi.get(a * V + b) ?? 0) / ctx[a] : 0;
          s -= Math.log(lam * pb + (1 - lam) * (uni[b] + 1) / (total + V));
          c++;
        }
      }
      return s / c;
    };
    const unigram = bigramLoss(0);
    const bigram = Math.min(...[0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95].map(bigramLoss));
    t.diagnostic(`held-out loss ${loss.toFixed(3)} over ${n} tokens; uniform ${Math.log(V).toFixed(3)}, unigram ${unigram.toFixed(3)}, best bigram ${bigram.toFixed(3)}`);
    assert.ok(loss < Math.log(V) - 3, `far below uniform: ${loss} vs ln ${V} = ${Math.log(V)}`);
    assert.ok(loss < unigram - 1, `well below unigram: ${loss} vs ${unigram}`);
    assert.ok(loss < bigram, `below the best bigram: ${loss} vs ${bigram}`);
  });

  it("writes mostly real, varied English words; a random-init model of the same shape does not", async (t) => {
    if (typeof corpus === "string") return t.skip(corpus);
    // The word list: every word that occurs at least twice in the training chapters (real English spelled
    // as the corpus spells it; a single occurrence could be a typo or a name), and every pair of adjacent
    // words there. Most BPE tokens are whole words, so word-level checks alone are weak (a 12-step model
    // scores 71% known words by emitting frequent tokens in random order); known word pairs are what a model
    // that has learned some English gets and one that has not does not (that model: 17%; random init: 0%).
    const counts = new Map<string, number>();
    const pairs = new Set<string>();
    for (const p of readFileSync(corpus.trainTxt, "utf8").split(/\n\n+/)) {
      const ws = words(p);
      for (let i = 0; i < ws.length; i++) {
        counts.set(ws[i], (counts.get(ws[i]) ?? 0) + 1);
        if (i) pairs.add(`${ws[i - 1]} ${ws[i]}`);
      }
    }
    const known = new Set([...counts].filter(([, c]) => c >= 2).map(([w]) => w));
    const prompts = ["It was a fine morning, and", "\"My dear sister,\" said she,", "The young man", "When they returned to the house"];
    const judge = async (m: LlamaModel) => {
      const texts: string[] = [];
      for (const [i, p] of prompts.entries()) texts.push((await generate(m, tok, p, { maxTokens: 40, temperature: 0.8, topK: 40, seed: 100 + i, eosIds: [] })).text);
      const ws = texts.flatMap(words);
      const adjacent = texts.flatMap((s) => {
        const w = words(s);
        return w.slice(1).map((x, i) => `${w[i]} ${x}`);
      });
      return {
        texts,
        count: ws.length,
        knownFrac: ws.filter((w) => known.has(w)).length / ws.length,
        pairFrac: adjacent.filter((p) => pairs.has(p)).length / adjacent.length,
        distinctFrac: new Set(ws).size / ws.length,
      };
    };
    const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
    const ours = await judge(model);
    t.diagnostic(`base model: ${ours.count} words, ${pct(ours.knownFrac)} known, ${pct(ours.pairFrac)} known pairs, ${pct(ours.distinctFrac)} distinct`);
    for (const [i, s] of ours.texts.entries()) t.diagnostic(`${prompts[i]}${s}`);
    const passes = (r: typeof ours) => r.count >= 80 && r.knownFrac >= 0.9 && r.pairFrac >= 0.6 && r.distinctFrac >= 0.35;
    assert.ok(passes(ours), `the base model writes English: ${JSON.stringify(ours)}`);

    const random = initModel(model.config, { seed: 7, std: 0.02, kernel });
    const control = await judge(random);
    t.diagnostic(`random-init control: ${control.count} words, ${pct(control.knownFrac)} known, ${pct(control.pairFrac)} known pairs, ${pct(control.distinctFrac)} distinct`);
    assert.ok(!passes(control), `the same check rejects a random-init model: ${JSON.stringify(control)}`);
  });

  it("learns two chat answers with a short LoRA fine-tune that it did not know before", async (t) => {
    const qa: [string, string][] = [
      ["Who wrote Pride and Prejudice?", "Jane Austen wrote it in 1813."],
      ["Where does Mr. Darcy live?", "At Pemberley, in Derbyshire."],
    ];
    const chat = (q: string) => [{ role: "user" as const, content: q }];
    const records = qa.map(([q, a]) => ({ messages: [...chat(q), { role: "assistant" as const, content: a }] }));
    const out = mkdtempSync(join(tmpdir(), "base-model-lora-"));
    try {
      const before = [];
      for (const [q] of qa) before.push((await generateChat(model, tok, chat(q), { maxTokens: 16 })).text);
      const { metrics } = await fineTune({
        modelDir: dir,
        records,
        evalRecords: records,
        outDir: out,
        method: "lora",
        kernel,
        config: { lr: 1e-2, epochs: 30, batchSize: 2, warmupSteps: 2, seed: 5, evalEvery: 10, lora: { r: 8, alpha: 16, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] } },
      });
      const adapter = await loadAdapter(out, model.config);
      const answers = [];
      for (const [q] of qa) answers.push((await generateChat(model, tok, chat(q), { maxTokens: 16, adapter })).text);
      t.diagnostic(`before: ${JSON.stringify(before)}; after ${metrics.steps} LoRA steps (${metrics.seconds.toFixed(1)} s): ${JSON.stringify(answers)}`);
      assert.deepEqual(answers, qa.map(([, a]) => a));
      assert.equal(before.filter((b, i) => b === qa[i][1]).length, 0, `the base alone does not know: ${JSON.stringify(before)}`);
      assert.ok(metrics.evalHistory.at(-1)!.loss < metrics.evalHistory[0].loss / 4, `eval loss falls: ${JSON.stringify(metrics.evalHistory)}`);
      assert.ok(existsSync(join(out, "adapter_model.safetensors")));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
