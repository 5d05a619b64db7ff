// The torch training backend on the CPU (needs engine/.venv: `sh engine/scripts/python-venv.sh`; the
// trainer node's pretest builds it). Random tiny models of three architectures made by transformers in the
// test (Llama, Qwen2 with q/k/v biases, Gemma), with the demo model's tokenizer, are fine-tuned on Q&A
// records through the offline command `tributary-trainer train --backend torch`; the adapters load with
// PEFT and answer what they were trained on; the engine loads the Llama adapter and answers the same,
// token for token; the worker encodes records as the engine does; a run killed with SIGKILL resumes from
// its checkpoint and ends on the uninterrupted run's loss curve; QLoRA on the engine's NF4 layout gives the
// engine's answer. (Abort/resume in the worker, the engine backend of the offline command, DDP and FSDP:
// torch-distributed.test.ts, a file of its own so the two run side by side.)
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ChatTokenizer, encodeRecord, generateChat, loadAdapter, loadModel, parseRecordsJsonl } from "@tributary/engine";
import { TorchWorker, torchPython } from "../src/backends/torch-worker.ts";
import { checkFit, torchCapacity, torchModelFacts } from "../src/jobs/fit.ts";
import { parseJobSpec } from "@tributary/sdk/schemas";
import { ARCHS, assertCurvesClose, chat, CLI, FIXTURES, lossCurve, qa, run, torchModels, train, TRAIN_ARGS } from "./helpers/torch-offline.ts";
import type { Event } from "./helpers/torch-offline.ts";

describe("torch backend", () => {
  const { dir: d, data, outOf } = torchModels();

  it("the worker encodes chat records exactly as the engine does (ids and loss mask)", async () => {
    const w = await TorchWorker.start();
    try {
      assert.equal(w.hello.protocol, 2);
      assert.ok(w.hello.devices.some((d) => d.type === "cpu"));
      const file = join(d(), "mixed.jsonl");
      writeFileSync(file, [JSON.stringify({ messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi <|user|> there" }, { role: "assistant", content: "Hello." }, { role: "user", content: "Again?" }, { role: "assistant", content: "Yes, again." }] }), JSON.stringify({ prompt: "Q: who?", completion: " Jane." }), JSON.stringify({ text: "It is a truth universally acknowledged." })].join("\n"));
      const got = await w.encode(join(d(), "llama"), file);
      const tok = await ChatTokenizer.fromDir(join(d(), "llama"));
      const want = parseRecordsJsonl(await readFile(file, "utf8")).map((r) => encodeRecord(tok, r));
      assert.deepEqual(got, want);
      assert.ok(got[0].train.some(Boolean) && got[0].train.some((f) => !f));
    } finally {
      await w.close();
    }
  });

  it("inspect (the fit check's facts): architecture, parameter count and Linear layer names of each model, without loading weights; a GPT-2 config lists its Conv1D layers", async () => {
    const w = await TorchWorker.start();
    try {
      for (const arch of ARCHS) {
        const i = await w.inspect(join(d(), arch));
        assert.equal(i.model_type, arch);
        assert.deepEqual(i.linear_modules, ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"], arch);
        // the parameter count equals what the model's safetensors hold (tied embeddings counted once)
        const header = (f: string) => {
          const b = readFileSync(f);
          return JSON.parse(b.subarray(8, 8 + Number(b.readBigUInt64LE(0))).toString("utf8")) as Record<string, { shape?: number[] }>;
        };
        const stored = Object.entries(header(join(d(), arch, "model.safetensors"))).filter(([k]) => k !== "__metadata__").reduce((n, [, t]) => n + t.shape!.reduce((a, b) => a * b, 1), 0);
        assert.equal(i.params, stored, arch);
        const facts = torchModelFacts(i, JSON.parse(readFileSync(join(d(), arch, "config.json"), "utf8")));
        assert.throws(() => checkFit(parseJobSpec({ baseModel: arch, lora: { targetModules: ["c_attn"] }, data: [{ datanetId: "1", version: 1 }] }), facts, torchCapacity(w.hello)), /c_attn are not Linear layers of this/);
        assert.match(checkFit(parseJobSpec({ baseModel: arch, lora: { targetModules: ["all-linear"] }, data: [{ datanetId: "1", version: 1 }] }), facts, torchCapacity(w.hello)).device, /^cpu:/);
      }
      const gpt2 = join(d(), "gpt2-config");
      mkdirSync(gpt2, { recursive: true });
      writeFileSync(join(gpt2, "config.json"), JSON.stringify({ model_type: "gpt2", architectures: ["GPT2LMHeadModel"], vocab_size: 512, n_embd: 64, n_layer: 2, n_head: 2, n_positions: 128 }));
      assert.deepEqual((await w.inspect(gpt2)).linear_modules, ["c_attn", "c_fc", "c_proj"]);
      await assert.rejects(w.inspect(join(d(), "nowhere")), /is not a model folder \(no config.json\)/);
    } finally {
      await w.close();
    }
  });

  it("trains Llama, Qwen2 (q/k/v bias) and Gemma with LoRA on all linear layers; PEFT loads each adapter and it answers a trained prompt; the engine gives the same greedy answer for Llama", async () => {
    for (const arch of ARCHS) {
      const events = await train(["--model", join(d(), arch), "--data", data(), "--out", outOf(arch), ...TRAIN_ARGS]);
      const progress = events.filter((e) => e.type === "progress");
      assert.equal(progress[0].step, 1, arch);
      assert.equal(progress.at(-1)!.step, 75, arch);
      assert.ok(progress.at(-1)!.loss! < progress[0].loss! / 4, `${arch}: loss ${progress[0].loss} -> ${progress.at(-1)!.loss}`);
      for (const f of ["adapter_model.safetensors", "adapter_config.json", "metrics.json"]) assert.ok(existsSync(join(outOf(arch), f)), `${arch}: ${f}`);
      const cfg = JSON.parse(await readFile(join(outOf(arch), "adapter_config.json"), "utf8")) as { target_modules: string[] };
      assert.equal(cfg.target_modules.length, 14, `${arch}: the 7 linear layers of each of 2 blocks`);
    }
    const [q, a] = qa[2];
    const queries = ARCHS.flatMap((arch) => [null, outOf(arch)].map((adapter) => ({ base: join(d(), arch), adapter, messages: [chat(q).messages[0]], max_new_tokens: 8 })));
    writeFileSync(join(d(), "queries.json"), JSON.stringify(queries));
    await run(torchPython(), [FIXTURES, "answer", join(d(), "queries.json"), join(d(), "answers.json")]);
    const answers = JSON.parse(await readFile(join(d(), "answers.json"), "utf8")) as Array<{ ids: number[]; text: string }>;
    ARCHS.forEach((arch, i) => {
      assert.notEqual(answers[2 * i].text, a, `${arch}: the base model does not know the answer`);
      assert.equal(answers[2 * i + 1].text, a, `${arch}: base + adapter answers the trained prompt`);
    });

    const model = await loadModel(join(d(), "llama"));
    const tok = await ChatTokenizer.fromDir(join(d(), "llama"));
    const adapter = await loadAdapter(outOf("llama"), model.config);
    assert.equal(adapter.modules.size, 14);
    const engine = await generateChat(model, tok, [chat(q).messages[0]], { adapter, maxTokens: 8 });
    assert.deepEqual(engine.ids.filter((t) => t !== tok.eosId), answers[1].ids, "engine + torch adapter = transformers + PEFT, token for token");
    assert.equal(engine.text, a);
  });

  it("generate: the worker streams the trained answer token by token (Llama and Qwen2 adapters, as transformers + PEFT generate it); stop strings, seeded sampling and cancel", async () => {
    const answers = JSON.parse(await readFile(join(d(), "answers.json"), "utf8")) as Array<{ ids: number[]; text: string }>;
    const [q, a] = qa[2];
    const w = await TorchWorker.start();
    try {
      assert.ok(w.hello.commands?.includes("generate"));
      for (const [i, arch] of [[1, "llama"], [3, "qwen2"]] as const) {
        const deltas: string[] = [];
        const ids: number[] = [];
        const r = await w.generate({ model_dir: join(d(), arch), adapter_dir: outOf(arch), messages: [chat(q).messages[0]], max_tokens: 8, threads: 1 }, { onToken: (t, text) => (t !== null && ids.push(t), deltas.push(text)) });
        assert.equal(r.text, a, arch);
        assert.deepEqual(r.token_ids, answers[i].ids, `${arch}: the ids transformers + PEFT generate`);
        assert.deepEqual(ids, r.token_ids, `${arch}: streamed one by one`);
        assert.equal(deltas.join(""), a, `${arch}: the deltas make the text`);
        assert.equal(r.finish_reason, "stop", `${arch}: ends at the end-of-sequence token`);
      }
      const req = { model_dir: join(d(), "llama"), adapter_dir: outOf("llama"), messages: [chat(q).messages[0]], max_tokens: 8, threads: 1 };
      // a stop string: cut before it, never streamed
      const deltas: string[] = [];
      const cut = await w.generate({ ...req, stop: ["shire"] }, { onToken: (_t, text) => deltas.push(text) });
      assert.equal(cut.text, "In Hertford");
      assert.equal(deltas.join(""), "In Hertford");
      assert.equal(cut.finish_reason, "stop");
      // sampling: the same seed gives the same tokens; the length limit ends it
      const sample = (seed: number) => w.generate({ model_dir: join(d(), "llama"), prompt: "It is a truth", max_tokens: 12, temperature: 1.5, top_p: 0.95, seed, threads: 1 });
      const [s1, s2] = [await sample(1), await sample(1)];
      assert.deepEqual(s1.token_ids, s2.token_ids);
      assert.equal(s1.finish_reason, "length");
      assert.equal(s1.completion_tokens, 12);
      // cancel: an abort after the first token ends it early, and the next call runs as usual
      const abort = new AbortController();
      const cancelled = await w.generate({ model_dir: join(d(), "llama"), prompt: "It is a truth", max_tokens: 200, temperature: 1.5, seed: 2, threads: 1 }, { signal: abort.signal, onToken: () => abort.abort() });
      assert.equal(cancelled.finish_reason, "cancelled");
      assert.ok(cancelled.completion_tokens < 200, `${cancelled.completion_tokens} tokens`);
      assert.equal((await w.generate(req)).text, a);
      await assert.rejects(w.generate({ ...req, adapter_dir: join(d(), "nowhere") }), /holds no adapter/);
    } finally {
      await w.close();
    }
  });

  it("QLoRA: trains on the NF4-quantized base; the engine's NF4 base + the adapter answers as torch does", async () => {
    const out = join(d(), "out-qlora");
    const events = await train(["--model", join(d(), "llama"), "--data", data(), "--out", out, ...TRAIN_ARGS, "--method", "qlora"]);
    assert.equal(events.filter((e) => e.type === "progress").length, 75);
    const metrics = JSON.parse(await readFile(join(out, "metrics.json"), "utf8")) as { method: string; lossHistory: Array<{ loss: number }> };
    assert.equal(metrics.method, "qlora");
    // the quantized base is another model: its loss curve is not the LoRA run's
    assert.notEqual(metrics.lossHistory[0].loss, (await lossCurve(outOf("llama")))[0].loss);
    const [q, a] = qa[2];
    writeFileSync(join(d(), "q-qlora.json"), JSON.stringify([{ base: join(d(), "llama"), adapter: out, nf4: true, messages: [chat(q).messages[0]], max_new_tokens: 8 }]));
    await run(torchPython(), [FIXTURES, "answer", join(d(), "q-qlora.json"), join(d(), "a-qlora.json")]);
    const [torchAnswer] = JSON.parse(await readFile(join(d(), "a-qlora.json"), "utf8")) as Array<{ ids: number[]; text: string }>;
    assert.equal(torchAnswer.text, a);
    const model = await loadModel(join(d(), "llama"), { quantize: "nf4" });
    const tok = await ChatTokenizer.fromDir(join(d(), "llama"));
    const engine = await generateChat(model, tok, [chat(q).messages[0]], { adapter: await loadAdapter(out, model.config), maxTokens: 8 });
    assert.deepEqual(engine.ids.filter((t) => t !== tok.eosId), torchAnswer.ids, "engine NF4 + adapter = torch NF4 + adapter, token for token");
  });

  it("a run killed with SIGKILL mid-training resumes from its newest checkpoint and ends on the uninterrupted run's loss curve", async () => {
    const out = join(d(), "out-killed");
    const args = ["train", "--backend", "torch", "--model", join(d(), "llama"), "--data", data(), "--out", out, ...TRAIN_ARGS, "--checkpoint-every", "5"];
    const child = spawn(process.execPath, [CLI, ...args], { detached: true, stdio: ["ignore", "pipe", "ignore"] });
    await new Promise<void>((resolve, reject) => {
      let buf = "";
      child.stdout!.on("data", (d: Buffer) => {
        buf += d.toString();
        const steps = buf.split("\n").filter((l) => l.startsWith('{"type":"progress"')).map((l) => (JSON.parse(l) as Event).step!);
        if (steps.some((s) => s >= 13)) {
          process.kill(-child.pid!, "SIGKILL"); // the node and its worker, as a crash would
          resolve();
        }
      });
      child.on("exit", () => reject(new Error("the training ended before it was killed")));
    });
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(!existsSync(join(out, "adapter_model.safetensors")));
    const saved = readdirSync(join(out, "checkpoints")).filter((n) => /^step-\d+$/.test(n)).sort();
    assert.ok(saved.length >= 2, `checkpoints: ${saved.join(", ")}`);
    const last = Number(saved.at(-1)!.slice(5));
    const events = await train(["--model", join(d(), "llama"), "--data", data(), "--out", out, ...TRAIN_ARGS, "--checkpoint-every", "5"]);
    const started = events.find((e) => e.type === "started")!;
    assert.equal(started.start_step, last);
    assert.equal(events.find((e) => e.type === "progress")!.step, last + 1, "the first step after the restart follows the checkpoint");
    // resumed = uninterrupted (adapter, AdamW moments, schedule, RNG and data cursor restored); CPU fp32, 1 thread
    assertCurvesClose(await lossCurve(out), await lossCurve(outOf("llama")), 1e-6, "resumed vs uninterrupted");
  });
});
