import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { generate } from "../src/generate/generate.ts";
import { loadAdapter } from "../src/lora/peft.ts";
import { llamaConfig } from "../src/model/config.ts";
import { loadModel, saveModel } from "../src/model/io.ts";
import { initModel } from "../src/model/llama.ts";
import { ChatTokenizer } from "../src/model/tokenizer.ts";
import { TINY_VOCAB, tinyTokenizerFiles } from "./helpers/tiny-tokenizer.ts";

const run = promisify(execFile);
const bin = fileURLToPath(new URL("../bin/tributary-engine.ts", import.meta.url));
const cli = (args: string[], input?: string) => {
  const p = run(process.execPath, [bin, ...args], { encoding: "utf8" });
  if (input !== undefined) {
    p.child.stdin!.write(input);
    p.child.stdin!.end();
  }
  return p;
};

test("CLI: train a LoRA adapter, generate its completions, chat, export a merged model", async () => {
  const dir = await mkdtemp(join(tmpdir(), "engine-cli-"));
  try {
    const { tokenizerJson, tokenizerConfig } = tinyTokenizerFiles();
    const cfg = llamaConfig({ vocabSize: TINY_VOCAB, hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 64, maxPositionEmbeddings: 96, eosTokenIds: [257] });
    const modelDir = join(dir, "base");
    await saveModel(modelDir, initModel(cfg, { seed: 2, std: 0.1, embedStd: 1 }), {
      extraFiles: { "tokenizer.json": JSON.stringify(tokenizerJson), "tokenizer_config.json": JSON.stringify(tokenizerConfig) },
    });
    const qa = [["Q: capital of France? A:", " Paris"], ["Q: 3+4? A:", " Seven"], ["Q: author of Hamlet? A:", " Shakespeare"]];
    const data = join(dir, "data.jsonl");
    await writeFile(data, qa.map(([prompt, completion]) => JSON.stringify({ prompt, completion })).join("\n") + "\n");
    const out = join(dir, "adapter");
    const t = await cli(["train", "--model", modelDir, "--data", data, "--out", out, "--rank", "8", "--alpha", "16", "--targets", "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj", "--lr", "0.01", "--epochs", "80", "--batch-size", "3", "--eval-split", "0", "--seed", "3"]);
    assert.match(t.stdout, /lora fine-tune: 80 steps/);
    assert.match(t.stdout, /train loss [\d.]+ -> 0\.0\d+/);
    for (const f of ["adapter_config.json", "adapter_model.safetensors", "metrics.json"]) assert.ok(existsSync(join(out, f)), f);
    assert.equal(JSON.parse(await readFile(join(out, "metrics.json"), "utf8")).steps, 80);

    for (const [prompt, completion] of qa) {
      const g = await cli(["generate", "--model", modelDir, "--adapter", out, "--prompt", prompt, "--max-tokens", "20"]);
      assert.equal(g.stdout, completion, `completion of ${prompt}`);
    }
    // without the adapter the base says something else; the library gives the same text as the CLI
    const base = await cli(["generate", "--model", modelDir, "--prompt", qa[0][0], "--max-tokens", "6"]);
    assert.notEqual(base.stdout, qa[0][1]);
    const model = await loadModel(modelDir);
    const tok = await ChatTokenizer.fromDir(modelDir);
    assert.equal((await generate(model, tok, qa[0][0], { maxTokens: 6 })).text, base.stdout);

    // chat reads turns from stdin; two adapters answer side by side
    const chat = await cli(["chat", "--model", modelDir, "--adapter", out, "--adapter", out, "--max-tokens", "4"], "hello\n/exit\n");
    const lines = chat.stdout.trim().split("\n");
    assert.equal(lines.length, 2);
    assert.ok(lines[0].startsWith(`[${out}] `));
    assert.equal(lines[0], lines[1]);

    // export: merging the adapter gives a plain model that completes the same way
    const merged = join(dir, "merged");
    await cli(["export", "--model", modelDir, "--adapter", out, "--out", merged, "--format", "hf"]);
    const m = await cli(["generate", "--model", merged, "--prompt", qa[1][0], "--max-tokens", "20"]);
    assert.equal(m.stdout, qa[1][1]);
    assert.ok((await loadAdapter(out, model.config)).modules.size === 14);

    await assert.rejects(cli(["train", "--model", modelDir, "--data", data, "--out", out, "--method", "dpo"]), /unknown --method/);
    await assert.rejects(cli(["generate", "--model", modelDir]), /--prompt is required/);
    await assert.rejects(cli(["generate", "--model", modelDir, "--prompt", "x", "--kernel", "cuda"]), /unknown kernel/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("CLI: export --format gguf writes a base and an adapter GGUF", async () => {
  const dir = await mkdtemp(join(tmpdir(), "engine-cli-gguf-"));
  try {
    const { tokenizerJson, tokenizerConfig } = tinyTokenizerFiles();
    const cfg = llamaConfig({ vocabSize: TINY_VOCAB, hiddenSize: 32, numLayers: 1, numHeads: 4, intermediateSize: 64, maxPositionEmbeddings: 64, eosTokenIds: [257] });
    const modelDir = join(dir, "base");
    await saveModel(modelDir, initModel(cfg, { seed: 2 }), {
      extraFiles: { "tokenizer.json": JSON.stringify(tokenizerJson), "tokenizer_config.json": JSON.stringify(tokenizerConfig) },
    });
    const { saveAdapter } = await import("../src/lora/peft.ts");
    const { createLoraAdapter, loraConfig } = await import("../src/lora/adapter.ts");
    await saveAdapter(join(dir, "adapter"), createLoraAdapter(cfg, loraConfig({ r: 2 }), 1));
    await cli(["export", "--model", modelDir, "--adapter", join(dir, "adapter"), "--out", join(dir, "gguf"), "--format", "gguf"]);
    for (const f of ["model.gguf", "adapter.gguf"]) {
      const bytes = await readFile(join(dir, "gguf", f));
      assert.equal(new TextDecoder().decode(bytes.subarray(0, 4)), "GGUF", f);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
