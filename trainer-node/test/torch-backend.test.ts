// The torch training backend on the CPU (needs engine/.venv: `sh engine/scripts/python-venv.sh`; the
// trainer node's pretest builds it). Random tiny models of three architectures made by transformers in the
// test (Llama, Qwen2 with q/k/v biases, Gemma), with the demo model's tokenizer, are fine-tuned on Q&A
// records through the offline command `tributary-trainer train --backend torch`; the adapters load with
// PEFT and answer what they were trained on; the engine loads the Llama adapter and answers the same,
// token for token; the worker encodes records as the engine does; a run killed with SIGKILL resumes from
// its checkpoint and ends on the uninterrupted run's loss curve; DDP and FSDP (FSDP2) with 2 gloo processes
// give the 1-process loss curve for the same global batch; QLoRA on the engine's NF4 layout gives the engine's answer.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ChatTokenizer, encodeRecord, generateChat, loadAdapter, loadModel, parseRecordsJsonl } from "@tributary/engine";
import { runTorchTraining, TorchWorker, torchPython, torchUnavailable } from "../src/backends/torch-worker.ts";
import { checkFit, torchCapacity, torchModelFacts } from "../src/jobs/fit.ts";
import { parseJobSpec } from "@tributary/sdk/schemas";

const run = promisify(execFile);
const CLI = fileURLToPath(new URL("../bin/tributary-trainer.ts", import.meta.url));
const FIXTURES = fileURLToPath(new URL("./helpers/torch_fixtures.py", import.meta.url));
const TOKENIZER_DIR = fileURLToPath(new URL("../../engine/models/tributary-austen-4m", import.meta.url));
const ARCHS = ["llama", "qwen2", "gemma"] as const;

const qa: Array<[string, string]> = [
  ["What colour is the sky over Pemberley?", "Blue and wide."],
  ["Who wrote the letter?", "Mr Darcy wrote it."],
  ["Where is Longbourn?", "In Hertfordshire."],
];
const chat = (q: string, a?: string) => ({ messages: [{ role: "user", content: q }, ...(a ? [{ role: "assistant", content: a }] : [])] });

// LoRA on every linear layer; settings under which a 2-layer random model memorizes three answers
const TRAIN_ARGS = ["--targets", "all-linear", "--epochs", "25", "--lr", "0.01", "--batch-size", "1", "--eval-split", "0", "--seed", "7", "--threads", "1", "--dropout", "0", "--warmup-ratio", "0.05", "--max-seq-len", "64", "--json"];

type Event = { type: string; step?: number; loss?: number; [k: string]: unknown };

/** Runs the offline command; returns its JSON events. */
async function train(args: string[]): Promise<Event[]> {
  const { stdout } = await run(process.execPath, [CLI, "train", "--backend", "torch", ...args], { maxBuffer: 64 << 20 });
  return stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Event);
}

const lossCurve = async (out: string) =>
  (JSON.parse(await readFile(join(out, "metrics.json"), "utf8")) as { lossHistory: Array<{ step: number; loss: number }> }).lossHistory;

function assertCurvesClose(got: Array<{ step: number; loss: number }>, want: Array<{ step: number; loss: number }>, rel: number, what: string) {
  assert.deepEqual(got.map((p) => p.step), want.map((p) => p.step), `${what}: steps`);
  got.forEach((p, i) => assert.ok(Math.abs(p.loss - want[i].loss) <= rel * Math.abs(want[i].loss), `${what}: step ${p.step} loss ${p.loss} vs ${want[i].loss} (tolerance ${rel} relative)`));
}

describe("torch backend", () => {
  let dir = "";
  const data = () => join(dir, "qa.jsonl");
  const outOf = (arch: string) => join(dir, `out-${arch}`);

  before(async () => {
    // no skip: a machine without the env fails here, saying how to build it
    const missing = torchUnavailable();
    assert.equal(missing, null, missing ?? "");
    dir = mkdtempSync(join(tmpdir(), "torch-backend-"));
    writeFileSync(data(), qa.map(([q, a]) => JSON.stringify(chat(q, a))).join("\n") + "\n");
    await run(torchPython(), [FIXTURES, "make", TOKENIZER_DIR, dir]);
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("the worker encodes chat records exactly as the engine does (ids and loss mask)", async () => {
    const w = await TorchWorker.start();
    try {
      assert.equal(w.hello.protocol, 2);
      assert.ok(w.hello.devices.some((d) => d.type === "cpu"));
      const file = join(dir, "mixed.jsonl");
      writeFileSync(file, [JSON.stringify({ messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi <|user|> there" }, { role: "assistant", content: "Hello." }, { role: "user", content: "Again?" }, { role: "assistant", content: "Yes, again." }] }), JSON.stringify({ prompt: "Q: who?", completion: " Jane." }), JSON.stringify({ text: "It is a truth universally acknowledged." })].join("\n"));
      const got = await w.encode(join(dir, "llama"), file);
      const tok = await ChatTokenizer.fromDir(join(dir, "llama"));
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
        const i = await w.inspect(join(dir, arch));
        assert.equal(i.model_type, arch);
        assert.deepEqual(i.linear_modules, ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"], arch);
        // the parameter count equals what the model's safetensors hold (tied embeddings counted once)
        const header = (f: string) => {
          const b = readFileSync(f);
          return JSON.parse(b.subarray(8, 8 + Number(b.readBigUInt64LE(0))).toString("utf8")) as Record<string, { shape?: number[] }>;
        };
        const stored = Object.entries(header(join(dir, arch, "model.safetensors"))).filter(([k]) => k !== "__metadata__").reduce((n, [, t]) => n + t.shape!.reduce((a, b) => a * b, 1), 0);
        assert.equal(i.params, stored, arch);
        const facts = torchModelFacts(i, JSON.parse(readFileSync(join(dir, arch, "config.json"), "utf8")));
        assert.throws(() => checkFit(parseJobSpec({ baseModel: arch, lora: { targetModules: ["c_attn"] }, data: [{ datanetId: "1", version: 1 }] }), facts, torchCapacity(w.hello)), /c_attn are not Linear layers of this/);
        assert.match(checkFit(parseJobSpec({ baseModel: arch, lora: { targetModules: ["all-linear"] }, data: [{ datanetId: "1", version: 1 }] }), facts, torchCapacity(w.hello)).device, /^cpu:/);
      }
      const gpt2 = join(dir, "gpt2-config");
      mkdirSync(gpt2, { recursive: true });
      writeFileSync(join(gpt2, "config.json"), JSON.stringify({ model_type: "gpt2", architectures: ["GPT2LMHeadModel"], vocab_size: 512, n_embd: 64, n_layer: 2, n_head: 2, n_positions: 128 }));
      assert.deepEqual((await w.inspect(gpt2)).linear_modules, ["c_attn", "c_fc", "c_proj"]);
      await assert.rejects(w.inspect(join(dir, "nowhere")), /is not a model folder \(no config.json\)/);
    } finally {
      await w.close();
    }
  });

  it("trains Llama, Qwen2 (q/k/v bias) and Gemma with LoRA on all linear layers; PEFT loads each adapter and it answers a trained prompt; the engine gives the same greedy answer for Llama", async () => {
    for (const arch of ARCHS) {
      const events = await train(["--model", join(dir, arch), "--data", data(), "--out", outOf(arch), ...TRAIN_ARGS]);
      const progress = events.filter((e) => e.type === "progress");
      assert.equal(progress[0].step, 1, arch);
      assert.equal(progress.at(-1)!.step, 75, arch);
      assert.ok(progress.at(-1)!.loss! < progress[0].loss! / 4, `${arch}: loss ${progress[0].loss} -> ${progress.at(-1)!.loss}`);
      for (const f of ["adapter_model.safetensors", "adapter_config.json", "metrics.json"]) assert.ok(existsSync(join(outOf(arch), f)), `${arch}: ${f}`);
      const cfg = JSON.parse(await readFile(join(outOf(arch), "adapter_config.json"), "utf8")) as { target_modules: string[] };
      assert.equal(cfg.target_modules.length, 14, `${arch}: the 7 linear layers of each of 2 blocks`);
    }
    const [q, a] = qa[2];
    const queries = ARCHS.flatMap((arch) => [null, outOf(arch)].map((adapter) => ({ base: join(dir, arch), adapter, messages: [chat(q).messages[0]], max_new_tokens: 8 })));
    writeFileSync(join(dir, "queries.json"), JSON.stringify(queries));
    await run(torchPython(), [FIXTURES, "answer", join(dir, "queries.json"), join(dir, "answers.json")]);
    const answers = JSON.parse(await readFile(join(dir, "answers.json"), "utf8")) as Array<{ ids: number[]; text: string }>;
    ARCHS.forEach((arch, i) => {
      assert.notEqual(answers[2 * i].text, a, `${arch}: the base model does not know the answer`);
      assert.equal(answers[2 * i + 1].text, a, `${arch}: base + adapter answers the trained prompt`);
    });

    const model = await loadModel(join(dir, "llama"));
    const tok = await ChatTokenizer.fromDir(join(dir, "llama"));
    const adapter = await loadAdapter(outOf("llama"), model.config);
    assert.equal(adapter.modules.size, 14);
    const engine = await generateChat(model, tok, [chat(q).messages[0]], { adapter, maxTokens: 8 });
    assert.deepEqual(engine.ids.filter((t) => t !== tok.eosId), answers[1].ids, "engine + torch adapter = transformers + PEFT, token for token");
    assert.equal(engine.text, a);
  });

  it("generate: the worker streams the trained answer token by token (Llama and Qwen2 adapters, as transformers + PEFT generate it); stop strings, seeded sampling and cancel", async () => {
    const answers = JSON.parse(await readFile(join(dir, "answers.json"), "utf8")) as Array<{ ids: number[]; text: string }>;
    const [q, a] = qa[2];
    const w = await TorchWorker.start();
    try {
      assert.ok(w.hello.commands?.includes("generate"));
      for (const [i, arch] of [[1, "llama"], [3, "qwen2"]] as const) {
        const deltas: string[] = [];
        const ids: number[] = [];
        const r = await w.generate({ model_dir: join(dir, arch), adapter_dir: outOf(arch), messages: [chat(q).messages[0]], max_tokens: 8, threads: 1 }, { onToken: (t, text) => (t !== null && ids.push(t), deltas.push(text)) });
        assert.equal(r.text, a, arch);
        assert.deepEqual(r.token_ids, answers[i].ids, `${arch}: the ids transformers + PEFT generate`);
        assert.deepEqual(ids, r.token_ids, `${arch}: streamed one by one`);
        assert.equal(deltas.join(""), a, `${arch}: the deltas make the text`);
        assert.equal(r.finish_reason, "stop", `${arch}: ends at the end-of-sequence token`);
      }
      const req = { model_dir: join(dir, "llama"), adapter_dir: outOf("llama"), messages: [chat(q).messages[0]], max_tokens: 8, threads: 1 };
      // a stop string: cut before it, never streamed
      const deltas: string[] = [];
      const cut = await w.generate({ ...req, stop: ["shire"] }, { onToken: (_t, text) => deltas.push(text) });
      assert.equal(cut.text, "In Hertford");
      assert.equal(deltas.join(""), "In Hertford");
      assert.equal(cut.finish_reason, "stop");
      // sampling: the same seed gives the same tokens; the length limit ends it
      const sample = (seed: number) => w.generate({ model_dir: join(dir, "llama"), prompt: "It is a truth", max_tokens: 12, temperature: 1.5, top_p: 0.95, seed, threads: 1 });
      const [s1, s2] = [await sample(1), await sample(1)];
      assert.deepEqual(s1.token_ids, s2.token_ids);
      assert.equal(s1.finish_reason, "length");
      assert.equal(s1.completion_tokens, 12);
      // cancel: an abort after the first token ends it early, and the next call runs as usual
      const abort = new AbortController();
      const cancelled = await w.generate({ model_dir: join(dir, "llama"), prompt: "It is a truth", max_tokens: 200, temperature: 1.5, seed: 2, threads: 1 }, { signal: abort.signal, onToken: () => abort.abort() });
      assert.equal(cancelled.finish_reason, "cancelled");
      assert.ok(cancelled.completion_tokens < 200, `${cancelled.completion_tokens} tokens`);
      assert.equal((await w.generate(req)).text, a);
      await assert.rejects(w.generate({ ...req, adapter_dir: join(dir, "nowhere") }), /holds no adapter/);
    } finally {
      await w.close();
    }
  });

  it("QLoRA: trains on the NF4-quantized base; the engine's NF4 base + the adapter answers as torch does", async () => {
    const out = join(dir, "out-qlora");
    const events = await train(["--model", join(dir, "llama"), "--data", data(), "--out", out, ...TRAIN_ARGS, "--method", "qlora"]);
    assert.equal(events.filter((e) => e.type === "progress").length, 75);
    const metrics = JSON.parse(await readFile(join(out, "metrics.json"), "utf8")) as { method: string; lossHistory: Array<{ loss: number }> };
    assert.equal(metrics.method, "qlora");
    // the quantized base is another model: its loss curve is not the LoRA run's
    assert.notEqual(metrics.lossHistory[0].loss, (await lossCurve(outOf("llama")))[0].loss);
    const [q, a] = qa[2];
    writeFileSync(join(dir, "q-qlora.json"), JSON.stringify([{ base: join(dir, "llama"), adapter: out, nf4: true, messages: [chat(q).messages[0]], max_new_tokens: 8 }]));
    await run(torchPython(), [FIXTURES, "answer", join(dir, "q-qlora.json"), join(dir, "a-qlora.json")]);
    const [torchAnswer] = JSON.parse(await readFile(join(dir, "a-qlora.json"), "utf8")) as Array<{ ids: number[]; text: string }>;
    assert.equal(torchAnswer.text, a);
    const model = await loadModel(join(dir, "llama"), { quantize: "nf4" });
    const tok = await ChatTokenizer.fromDir(join(dir, "llama"));
    const engine = await generateChat(model, tok, [chat(q).messages[0]], { adapter: await loadAdapter(out, model.config), maxTokens: 8 });
    assert.deepEqual(engine.ids.filter((t) => t !== tok.eosId), torchAnswer.ids, "engine NF4 + adapter = torch NF4 + adapter, token for token");
  });

  it("a run killed with SIGKILL mid-training resumes from its newest checkpoint and ends on the uninterrupted run's loss curve", async () => {
    const out = join(dir, "out-killed");
    const args = ["train", "--backend", "torch", "--model", join(dir, "llama"), "--data", data(), "--out", out, ...TRAIN_ARGS, "--checkpoint-every", "5"];
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
    const events = await train(["--model", join(dir, "llama"), "--data", data(), "--out", out, ...TRAIN_ARGS, "--checkpoint-every", "5"]);
    const started = events.find((e) => e.type === "started")!;
    assert.equal(started.start_step, last);
    assert.equal(events.find((e) => e.type === "progress")!.step, last + 1, "the first step after the restart follows the checkpoint");
    // resumed = uninterrupted (adapter, AdamW moments, schedule, RNG and data cursor restored); CPU fp32, 1 thread
    assertCurvesClose(await lossCurve(out), await lossCurve(outOf("llama")), 1e-6, "resumed vs uninterrupted");
  });

  it("TorchWorker: an abort stops training after the current step with a checkpoint of it; the next train resumes there", async () => {
    const out = join(dir, "out-abort");
    const req = {
      type: "train" as const,
      spec: {
        method: "lora" as const,
        lora: { r: 4, alpha: 8, dropout: 0.1, targetModules: ["q_proj", "v_proj"], rslora: false },
        training: { learningRate: 0.01, epochs: 4, batchSize: 1, gradientAccumulation: 1, maxSeqLength: 64, scheduler: "linear" as const, warmupRatio: 0, weightDecay: 0.01, maxGradNorm: 1, seed: 1 },
      },
      model_dir: join(dir, "llama"),
      train_file: data(),
      out_dir: out,
      checkpoint_every: 100,
      threads: 1,
    };
    const abort = new AbortController();
    const steps: number[] = [];
    const first = await runTorchTraining(req, { signal: abort.signal, onProgress: (p) => (steps.push(p.step), p.step === 3 && abort.abort()) });
    // the stop lands while the worker may already be in the next step: it ends after that one
    const at = first.step;
    assert.equal(first.stopped, true);
    assert.ok(at >= 3 && at < 12 && at === steps.at(-1), `stopped at step ${at} (progress ${steps.join(",")})`);
    assert.ok(existsSync(join(out, "checkpoints", `step-${String(at).padStart(6, "0")}`)) && !existsSync(join(out, "adapter_model.safetensors")));
    const resumed: number[] = [];
    const second = await runTorchTraining(req, { onStarted: (s) => resumed.push(s.start_step), onProgress: (p) => resumed.push(p.step) });
    assert.equal(second.stopped, false);
    assert.deepEqual(resumed, [at, ...Array.from({ length: 12 - at }, (_, i) => at + 1 + i)], `started at ${at}, then the steps after it up to 12`);
    assert.deepEqual(second.files.sort(), ["adapter_config.json", "adapter_model.safetensors", "metrics.json"]);
  });

  it("the offline command trains with the engine backend too, and refuses bad options naming them", async () => {
    const out = join(dir, "out-engine");
    const { stdout } = await run(process.execPath, [CLI, "train", "--backend", "engine", "--model", join(dir, "llama"), "--data", data(), "--out", out, "--epochs", "2", "--batch-size", "3", "--eval-split", "0", "--lr", "0.01", "--json"]);
    const events = stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Event);
    assert.deepEqual(events.filter((e) => e.type === "progress").map((e) => e.step), [1, 2]);
    const adapter = await loadAdapter(out);
    assert.deepEqual([...adapter.modules.keys()].length, 4, "q_proj and v_proj of 2 layers");
    const bad = async (args: string[], says: RegExp) => {
      const err = await run(process.execPath, [CLI, "train", ...args]).then(() => null, (e: { code: number; stderr: string }) => e);
      assert.ok(err, `${args.join(" ")} must fail`);
      assert.equal(err.code, 2);
      assert.match(err.stderr, says);
    };
    await bad(["--backend", "jax", "--model", "m", "--data", "d", "--out", "o"], /--backend must be engine or torch, got jax/);
    await bad(["--backend", "torch", "--data", "d", "--out", "o"], /--model is required/);
    await bad(["--backend", "torch", "--model", dir, "--data", data(), "--out", "o"], /is not a model folder \(no config.json\)/);
    await bad(["--backend", "engine", "--model", join(dir, "llama"), "--data", data(), "--out", "o", "--nproc", "2"], /torch backend options/);
  });

  it("DDP: 2 processes (torchrun, gloo) give the 1-process loss curve for the same global batch", async () => {
    const ddp = ["--model", join(dir, "llama"), "--data", data(), "--targets", "q_proj,v_proj", "--epochs", "2", "--lr", "0.01", "--batch-size", "2", "--grad-accum", "2", "--eval-split", "0", "--seed", "3", "--threads", "1", "--dropout", "0", "--json"];
    await train([...ddp, "--out", join(dir, "ddp-1")]);
    const events = await train([...ddp, "--out", join(dir, "ddp-2"), "--nproc", "2"]);
    assert.equal(events.find((e) => e.type === "started")!.world_size, 2);
    const one = await lossCurve(join(dir, "ddp-1"));
    assert.equal(one.length, 2);
    // same rows, split between the processes: only float summation order differs
    assertCurvesClose(await lossCurve(join(dir, "ddp-2")), one, 1e-5, "2 processes vs 1");
  });

  it("FSDP (torch FSDP2 fully_shard, 2 gloo processes): the 1-process loss curve for the same global batch; checkpoints and the adapter gathered into the 1-process layout", async () => {
    // 4 optimizer steps without warmup, so the curve moves; a checkpoint every step gathers the shards each time
    const args = ["--model", join(dir, "llama"), "--data", data(), "--targets", "q_proj,v_proj,down_proj", "--epochs", "4", "--lr", "0.01", "--batch-size", "3", "--eval-split", "0", "--seed", "3", "--threads", "1", "--dropout", "0", "--warmup-ratio", "0", "--checkpoint-every", "1", "--json"];
    await train([...args, "--out", join(dir, "fsdp-1")]);
    const events = await train([...args, "--out", join(dir, "fsdp-2"), "--nproc", "2", "--distributed", "fsdp"]);
    assert.equal(events.find((e) => e.type === "started")!.world_size, 2);
    const one = await lossCurve(join(dir, "fsdp-1"));
    assert.equal(one.length, 4);
    assert.ok(one[3].loss < one[0].loss, "the curve moves");
    // rows split 2 + 1 between the processes, sharded parameters: only float summation order differs
    assertCurvesClose(await lossCurve(join(dir, "fsdp-2")), one, 1e-5, "FSDP 2 processes vs 1");
    const metrics = JSON.parse(await readFile(join(dir, "fsdp-2", "metrics.json"), "utf8")) as { kernel: string };
    assert.equal(metrics.kernel, "torch-cpu-fp32-fsdp2");
    // the gathered adapter and checkpoints have the 1-process tensors (names, shapes, values to 1e-5)
    writeFileSync(join(dir, "cmp.py"), [
      "import sys, torch",
      "from safetensors.torch import load_file",
      "a, b = load_file(sys.argv[1]), load_file(sys.argv[2])",
      "assert sorted(a) == sorted(b), (sorted(a), sorted(b))",
      "for k in a: assert a[k].shape == b[k].shape and torch.allclose(a[k], b[k], rtol=1e-4, atol=1e-6), k",
      "o1, o2 = torch.load(sys.argv[3], weights_only=True), torch.load(sys.argv[4], weights_only=True)",
      "assert sorted(o1['state']) == sorted(o2['state'])",
      "for i in o1['state']: assert torch.allclose(o1['state'][i]['exp_avg_sq'], o2['state'][i]['exp_avg_sq'], rtol=1e-3, atol=1e-12), i",
      "print(len(a))",
    ].join("\n"));
    const ck = (d: string) => join(dir, d, "checkpoints", "step-000004");
    const { stdout } = await run(torchPython(), [join(dir, "cmp.py"), join(dir, "fsdp-1", "adapter_model.safetensors"), join(dir, "fsdp-2", "adapter_model.safetensors"), join(ck("fsdp-1"), "optimizer.pt"), join(ck("fsdp-2"), "optimizer.pt")]);
    assert.equal(stdout.trim(), "12", "q, v and down projections of 2 layers, A and B");
  });
});
