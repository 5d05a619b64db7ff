/**
 * Parity with Hugging Face transformers + PEFT (optional: needs engine/.venv from
 * scripts/python-venv.sh, or TRIBUTARY_PYTHON pointing at a python with torch, transformers, peft).
 * A random small LlamaForCausalLM is saved by transformers and loaded here: logits, LoRA logits, loss
 * and LoRA gradients must match (1e-4 relative); an engine-trained adapter loaded with
 * PeftModel.from_pretrained must give the engine's logits.
 */
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { readSafetensors } from "../src/formats/safetensors.ts";
import { adapterParams } from "../src/lora/adapter.ts";
import { loadAdapter, saveAdapter } from "../src/lora/peft.ts";
import { loadModel } from "../src/model/io.ts";
import { backward, forward } from "../src/model/llama.ts";
import type { Batch } from "../src/model/llama.ts";
import { crossEntropyBackward } from "../src/nn/cross-entropy.ts";
import { train, trainConfig } from "../src/train/trainer.ts";

const python = process.env.TRIBUTARY_PYTHON ?? fileURLToPath(new URL("../.venv/bin/python", import.meta.url));
const script = fileURLToPath(new URL("./helpers/hf_parity.py", import.meta.url));

function unavailable(): string | false {
  if (!existsSync(python)) return `no python at ${python}: run engine/scripts/python-venv.sh (or set TRIBUTARY_PYTHON) to enable this test`;
  try {
    execFileSync(python, ["-c", "import torch, transformers, peft, safetensors"], { stdio: "ignore" });
    return false;
  } catch {
    return `${python} lacks torch/transformers/peft: run engine/scripts/python-venv.sh`;
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

const skip = unavailable();
test("parity with transformers + PEFT: logits, LoRA logits, loss, LoRA gradients, adapter loading", { skip }, async () => {
  const run = promisify(execFile);
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
