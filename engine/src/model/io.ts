/**
 * Hugging Face model directories: `config.json` + `model.safetensors` (or a sharded
 * `model.safetensors.index.json`), loaded into a LlamaModel and written back out.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FormatError } from "../errors.ts";
import { readSafetensors, writeSafetensors } from "../formats/safetensors.ts";
import type { Tensor } from "../formats/safetensors.ts";
import type { Kernel } from "../kernels/kernel.ts";
import { PROJECTIONS, moduleName, projectionShape } from "../lora/adapter.ts";
import type { Projection } from "../lora/adapter.ts";
import type { Weight } from "../nn/linear.ts";
import { quantizeNf4 } from "../quant/nf4.ts";
import { parseLlamaConfig, toHfConfig } from "./config.ts";
import type { LlamaConfig } from "./config.ts";
import { assembleModel, modelTensors } from "./llama.ts";
import type { LlamaLayer, LlamaModel } from "./llama.ts";

export interface LoadOptions {
  kernel?: Kernel;
  /** Store every frozen matrix (projections, embedding, LM head) as NF4 (QLoRA); norms stay f32. */
  quantize?: "nf4" | null;
}

export async function readConfig(dir: string): Promise<LlamaConfig> {
  const path = join(dir, "config.json");
  if (!existsSync(path)) throw new FormatError("no config.json in the model directory", { dir }, "Pass a Hugging Face model directory");
  return parseLlamaConfig(JSON.parse(await readFile(path, "utf8")));
}

async function readWeights(dir: string): Promise<Map<string, Tensor>> {
  const single = join(dir, "model.safetensors");
  if (existsSync(single)) return readSafetensors(await readFile(single)).tensors;
  const indexPath = join(dir, "model.safetensors.index.json");
  if (!existsSync(indexPath)) {
    throw new FormatError("no model.safetensors in the model directory", { dir }, "Convert the checkpoint to safetensors");
  }
  const index = JSON.parse(await readFile(indexPath, "utf8")) as { weight_map: Record<string, string> };
  const out = new Map<string, Tensor>();
  for (const file of [...new Set(Object.values(index.weight_map))].sort()) {
    for (const [k, v] of readSafetensors(await readFile(join(dir, file))).tensors) out.set(k, v);
  }
  return out;
}

/** Builds a model from HF-named tensors, checking every shape. */
export function modelFromTensors(config: LlamaConfig, tensors: Map<string, Tensor>, opts: LoadOptions = {}): LlamaModel {
  const take = (name: string, shape: number[]): Float32Array => {
    const t = tensors.get(name);
    if (!t) throw new FormatError("checkpoint is missing a tensor", { name }, "Check that the checkpoint matches config.json");
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new FormatError("checkpoint tensor has the wrong shape", { name, shape: t.shape, expected: shape });
    }
    return t.data;
  };
  const D = config.hiddenSize;
  const layers: LlamaLayer[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    const proj = {} as Record<Projection, Weight>;
    for (const p of PROJECTIONS) {
      const shape = projectionShape(config, p);
      const dense = take(`${moduleName(l, p)}.weight`, shape);
      proj[p] = opts.quantize === "nf4" ? quantizeNf4(dense, shape[0], shape[1]) : dense;
    }
    layers.push({
      inputNorm: take(`model.layers.${l}.input_layernorm.weight`, [D]),
      postNorm: take(`model.layers.${l}.post_attention_layernorm.weight`, [D]),
      proj,
    });
  }
  const q = (w: Float32Array, rows: number, cols: number): Weight => (opts.quantize === "nf4" ? quantizeNf4(w, rows, cols) : w);
  const embed = q(take("model.embed_tokens.weight", [config.vocabSize, D]), config.vocabSize, D);
  const lmHead = config.tieWordEmbeddings && !tensors.has("lm_head.weight") ? null : q(take("lm_head.weight", [config.vocabSize, D]), config.vocabSize, D);
  return assembleModel(config, { embed, layers, norm: take("model.norm.weight", [D]), lmHead }, opts.kernel);
}

/** Loads `config.json` and the safetensors weights of a Hugging Face Llama directory. */
export async function loadModel(dir: string, opts: LoadOptions = {}): Promise<LlamaModel> {
  const config = await readConfig(dir);
  return modelFromTensors(config, await readWeights(dir), opts);
}

export interface SaveOptions {
  dtype?: "F32" | "BF16";
  /** Extra files to write next to the weights (tokenizer.json, tokenizer_config.json, ...). */
  extraFiles?: Record<string, string | Uint8Array>;
}

/** Writes `config.json` and `model.safetensors` (quantized weights are written dequantized). */
export async function saveModel(dir: string, model: LlamaModel, opts: SaveOptions = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  const hf = toHfConfig(model.config);
  if (opts.dtype === "BF16") hf.torch_dtype = "bfloat16";
  await writeFile(join(dir, "config.json"), JSON.stringify(hf, null, 2) + "\n");
  await writeFile(join(dir, "model.safetensors"), writeSafetensors(modelTensors(model), { dtype: opts.dtype ?? "F32", metadata: { format: "pt" } }));
  for (const [name, content] of Object.entries(opts.extraFiles ?? {})) await writeFile(join(dir, name), content);
}
