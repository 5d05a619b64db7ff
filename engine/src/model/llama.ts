/**
 * The Llama decoder: embedding -> L x [RMSNorm -> GQA attention (RoPE) -> residual -> RMSNorm ->
 * SwiGLU MLP -> residual] -> RMSNorm -> LM head (tied to the embedding or not).
 * `forward` keeps what `backward` needs; `forwardCached` is the inference path with a KV cache.
 * Shapes: N = B * T tokens, D hidden, H / Hkv heads of hd, I intermediate, V vocabulary.
 */
import type { FusedLayerGrads, FusedLayerLora, Kernel } from "../kernels/kernel.ts";
import { createReferenceKernel } from "../kernels/reference.ts";
import { loraRows } from "../kernels/elementwise.ts";
import type { LoraAdapter, Projection } from "../lora/adapter.ts";
import { PROJECTIONS, loraScale, moduleName, projectionShape } from "../lora/adapter.ts";
import { attentionBackward, attentionCached, attentionDecodeRows, attentionForward } from "../nn/attention.ts";
import type { AttentionCache, AttentionShape } from "../nn/attention.ts";
import { crossEntropyBackward } from "../nn/cross-entropy.ts";
import { embeddingBackward, embeddingForward } from "../nn/embedding.ts";
import { denseWeight, linearBackward, linearForward } from "../nn/linear.ts";
import type { LinearCache, LoraRowFactors, LoraWeights, Weight } from "../nn/linear.ts";
import { rmsnormBackward, rmsnormForward } from "../nn/rmsnorm.ts";
import { ropeApply, ropeTables } from "../nn/rope.ts";
import type { RopeTables } from "../nn/rope.ts";
import { swigluBackward, swigluForward } from "../nn/swiglu.ts";
import { Rng } from "../random/prng.ts";
import { EngineError } from "../errors.ts";
import type { LlamaConfig } from "./config.ts";

export interface LlamaLayer {
  inputNorm: Float32Array; // [D]
  postNorm: Float32Array; // [D]
  proj: Record<Projection, Weight>; // each [out, in]
}

export interface LlamaModel {
  config: LlamaConfig;
  embed: Weight; // [V, D]
  layers: LlamaLayer[];
  norm: Float32Array; // [D]
  lmHead: Weight | null; // [V, D]; null when tied to embed
  rope: RopeTables;
  kernel: Kernel;
}

/** A batch of B rows of T tokens. Segments (optional) separate packed examples within a row. */
export interface Batch {
  B: number;
  T: number;
  tokens: Int32Array; // [B*T]
  positions: Int32Array; // [B*T]
  segments: Int32Array | null; // [B*T]
  targets: Int32Array; // [B*T], next-token ids, negative = no loss
  /** [B*T] which example each token belongs to (its index in the list planned from), -1 for padding; set by planBatches. */
  exampleOf?: Int32Array;
}

export function assembleModel(
  config: LlamaConfig,
  tensors: { embed: Weight; layers: LlamaLayer[]; norm: Float32Array; lmHead: Weight | null },
  kernel: Kernel = createReferenceKernel(),
): LlamaModel {
  const maxPos = Math.min(config.maxPositionEmbeddings, 1 << 16);
  return { config, ...tensors, rope: ropeTables(config.headDim, config.ropeTheta, maxPos), kernel };
}

export interface InitOptions {
  seed?: number;
  /** Standard deviation of the projection weights (HF's initializer_range, 0.02). */
  std?: number;
  /** Standard deviation of the embedding (and untied head); defaults to `std`. */
  embedStd?: number;
  kernel?: Kernel;
}

/** A randomly initialised model (normal weights, unit norms), seeded. */
export function initModel(config: LlamaConfig, opts: InitOptions = {}): LlamaModel {
  const rng = new Rng(opts.seed ?? 0);
  const std0 = opts.std ?? 0.02;
  const normal = (n: number, std = std0) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = rng.normal() * std;
    return a;
  };
  const ones = (n: number) => new Float32Array(n).fill(1);
  const D = config.hiddenSize;
  const embedStd = opts.embedStd ?? std0;
  const embed = normal(config.vocabSize * D, embedStd);
  const layers: LlamaLayer[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    const proj = {} as Record<Projection, Weight>;
    for (const p of PROJECTIONS) {
      const [o, i] = projectionShape(config, p);
      proj[p] = normal(o * i);
    }
    layers.push({ inputNorm: ones(D), postNorm: ones(D), proj });
  }
  const lmHead = config.tieWordEmbeddings ? null : normal(config.vocabSize * D, embedStd);
  return assembleModel(config, { embed, layers, norm: ones(D), lmHead }, opts.kernel);
}

/** Every base tensor by its Hugging Face name, in a fixed order. Quantized weights are dequantized. */
export function modelTensors(model: LlamaModel): Map<string, { shape: number[]; data: Float32Array }> {
  const c = model.config;
  const D = c.hiddenSize;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  out.set("model.embed_tokens.weight", { shape: [c.vocabSize, D], data: denseWeight(model.embed) });
  model.layers.forEach((layer, l) => {
    out.set(`model.layers.${l}.input_layernorm.weight`, { shape: [D], data: layer.inputNorm });
    for (const p of PROJECTIONS) {
      out.set(`${moduleName(l, p)}.weight`, { shape: projectionShape(c, p), data: denseWeight(layer.proj[p]) });
    }
    out.set(`model.layers.${l}.post_attention_layernorm.weight`, { shape: [D], data: layer.postNorm });
  });
  out.set("model.norm.weight", { shape: [D], data: model.norm });
  if (model.lmHead) out.set("lm_head.weight", { shape: [c.vocabSize, D], data: denseWeight(model.lmHead) });
  return out;
}

/** The dense base parameters a full fine-tune trains (shared with the model, not copied). */
export function trainableBaseParams(model: LlamaModel): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  const weights = [model.embed, model.lmHead ?? model.embed, ...model.layers.flatMap((l) => PROJECTIONS.map((p) => l.proj[p]))];
  if (weights.some((w) => !(w instanceof Float32Array))) {
    throw new EngineError("full fine-tuning needs dense weights; this model is quantized", {}, "Use LoRA on a quantized base (QLoRA)");
  }
  for (const [name, t] of modelTensors(model)) out.set(name, t.data);
  dropFusedWeights(model); // the caller may now change the weights in place
  return out;
}

export function countParams(model: LlamaModel): number {
  let n = 0;
  for (const t of modelTensors(model).values()) n += t.data.length;
  return n;
}

function layerLora(adapter: LoraAdapter | null | undefined, l: number, p: Projection): LoraWeights | null {
  const m = adapter?.modules.get(moduleName(l, p));
  if (!m || !adapter) return null;
  return { A: m.A, B: m.B, r: adapter.config.r, scale: loraScale(adapter.config), dropout: adapter.config.dropout };
}

type LayerCache = JsLayerCache | { fused: unknown };

interface JsLayerCache {
  x: Float32Array; // [N, D] layer input (residual stream)
  rstd1: Float32Array;
  lin: Record<Projection, LinearCache>;
  q: Float32Array; // [N, H*hd] after RoPE
  k: Float32Array; // [N, Hkv*hd] after RoPE
  v: Float32Array;
  attn: AttentionCache;
  x2: Float32Array; // [N, D] after the attention residual
  rstd2: Float32Array;
  g: Float32Array; // [N, I]
  u: Float32Array; // [N, I]
  sig: Float32Array; // [N, I] sigmoid(g)
}

export interface ForwardCache {
  batch: Batch;
  adapter: LoraAdapter | null;
  loraTap: LoraTap | null;
  layers: LayerCache[];
  xf: Float32Array; // [N, D] input of the final norm
  rstdF: Float32Array;
  xn: Float32Array; // [N, D] normalized final hidden state (LM-head input)
}

export interface ForwardOptions {
  adapter?: LoraAdapter | null;
  /** When given, LoRA dropout is applied (training); otherwise it is off. */
  dropoutRng?: Rng | null;
  /**
   * Whether the backward may ask for base weight gradients (full fine-tuning): a kernel with fused layers
   * then keeps the activations those need. Default: true without an adapter.
   */
  weightGrads?: boolean;
  /**
   * Called in the backward for each LoRA module with its per-row gradient factors (per-example gradients
   * for in-run attribution). Needs the unfused layers (a kernel without `ops`: wasm, reference).
   */
  loraTap?: LoraTap | null;
}

/** Receives a LoRA module's per-row gradient factors during the backward (module name as in the adapter). */
export type LoraTap = (module: string, f: LoraRowFactors) => void;

// forward: batch tokens [B*T] -> logits [B*T, V]
export async function forward(model: LlamaModel, batch: Batch, opts: ForwardOptions = {}): Promise<{ logits: Float32Array; cache: ForwardCache }> {
  const cache = await forwardHidden(model, batch, opts);
  const N = batch.B * batch.T;
  const logits = await model.kernel.matmul({ a: cache.xn, b: denseWeight(model.lmHead ?? model.embed), m: N, n: model.config.vocabSize, k: model.config.hiddenSize, transB: true });
  return { logits, cache };
}

/**
 * One micro-batch of training: forward, softmax cross-entropy on the batch's targets (divided by
 * `normalizer`, the target tokens of the whole optimizer step) and backward into `grads`. Returns the
 * summed loss and the number of target tokens. With a kernel that fuses the LM head and the loss (ort),
 * the [N, V] logits never reach JavaScript.
 */
export async function lossBackward(
  model: LlamaModel,
  batch: Batch,
  normalizer: number,
  grads: Map<string, Float32Array>,
  opts: ForwardOptions = {},
): Promise<{ lossSum: number; count: number }> {
  const ops = model.kernel.ops;
  if (!ops) {
    const { logits, cache } = await forward(model, batch, opts);
    const ce = crossEntropyBackward(logits, batch.targets, model.config.vocabSize, normalizer, { inPlace: true, fast: model.kernel.fastMath });
    await backward(model, cache, ce.dlogits, grads);
    return { lossSum: ce.lossSum, count: ce.count };
  }
  const cache = await forwardHidden(model, batch, { ...opts, weightGrads: grads.has(`${moduleName(0, "q_proj")}.weight`) });
  const dW = grads.get(model.lmHead ? "lm_head.weight" : "model.embed_tokens.weight");
  const r = await ops.headLoss({ x: cache.xn, w: denseWeight(model.lmHead ?? model.embed), targets: batch.targets, vocab: model.config.vocabSize, normalizer, dW });
  await backwardHidden(model, cache, r.dx, grads);
  return { lossSum: r.lossSum, count: r.count };
}

// the decoder up to the LM head's input (cache.xn)
async function forwardHidden(model: LlamaModel, batch: Batch, opts: ForwardOptions): Promise<ForwardCache> {
  const c = model.config;
  const kernel = model.kernel;
  const D = c.hiddenSize;
  const shape: AttentionShape = { B: batch.B, T: batch.T, H: c.numHeads, Hkv: c.numKvHeads, hd: c.headDim };
  const adapter = opts.adapter ?? null;
  const drop = opts.dropoutRng ?? null;
  const loraTap = opts.loraTap ?? null;
  if (loraTap && kernel.ops) throw new EngineError("per-example LoRA gradients (loraTap) need a kernel without fused layers (wasm or reference)", { kernel: kernel.name });
  let x = embeddingForward(model.embed, batch.tokens, D);
  const caches: LayerCache[] = [];
  for (let l = 0; l < c.numLayers; l++) {
    const layer = model.layers[l];
    if (kernel.ops) {
      // the whole layer in one kernel call (ort: one onnxruntime graph)
      const r = await kernel.ops.layerForward(fusedLayerArgs(model, l, x, batch, adapter, drop, opts.weightGrads ?? !adapter));
      caches.push({ fused: r.state });
      x = r.out;
      continue;
    }
    const lin = {} as Record<Projection, LinearCache>;
    const run = async (p: Projection, input: Float32Array) => {
      const [o, i] = projectionShape(c, p);
      const r = await linearForward(kernel, input, layer.proj[p], o, i, layerLora(adapter, l, p), drop);
      lin[p] = r.cache;
      return r.y;
    };
    const n1 = rmsnormForward(x, layer.inputNorm, c.rmsNormEps);
    const q = await run("q_proj", n1.y);
    const k = await run("k_proj", n1.y);
    const v = await run("v_proj", n1.y);
    ropeApply(q, batch.positions, c.numHeads, model.rope);
    ropeApply(k, batch.positions, c.numKvHeads, model.rope);
    const att = await attentionForward(kernel, q, k, v, batch.segments, shape);
    const ao = await run("o_proj", att.out);
    const x2 = new Float32Array(x.length);
    for (let i = 0; i < x2.length; i++) x2[i] = x[i] + ao[i];
    const n2 = rmsnormForward(x2, layer.postNorm, c.rmsNormEps);
    const g = await run("gate_proj", n2.y);
    const u = await run("up_proj", n2.y);
    const act = swigluForward(g, u, kernel.fastMath);
    const mo = await run("down_proj", act.h);
    const x3 = new Float32Array(x.length);
    for (let i = 0; i < x3.length; i++) x3[i] = x2[i] + mo[i];
    caches.push({ x, rstd1: n1.rstd, lin, q, k, v, attn: att.cache, x2, rstd2: n2.rstd, g, u, sig: act.sig });
    x = x3;
  }
  const nf = rmsnormForward(x, model.norm, c.rmsNormEps);
  return { batch, adapter, loraTap, layers: caches, xf: x, rstdF: nf.rstd, xn: nf.y };
}

/**
 * backward: dlogits [B*T, V] -> gradients accumulated into `grads`, keyed by tensor name: base names
 * (`model.layers.0.self_attn.q_proj.weight`, ...) for full fine-tuning, adapter names
 * (`...q_proj.lora_A.weight`) for LoRA. A parameter without an entry in `grads` gets no gradient
 * (and its weight-gradient product is skipped).
 */
export async function backward(model: LlamaModel, cache: ForwardCache, dlogits: Float32Array, grads: Map<string, Float32Array>): Promise<void> {
  const c = model.config;
  const kernel = model.kernel;
  const D = c.hiddenSize;
  const N = cache.batch.B * cache.batch.T;
  const head = denseWeight(model.lmHead ?? model.embed);
  const dHead = grads.get(model.lmHead ? "lm_head.weight" : "model.embed_tokens.weight");
  if (dHead) await kernel.matmul({ a: dlogits, b: cache.xn, m: c.vocabSize, n: D, k: N, transA: true, out: dHead, accumulate: true });
  const dxn = await kernel.matmul({ a: dlogits, b: head, m: N, n: D, k: c.vocabSize });
  await backwardHidden(model, cache, dxn, grads);
}

// backward from the gradient of the LM head's input, dxn [N, D]
async function backwardHidden(model: LlamaModel, cache: ForwardCache, dxn: Float32Array, grads: Map<string, Float32Array>): Promise<void> {
  const c = model.config;
  const kernel = model.kernel;
  const { batch, adapter } = cache;
  const shape: AttentionShape = { B: batch.B, T: batch.T, H: c.numHeads, Hkv: c.numKvHeads, hd: c.headDim };
  const D = c.hiddenSize;
  let dx = rmsnormBackward(dxn, cache.xf, model.norm, cache.rstdF, grads.get("model.norm.weight") ?? null);
  const dEmbed = grads.get("model.embed_tokens.weight");
  for (let l = c.numLayers - 1; l >= 0; l--) {
    const layer = model.layers[l];
    const lcAny = cache.layers[l];
    // Below layer 0 only the embedding could use the gradient: without an embedding grad, stop there.
    const needDx = l > 0 || !!dEmbed || !!grads.get("model.layers.0.input_layernorm.weight");
    if ("fused" in lcAny) {
      if (!kernel.ops) throw new EngineError("backward: the forward ran fused layers that this model's kernel does not have", {});
      const fg: FusedLayerGrads = { proj: {}, inputGrad: needDx };
      for (const p of PROJECTIONS) {
        const name = moduleName(l, p);
        fg.proj[p] = { dW: grads.get(`${name}.weight`), dA: grads.get(`${name}.lora_A.weight`), dB: grads.get(`${name}.lora_B.weight`) };
      }
      fg.dInputNorm = grads.get(`model.layers.${l}.input_layernorm.weight`);
      fg.dPostNorm = grads.get(`model.layers.${l}.post_attention_layernorm.weight`);
      const weights = {} as Record<Projection, Float32Array>;
      for (const p of PROJECTIONS) weights[p] = denseWeight(layer.proj[p]);
      const dxl = await kernel.ops.layerBackward(dx, lcAny.fused, weights, fg);
      if (!dxl) break;
      dx = dxl;
      continue;
    }
    const lc = lcAny;
    const back = async (p: Projection, dy: Float32Array, needDx = true) => {
      const [o, i] = projectionShape(c, p);
      const name = moduleName(l, p);
      const dxp = await linearBackward(kernel, dy, lc.lin[p], layer.proj[p], o, i, layerLora(adapter, l, p), {
        dW: grads.get(`${name}.weight`),
        dA: grads.get(`${name}.lora_A.weight`),
        dB: grads.get(`${name}.lora_B.weight`),
        tap: cache.loraTap ? (f) => cache.loraTap!(name, f) : null,
      }, needDx);
      return dxp as Float32Array;
    };
    // MLP block: x3 = x2 + down(swiglu(gate(n2), up(n2)))
    const dh = await back("down_proj", dx);
    const { dg, du } = swigluBackward(dh, lc.g, lc.u, lc.sig, { inPlace: true });
    const dn2 = await back("gate_proj", dg);
    const dn2u = await back("up_proj", du);
    for (let i = 0; i < dn2.length; i++) dn2[i] += dn2u[i];
    const dx2 = rmsnormBackward(dn2, lc.x2, layer.postNorm, lc.rstd2, grads.get(`model.layers.${l}.post_attention_layernorm.weight`) ?? null);
    for (let i = 0; i < dx2.length; i++) dx2[i] += dx[i];
    // attention block: x2 = x + o(attn(rope(q(n1)), rope(k(n1)), v(n1)))
    const dao = await back("o_proj", dx2);
    const { dq, dk, dv } = await attentionBackward(kernel, dao, lc.q, lc.k, lc.v, lc.attn, shape);
    ropeApply(dq, batch.positions, c.numHeads, model.rope, true);
    ropeApply(dk, batch.positions, c.numKvHeads, model.rope, true);
    const dn1 = await back("q_proj", dq, needDx);
    const dn1k = await back("k_proj", dk, needDx);
    const dn1v = await back("v_proj", dv, needDx);
    if (!needDx) break;
    for (let i = 0; i < dn1.length; i++) dn1[i] += dn1k[i] + dn1v[i];
    const dxl = rmsnormBackward(dn1, lc.x, layer.inputNorm, lc.rstd1, grads.get(`model.layers.${l}.input_layernorm.weight`) ?? null);
    for (let i = 0; i < dxl.length; i++) dxl[i] += dx2[i];
    dx = dxl;
  }
  if (dEmbed) embeddingBackward(dEmbed, batch.tokens, dx, D);
}

// The inputs of Kernel.ops.layerForward for layer l. LoRA dropout masks are drawn from `drop` in the
// order linearForward draws them (projection by projection, element by element), as 0 or 1 / (1 - p).
function fusedLayerArgs(model: LlamaModel, l: number, x: Float32Array, batch: Batch, adapter: LoraAdapter | null, drop: Rng | null, weightGrads: boolean) {
  const c = model.config;
  const layer = model.layers[l];
  const N = batch.B * batch.T;
  const weights = {} as Record<Projection, Float32Array>;
  const lora: Partial<Record<Projection, FusedLayerLora>> = {};
  for (const p of PROJECTIONS) {
    weights[p] = denseWeight(layer.proj[p]);
    const lw = layerLora(adapter, l, p);
    if (!lw) continue;
    let mask: Float32Array | null = null;
    if (lw.dropout > 0 && drop) {
      const keep = 1 - lw.dropout;
      mask = new Float32Array(N * projectionShape(c, p)[1]);
      for (let i = 0; i < mask.length; i++) if (drop.next() < keep) mask[i] = 1 / keep;
    }
    lora[p] = { A: lw.A, B: lw.B, r: lw.r, scale: lw.scale, mask };
  }
  return {
    x,
    inputNorm: layer.inputNorm,
    postNorm: layer.postNorm,
    weights,
    lora,
    intermediate: c.intermediateSize,
    eps: c.rmsNormEps,
    positions: batch.positions,
    segments: batch.segments,
    rope: model.rope,
    shape: { B: batch.B, T: batch.T, H: c.numHeads, Hkv: c.numKvHeads, hd: c.headDim },
    weightGrads,
  };
}

/**
 * Decode-time fused weights of one layer: [q; k; v] ([(H + 2 Hkv) hd, D]) and [gate; up] ([2I, D]) stacked
 * row-wise, so that a decoded token runs 4 products per layer instead of 7 (the `ort` kernel pays tens
 * of microseconds of session overhead per product). Built lazily per model for dense weights only, and
 * dropped by `dropFusedWeights` whenever the base weights may change (full fine-tuning).
 */
interface FusedLayer {
  qkv: Float32Array;
  gateUp: Float32Array;
}

const fusedCache = new WeakMap<LlamaModel, FusedLayer[]>();

/** Forgets the fused decode weights of `model` (call after changing its base weights in place). */
export function dropFusedWeights(model: LlamaModel): void {
  fusedCache.delete(model);
}

function stack(parts: Float32Array[]): Float32Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Float32Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function fusedWeights(model: LlamaModel): FusedLayer[] | null {
  let f = fusedCache.get(model);
  if (f) return f;
  const dense = (l: LlamaLayer) => PROJECTIONS.every((p) => l.proj[p] instanceof Float32Array);
  if (!model.layers.every(dense)) return null;
  f = model.layers.map((l) => ({
    qkv: stack([l.proj.q_proj, l.proj.k_proj, l.proj.v_proj] as Float32Array[]),
    gateUp: stack([l.proj.gate_proj, l.proj.up_proj] as Float32Array[]),
  }));
  fusedCache.set(model, f);
  return f;
}

/** y [n, outF] += the LoRA branch of `lora` on x [n, inF] (as linearForward computes it, no dropout). */
async function addLora(kernel: Kernel, x: Float32Array, y: Float32Array, n: number, outF: number, inF: number, lora: LoraWeights): Promise<void> {
  const h = await kernel.matmul({ a: x, b: lora.A, m: n, n: lora.r, k: inF, transB: true });
  for (let i = 0; i < h.length; i++) h[i] *= lora.scale;
  await kernel.matmul({ a: h, b: lora.B, m: n, n: outF, k: lora.r, transB: true, out: y, accumulate: true });
}

/** Keys and values of every layer for positions [0, length). */
export interface KvCache {
  k: Float32Array[]; // per layer [maxLen, Hkv*hd]
  v: Float32Array[];
  length: number;
  maxLen: number;
}

export function createKvCache(config: LlamaConfig, maxLen: number): KvCache {
  const w = config.numKvHeads * config.headDim;
  const k: Float32Array[] = [];
  const v: Float32Array[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    k.push(new Float32Array(maxLen * w));
    v.push(new Float32Array(maxLen * w));
  }
  return { k, v, length: 0, maxLen };
}

// inference: n new tokens appended to the cache -> logits of the last token [V]
export async function forwardCached(model: LlamaModel, tokens: ArrayLike<number>, kv: KvCache, adapter: LoraAdapter | null = null): Promise<Float32Array> {
  const c = model.config;
  const kernel = model.kernel;
  const D = c.hiddenSize;
  const n = tokens.length;
  const past = kv.length;
  if (past + n > kv.maxLen) throw new RangeError(`KV cache full: ${past} + ${n} tokens > ${kv.maxLen}`);
  const positions = new Int32Array(n);
  for (let i = 0; i < n; i++) positions[i] = past + i;
  const x = embeddingForward(model.embed, tokens, D);
  const w = c.numKvHeads * c.headDim;
  const qw = c.numHeads * c.headDim;
  // One decoded token: fused products (the reference `ts` kernel keeps one product per projection).
  const fused = n === 1 && kernel.name !== "ts" ? fusedWeights(model) : null;
  for (let l = 0; l < c.numLayers; l++) {
    const layer = model.layers[l];
    const run = async (p: Projection, input: Float32Array) => {
      const [o, i] = projectionShape(c, p);
      return (await linearForward(kernel, input, layer.proj[p], o, i, layerLora(adapter, l, p), null)).y;
    };
    const fl = fused?.[l];
    const n1 = rmsnormForward(x, layer.inputNorm, c.rmsNormEps).y;
    let q: Float32Array, k: Float32Array, v: Float32Array;
    if (fl) {
      const qkv = await kernel.matmul({ a: n1, b: fl.qkv, m: 1, n: qw + 2 * w, k: D, transB: true });
      q = qkv.subarray(0, qw);
      k = qkv.subarray(qw, qw + w);
      v = qkv.subarray(qw + w);
      const lq = layerLora(adapter, l, "q_proj");
      const lk = layerLora(adapter, l, "k_proj");
      const lv = layerLora(adapter, l, "v_proj");
      if (lq) await addLora(kernel, n1, q, 1, qw, D, lq);
      if (lk) await addLora(kernel, n1, k, 1, w, D, lk);
      if (lv) await addLora(kernel, n1, v, 1, w, D, lv);
    } else {
      q = await run("q_proj", n1);
      k = await run("k_proj", n1);
      v = await run("v_proj", n1);
    }
    ropeApply(q, positions, c.numHeads, model.rope);
    ropeApply(k, positions, c.numKvHeads, model.rope);
    kv.k[l].set(k, past * w);
    kv.v[l].set(v, past * w);
    // a fresh prompt runs the batched (kernel) attention; later tokens read the cache
    const att =
      past === 0 && n > 1
        ? (await attentionForward(kernel, q, k, v, null, { B: 1, T: n, H: c.numHeads, Hkv: c.numKvHeads, hd: c.headDim })).out
        : attentionCached(q, kv.k[l], kv.v[l], past, n, c.numHeads, c.numKvHeads, c.headDim);
    const ao = await run("o_proj", att);
    for (let i = 0; i < x.length; i++) x[i] += ao[i];
    const n2 = rmsnormForward(x, layer.postNorm, c.rmsNormEps).y;
    let g: Float32Array, u: Float32Array;
    if (fl) {
      const I = c.intermediateSize;
      const gu = await kernel.matmul({ a: n2, b: fl.gateUp, m: 1, n: 2 * I, k: D, transB: true });
      g = gu.subarray(0, I);
      u = gu.subarray(I);
      const lg = layerLora(adapter, l, "gate_proj");
      const lu = layerLora(adapter, l, "up_proj");
      if (lg) await addLora(kernel, n2, g, 1, I, D, lg);
      if (lu) await addLora(kernel, n2, u, 1, I, D, lu);
    } else {
      g = await run("gate_proj", n2);
      u = await run("up_proj", n2);
    }
    const mo = await run("down_proj", swigluForward(g, u, kernel.fastMath).h);
    for (let i = 0; i < x.length; i++) x[i] += mo[i];
  }
  kv.length = past + n;
  const last = x.subarray((n - 1) * D, n * D);
  const nf = rmsnormForward(last, model.norm, c.rmsNormEps).y;
  return kernel.matmul({ a: nf, b: denseWeight(model.lmHead ?? model.embed), m: 1, n: c.vocabSize, k: D, transB: true });
}

/** One row group of forwardBatch: tokens appended to one sequence's cache under its adapter. */
export interface BatchSegment {
  tokens: ArrayLike<number>;
  kv: KvCache;
  adapter: LoraAdapter | null;
}

/**
 * One forward pass over several sequences at once (continuous batching with prefill in the same pass):
 * each segment appends its tokens to its own KV cache (at its own length) under its own adapter — one
 * token for a decoding sequence, a whole prompt for a new one — and gets the logits of its last token [V].
 * The base projections run once over all tokens of all segments (M = their sum), each LoRA once over the
 * rows that share its adapter (gathered, then scattered back), RoPE at each token's position, attention
 * per segment exactly as forwardCached() does it (a fresh prompt: the kernel's causal attention; else the
 * cache). So on a kernel whose products do not depend on M (the `wasm` kernel: each element is a plain
 * sequential sum) each segment's logits equal forwardCached()'s for the same tokens bit for bit.
 */
/** Per adapter: its LoraWeights by layer * 7 + projection index (no module-name strings per step). */
const loraWeightsCache = new WeakMap<LoraAdapter, (LoraWeights | null)[]>();

function loraWeightsOf(adapter: LoraAdapter, numLayers: number, l: number, p: Projection): LoraWeights | null {
  let all = loraWeightsCache.get(adapter);
  if (!all) {
    all = [];
    for (let li = 0; li < numLayers; li++) for (const pp of PROJECTIONS) all.push(layerLora(adapter, li, pp));
    loraWeightsCache.set(adapter, all);
  }
  return all[l * PROJECTIONS.length + PROJECTIONS.indexOf(p)] ?? null;
}

/**
 * Per adapter: its LoRA on a group of projections that share one input (q/k/v, gate/up, or one alone),
 * laid out for one batched product pair, by `layer:projections:ranks`:
 * At [inF, Rg]: each projection's A transposed, side by side, projection i in columns [ro_i, ro_i + ranks_i)
 * (zero-padded from its own rank, zero when it has no LoRA; Rg = the ranks' sum rounded up to a multiple of
 * 4); Bt [Rg, outTot]: each projection's scale * B transposed on the block diagonal, projection i's outputs
 * in columns [oo_i, oo_i + out_i) (the layout of the fused q|k|v and gate|up products). x At Bt is then the
 * group's LoRA outputs side by side. Bc: the same scale * B^T blocks without the zeros between them
 * ([ranks_i, out_i] each, in turn), for the wasm per-row products (kernels/elementwise.ts loraRows).
 */
interface LoraBlock {
  At: Float32Array;
  Bt: Float32Array;
  Bc: Float32Array;
}

const loraBlocks = new WeakMap<LoraAdapter, Map<string, LoraBlock>>();

/** The padded rank width of a group's At (see loraBlock). */
function groupRank(ranks: readonly number[]): number {
  let Rg = 0;
  for (const r of ranks) Rg += r;
  return (Rg + 3) & ~3;
}

function loraBlock(adapter: LoraAdapter, numLayers: number, l: number, projs: readonly Projection[], ranks: readonly number[], outs: readonly number[], inF: number, key: string): LoraBlock {
  let byKey = loraBlocks.get(adapter);
  if (!byKey) loraBlocks.set(adapter, (byKey = new Map()));
  const hit = byKey.get(key);
  if (hit) return hit;
  const Rg = groupRank(ranks);
  let outTot = 0;
  let nc = 0;
  for (const [i, o] of outs.entries()) {
    outTot += o;
    nc += ranks[i] * o;
  }
  const At = new Float32Array(inF * Rg);
  const Bt = new Float32Array(Rg * outTot);
  const Bc = new Float32Array(nc);
  for (let i = 0, ro = 0, oo = 0, co = 0; i < projs.length; ro += ranks[i], oo += outs[i], co += ranks[i] * outs[i], i++) {
    const lw = loraWeightsOf(adapter, numLayers, l, projs[i]);
    if (!lw) continue;
    const out = outs[i];
    for (let t = 0; t < lw.r; t++) {
      for (let k = 0; k < inF; k++) At[k * Rg + ro + t] = lw.A[t * inF + k];
      const row = (ro + t) * outTot + oo;
      for (let o = 0; o < out; o++) Bt[row + o] = Bc[co + t * out + o] = lw.scale * lw.B[o * lw.r + t];
    }
  }
  const block = { At, Bt, Bc };
  byKey.set(key, block);
  return block;
}

/**
 * Per model: the listed rows' blocks (loraBlock) stacked in row order ([R, inF, Rg] and [R, Rg, outTot])
 * by `layer:projections:decode|prefill`. Reused while the same adapters sit in the same rows (every decode
 * step of a steady batch), updated where a row's adapter changed, rebuilt from the adapters' cached blocks
 * (plain copies) when the number of rows changes. Served adapters are
 * read-only (a weight changed in place keeps its old blocks).
 */
const loraStacks = new WeakMap<LlamaModel, Map<string, { adapters: LoraAdapter[]; ranks: string; At: Float32Array; Bt: Float32Array }>>();

function stackedLoraGroup(model: LlamaModel, key: string, adapters: readonly LoraAdapter[], ranks: string, block: (a: LoraAdapter) => { At: Float32Array; Bt: Float32Array }): { At: Float32Array; Bt: Float32Array } {
  let byKey = loraStacks.get(model);
  if (!byKey) loraStacks.set(model, (byKey = new Map()));
  const hit = byKey.get(key);
  if (hit && hit.ranks === ranks && hit.adapters.length === adapters.length) {
    // same rows: copy in only the rows whose adapter changed (none in a steady batch)
    const na = hit.At.length / adapters.length;
    const nb = hit.Bt.length / adapters.length;
    adapters.forEach((a, j) => {
      if (hit.adapters[j] === a) return;
      const b = block(a);
      hit.At.set(b.At, j * na);
      hit.Bt.set(b.Bt, j * nb);
      hit.adapters[j] = a;
    });
    return hit;
  }
  const first = block(adapters[0]);
  const na = first.At.length;
  const nb = first.Bt.length;
  const At = new Float32Array(adapters.length * na);
  const Bt = new Float32Array(adapters.length * nb);
  adapters.forEach((a, j) => {
    const b = block(a);
    At.set(b.At, j * na);
    Bt.set(b.Bt, j * nb);
  });
  const stack = { adapters: [...adapters], ranks, At, Bt };
  byKey.set(key, stack);
  return stack;
}

export async function forwardBatch(model: LlamaModel, segments: readonly BatchSegment[]): Promise<Float32Array[]> {
  const c = model.config;
  const kernel = model.kernel;
  const D = c.hiddenSize;
  const S = segments.length;
  if (new Set(segments.map((x) => x.kv)).size !== S) throw new RangeError("forwardBatch: each segment needs its own KV cache");
  for (const x of segments) {
    if (x.tokens.length === 0) throw new RangeError("forwardBatch: a segment has no tokens");
    if (x.kv.length + x.tokens.length > x.kv.maxLen) throw new RangeError(`KV cache full: ${x.kv.length} + ${x.tokens.length} tokens > ${x.kv.maxLen}`);
  }
  if (S === 0) return [];
  // row offsets of each segment in the [B, *] activations, and each row's position
  const start: number[] = [];
  let B = 0;
  for (const x of segments) {
    start.push(B);
    B += x.tokens.length;
  }
  const positions = new Int32Array(B);
  const ids = new Int32Array(B);
  segments.forEach((x, s) => {
    for (let j = 0; j < x.tokens.length; j++) {
      positions[start[s] + j] = x.kv.length + j;
      ids[start[s] + j] = x.tokens[j];
    }
  });
  const x = embeddingForward(model.embed, ids, D);
  const w = c.numKvHeads * c.headDim;
  const qw = c.numHeads * c.headDim;
  const I = c.intermediateSize;
  const fused = kernel.name !== "ts" ? fusedWeights(model) : null;
  const groups = new Map<LoraAdapter, number[]>();
  segments.forEach((seg, s) => {
    if (!seg.adapter) return;
    let g = groups.get(seg.adapter);
    if (!g) groups.set(seg.adapter, (g = []));
    for (let j = 0; j < seg.tokens.length; j++) g.push(start[s] + j);
  });
  const gather = (src: Float32Array, width: number, rows: readonly number[]) => {
    const out = new Float32Array(rows.length * width);
    rows.forEach((r, j) => out.set(src.subarray(r * width, (r + 1) * width), j * width));
    return out;
  };
  const scatter = (dst: Float32Array, width: number, rows: readonly number[], src: Float32Array) => rows.forEach((r, j) => dst.set(src.subarray(j * width, (j + 1) * width), r * width));
  // Many adapters on a kernel with a batched product (ort): per-row products (BGMV) for a whole group of
  // projections sharing an input (q/k/v, gate/up) at once: one batched call for the shrink and one for the
  // expand per group and layer, on stacks kept pre-transposed (no Transpose in the graph)
  const perRow = !!kernel.batchMatmul && groups.size >= 4;
  const loraGroup = async (l: number, projs: readonly Projection[], outs: readonly number[], input: Float32Array, y: Float32Array, inF: number) => {
    const ranks = projs.map(() => 0);
    for (const a of groups.keys()) {
      projs.forEach((p, i) => {
        const lw = loraWeightsOf(a, c.numLayers, l, p);
        if (lw && lw.r > ranks[i]) ranks[i] = lw.r;
      });
    }
    if (ranks.every((r) => r === 0)) return;
    const Rg = groupRank(ranks);
    let outTot = 0;
    for (const o of outs) outTot += o;
    const rk = ranks.join(",");
    const key = `${l}:${projs.join(",")}`;
    const block = (a: LoraAdapter) => loraBlock(a, c.numLayers, l, projs, ranks, outs, inF, `${key}:${rk}`);
    // segments whose adapter has LoRA on one of these projections: decoding ones (one row each) in one
    // batch of m = 1 products, prompts in one batch of m = the longest prompt (shorter ones zero-padded)
    const dec: number[] = [];
    const decA: LoraAdapter[] = [];
    const pre: number[] = [];
    const preA: LoraAdapter[] = [];
    let mMax = 0;
    for (let s = 0; s < S; s++) {
      const a = segments[s].adapter;
      if (!a || !projs.some((p) => loraWeightsOf(a, c.numLayers, l, p))) continue;
      const n = segments[s].tokens.length;
      if (n === 1) {
        dec.push(start[s]);
        decA.push(a);
      } else {
        pre.push(s);
        preA.push(a);
        if (n > mMax) mMax = n;
      }
    }
    const wasmRows = loraRows();
    if (wasmRows?.fits({ ranks, outs })) {
      // in wasm SIMD on the adapters' weights where they sit (no stacks): every row of every segment
      const rows = [...dec];
      const blocks = decA.map(block);
      pre.forEach((s, j) => {
        const b = block(preA[j]);
        for (let t = 0; t < segments[s].tokens.length; t++) {
          rows.push(start[s] + t);
          blocks.push(b);
        }
      });
      const d = wasmRows.run(input, inF, rows, blocks, { ranks, outs }, Rg);
      for (let j = 0; j < rows.length; j++) {
        const o = rows[j] * outTot;
        const dj = j * outTot;
        for (let t = 0; t < outTot; t++) y[o + t] += d[dj + t];
      }
      return;
    }
    if (dec.length) {
      const R = dec.length;
      const { At, Bt } = stackedLoraGroup(model, `${key}:decode`, decA, rk, block);
      const xa = R === B ? input : gather(input, inF, dec);
      const h = await kernel.batchMatmul!({ a: xa, b: At, batch: R, m: 1, n: Rg, k: inF });
      const d = await kernel.batchMatmul!({ a: h, b: Bt, batch: R, m: 1, n: outTot, k: Rg });
      for (let j = 0; j < R; j++) {
        const o = dec[j] * outTot;
        const dj = j * outTot;
        for (let t = 0; t < outTot; t++) y[o + t] += d[dj + t];
      }
    }
    if (pre.length) {
      const P = pre.length;
      const { At, Bt } = stackedLoraGroup(model, `${key}:prefill`, preA, rk, block);
      const xa = new Float32Array(P * mMax * inF);
      pre.forEach((s, j) => xa.set(input.subarray(start[s] * inF, (start[s] + segments[s].tokens.length) * inF), j * mMax * inF));
      const h = await kernel.batchMatmul!({ a: xa, b: At, batch: P, m: mMax, n: Rg, k: inF });
      const d = await kernel.batchMatmul!({ a: h, b: Bt, batch: P, m: mMax, n: outTot, k: Rg });
      pre.forEach((s, j) => {
        const o = start[s] * outTot;
        const dj = j * mMax * outTot;
        const len = segments[s].tokens.length * outTot;
        for (let t = 0; t < len; t++) y[o + t] += d[dj + t];
      });
    }
  };
  // y [B, outF] += each adapter's LoRA product over its rows of input [B, inF]
  const lora = async (l: number, p: Projection, input: Float32Array, y: Float32Array, outF: number, inF: number) => {
    if (perRow) return loraGroup(l, [p], [outF], input, y, inF);
    for (const [a, rows] of groups) {
      const lw = layerLora(a, l, p);
      if (!lw) continue;
      if (rows.length === B) {
        await addLora(kernel, input, y, B, outF, inF, lw);
        continue;
      }
      const yg = gather(y, outF, rows);
      await addLora(kernel, gather(input, inF, rows), yg, rows.length, outF, inF, lw);
      scatter(y, outF, rows, yg);
    }
  };
  const proj = async (layer: LlamaLayer, l: number, p: Projection, input: Float32Array) => {
    const [o, i] = projectionShape(c, p);
    const y = await kernel.matmul({ a: input, b: denseWeight(layer.proj[p]), m: B, n: o, k: i, transB: true });
    await lora(l, p, input, y, o, i);
    return y;
  };
  // columns [from, from + width) of each row of a [B, stride] matrix
  const columns = (src: Float32Array, stride: number, from: number, width: number) => {
    const out = new Float32Array(B * width);
    for (let i = 0; i < B; i++) out.set(src.subarray(i * stride + from, i * stride + from + width), i * width);
    return out;
  };
  const decodeRows: { qRow: number; k: Float32Array; v: Float32Array; len: number }[] = [];
  for (let l = 0; l < c.numLayers; l++) {
    const layer = model.layers[l];
    const fl = fused?.[l];
    const n1 = rmsnormForward(x, layer.inputNorm, c.rmsNormEps).y;
    let q: Float32Array, k: Float32Array, v: Float32Array;
    if (fl) {
      const qkv = await kernel.matmul({ a: n1, b: fl.qkv, m: B, n: qw + 2 * w, k: D, transB: true });
      if (perRow) await loraGroup(l, ["q_proj", "k_proj", "v_proj"], [qw, w, w], n1, qkv, D);
      q = columns(qkv, qw + 2 * w, 0, qw);
      k = columns(qkv, qw + 2 * w, qw, w);
      v = columns(qkv, qw + 2 * w, qw + w, w);
      if (!perRow) {
        await lora(l, "q_proj", n1, q, qw, D);
        await lora(l, "k_proj", n1, k, w, D);
        await lora(l, "v_proj", n1, v, w, D);
      }
    } else {
      q = await proj(layer, l, "q_proj", n1);
      k = await proj(layer, l, "k_proj", n1);
      v = await proj(layer, l, "v_proj", n1);
    }
    ropeApply(q, positions, c.numHeads, model.rope);
    ropeApply(k, positions, c.numKvHeads, model.rope);
    const att = new Float32Array(B * qw);
    decodeRows.length = 0;
    const fresh = new Map<number, number[]>();
    for (let s = 0; s < S; s++) {
      const { kv, tokens } = segments[s];
      const n = tokens.length;
      const past = kv.length;
      const r0 = start[s];
      const ks = k.subarray(r0 * w, (r0 + n) * w);
      const vs = v.subarray(r0 * w, (r0 + n) * w);
      kv.k[l].set(ks, past * w);
      kv.v[l].set(vs, past * w);
      if (n === 1) {
        // one decoded token: with the other rows' below (attentionCached's numbers, one call)
        decodeRows.push({ qRow: r0, k: kv.k[l], v: kv.v[l], len: past + 1 });
        continue;
      }
      if (past === 0) {
        // a fresh prompt: below, with the other fresh prompts of its length
        let same = fresh.get(n);
        if (!same) fresh.set(n, (same = []));
        same.push(r0);
        continue;
      }
      att.set(attentionCached(q.subarray(r0 * qw, (r0 + n) * qw), kv.k[l], kv.v[l], past, n, c.numHeads, c.numKvHeads, c.headDim), r0 * qw);
    }
    if (decodeRows.length) attentionDecodeRows(q, decodeRows, c.numHeads, c.numKvHeads, c.headDim, att);
    // as forwardCached, a fresh prompt runs the kernel's causal attention: the prompts of one length in one
    // call of B prompts (each prompt's heads are their own products and softmax rows: the same numbers as B = 1)
    for (const [n, r0s] of fresh) {
      const shape = { B: r0s.length, T: n, H: c.numHeads, Hkv: c.numKvHeads, hd: c.headDim };
      const blocks = (src: Float32Array, width: number) => {
        const o = new Float32Array(r0s.length * n * width);
        r0s.forEach((r, j) => o.set(src.subarray(r * width, (r + n) * width), j * n * width));
        return o;
      };
      const out = (await attentionForward(kernel, blocks(q, qw), blocks(k, w), blocks(v, w), null, shape)).out;
      r0s.forEach((r, j) => att.set(out.subarray(j * n * qw, (j + 1) * n * qw), r * qw));
    }
    const ao = await proj(layer, l, "o_proj", att);
    for (let i = 0; i < x.length; i++) x[i] += ao[i];
    const n2 = rmsnormForward(x, layer.postNorm, c.rmsNormEps).y;
    let g: Float32Array, u: Float32Array;
    if (fl) {
      const gu = await kernel.matmul({ a: n2, b: fl.gateUp, m: B, n: 2 * I, k: D, transB: true });
      if (perRow) await loraGroup(l, ["gate_proj", "up_proj"], [I, I], n2, gu, D);
      g = columns(gu, 2 * I, 0, I);
      u = columns(gu, 2 * I, I, I);
      if (!perRow) {
        await lora(l, "gate_proj", n2, g, I, D);
        await lora(l, "up_proj", n2, u, I, D);
      }
    } else {
      g = await proj(layer, l, "gate_proj", n2);
      u = await proj(layer, l, "up_proj", n2);
    }
    const mo = await proj(layer, l, "down_proj", swigluForward(g, u, kernel.fastMath).h);
    for (let i = 0; i < x.length; i++) x[i] += mo[i];
  }
  for (const seg of segments) seg.kv.length += seg.tokens.length;
  // the last token of each segment
  const last = new Float32Array(S * D);
  segments.forEach((seg, s) => last.set(x.subarray((start[s] + seg.tokens.length - 1) * D, (start[s] + seg.tokens.length) * D), s * D));
  const nf = rmsnormForward(last, model.norm, c.rmsNormEps).y;
  const logits = await kernel.matmul({ a: nf, b: denseWeight(model.lmHead ?? model.embed), m: S, n: c.vocabSize, k: D, transB: true });
  // views into the one [S, V] result (no per-row copy; each step allocates a new result)
  return Array.from({ length: S }, (_, i) => logits.subarray(i * c.vocabSize, (i + 1) * c.vocabSize));
}
