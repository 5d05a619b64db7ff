import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { FormatError } from "../src/errors.ts";
import { readSafetensors } from "../src/formats/safetensors.ts";
import { createLoraAdapter, loraConfig, loraScale } from "../src/lora/adapter.ts";
import { loadAdapter, saveAdapter } from "../src/lora/peft.ts";
import { llamaConfig } from "../src/model/config.ts";

const cfg = llamaConfig({ vocabSize: 20, hiddenSize: 16, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 24 });

test("PEFT adapters round-trip with PEFT's key names, shapes and adapter_config.json", async () => {
  const dir = await mkdtemp(join(tmpdir(), "engine-peft-"));
  try {
    const c = loraConfig({ r: 4, alpha: 8, dropout: 0.05, targetModules: ["v_proj", "q_proj", "down_proj"], useRslora: true, baseModelNameOrPath: "tiny" });
    const a = createLoraAdapter(cfg, c, 1);
    for (const m of a.modules.values()) m.B.fill(0.25);
    await saveAdapter(dir, a, { model: cfg });
    const json = JSON.parse(await readFile(join(dir, "adapter_config.json"), "utf8"));
    assert.equal(json.peft_type, "LORA");
    assert.equal(json.task_type, "CAUSAL_LM");
    assert.equal(json.bias, "none");
    assert.equal(json.r, 4);
    assert.equal(json.lora_alpha, 8);
    assert.equal(json.use_rslora, true);
    assert.deepEqual(json.target_modules, ["down_proj", "q_proj", "v_proj"]);
    const st = readSafetensors(await readFile(join(dir, "adapter_model.safetensors"))).tensors;
    assert.deepEqual(st.get("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight")!.shape, [4, 16]);
    assert.deepEqual(st.get("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight")!.shape, [8, 4]);
    assert.deepEqual(st.get("base_model.model.model.layers.0.mlp.down_proj.lora_A.weight")!.shape, [4, 24]);
    assert.equal(st.size, 2 * 2 * 3);
    const back = await loadAdapter(dir, cfg);
    assert.deepEqual(back.config, c);
    assert.equal(loraScale(back.config), 8 / 2);
    assert.deepEqual([...back.modules.keys()], [...a.modules.keys()]);
    for (const [k, m] of a.modules) {
      assert.deepEqual([...back.modules.get(k)!.A], [...m.A]);
      assert.deepEqual([...back.modules.get(k)!.B], [...m.B]);
    }
    // a model of another shape is refused
    await assert.rejects(loadAdapter(dir, { ...cfg, hiddenSize: 32, headDim: 8 }), /does not fit/);
    // unsupported PEFT features are refused
    await writeFile(join(dir, "adapter_config.json"), JSON.stringify({ ...json, use_dora: true }));
    await assert.rejects(loadAdapter(dir), FormatError);
    await assert.rejects(loadAdapter(join(dir, "nope")), /not a PEFT adapter directory/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
