/**
 * Parity with Hugging Face transformers + PEFT. Needs engine/.venv (`sh engine/scripts/python-venv.sh`,
 * which `npm test` runs first), or TRIBUTARY_PYTHON pointing at a python with torch, transformers, peft;
 * without it these tests fail (they never skip) and say how to make it.
 * - Model: a random small LlamaForCausalLM is saved by transformers and loaded here: logits, LoRA logits,
 *   loss and LoRA gradients must match (1e-4 relative); an engine-trained adapter loaded with
 *   PeftModel.from_pretrained must give the engine's logits.
 * - Tokenizers: six tokenizers built by Python `tokenizers` and transformers' own classes
 *   (helpers/tok_parity.py) — byte-level BPE without BOS, a post-processor adding BOS, Llama-style
 *   add_bos_token+add_eos_token, add_bos_token false, a config that disagrees with its post-processor,
 *   RobertaProcessing — must encode texts, render chat templates and encode chats as transformers does.
 */
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { readSafetensors } from "../src/formats/safetensors.ts";
import { adapterParams } from "../src/lora/adapter.ts";
import { loadAdapter, saveAdapter } from "../src/lora/peft.ts";
import { loadModel } from "../src/model/io.ts";
import { ChatTokenizer } from "../src/model/tokenizer.ts";
import type { ChatMessage } from "../src/model/tokenizer.ts";
import { backward, forward } from "../src/model/llama.ts";
import type { Batch } from "../src/model/llama.ts";
import { crossEntropyBackward } from "../src/nn/cross-entropy.ts";
import { encodeRecord } from "../src/train/data.ts";
import { train, trainConfig } from "../src/train/trainer.ts";

const python = process.env.TRIBUTARY_PYTHON ?? fileURLToPath(new URL("../.venv/bin/python", import.meta.url));
const script = fileURLToPath(new URL("./helpers/hf_parity.py", import.meta.url));

const MAKE_VENV = "run `sh engine/scripts/python-venv.sh` (creates engine/.venv with torch, transformers, peft, safetensors; `npm test` runs it first), or set TRIBUTARY_PYTHON to a python that has them";

/** Fails the calling test (never skips it) when the Python side is missing. */
function requirePython(modules: string[]): void {
  assert.ok(existsSync(python), `no python at ${python}: ${MAKE_VENV}`);
  try {
    execFileSync(python, ["-c", `import ${modules.join(", ")}`], { stdio: "pipe" });
  } catch (e) {
    assert.fail(`${python} cannot import ${modules.join(", ")} (${String((e as { stderr?: Buffer }).stderr ?? e).trim().split("\n").at(-1)}): ${MAKE_VENV}`);
  }
}

function assertClose(name: string, got: Float32Array, want: Float32Array, rel = 1e-4): void {
  assert.equal(got.length, want.length, `${name}: length`);
  let maxDiff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  assert.ok(maxDiff <= rel * scale, `${name}: max |diff| ${maxDiff} vs scale ${scale}`);
}

const run = promisify(execFile);

test("parity with transformers + PEFT: logits, LoRA logits, loss, LoRA gradients, adapter loading", async () => {
  requirePython(["torch", "transformers", "peft", "safetensors"]);
  const dir = await mkdtemp(join(tmpdir(), "engine-parity-"));
  try {
    await run(python, [script, "make", dir]);
    const ref = readSafetensors(await readFile(join(dir, "ref.safetensors"))).tensors;
    const { ids, labels } = JSON.parse(await readFile(join(dir, "inputs.json"), "utf8")) as { ids: number[]; labels: number[] };
    const model = await loadModel(join(dir, "base"));
    const T = ids.length;
    const targets = Int32Array.from(ids.map((_, t) => (t + 1 < T ? labels[t + 1] : -100)));
    const batch: Batch = { B: 1, T, tokens: Int32Array.from(ids), positions: Int32Array.from(ids.keys()), segments: null, targets };
    assertClose("base logits", (await forward(model, batch)).logits, ref.get("base_logits")!.data);

    const adapter = await loadAdapter(join(dir, "adapter"), model.config);
    assert.equal(adapter.config.useRslora, true);
    const { logits, cache } = await forward(model, batch, { adapter });
    assertClose("LoRA logits", logits, ref.get("lora_logits")!.data);
    const count = targets.filter((t) => t >= 0).length;
    const ce = crossEntropyBackward(logits, targets, model.config.vocabSize, count);
    assert.ok(Math.abs(ce.lossSum / count - ref.get("loss")!.data[0]) < 1e-4 * ref.get("loss")!.data[0], "loss");
    const params = adapterParams(adapter);
    const grads = new Map([...params].map(([k, v]) => [k, new Float32Array(v.length)]));
    await backward(model, cache, ce.dlogits, grads);
    assert.equal(grads.size, 2 * 3 * 2);
    for (const [name, g] of grads) assertClose(`grad ${name}`, g, ref.get(`grad.base_model.model.${name}`)!.data);

    // an adapter trained here loads in PEFT and gives the same logits
    const trained = await train({
      model,
      train: [{ ids, train: ids.map((_, i) => i >= 4) }],
      config: trainConfig({ lr: 1e-2, epochs: 3, batchSize: 1, lora: { r: 2, alpha: 4, targetModules: ["k_proj", "o_proj", "gate_proj"] } }),
    });
    await saveAdapter(join(dir, "ours"), trained.adapter!, { model: model.config });
    await run(python, [script, "peft-logits", join(dir, "base"), join(dir, "ours"), join(dir, "inputs.json"), join(dir, "peft.safetensors")]);
    const peft = readSafetensors(await readFile(join(dir, "peft.safetensors"))).tensors.get("logits")!.data;
    assertClose("PEFT logits of an engine adapter", (await forward(model, batch, { adapter: trained.adapter })).logits, peft);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------------
// Tokenizers: encoding, special tokens and chat templates as transformers does them.

const tokScript = fileURLToPath(new URL("./helpers/tok_parity.py", import.meta.url));
const demoDir = fileURLToPath(new URL("../models/tributary-austen-4m", import.meta.url));

const TEXTS = [
  "Hello world",
  "",
  " leading space, and trailing  ",
  "naïve café ☕ — 日本語のテキスト 🙂 déjà vu",
  "tabs\tand\nnew lines\n\n  \n",
  "specials inside: <|im_start|>user\nhi<|im_end|> <s>x</s><unk> <|begin_of_text|>y<|eot_id|> [INST] z [/INST]",
  "What is 2+2? It is 4.",
  "ends with an eos</s>",
  "ends with another eos<|im_end|>",
  "ends with yet another<|eot_id|>",
];

const CONVERSATIONS: ChatMessage[][] = [
  [{ role: "user", content: "Hi!" }],
  [
    { role: "system", content: "Be brief." },
    { role: "user", content: "What is 2+2?" },
    { role: "assistant", content: "4." },
    { role: "user", content: "And 3+3? ☕" },
  ],
  [
    { role: "user", content: "Q1 naïve?" },
    { role: "assistant", content: " A1, with spaces " },
    { role: "user", content: "Q2\nline two" },
    { role: "assistant", content: "A2 🙂" },
  ],
  [
    { role: "user", content: "a" },
    { role: "user", content: "b" },
  ],
];

type Rendered = string | { error: string };
type Ids = number[] | { error: string };
interface CaseRef {
  class: string;
  bosId: number | null;
  eosId: number | null;
  ids: number[][];
  raw: number[][];
  chats: Array<{ gen: Rendered; plain: Rendered; genIds: Ids; plainIds: Ids }>;
}

test("tokenizer parity with transformers: special tokens from the post-processor, add_bos/eos_token, chat templates", async () => {
  requirePython(["transformers", "tokenizers", "jinja2"]);
  const dir = await mkdtemp(join(tmpdir(), "engine-tok-parity-"));
  try {
    await writeFile(join(dir, "inputs.json"), JSON.stringify({ texts: TEXTS, conversations: CONVERSATIONS }));
    await run(python, [tokScript, dir, join(dir, "inputs.json"), `demo=${demoDir}`], { timeout: 300_000 });
    const ref = JSON.parse(await readFile(join(dir, "ref.json"), "utf8")) as Record<string, CaseRef>;
    const dirOf = (name: string) => (name === "demo" ? demoDir : join(dir, name));
    assert.deepEqual(Object.keys(ref).sort(), ["bytelevel", "conflict", "demo", "llama-bos-eos", "llama-no-bos", "roberta", "template-bos"]);

    const toks = new Map<string, ChatTokenizer>();
    const straddled: string[] = [];
    for (const [name, r] of Object.entries(ref)) {
      const tok = await ChatTokenizer.fromDir(dirOf(name));
      toks.set(name, tok);
      const where = (what: string) => `${name} (${r.class}): ${what}`;
      assert.equal(tok.bosId, r.bosId, where("bos id"));
      assert.equal(tok.eosId, r.eosId, where("eos id"));
      TEXTS.forEach((text, i) => {
        assert.deepEqual(tok.encode(text, { addSpecialTokens: true }), r.ids[i], where(`tokenizer(${JSON.stringify(text)})`));
        assert.deepEqual(tok.encode(text), r.raw[i], where(`tokenizer(${JSON.stringify(text)}, add_special_tokens=False)`));
        // a text record is tokenizer(text) + EOS, never EOS twice
        const want = r.eosId === null || r.ids[i].at(-1) === r.eosId ? r.ids[i] : [...r.ids[i], r.eosId];
        assert.deepEqual(encodeRecord(tok, { text }).ids, want, where(`text record ${JSON.stringify(text)}`));
      });
      CONVERSATIONS.forEach((conv, i) => {
        const c = r.chats[i];
        for (const [gen, rendered, ids] of [[true, c.gen, c.genIds], [false, c.plain, c.plainIds]] as const) {
          const what = where(`apply_chat_template(conversation ${i}, add_generation_prompt=${gen})`);
          if (typeof rendered === "string") {
            assert.equal(tok.applyChatTemplate(conv, { addGenerationPrompt: gen }), rendered, what);
            assert.deepEqual(tok.encode(rendered), ids, `${what}, tokenized`);
          } else {
            assert.throws(() => tok.applyChatTemplate(conv, { addGenerationPrompt: gen }), (e: Error) => e.message.includes(rendered.error), what);
          }
        }
        if (conv.at(-1)!.role === "assistant" && typeof c.plain === "string") {
          const { ids, train } = tok.encodeChat(conv);
          const upTo = conv.findIndex((m) => m.role === "assistant");
          const prompt = tok.encode(tok.applyChatTemplate(conv.slice(0, upTo), { addGenerationPrompt: true }));
          // the prompt the engine generates from is the start of what it trains on, with training from the answer on
          assert.deepEqual(ids.slice(0, prompt.length), prompt, where(`encodeChat(conversation ${i}) starts with the generation prompt`));
          assert.ok(!train.slice(0, prompt.length).some(Boolean) && train[prompt.length], where("training starts at the assistant's first token"));
          const plainIds = c.plainIds as number[];
          const straddles = !prompt.every((id, k) => plainIds[k] === id);
          if (!straddles) assert.deepEqual(ids, plainIds, where(`encodeChat(conversation ${i}) = apply_chat_template(tokenize=True)`));
          else straddled.push(name);
        }
      });
    }

    // what each case is about (so that the cases keep testing what they claim)
    assert.deepEqual(straddled.sort(), ["conflict", "template-bos"], "only GPT-2's regex merges across '\\n\\n' + answer");
    const first = (name: string) => ref[name].ids[0];
    assert.ok(!first("bytelevel").includes(ref.bytelevel.bosId!) && !toks.get("bytelevel")!.addBos, "byte-level BPE: bos_token set, no BOS added");
    assert.equal(ref.bytelevel.raw[5].filter((id) => id === ref.bytelevel.bosId).length, 1, "byte-level BPE: the config's bos_token, in the vocabulary only, is one token");
    assert.equal(first("template-bos")[0], ref["template-bos"].bosId, "TemplateProcessing adds BOS");
    assert.deepEqual(ref["template-bos"].ids[1], [ref["template-bos"].bosId], "tokenizer('') is [BOS]");
    assert.ok(first("llama-bos-eos")[0] === ref["llama-bos-eos"].bosId && first("llama-bos-eos").at(-1) === ref["llama-bos-eos"].eosId, "add_bos_token + add_eos_token");
    assert.ok(toks.get("llama-bos-eos")!.addEos && toks.get("llama-bos-eos")!.notes.length === 0);
    assert.deepEqual(first("llama-no-bos"), ref["llama-no-bos"].raw[0], "add_bos_token false: nothing added");
    assert.equal(first("conflict")[0], ref.conflict.bosId, "add_bos_token false is ignored when the post-processor adds BOS");
    assert.notEqual(first("conflict").at(-1), ref.conflict.eosId, "add_eos_token true is ignored when the post-processor adds no EOS");
    assert.equal(toks.get("conflict")!.notes.length, 2, "the disagreement is reported");
    assert.deepEqual(first("roberta"), [0, ...ref.roberta.raw[0], 2], "RobertaProcessing: <s> text </s>");
    // the demo model: BOS in front of every text, as the engine always did for it
    ref.demo.ids.forEach((ids, i) => assert.deepEqual(ids, [ref.demo.bosId, ...ref.demo.raw[i]], "demo model: tokenizer(text) = BOS + text"));

    // prompt/completion records and generate prompts: the prefix the post-processor adds, no suffix
    for (const [name, tok] of toks) {
      const r = ref[name];
      const prefix = r.ids[0].slice(0, r.ids[0].length - r.raw[0].length - tok.frame.suffix.length);
      assert.deepEqual(tok.encodePrompt(TEXTS[0]), [...prefix, ...r.raw[0]], `${name}: encodePrompt`);
      const rec = encodeRecord(tok, { prompt: TEXTS[0], completion: TEXTS[6] });
      assert.deepEqual(rec.ids.slice(0, prefix.length + r.raw[0].length), tok.encodePrompt(TEXTS[0]), `${name}: record prompt`);
      assert.equal(rec.ids.filter((id) => id === r.eosId).length, r.eosId === null ? 0 : 1, `${name}: one EOS in a prompt/completion record`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
