/**
 * PEFT's on-disk LoRA format: `adapter_config.json` + `adapter_model.safetensors` with tensors named
 * `base_model.model.<module>.lora_A.weight` (A [r, in]) and `...lora_B.weight` (B [out, r]).
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FormatError } from "../errors.ts";
import { readSafetensors, writeSafetensors } from "../formats/safetensors.ts";
import type { Tensor } from "../formats/safetensors.ts";
import type { LlamaConfig } from "../model/config.ts";
import { PROJECTIONS, loraConfig, projectionShape } from "./adapter.ts";
import type { LoraAdapter, LoraConfig, LoraModule, Projection } from "./adapter.ts";

const PREFIX = "base_model.model.";

export function toAdapterConfigJson(c: LoraConfig): Record<string, unknown> {
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: c.baseModelNameOrPath,
    bias: "none",
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: c.alpha,
    lora_dropout: c.dropout,
    modules_to_save: null,
    peft_type: "LORA",
    r: c.r,
    rank_pattern: {},
    revision: null,
    target_modules: [...c.targetModules].sort(),
    task_type: "CAUSAL_LM",
    use_dora: false,
    use_rslora: c.useRslora,
  };
}

export function parseAdapterConfigJson(j: Record<string, any>): LoraConfig {
  const unsupported = (what: string, value: unknown) => {
    throw new FormatError(`adapter_config.json: ${what} is not supported`, { [what]: value }, "Export a plain LoRA adapter");
  };
  if (j.peft_type !== "LORA") unsupported("peft_type", j.peft_type);
  if (j.use_dora) unsupported("use_dora", j.use_dora);
  if (j.bias && j.bias !== "none") unsupported("bias", j.bias);
  if (j.fan_in_fan_out) unsupported("fan_in_fan_out", j.fan_in_fan_out);
  if (j.modules_to_save && j.modules_to_save.length) unsupported("modules_to_save", j.modules_to_save);
  if (j.rank_pattern && Object.keys(j.rank_pattern).length) unsupported("rank_pattern", j.rank_pattern);
  if (j.alpha_pattern && Object.keys(j.alpha_pattern).length) unsupported("alpha_pattern", j.alpha_pattern);
  if (!Array.isArray(j.target_modules)) unsupported("target_modules other than a list", j.target_modules);
  const targets = (j.target_modules as string[]).map((t) => t.split(".").pop() as Projection);
  return loraConfig({
    r: j.r,
    alpha: j.lora_alpha ?? j.r,
    dropout: j.lora_dropout ?? 0,
    targetModules: targets,
    useRslora: !!j.use_rslora,
    baseModelNameOrPath: j.base_model_name_or_path ?? null,
  });
}

/** The adapter's tensors under PEFT's names, ready for safetensors. */
export function adapterTensors(adapter: LoraAdapter, model?: LlamaConfig): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const r = adapter.config.r;
  for (const [name, m] of adapter.modules) {
    const inF = m.A.length / r;
    const outF = m.B.length / r;
    if (model) {
      const [o, i] = projectionShape(model, name.split(".").pop() as Projection);
      if (o !== outF || i !== inF) throw new FormatError("adapter does not fit the model", { module: name, adapter: [outF, inF], model: [o, i] });
    }
    out.set(`${PREFIX}${name}.lora_A.weight`, { shape: [r, inF], data: m.A });
    out.set(`${PREFIX}${name}.lora_B.weight`, { shape: [outF, r], data: m.B });
  }
  return out;
}

export function adapterFromTensors(config: LoraConfig, tensors: Map<string, Tensor>, model?: LlamaConfig): LoraAdapter {
  const parts = new Map<string, Partial<LoraModule>>();
  const re = /^base_model\.model\.(model\.layers\.\d+\.(?:self_attn|mlp)\.(\w+))\.lora_([AB])(?:\.default)?\.weight$/;
  for (const [key, t] of tensors) {
    const m = re.exec(key);
    if (!m) throw new FormatError("unexpected tensor in adapter_model.safetensors", { key }, "Only LoRA A/B weights of Llama projections are supported");
    const [, module, proj, which] = m;
    if (!PROJECTIONS.includes(proj as Projection)) throw new FormatError("LoRA on an unsupported module", { key });
    const r = which === "A" ? t.shape[0] : t.shape[1];
    if (t.shape.length !== 2 || r !== config.r) throw new FormatError("LoRA tensor rank does not match adapter_config.json", { key, shape: t.shape, r: config.r });
    if (model) {
      const [o, i] = projectionShape(model, proj as Projection);
      const want = which === "A" ? [config.r, i] : [o, config.r];
      if (t.shape[0] !== want[0] || t.shape[1] !== want[1]) throw new FormatError("LoRA tensor does not fit the model", { key, shape: t.shape, expected: want });
    }
    const entry = parts.get(module) ?? {};
    entry[which as "A" | "B"] = t.data;
    parts.set(module, entry);
  }
  const modules = new Map<string, LoraModule>();
  const layerOf = (s: string) => Number(s.split(".")[2]);
  const order = (s: string) => layerOf(s) * 16 + PROJECTIONS.indexOf(s.split(".").pop() as Projection);
  for (const name of [...parts.keys()].sort((a, b) => order(a) - order(b))) {
    const p = parts.get(name)!;
    if (!p.A || !p.B) throw new FormatError("LoRA module lacks its A or B tensor", { module: name });
    modules.set(name, { A: p.A, B: p.B });
  }
  return { config, modules };
}

export interface SaveAdapterOptions {
  dtype?: "F32" | "BF16";
  model?: LlamaConfig;
}

/** Writes `adapter_config.json` and `adapter_model.safetensors` (byte-for-byte deterministic). */
export async function saveAdapter(dir: string, adapter: LoraAdapter, opts: SaveAdapterOptions = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "adapter_config.json"), JSON.stringify(toAdapterConfigJson(adapter.config), null, 2) + "\n");
  await writeFile(join(dir, "adapter_model.safetensors"), writeSafetensors(adapterTensors(adapter, opts.model), { dtype: opts.dtype ?? "F32", metadata: { format: "pt" } }));
}

export async function loadAdapter(dir: string, model?: LlamaConfig): Promise<LoraAdapter> {
  const cfgPath = join(dir, "adapter_config.json");
  const wPath = join(dir, "adapter_model.safetensors");
  if (!existsSync(cfgPath) || !existsSync(wPath)) {
    throw new FormatError("not a PEFT adapter directory", { dir }, "Expected adapter_config.json and adapter_model.safetensors");
  }
  const config = parseAdapterConfigJson(JSON.parse(await readFile(cfgPath, "utf8")));
  return adapterFromTensors(config, readSafetensors(await readFile(wPath)).tensors, model);
}
