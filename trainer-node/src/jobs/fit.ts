/**
 * The fit check: before a node claims a job it decides, from the job spec, the base model's config and what
 * the node has (backend, devices, memory), whether it can train the job at all. Everything refused here is
 * refused before the claim (a SkipJob), so no stake is ever at risk for a job the node could not run.
 *
 * Memory is an estimate, deliberately on the high side (a refused job costs nothing; an out-of-memory crash
 * after claiming costs the release fee):
 *   weights     params x bytes per param (qlora: NF4 0.52; lora: 2 with bf16/fp16 on CUDA, 4 in fp32)
 *   adapter     trainable params x 16 (fp32 weight, gradient, two AdamW moments)
 *   activations batch x seq x hidden x layers x 34 x (activation bytes / 2), Korthikanti et al.'s per-layer
 *               figure without recomputation (the node does not turn on gradient checkpointing by itself)
 *   logits      batch x seq x vocab x 4 x 2 (fp32 logits and their gradient)
 *   x 1.2 for the allocator, + 0.5 GiB on CUDA for the context
 * against 90% of the largest CUDA device's memory, or 80% of the host's RAM on the CPU.
 */
import { totalmem } from "node:os";
import type { JobSpec, Verification } from "@tributary/sdk/schemas";
import { describeVerification, verificationOf } from "@tributary/sdk/schemas";
import type { Hello, Inspected } from "../backends/torch-protocol.ts";
import { SkipJob } from "./faults.ts";

/** The Llama projections the engine trains (and the only architecture it runs). */
export const ENGINE_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

export interface ModelFacts {
  modelType: string;
  params: number;
  /** Names LoRA can target (the model's Linear layers, lm_head left out). */
  linearModules: string[];
  hiddenSize: number;
  numLayers: number;
  vocabSize: number;
  intermediateSize?: number;
}

export interface Device {
  type: "cuda" | "cpu";
  name: string;
  memory: number | null;
  bf16?: boolean;
}

export interface Capacity {
  backend: "engine" | "torch";
  devices: Device[];
}

export interface Fit {
  device: string;
  estimatedBytes: number;
  availableBytes: number;
}

interface HfConfig {
  model_type?: string;
  architectures?: string[];
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads?: number;
  tie_word_embeddings?: boolean;
  text_config?: HfConfig;
}

const GiB = 1024 ** 3;
const gib = (b: number) => `${(b / GiB).toFixed(1)} GiB`;

/** Whether the engine loads this base (its one architecture, Llama): decides a spec's default verification class. */
export function engineLoadable(config: Pick<HfConfig, "model_type" | "architectures">): boolean {
  return config.model_type === "llama" || (config.architectures ?? []).includes("LlamaForCausalLM");
}

/**
 * The job's verification class on this base, refused (SkipJob) where this node cannot honour it: a replay job
 * must train on the engine's `wasm` kernel (a verifier replays its checkpoint segments bit for bit, on wasm), which
 * a torch node does not run and an engine node on another kernel (`ort`) does not either: its states differ from
 * the wasm replay by rounding, which a verifier's audit shows and the dispute game slashes; an eval job needs
 * held-out records (its eval loss is what a verifier recomputes). `kernel` is the kernel the job trains (or
 * trained) on.
 */
export function checkVerification(spec: JobSpec, config: Pick<HfConfig, "model_type" | "architectures">, backend: Capacity["backend"], kernel: string): { verification: Verification } {
  const v = verificationOf(spec, engineLoadable(config));
  if (v.class === "replay" && backend === "torch") {
    throw new SkipJob(
      `the job is verified by replay (${describeVerification(v)}): it must train on the engine's wasm kernel, and this node runs the torch backend; an engine node (--backend engine --kernel wasm) can take it, or the poster can post it with verification "eval"`,
    );
  }
  if (v.class === "replay" && kernel !== "wasm") {
    throw new SkipJob(
      `the job is verified by replay (${describeVerification(v)}): it must train on the engine's wasm kernel (verifiers replay it bit for bit on wasm), and this node trains on the ${kernel} kernel, whose run a wasm replay does not reproduce; run the node with --kernel wasm to take it, or the poster can post it with verification "eval"`,
    );
  }
  if (v.class === "eval" && spec.evalSplit === 0) {
    throw new SkipJob(`the job is verified by its eval loss (${describeVerification(v)}) but holds out no records (evalSplit 0): there is no eval loss to commit; it must be posted with evalSplit above 0`);
  }
  return { verification: v };
}

/** The engine's facts about a model from its config.json: Llama only (the engine's one architecture). */
export function engineModelFacts(config: HfConfig): ModelFacts {
  if (!engineLoadable(config)) {
    throw new SkipJob(
      `the base model is a ${config.model_type ?? config.architectures?.join("/") ?? "unknown"} model; this node's engine backend trains Llama-architecture models only (a node started with --backend torch trains any transformers causal LM)`,
    );
  }
  const D = config.hidden_size;
  const kv = (D / config.num_attention_heads) * (config.num_key_value_heads ?? config.num_attention_heads);
  const layer = 2 * D * D + 2 * D * kv + 3 * D * config.intermediate_size;
  return {
    modelType: "llama",
    params: config.num_hidden_layers * layer + config.vocab_size * D * (config.tie_word_embeddings ? 1 : 2),
    linearModules: ENGINE_TARGETS,
    hiddenSize: D,
    numLayers: config.num_hidden_layers,
    vocabSize: config.vocab_size,
    intermediateSize: config.intermediate_size,
  };
}

/** Facts from the torch worker's `inspect` (any architecture transformers builds) and the config's vocabulary. */
export function torchModelFacts(i: Inspected, config: Partial<HfConfig>): ModelFacts {
  const text = config.text_config ?? config;
  return {
    modelType: i.model_type,
    params: i.params,
    linearModules: i.linear_modules,
    hiddenSize: i.hidden_size ?? text.hidden_size ?? 0,
    numLayers: i.num_layers ?? text.num_hidden_layers ?? 0,
    vocabSize: text.vocab_size ?? 0,
    intermediateSize: text.intermediate_size,
  };
}

/** What the node has: the engine runs on this host's CPU; the torch worker reports its devices in its hello. */
export function engineCapacity(): Capacity {
  return { backend: "engine", devices: [{ type: "cpu", name: "host", memory: totalmem() }] };
}

export function torchCapacity(hello: Hello): Capacity {
  return { backend: "torch", devices: hello.devices.map((d) => ({ type: d.type, name: d.name, memory: d.memory, bf16: d.bf16 })) };
}

/** Refuses (SkipJob) LoRA targets the model does not have, or that the backend cannot train. */
export function checkTargets(spec: JobSpec, facts: ModelFacts, backend: Capacity["backend"]): void {
  const targets = spec.lora.targetModules;
  if (targets.includes("all-linear")) {
    if (targets.length > 1) throw new SkipJob('"all-linear" cannot be combined with other LoRA target modules');
    if (backend === "engine") throw new SkipJob(`this node's engine backend takes LoRA target modules by name (${ENGINE_TARGETS.join(", ")}), not "all-linear"`);
    return;
  }
  const missing = targets.filter((t) => !facts.linearModules.includes(t));
  if (missing.length) {
    throw new SkipJob(
      `LoRA target modules ${missing.join(", ")} are not Linear layers of this ${facts.modelType} model (it has ${facts.linearModules.join(", ")}; or "all-linear" on a torch node)`,
    );
  }
}

/** Estimated peak training memory in bytes on a device (see the file's comment for the terms). */
export function estimateTrainingBytes(spec: JobSpec, facts: ModelFacts, device: Device, contextLength = Infinity): number {
  const t = spec.training;
  const cuda = device.type === "cuda";
  const weightBytes = spec.method === "qlora" ? 0.52 : cuda ? 2 : 4;
  const actBytes = cuda ? 2 : 4;
  const seq = Math.min(t.maxSeqLength, contextLength);
  const perLayerTargets = spec.lora.targetModules.includes("all-linear") ? facts.linearModules.length : spec.lora.targetModules.length;
  const width = (facts.hiddenSize + (facts.intermediateSize ?? facts.hiddenSize)) / 2;
  const trainable = facts.numLayers * perLayerTargets * spec.lora.r * 2 * width;
  const activations = t.batchSize * seq * facts.hiddenSize * facts.numLayers * 34 * (actBytes / 2);
  const logits = t.batchSize * seq * facts.vocabSize * 4 * 2;
  return Math.ceil((facts.params * weightBytes + trainable * 16 + activations + logits) * 1.2 + (cuda ? 0.5 * GiB : 0));
}

/**
 * The device the job would train on and its memory estimate; refuses (SkipJob) a job that fits no device,
 * saying what would make it fit.
 */
export function checkFit(spec: JobSpec, facts: ModelFacts, capacity: Capacity, contextLength = Infinity): Fit {
  checkTargets(spec, facts, capacity.backend);
  const gpus = capacity.devices.filter((d) => d.type === "cuda" && d.memory);
  const device = gpus.length ? gpus.reduce((a, b) => (b.memory! > a.memory! ? b : a)) : capacity.devices.find((d) => d.type === "cpu");
  if (!device?.memory) return { device: device?.name ?? "unknown", estimatedBytes: 0, availableBytes: Infinity };
  const available = device.memory * (device.type === "cuda" ? 0.9 : 0.8);
  const need = estimateTrainingBytes(spec, facts, device, contextLength);
  if (need > available) {
    const hints = [
      spec.method !== "qlora" ? "method qlora" : null,
      spec.training.batchSize > 1 ? "a smaller batchSize with more gradientAccumulation" : null,
      spec.training.maxSeqLength > 512 ? "a shorter maxSeqLength" : null,
    ].filter(Boolean);
    throw new SkipJob(
      `training ${facts.modelType} (${(facts.params / 1e9).toFixed(2)}B parameters, ${spec.method}) needs about ${gib(need)}, more than this node's ${device.type === "cuda" ? `GPU ${device.name}` : "host RAM"} allows (${gib(available)} of ${gib(device.memory)})` +
        (hints.length ? `; it might fit with ${hints.join(", ")}, or on a node with more memory` : "; it needs a node with more memory"),
    );
  }
  return { device: `${device.type}:${device.name}`, estimatedBytes: need, availableBytes: Math.floor(available) };
}
