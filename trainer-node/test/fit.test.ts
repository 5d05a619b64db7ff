// The fit check a node runs before claiming: architecture and LoRA targets per backend, and memory against
// its devices, on real model configs (the demo base, and Llama-3-8B's and GPT-2's published shapes).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { parseJobSpec } from "@tributary/sdk/schemas";
import { checkFit, checkVerification, engineCapacity, engineModelFacts, estimateTrainingBytes, torchModelFacts } from "../src/jobs/fit.ts";
import type { Capacity, ModelFacts } from "../src/jobs/fit.ts";
import { SkipJob } from "../src/jobs/faults.ts";

const demo = JSON.parse(readFileSync(fileURLToPath(new URL("../models/tributary-austen-4m/config.json", import.meta.resolve("@tributary/engine"))), "utf8"));
const GiB = 1024 ** 3;
const spec = (o: { method?: "lora" | "qlora"; targets?: string[]; batch?: number; len?: number } = {}) =>
  parseJobSpec({
    baseModel: "m",
    method: o.method ?? "lora",
    lora: { targetModules: o.targets ?? ["q_proj", "v_proj"] },
    training: { batchSize: o.batch ?? 4, maxSeqLength: o.len ?? 2048 },
    data: [{ datanetId: "1", version: 1 }],
  });
// Llama-3-8B (config.json as published): 8.03B parameters
const llama8b: ModelFacts = engineModelFacts({ model_type: "llama", vocab_size: 128256, hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8, tie_word_embeddings: false });
const gpu = (name: string, gib: number): Capacity => ({ backend: "torch", devices: [{ type: "cuda", name, memory: gib * GiB, bf16: true }, { type: "cpu", name: "host", memory: 64 * GiB }] });
const refused = (pattern: RegExp) => (e: unknown) => e instanceof SkipJob && pattern.test(e.message);

describe("the fit check before a claim", () => {
  it("counts a Llama's parameters from its config (Llama-3-8B: 8.03B)", () => {
    assert.equal(Math.round(llama8b.params / 1e7) / 100, 8.03);
  });

  it("the engine backend trains Llama only, by projection name; another architecture is refused naming the torch backend", () => {
    assert.throws(() => engineModelFacts({ ...demo, model_type: "qwen2", architectures: ["Qwen2ForCausalLM"] }), refused(/qwen2 model; this node's engine backend trains Llama-architecture models only .*--backend torch/));
    const facts = engineModelFacts(demo);
    assert.throws(() => checkFit(spec({ targets: ["all-linear"] }), facts, engineCapacity()), refused(/engine backend takes LoRA target modules by name/));
    assert.throws(() => checkFit(spec({ targets: ["q_proj", "c_attn"] }), facts, engineCapacity()), refused(/c_attn are not Linear layers of this llama model \(it has q_proj, k_proj/));
    const fit = checkFit(spec({ len: 512 }), facts, engineCapacity(), 512);
    assert.match(fit.device, /^cpu:/);
    assert.ok(fit.estimatedBytes > 0 && fit.estimatedBytes < GiB, `the demo model needs ${fit.estimatedBytes} bytes`);
  });

  it("the torch backend takes any Linear layer the model has, or all-linear, and refuses names it lacks, listing those it has", () => {
    const gpt2 = torchModelFacts({ type: "inspected", model_type: "gpt2", architectures: ["GPT2LMHeadModel"], params: 124_439_808, linear_modules: [], hidden_size: 768, num_layers: 12, context_length: 1024 }, { vocab_size: 50257 });
    gpt2.linearModules = ["c_attn", "c_fc", "c_proj"]; // GPT-2's Conv1D layers as PEFT targets them
    const cap = gpu("NVIDIA L4", 24);
    assert.throws(() => checkFit(spec({ targets: ["q_proj"] }), gpt2, cap), refused(/q_proj are not Linear layers of this gpt2 model \(it has c_attn, c_fc, c_proj; or "all-linear"/));
    assert.equal(checkFit(spec({ targets: ["c_attn", "c_proj"], len: 1024 }), gpt2, cap).device, "cuda:NVIDIA L4");
    assert.equal(checkFit(spec({ targets: ["all-linear"], len: 1024 }), gpt2, cap).device, "cuda:NVIDIA L4");
    assert.throws(() => checkFit(spec({ targets: ["all-linear", "c_fc"] }), gpt2, cap), refused(/cannot be combined/));
  });

  it("memory: Llama-3-8B LoRA does not fit a 24 GB GPU (it says qlora might), QLoRA does; LoRA fits an 80 GB one; the largest GPU is the one counted", () => {
    assert.throws(() => checkFit(spec(), llama8b, gpu("NVIDIA L4", 24)), refused(/needs about [\d.]+ GiB, more than this node's GPU NVIDIA L4 allows \(21\.6 GiB of 24\.0 GiB\); it might fit with method qlora, a smaller batchSize/));
    assert.equal(checkFit(spec({ method: "qlora", batch: 1 }), llama8b, gpu("NVIDIA L4", 24)).device, "cuda:NVIDIA L4");
    assert.equal(checkFit(spec(), llama8b, gpu("NVIDIA A100 80GB", 80)).device, "cuda:NVIDIA A100 80GB");
    const two: Capacity = { backend: "torch", devices: [{ type: "cuda", name: "small", memory: 16 * GiB }, { type: "cuda", name: "big", memory: 141 * GiB }, { type: "cpu", name: "host", memory: 64 * GiB }] };
    assert.equal(checkFit(spec(), llama8b, two).device, "cuda:big");
    // the terms move the way they should: qlora < lora, shorter sequences and smaller batches need less
    const d = gpu("x", 80).devices[0];
    assert.ok(estimateTrainingBytes(spec({ method: "qlora" }), llama8b, d) < estimateTrainingBytes(spec(), llama8b, d));
    assert.ok(estimateTrainingBytes(spec({ len: 512 }), llama8b, d) < estimateTrainingBytes(spec(), llama8b, d));
    assert.ok(estimateTrainingBytes(spec({ batch: 1 }), llama8b, d) < estimateTrainingBytes(spec(), llama8b, d));
    // a CPU-only node holds fp32 weights in RAM: 8B does not fit 24 GiB
    assert.throws(() => checkFit(spec(), llama8b, { backend: "torch", devices: [{ type: "cpu", name: "host", memory: 24 * GiB }] }), refused(/more than this node's host RAM allows/));
  });
});

describe("verification class", () => {
  const data = [{ datanetId: "1", version: 1 }];
  const llama = { model_type: "llama", architectures: ["LlamaForCausalLM"] };
  const qwen = { model_type: "qwen2", architectures: ["Qwen2ForCausalLM"] };

  it("absent from the spec, the base decides: replay on Llama, eval on others; a replay job trains on an engine node on wasm only, refused on ort and on a torch node", () => {
    const spec = parseJobSpec({ baseModel: "m", data });
    assert.deepEqual(checkVerification(spec, llama, "engine", "wasm"), { verification: { class: "replay", tolerance: null, explicit: false } });
    assert.throws(() => checkVerification(spec, llama, "engine", "ort"), (e: unknown) => e instanceof SkipJob && /verified by replay .*this node trains on the ort kernel.*run the node with --kernel wasm to take it, or the poster can post it with verification "eval"/.test(e.message));
    assert.throws(() => checkVerification(spec, llama, "torch", "ort"), (e: unknown) => e instanceof SkipJob && /verified by replay .*this node runs the torch backend; an engine node .* verification "eval"/.test(e.message));
    assert.throws(() => checkVerification(parseJobSpec({ baseModel: "m", data, verification: "replay" }), qwen, "torch", "ort"), SkipJob);
    assert.deepEqual(checkVerification(spec, qwen, "torch", "ort").verification, { class: "eval", tolerance: 0.01, explicit: false });
  });

  it("an eval job: any backend and kernel; refused when it holds out no records (no eval loss to commit)", () => {
    const ev = parseJobSpec({ baseModel: "m", data, verification: "eval", evalTolerance: 0.05 });
    for (const backend of ["engine", "torch"] as const) assert.deepEqual(checkVerification(ev, llama, backend, "ort"), { verification: { class: "eval", tolerance: 0.05, explicit: true } });
    assert.throws(() => checkVerification(parseJobSpec({ baseModel: "m", data, evalSplit: 0 }), qwen, "torch", "ort"), (e: unknown) => e instanceof SkipJob && /holds out no records \(evalSplit 0\)/.test(e.message));
  });
});
