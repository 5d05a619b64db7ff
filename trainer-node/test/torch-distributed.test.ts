// The torch training backend on the CPU, continued from torch-backend.test.ts (same tiny models, a file of its
// own so the two run side by side): an abort in the worker stops after the current step with a checkpoint and
// the next train resumes there; the offline command's engine backend and its option errors; DDP and FSDP
// (FSDP2) with 2 gloo processes give the 1-process loss curve for the same global batch.
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadAdapter } from "@tributary/engine";
import { runTorchTraining, torchPython } from "../src/backends/torch-worker.ts";
import { assertCurvesClose, CLI, lossCurve, run, torchModels, train } from "./helpers/torch-offline.ts";
import type { Event } from "./helpers/torch-offline.ts";

describe("torch backend: resume, engine option, distributed", () => {
  const { dir: d, data } = torchModels();


  it("TorchWorker: an abort stops training after the current step with a checkpoint of it; the next train resumes there", async () => {
    const out = join(d(), "out-abort");
    const req = {
      type: "train" as const,
      spec: {
        method: "lora" as const,
        lora: { r: 4, alpha: 8, dropout: 0.1, targetModules: ["q_proj", "v_proj"], rslora: false },
        training: { learningRate: 0.01, epochs: 4, batchSize: 1, gradientAccumulation: 1, maxSeqLength: 64, scheduler: "linear" as const, warmupRatio: 0, weightDecay: 0.01, maxGradNorm: 1, seed: 1 },
      },
      model_dir: join(d(), "llama"),
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
    const out = join(d(), "out-engine");
    const { stdout } = await run(process.execPath, [CLI, "train", "--backend", "engine", "--model", join(d(), "llama"), "--data", data(), "--out", out, "--epochs", "2", "--batch-size", "3", "--eval-split", "0", "--lr", "0.01", "--json"]);
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
    await bad(["--backend", "torch", "--model", d(), "--data", data(), "--out", "o"], /is not a model folder \(no config.json\)/);
    await bad(["--backend", "engine", "--model", join(d(), "llama"), "--data", data(), "--out", "o", "--nproc", "2"], /torch backend options/);
  });

  it("DDP: 2 processes (torchrun, gloo) give the 1-process loss curve for the same global batch", async () => {
    const ddp = ["--model", join(d(), "llama"), "--data", data(), "--targets", "q_proj,v_proj", "--epochs", "2", "--lr", "0.01", "--batch-size", "2", "--grad-accum", "2", "--eval-split", "0", "--seed", "3", "--threads", "1", "--dropout", "0", "--warmup-ratio", "0", "--json"];
    await train([...ddp, "--out", join(d(), "ddp-1")]);
    const events = await train([...ddp, "--out", join(d(), "ddp-2"), "--nproc", "2"]);
    assert.equal(events.find((e) => e.type === "started")!.world_size, 2);
    const one = await lossCurve(join(d(), "ddp-1"));
    assert.equal(one.length, 2);
    assert.notEqual(one[1].loss, one[0].loss, "no warmup: the first step moves the adapter, the second step's loss differs");
    // same rows, split between the processes: only float summation order differs
    assertCurvesClose(await lossCurve(join(d(), "ddp-2")), one, 1e-5, "2 processes vs 1");
  });

  it("FSDP (torch FSDP2 fully_shard, 2 gloo processes): the 1-process loss curve for the same global batch; checkpoints and the adapter gathered into the 1-process layout; a resume restores them into the shards", async () => {
    // 4 optimizer steps without warmup, so the curve moves; a checkpoint every step gathers the shards each time
    const args = ["--model", join(d(), "llama"), "--data", data(), "--targets", "q_proj,v_proj,down_proj", "--epochs", "4", "--lr", "0.01", "--batch-size", "3", "--eval-split", "0", "--seed", "3", "--threads", "1", "--dropout", "0", "--warmup-ratio", "0", "--checkpoint-every", "1", "--json"];
    await train([...args, "--out", join(d(), "fsdp-1")]);
    const events = await train([...args, "--out", join(d(), "fsdp-2"), "--nproc", "2", "--distributed", "fsdp"]);
    assert.equal(events.find((e) => e.type === "started")!.world_size, 2);
    const one = await lossCurve(join(d(), "fsdp-1"));
    assert.equal(one.length, 4);
    assert.ok(one[3].loss < one[0].loss, "the curve moves");
    // rows split 2 + 1 between the processes, sharded parameters: only float summation order differs
    assertCurvesClose(await lossCurve(join(d(), "fsdp-2")), one, 1e-5, "FSDP 2 processes vs 1");
    const metrics = JSON.parse(await readFile(join(d(), "fsdp-2", "metrics.json"), "utf8")) as { kernel: string };
    assert.equal(metrics.kernel, "torch-cpu-fp32-fsdp2");
    // the gathered adapter and checkpoints have the 1-process tensors (names, shapes, values to 1e-5)
    writeFileSync(join(d(), "cmp.py"), [
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
    const ck = (run: string) => join(d(), run, "checkpoints", "step-000004");
    const { stdout } = await run(torchPython(), [join(d(), "cmp.py"), join(d(), "fsdp-1", "adapter_model.safetensors"), join(d(), "fsdp-2", "adapter_model.safetensors"), join(ck("fsdp-1"), "optimizer.pt"), join(ck("fsdp-2"), "optimizer.pt")]);
    assert.equal(stdout.trim(), "12", "q, v and down projections of 2 layers, A and B");
    // resume under FSDP: without the last two checkpoints and the adapter, a rerun restores the gathered
    // checkpoint of step 2 into the shards and ends on the same curve
    for (const p of ["checkpoints/step-000004", "checkpoints/step-000003", "adapter_model.safetensors", "metrics.json"]) await rm(join(d(), "fsdp-2", p), { recursive: true });
    const fsdpCurve = await lossCurve(join(d(), "fsdp-1"));
    const resumed = await train([...args, "--out", join(d(), "fsdp-2"), "--nproc", "2", "--distributed", "fsdp"]);
    assert.equal(resumed.find((e) => e.type === "started")!.start_step, 2);
    assertCurvesClose(await lossCurve(join(d(), "fsdp-2")), fsdpCurve, 1e-5, "FSDP resumed vs 1 process");
  });
});
