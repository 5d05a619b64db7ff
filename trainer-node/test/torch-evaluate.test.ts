// The torch worker's `evaluate` (a verifier's recomputation of an eval job's held-out loss on a base the engine
// cannot load): for adapters the worker trained on a random tiny Qwen2 (LoRA with dropout, and QLoRA on the NF4
// base), the eval loss `evaluate` computes from the saved adapter is the one the training run reported after its
// last step (metrics.json and the last progress event, within 1e-6 relative on CPU fp32), and a shard's loss is
// `evaluate` over just that shard's records (record i in shard i % 8). Needs engine/.venv.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { runTorchTraining, TorchWorker, torchUnavailable } from "../src/backends/torch-worker.ts";
import type { Progress } from "../src/backends/torch-protocol.ts";
import { chat, qa } from "./helpers/torch-offline.ts";
import { makeTinyModels } from "./helpers/tiny-models.ts";

const TOKENIZER_DIR = fileURLToPath(new URL("../../engine/models/tributary-austen-4m", import.meta.url));
const close = (got: number, want: number, what: string) => assert.ok(Math.abs(got - want) <= 1e-6 * Math.abs(want), `${what}: ${got} vs ${want}`);

describe("torch worker: evaluate", () => {
  let dir = "";
  const evalRecords = Array.from({ length: 11 }, (_, i) => chat(`${qa[i % 3][0]} (${i})`, `${qa[(i + 1) % 3][1]}${" Indeed.".repeat(i % 4)}`));
  before(async () => {
    const missing = torchUnavailable();
    assert.equal(missing, null, missing ?? "");
    dir = mkdtempSync(join(tmpdir(), "torch-evaluate-"));
    writeFileSync(join(dir, "train.jsonl"), qa.map(([q, a]) => JSON.stringify(chat(q, a))).join("\n") + "\n");
    writeFileSync(join(dir, "eval.jsonl"), evalRecords.map((r) => JSON.stringify(r)).join("\n") + "\n");
    await makeTinyModels(TOKENIZER_DIR, dir, ["qwen2"]);
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const method of ["lora", "qlora"] as const) {
    it(`${method}: the loss of the saved adapter is the training run's eval loss after its last step; a shard's is evaluate over that shard`, async (t) => {
      const out = join(dir, `out-${method}`);
      const progress: Progress[] = [];
      await runTorchTraining(
        {
          type: "train",
          spec: {
            method,
            lora: { r: 4, alpha: 8, dropout: 0.2, targetModules: ["all-linear"], rslora: false },
            training: { learningRate: 1e-2, epochs: 2, batchSize: 2, gradientAccumulation: 1, maxSeqLength: 24, scheduler: "cosine", warmupRatio: 0, weightDecay: 0, maxGradNorm: 1, seed: 3 },
            ...(method === "qlora" ? { quantization: { type: "nf4" as const, doubleQuant: true, blockSize: 64, computeDtype: "fp32" as const } } : {}),
          },
          model_dir: join(dir, "qwen2"),
          train_file: join(dir, "train.jsonl"),
          eval_file: join(dir, "eval.jsonl"),
          out_dir: out,
          resume: false,
          checkpoint_every: 0,
          precision: "fp32",
          device: "cpu",
          threads: 1,
        },
        { onProgress: (p) => progress.push(p) },
      );
      const metrics = JSON.parse(await readFile(join(out, "metrics.json"), "utf8")) as { steps: number; evalHistory: Array<{ step: number; loss: number }> };
      const reported = metrics.evalHistory.at(-1)!;
      assert.equal(reported.step, metrics.steps);
      assert.equal(progress.at(-1)!.eval_loss, reported.loss);
      assert.notEqual(metrics.evalHistory[0].loss, reported.loss, "training moved the eval loss");

      const w = await TorchWorker.start();
      try {
        assert.ok(w.hello.commands?.includes("evaluate"));
        const ask = (dataFile: string, shard: number) => w.evaluate({ model_dir: join(dir, "qwen2"), adapter_dir: out, data_file: dataFile, batch_size: 2, max_seq_len: 24, shard, nf4: method === "qlora", precision: "fp32", device: "cpu", threads: 1 });
        const all = await ask(join(dir, "eval.jsonl"), 1);
        close(all.loss, reported.loss, `${method}: evaluate vs the training run's last eval loss`);
        t.diagnostic(`${method}: training reported ${reported.loss}, evaluate ${all.loss} (relative difference ${Math.abs(all.loss - reported.loss) / reported.loss})`);
        assert.equal(all.examples, 11);
        assert.equal(all.precision, "fp32");
        // shard 1 holds records 1 and 9; shard 3 holds record 3 only
        for (const shard of [1, 3]) {
          const r = shard === 1 ? all : await ask(join(dir, "eval.jsonl"), shard);
          const file = join(dir, `shard-${shard}.jsonl`);
          writeFileSync(file, evalRecords.filter((_, i) => i % 8 === shard).map((x) => JSON.stringify(x)).join("\n") + "\n");
          const alone = await ask(file, 0);
          assert.equal(r.shard_examples, shard === 1 ? 2 : 1);
          close(r.shard_loss, alone.loss, `${method}: shard ${shard}`);
          assert.notEqual(r.shard_loss, r.loss);
          close(r.loss, all.loss, `${method}: the whole set's loss does not depend on the shard`);
        }
        await assert.rejects(w.evaluate({ model_dir: join(dir, "qwen2"), adapter_dir: join(dir, "nowhere"), data_file: join(dir, "eval.jsonl"), batch_size: 2, max_seq_len: 24 }), /holds no adapter/);
      } finally {
        await w.close();
      }
    });
  }
});
