/**
 * LoRA adapters as plain named tensors, kept apart from the base model so that several adapters can
 * share one loaded base (chosen per request) and none of them changes it.
 * Module names are Hugging Face's (`model.layers.3.self_attn.q_proj`); tensor names add
 * `.lora_A.weight` (A [r, in]) and `.lora_B.weight` (B [out, r]) as PEFT does.
 */
import { ConfigError } from "../errors.ts";
import type { LlamaConfig } from "../model/config.ts";
import { Rng } from "../random/prng.ts";

export const PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] as const;
export type Projection = (typeof PROJECTIONS)[number];

export interface LoraConfig {
  r: number;
  alpha: number;
  dropout: number;
  targetModules: Projection[];
  /** rsLoRA: scale alpha / sqrt(r) instead of alpha / r. */
  useRslora: boolean;
  baseModelNameOrPath: string | null;
}

export interface LoraModule {
  A: Float32Array; // [r, in]
  B: Float32Array; // [out, r]
}

export interface LoraAdapter {
  config: LoraConfig;
  modules: Map<string, LoraModule>;
}

export function loraConfig(p: Partial<LoraConfig> = {}): LoraConfig {
  const c: LoraConfig = {
    r: 8,
    alpha: 16,
    dropout: 0,
    targetModules: ["q_proj", "v_proj"],
    useRslora: false,
    baseModelNameOrPath: null,
    ...p,
  };
  if (!Number.isInteger(c.r) || c.r <= 0) throw new ConfigError("LoRA rank must be a positive integer", { r: c.r });
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new ConfigError("LoRA dropout must be in [0, 1)", { dropout: c.dropout });
  for (const t of c.targetModules) {
    if (!PROJECTIONS.includes(t)) {
      throw new ConfigError("unknown LoRA target module", { target: t }, `Use some of ${PROJECTIONS.join(", ")}`);
    }
  }
  // canonical order, no duplicates: equal configs compare equal and serialise identically
  c.targetModules = PROJECTIONS.filter((p) => c.targetModules.includes(p));
  return c;
}

export function loraScale(c: LoraConfig): number {
  return c.useRslora ? c.alpha / Math.sqrt(c.r) : c.alpha / c.r;
}

export function moduleName(layer: number, proj: Projection): string {
  const block = ["gate_proj", "up_proj", "down_proj"].includes(proj) ? "mlp" : "self_attn";
  return `model.layers.${layer}.${block}.${proj}`;
}

/** [out, in] of a projection. */
export function projectionShape(c: LlamaConfig, proj: Projection): [number, number] {
  const D = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  switch (proj) {
    case "q_proj":
      return [q, D];
    case "k_proj":
    case "v_proj":
      return [kv, D];
    case "o_proj":
      return [D, q];
    case "gate_proj":
    case "up_proj":
      return [c.intermediateSize, D];
    case "down_proj":
      return [D, c.intermediateSize];
  }
}

/** A fresh adapter initialised as PEFT does: A ~ Kaiming-uniform(a = sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)), B = 0. */
export function createLoraAdapter(model: LlamaConfig, config: LoraConfig, seed: number | Rng = 0): LoraAdapter {
  const rng = seed instanceof Rng ? seed : new Rng(seed);
  const modules = new Map<string, LoraModule>();
  for (let l = 0; l < model.numLayers; l++) {
    for (const proj of PROJECTIONS) {
      if (!config.targetModules.includes(proj)) continue;
      const [out, inF] = projectionShape(model, proj);
      const bound = 1 / Math.sqrt(inF);
      const A = new Float32Array(config.r * inF);
      for (let i = 0; i < A.length; i++) A[i] = rng.uniform(-bound, bound);
      modules.set(moduleName(l, proj), { A, B: new Float32Array(out * config.r) });
    }
  }
  return { config, modules };
}

/** The adapter's tensors by name (`<module>.lora_A.weight`), in a fixed order; the arrays are shared, not copied. */
export function adapterParams(adapter: LoraAdapter): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, m] of adapter.modules) {
    out.set(`${name}.lora_A.weight`, m.A);
    out.set(`${name}.lora_B.weight`, m.B);
  }
  return out;
}
