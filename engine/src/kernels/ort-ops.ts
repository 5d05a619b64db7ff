/**
 * The `ort` kernel's fused operations: a whole decoder layer, forward and backward, as one onnxruntime
 * graph each, and the LM head with the cross-entropy gradient. The elementwise work between the products
 * (RMSNorm, RoPE, the head reshapes, masked softmax, SwiGLU, residual adds, LoRA's scaling) then runs in
 * onnxruntime's vectorized, multi-threaded kernels next to the products instead of in single-threaded
 * JavaScript, which was about half of a LoRA training step on the reference workload before.
 *
 * They compute what model/llama.ts and nn/ compute, to float32 rounding (onnxruntime's own exp, softmax
 * and summation order): the `ort` kernel was never bit-stable; the `wasm` kernel is the replayable path.
 * Graphs are built per layer configuration (shapes, which projections carry LoRA with which rank, scale
 * and dropout, whether weight gradients are wanted) and their sessions cached by the kernel.
 */
import type * as OrtModule from "onnxruntime-node";
import { PROJECTIONS as LAYER_PROJECTIONS } from "../lora/adapter.ts";
import type { Projection as LayerProjection } from "../lora/adapter.ts";
import type { FusedHeadLossArgs, FusedHeadLossResult, FusedLayerArgs, FusedLayerGrads, FusedOps } from "./kernel.ts";
import { OnnxGraph } from "./onnx-graph.ts";

type Ort = typeof OrtModule;
type Session = Awaited<ReturnType<Ort["InferenceSession"]["create"]>>;
type Tensor = InstanceType<Ort["Tensor"]>;

/** What a layer graph is built for: everything that changes the graph, nothing that only changes sizes. */
export interface LayerSpec {
  D: number;
  I: number;
  H: number;
  Hkv: number;
  hd: number;
  eps: number;
  /** Projections with LoRA: rank, scale and whether a dropout mask input is used. */
  lora: Partial<Record<LayerProjection, { r: number; scale: number; dropout: boolean }>>;
  /** Weight gradients of every projection and norm (full fine-tuning). */
  weightGrads: boolean;
  /** Whether the backward produces the gradient of the layer input (not needed below layer 0 without an embedding gradient). */
  inputGrad: boolean;
}

const inputOf: Record<LayerProjection, "N1" | "ATT" | "N2" | "HACT"> = {
  q_proj: "N1", k_proj: "N1", v_proj: "N1", o_proj: "ATT", gate_proj: "N2", up_proj: "N2", down_proj: "HACT",
};

/** Saved activations the backward reads, beyond the always-saved ones; depends on the spec. */
function savedInputs(spec: LayerSpec): Set<"N1" | "ATT" | "N2" | "HACT"> {
  const s = new Set<"N1" | "ATT" | "N2" | "HACT">();
  for (const p of LAYER_PROJECTIONS) if (spec.weightGrads || spec.lora[p]) s.add(inputOf[p]);
  return s;
}

const w = (p: LayerProjection) => `W_${p}`;
const la = (p: LayerProjection) => `A_${p}`;
const lb = (p: LayerProjection) => `B_${p}`;
const lm = (p: LayerProjection) => `M_${p}`;
const lh = (p: LayerProjection) => `LH_${p}`;

function shapeOf(spec: LayerSpec, p: LayerProjection): [number, number] {
  const { D, I, H, Hkv, hd } = spec;
  switch (p) {
    case "q_proj": return [H * hd, D];
    case "k_proj": case "v_proj": return [Hkv * hd, D];
    case "o_proj": return [D, H * hd];
    case "gate_proj": case "up_proj": return [I, D];
    case "down_proj": return [D, I];
  }
}

function declareWeights(g: OnnxGraph, spec: LayerSpec): void {
  g.input("WN1", "float", [spec.D]);
  g.input("WN2", "float", [spec.D]);
  for (const p of LAYER_PROJECTIONS) {
    const [o, i] = shapeOf(spec, p);
    g.input(w(p), "float", [o, i]);
    const l = spec.lora[p];
    if (!l) continue;
    g.input(la(p), "float", [l.r, i]);
    g.input(lb(p), "float", [o, l.r]);
    if (l.dropout) g.input(lm(p), "float", ["N", i]);
  }
  g.input("COS", "float", ["B", 1, "T", spec.hd]);
  g.input("SIN", "float", ["B", 1, "T", spec.hd]);
  g.input("DIMS", "int64", [2]);
}

// x [N, D] -> (x * rstd) * w, rstd [N, 1] = 1 / sqrt(mean(x^2) + eps)
function rmsnorm(g: OnnxGraph, x: string, wn: string, eps: number): { y: string; rstd: string } {
  const ms = g.op1("ReduceMean", [g.op1("Mul", [x, x]), g.int64s([-1])], { keepdims: 1 });
  const rstd = g.op1("Reciprocal", [g.op1("Sqrt", [g.op1("Add", [ms, g.float(eps)])])]);
  return { y: g.op1("Mul", [g.op1("Mul", [x, rstd]), wn]), rstd };
}

// dx = rstd * (dy * w) - x * rstd^3 * sum(dy * w * x) / D; dw = sum over rows of dy * x * rstd
function rmsnormBackward(g: OnnxGraph, dy: string, x: string, wn: string, rstd: string, D: number, dw: string | null): string {
  const gw = g.op1("Mul", [dy, wn]);
  const gx = g.op1("ReduceSum", [g.op1("Mul", [gw, x]), g.int64s([-1])], { keepdims: 1 });
  const c = g.op1("Mul", [g.op1("Mul", [g.op1("Mul", [rstd, rstd]), rstd]), g.op1("Mul", [gx, g.float(1 / D)])]);
  if (dw) g.output(g.op1("ReduceSum", [g.op1("Mul", [g.op1("Mul", [dy, x]), rstd]), g.int64s([0])], { keepdims: 0 }), dw, "float", [D]);
  return g.op1("Sub", [g.op1("Mul", [gw, rstd]), g.op1("Mul", [x, c])]);
}

// y = x W^T + scale * (dropout(x) A^T) B^T; LoRA's h = dropout(x) A^T is a graph output for the backward
function linear(g: OnnxGraph, spec: LayerSpec, p: LayerProjection, x: string): string {
  const l = spec.lora[p];
  const base = g.op1("Gemm", [x, w(p)], { transB: 1 });
  if (!l) return base;
  const xd = l.dropout ? g.op1("Mul", [x, lm(p)]) : x;
  const h = g.op1("Gemm", [xd, la(p)], { transB: 1 });
  g.output(h, lh(p), "float", ["N", l.r]);
  return g.op1("Gemm", [h, lb(p), base], { transB: 1, alpha: { f: l.scale } });
}

// dy [N, out] -> dx [N, in] (added to `acc` when given); LoRA's dA, dB and (full fine-tuning) dW are outputs
function linearBackward(g: OnnxGraph, spec: LayerSpec, p: LayerProjection, dy: string, acc: string | null, needDx = true): string | null {
  const l = spec.lora[p];
  const [o, i] = shapeOf(spec, p);
  const x = inputOf[p];
  if (spec.weightGrads) g.output(g.op1("Gemm", [dy, x], { transA: 1 }), `DW_${p}`, "float", [o, i]);
  let dx: string | null = needDx ? g.op1("Gemm", acc ? [dy, w(p), acc] : [dy, w(p)]) : null;
  if (l) {
    g.output(g.op1("Gemm", [dy, lh(p)], { transA: 1, alpha: { f: l.scale } }), `DB_${p}`, "float", [o, l.r]);
    const dh = g.op1("Gemm", [dy, lb(p)], { alpha: { f: l.scale } }); // [N, r]
    const xd = l.dropout ? g.op1("Mul", [x, lm(p)]) : x;
    g.output(g.op1("Gemm", [dh, xd], { transA: 1 }), `DA_${p}`, "float", [l.r, i]);
    if (dx) {
      if (l.dropout) dx = g.op1("Add", [dx, g.op1("Mul", [g.op1("Gemm", [dh, la(p)]), lm(p)])]);
      else dx = g.op1("Gemm", [dh, la(p), dx]);
    }
  }
  return dx;
}

// [N, heads*hd] <-> [B, heads, T, hd]
function toHeads(g: OnnxGraph, x: string, heads: number, hd: number): string {
  const shape = g.op1("Concat", ["DIMS", g.int64s([heads, hd])], { axis: 0 });
  return g.op1("Transpose", [g.op1("Reshape", [x, shape])], { perm: [0, 2, 1, 3] });
}
function fromHeads(g: OnnxGraph, x: string, width: number): string {
  return g.op1("Reshape", [g.op1("Transpose", [x], { perm: [0, 2, 1, 3] }), g.int64s([-1, width])]);
}

// rotate-half RoPE: x * cos + swap(x) * [-sin, sin]; `inverse` rotates back (the backward)
function rope(g: OnnxGraph, x: string, hd: number, inverse = false): string {
  const [a, b] = g.op("Split", [x, g.int64s([hd / 2, hd / 2])], { axis: -1 }, 2);
  const swapped = g.op1("Concat", [b, a], { axis: -1 });
  return g.op1(inverse ? "Sub" : "Add", [g.op1("Mul", [x, "COS"]), g.op1("Mul", [swapped, "SIN"])]);
}

// [B, Hkv, T, hd] -> [B, H, T, hd]: each kv head repeated for the query heads that read it
function repeatKv(g: OnnxGraph, x: string, spec: LayerSpec): string {
  const { H, Hkv, hd } = spec;
  if (H === Hkv) return x;
  const e = g.op1("Expand", [g.op1("Unsqueeze", [x, g.int64s([2])]), g.int64s([1, 1, H / Hkv, 1, 1])]);
  return g.op1("Reshape", [e, g.int64s([0, H, -1, hd])]);
}
// [B, H, T, hd] -> [B, Hkv, T, hd]: the gradients of the query heads sharing a kv head, summed
function sumKvGroups(g: OnnxGraph, x: string, spec: LayerSpec): string {
  const { H, Hkv, hd } = spec;
  if (H === Hkv) return x;
  return g.op1("ReduceSum", [g.op1("Reshape", [x, g.int64s([0, Hkv, H / Hkv, -1, hd])]), g.int64s([2])], { keepdims: 0 });
}

/**
 * One decoder layer forward. Inputs X [N, D], the weights, COS/SIN [B, 1, T, hd], MASK [B, 1, T, T]
 * (additive: 0 or -inf), DIMS = [B, T]. Outputs X3 (the layer output) and what the backward reads.
 */
export function layerForwardModel(spec: LayerSpec): Uint8Array {
  const { D, I, H, Hkv, hd, eps } = spec;
  const g = new OnnxGraph("layer_forward");
  g.input("X", "float", ["N", D]);
  declareWeights(g, spec);
  g.input("MASK", "float", ["B", 1, "T", "T"]);
  const saved = savedInputs(spec);
  const keep = (value: string, name: "N1" | "ATT" | "N2" | "HACT", width: number) => {
    if (saved.has(name)) g.output(value, name, "float", ["N", width]);
  };
  const n1 = rmsnorm(g, "X", "WN1", eps);
  keep(n1.y, "N1", D);
  g.output(n1.rstd, "RSTD1", "float", ["N", 1]);
  const q = linear(g, spec, "q_proj", n1.y);
  const k = linear(g, spec, "k_proj", n1.y);
  const v = linear(g, spec, "v_proj", n1.y);
  const qr = rope(g, toHeads(g, q, H, hd), hd);
  const kr = rope(g, toHeads(g, k, Hkv, hd), hd);
  const vh = toHeads(g, v, Hkv, hd);
  g.output(qr, "QR", "float", ["B", H, "T", hd]);
  g.output(kr, "KR", "float", ["B", Hkv, "T", hd]);
  g.output(vh, "VH", "float", ["B", Hkv, "T", hd]);
  const kT = g.op1("Transpose", [repeatKv(g, kr, spec)], { perm: [0, 1, 3, 2] });
  const scores = g.op1("Add", [g.op1("Mul", [g.op1("MatMul", [qr, kT]), g.float(1 / Math.sqrt(hd))]), "MASK"]);
  const probs = g.op1("Softmax", [scores], { axis: -1 });
  g.output(probs, "P", "float", ["B", H, "T", "T"]);
  const att = fromHeads(g, g.op1("MatMul", [probs, repeatKv(g, vh, spec)]), H * hd);
  keep(att, "ATT", H * hd);
  const x2 = g.op1("Add", ["X", linear(g, spec, "o_proj", att)]);
  g.output(x2, "X2", "float", ["N", D]);
  const n2 = rmsnorm(g, x2, "WN2", eps);
  keep(n2.y, "N2", D);
  g.output(n2.rstd, "RSTD2", "float", ["N", 1]);
  const gate = linear(g, spec, "gate_proj", n2.y);
  const up = linear(g, spec, "up_proj", n2.y);
  g.output(gate, "G", "float", ["N", I]);
  g.output(up, "U", "float", ["N", I]);
  const hact = g.op1("Mul", [g.op1("com.microsoft.QuickGelu", [gate], { alpha: { f: 1 } }), up]); // silu(g) * u
  keep(hact, "HACT", I);
  g.output(g.op1("Add", [x2, linear(g, spec, "down_proj", hact)]), "X3", "float", ["N", D]);
  return g.build();
}

/** The forward's outputs: X3 (the layer output), then what the backward reads. */
export function layerForwardOutputs(spec: LayerSpec): string[] {
  const saved = savedInputs(spec);
  const out = ["X3", "RSTD1", "QR", "KR", "VH", "P", "X2", "RSTD2", "G", "U"];
  for (const n of ["N1", "ATT", "N2", "HACT"] as const) if (saved.has(n)) out.push(n);
  for (const p of LAYER_PROJECTIONS) if (spec.lora[p]) out.push(lh(p));
  return out;
}

/**
 * One decoder layer backward: DOUT [N, D] (gradient of X3) and the forward's inputs and outputs ->
 * DX [N, D] (when spec.inputGrad), DA_/DB_ per LoRA projection, DW_ per projection and DWN1/DWN2
 * (when spec.weightGrads).
 */
export function layerBackwardModel(spec: LayerSpec): Uint8Array {
  const { D, I, H, Hkv, hd } = spec;
  const g = new OnnxGraph("layer_backward");
  g.input("DOUT", "float", ["N", D]);
  g.input("X", "float", ["N", D]);
  declareWeights(g, spec);
  const saved = savedInputs(spec);
  for (const [n, dims] of [["N1", ["N", D]], ["RSTD1", ["N", 1]], ["QR", ["B", H, "T", hd]], ["KR", ["B", Hkv, "T", hd]], ["VH", ["B", Hkv, "T", hd]], ["P", ["B", H, "T", "T"]], ["ATT", ["N", H * hd]], ["X2", ["N", D]], ["N2", ["N", D]], ["RSTD2", ["N", 1]], ["G", ["N", I]], ["U", ["N", I]], ["HACT", ["N", I]]] as const) {
    if (n === "N1" || n === "ATT" || n === "N2" || n === "HACT") {
      if (!saved.has(n)) continue;
    }
    g.input(n, "float", dims);
  }
  for (const p of LAYER_PROJECTIONS) {
    const l = spec.lora[p];
    if (l) g.input(lh(p), "float", ["N", l.r]);
  }
  // MLP block: X3 = X2 + down(silu(G) * U)
  if (spec.weightGrads && !spec.inputGrad) throw new RangeError("layer backward: weight gradients need the input gradient of the norm");
  const dhact = linearBackward(g, spec, "down_proj", "DOUT", null)!;
  const sig = g.op1("Sigmoid", ["G"]);
  const silu = g.op1("Mul", ["G", sig]);
  const du = g.op1("Mul", [dhact, silu]);
  // silu'(g) = sig + silu * (1 - sig)
  const dsilu = g.op1("Add", [sig, g.op1("Mul", [silu, g.op1("Sub", [g.float(1), sig])])]);
  const dg = g.op1("Mul", [g.op1("Mul", [dhact, "U"]), dsilu]);
  const dn2 = linearBackward(g, spec, "up_proj", du, linearBackward(g, spec, "gate_proj", dg, null))!;
  const dx2 = g.op1("Add", [rmsnormBackward(g, dn2, "X2", "WN2", "RSTD2", D, spec.weightGrads ? "DWN2" : null), "DOUT"]);
  // attention block: X2 = X + o(attention(rope(q(N1)), rope(k(N1)), v(N1)))
  const datt = linearBackward(g, spec, "o_proj", dx2, null)!;
  const t = (x: string) => g.op1("Transpose", [x], { perm: [0, 1, 3, 2] });
  const dO = toHeads(g, datt, H, hd);
  const dP = g.op1("MatMul", [dO, t(repeatKv(g, "VH", spec))]);
  const dvh = sumKvGroups(g, g.op1("MatMul", [t("P"), dO]), spec);
  // dS = P * (dP - rowsum(dP * P)) / sqrt(hd)
  const dot = g.op1("ReduceSum", [g.op1("Mul", [dP, "P"]), g.int64s([-1])], { keepdims: 1 });
  const dS = g.op1("Mul", [g.op1("Mul", ["P", g.op1("Sub", [dP, dot])]), g.float(1 / Math.sqrt(hd))]);
  const dqr = g.op1("MatMul", [dS, repeatKv(g, "KR", spec)]);
  const dkr = sumKvGroups(g, g.op1("MatMul", [t(dS), "QR"]), spec);
  const dq = fromHeads(g, rope(g, dqr, hd, true), H * hd);
  const dk = fromHeads(g, rope(g, dkr, hd, true), Hkv * hd);
  const dv = fromHeads(g, dvh, Hkv * hd);
  const needDx = spec.inputGrad;
  let dn1 = linearBackward(g, spec, "q_proj", dq, null, needDx);
  dn1 = linearBackward(g, spec, "k_proj", dk, dn1, needDx);
  dn1 = linearBackward(g, spec, "v_proj", dv, dn1, needDx);
  if (needDx) {
    const dx = g.op1("Add", [rmsnormBackward(g, dn1!, "X", "WN1", "RSTD1", D, spec.weightGrads ? "DWN1" : null), dx2]);
    g.output(dx, "DX", "float", ["N", D]);
  }
  return g.build();
}

/**
 * LM head + cross-entropy: X [N,D], W [V,D], TGT int64 [N,1] (ignored rows clamped to 0), WT [N,1]
 * (1 / normalizer on kept rows, 0 on ignored ones) -> NLL [N,1] = logsumexp(z) - z[tgt] with z = X W^T,
 * DX [N,D] = WT * softmax(z) W and, with `withDW`, DW [V,D] = softmax(z)^T (WT * X). The one-hot part
 * of the gradient (-WT at the target) is subtracted afterwards in JavaScript: one row of W (or X) per token.
 */
export function headLossModel(withDW: boolean): Uint8Array {
  const g = new OnnxGraph("head_loss");
  g.input("X", "float", ["N", "D"]);
  g.input("W", "float", ["V", "D"]);
  g.input("TGT", "int64", ["N", 1]);
  g.input("WT", "float", ["N", 1]);
  const z = g.op1("Gemm", ["X", "W"], { transB: 1 });
  const lse = g.op1("ReduceLogSumExp", [z, g.int64s([-1])], { keepdims: 1 });
  g.output(g.op1("Sub", [lse, g.op1("GatherElements", [z, "TGT"], { axis: 1 })]), "NLL", "float", ["N", 1]);
  const p = g.op1("Softmax", [z], { axis: -1 });
  g.output(g.op1("Mul", [g.op1("MatMul", [p, "W"]), "WT"]), "DX", "float", ["N", "D"]);
  if (withDW) g.output(g.op1("Gemm", [p, g.op1("Mul", ["X", "WT"])], { transA: 1 }), "DW", "float", ["V", "D"]);
  return g.build();
}

/** Per-batch tables the layer graphs read, built once per batch and reused by every layer. */
interface BatchTables {
  positions: Int32Array;
  segments: Int32Array | null;
  B: number;
  T: number;
  hd: number;
  cos: Float32Array;
  sin: Float32Array;
  mask: Float32Array;
  dims: BigInt64Array;
}

function batchTables(a: FusedLayerArgs): BatchTables {
  const { B, T, hd } = a.shape;
  const half = hd / 2;
  const cos = new Float32Array(B * T * hd);
  const sin = new Float32Array(B * T * hd);
  for (let n = 0; n < B * T; n++) {
    const p = a.positions[n];
    if (p >= a.rope.maxPos) throw new RangeError(`position ${p} beyond the RoPE table (${a.rope.maxPos})`);
    for (let i = 0; i < half; i++) {
      const c = a.rope.cos[p * half + i];
      const s = a.rope.sin[p * half + i];
      cos[n * hd + i] = c;
      cos[n * hd + i + half] = c;
      sin[n * hd + i] = -s;
      sin[n * hd + i + half] = s;
    }
  }
  // additive mask: 0 where row i may attend to column j (j <= i, same segment), -Infinity elsewhere
  const mask = new Float32Array(B * T * T).fill(-Infinity);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < T; i++) {
      const row = (b * T + i) * T;
      if (!a.segments) {
        mask.fill(0, row, row + i + 1);
        continue;
      }
      const si = a.segments[b * T + i];
      for (let j = 0; j <= i; j++) if (a.segments[b * T + j] === si) mask[row + j] = 0;
    }
  }
  return { positions: a.positions, segments: a.segments, B, T, hd, cos, sin, mask, dims: BigInt64Array.from([BigInt(B), BigInt(T)]) };
}

/** What the layer forward hands to its backward. */
interface LayerState {
  /** The forward's arguments without the weights (a quantized base is dequantized again for the backward, never kept). */
  args: Omit<FusedLayerArgs, "weights">;
  spec: LayerSpec;
  tables: BatchTables;
  saved: Record<string, Float32Array>;
}

function outputDims(spec: LayerSpec, name: string, B: number, T: number): number[] {
  const N = B * T;
  const { D, I, H, Hkv, hd } = spec;
  switch (name) {
    case "X3": case "N1": case "X2": case "N2": case "DX": case "DOUT": case "X": return [N, D];
    case "RSTD1": case "RSTD2": return [N, 1];
    case "QR": return [B, H, T, hd];
    case "KR": case "VH": return [B, Hkv, T, hd];
    case "P": return [B, H, T, T];
    case "ATT": return [N, H * hd];
    case "G": case "U": case "HACT": return [N, I];
  }
  if (name === "DWN1" || name === "DWN2") return [D];
  const p = name.slice(name.indexOf("_") + 1) as LayerProjection;
  const [o, i] = shapeOf(spec, p);
  const r = spec.lora[p]?.r ?? 0;
  if (name.startsWith("LH_")) return [N, r];
  if (name.startsWith("DW_")) return [o, i];
  if (name.startsWith("DA_")) return [r, i];
  if (name.startsWith("DB_")) return [o, r];
  throw new Error(`layer graph: no shape for ${name}`);
}

/**
 * The fused operations over onnxruntime. `session(key, model)` returns the (cached) session for a model;
 * the kernel owns the sessions and releases them.
 */
export function createOrtOps(ort: Ort, session: (key: string, model: () => Uint8Array) => Promise<Session>): FusedOps {
  const f32 = (data: Float32Array, dims: number[]) => new ort.Tensor("float32", data, dims);
  let tables: BatchTables | null = null;

  function weightFeeds(a: Omit<FusedLayerArgs, "weights">, weights: FusedLayerArgs["weights"], spec: LayerSpec, t: BatchTables): Record<string, Tensor> {
    const feeds: Record<string, Tensor> = {
      WN1: f32(a.inputNorm, [spec.D]),
      WN2: f32(a.postNorm, [spec.D]),
      COS: f32(t.cos, [t.B, 1, t.T, spec.hd]),
      SIN: f32(t.sin, [t.B, 1, t.T, spec.hd]),
      DIMS: new ort.Tensor("int64", t.dims, [2]),
    };
    const N = t.B * t.T;
    for (const p of LAYER_PROJECTIONS) {
      const [o, i] = shapeOf(spec, p);
      feeds[w(p)] = f32(weights[p], [o, i]);
      const l = a.lora[p];
      if (!l) continue;
      feeds[la(p)] = f32(l.A, [l.r, i]);
      feeds[lb(p)] = f32(l.B, [o, l.r]);
      if (l.mask) feeds[lm(p)] = f32(l.mask, [N, i]);
    }
    return feeds;
  }

  return {
    async layerForward(a: FusedLayerArgs): Promise<{ out: Float32Array; state: unknown }> {
      const { B, T, H, Hkv, hd } = a.shape;
      if (hd % 2 !== 0) throw new RangeError(`attention: head dim ${hd} must be even for RoPE`);
      const lora: LayerSpec["lora"] = {};
      for (const p of LAYER_PROJECTIONS) {
        const l = a.lora[p];
        if (l) lora[p] = { r: l.r, scale: l.scale, dropout: !!l.mask };
      }
      const spec: LayerSpec = { D: a.inputNorm.length, I: a.intermediate, H, Hkv, hd, eps: a.eps, lora, weightGrads: a.weightGrads, inputGrad: true };
      if (!tables || tables.positions !== a.positions || tables.segments !== a.segments || tables.B !== B || tables.T !== T || tables.hd !== hd) tables = batchTables(a);
      const t = tables;
      const s = await session(`layer-fw:${JSON.stringify(spec)}`, () => layerForwardModel(spec));
      const saved: Record<string, Float32Array> = {};
      const fetches: Record<string, Tensor> = {};
      for (const name of layerForwardOutputs(spec)) {
        const dims = outputDims(spec, name, B, T);
        saved[name] = new Float32Array(dims.reduce((x, y) => x * y, 1));
        fetches[name] = f32(saved[name], dims);
      }
      const feeds = weightFeeds(a, a.weights, spec, t);
      feeds.X = f32(a.x, [B * T, spec.D]);
      feeds.MASK = f32(t.mask, [B, 1, T, T]);
      await s.run(feeds, fetches);
      const out = saved.X3;
      delete saved.X3;
      const { weights: _, ...rest } = a;
      const state: LayerState = { args: rest, spec, tables: t, saved };
      return { out, state };
    },

    async layerBackward(dout: Float32Array, state: unknown, weights: FusedLayerArgs["weights"], grads: FusedLayerGrads): Promise<Float32Array | null> {
      const st = state as LayerState;
      const { args: a, tables: t } = st;
      const spec: LayerSpec = { ...st.spec, inputGrad: grads.inputGrad || st.spec.weightGrads };
      const s = await session(`layer-bw:${JSON.stringify(spec)}`, () => layerBackwardModel(spec));
      const { B, T } = t;
      const feeds = weightFeeds(a, weights, spec, t);
      feeds.DOUT = f32(dout, [B * T, spec.D]);
      feeds.X = f32(a.x, [B * T, spec.D]);
      for (const [name, data] of Object.entries(st.saved)) feeds[name] = f32(data, outputDims(spec, name, B, T));
      const outs: Record<string, Float32Array> = {};
      const want = (name: string) => {
        const dims = outputDims(spec, name, B, T);
        outs[name] = new Float32Array(dims.reduce((x, y) => x * y, 1));
      };
      if (spec.inputGrad) want("DX");
      for (const p of LAYER_PROJECTIONS) {
        if (spec.lora[p]) {
          want(`DA_${p}`);
          want(`DB_${p}`);
        }
        if (spec.weightGrads) want(`DW_${p}`);
      }
      if (spec.weightGrads) {
        want("DWN1");
        want("DWN2");
      }
      const fetches: Record<string, Tensor> = {};
      for (const [name, data] of Object.entries(outs)) fetches[name] = f32(data, outputDims(spec, name, B, T));
      await s.run(feeds, fetches);
      const add = (dst: Float32Array | null | undefined, src: Float32Array | undefined) => {
        if (!dst || !src) return;
        for (let i = 0; i < src.length; i++) dst[i] += src[i];
      };
      for (const p of LAYER_PROJECTIONS) {
        const g = grads.proj[p];
        if (!g) continue;
        add(g.dA, outs[`DA_${p}`]);
        add(g.dB, outs[`DB_${p}`]);
        add(g.dW, outs[`DW_${p}`]);
      }
      add(grads.dInputNorm, outs.DWN1);
      add(grads.dPostNorm, outs.DWN2);
      return outs.DX ?? null;
    },

    async headLoss(a: FusedHeadLossArgs): Promise<FusedHeadLossResult> {
      const { x, w: head, targets, vocab, normalizer } = a;
      const D = head.length / vocab;
      const N = targets.length;
      const tgt = new BigInt64Array(N);
      const wt = new Float32Array(N);
      let count = 0;
      for (let i = 0; i < N; i++) {
        const t = targets[i];
        if (t < 0) continue;
        if (t >= vocab) throw new RangeError(`target ${t} outside the vocabulary [0, ${vocab})`);
        tgt[i] = BigInt(t);
        wt[i] = 1 / normalizer;
        count++;
      }
      const withDW = !!a.dW;
      const s = await session(`head:${+withDW}`, () => headLossModel(withDW));
      const nll = new Float32Array(N);
      const dx = new Float32Array(N * D);
      const dW = withDW ? new Float32Array(vocab * D) : null;
      const fetches: Record<string, Tensor> = { NLL: f32(nll, [N, 1]), DX: f32(dx, [N, D]) };
      if (dW) fetches.DW = f32(dW, [vocab, D]);
      await s.run({ X: f32(x, [N, D]), W: f32(head, [vocab, D]), TGT: new ort.Tensor("int64", tgt, [N, 1]), WT: f32(wt, [N, 1]) }, fetches);
      let lossSum = 0;
      const c = 1 / normalizer;
      for (let i = 0; i < N; i++) {
        const t = targets[i];
        if (t < 0) continue;
        lossSum += nll[i];
        // the one-hot part of d logits: -1/normalizer at the target
        for (let j = 0, o = i * D, wo = t * D; j < D; j++) dx[o + j] -= c * head[wo + j];
        if (dW) for (let j = 0, o = i * D, wo = t * D; j < D; j++) dW[wo + j] -= c * x[o + j];
      }
      if (dW && a.dW) for (let i = 0; i < dW.length; i++) a.dW[i] += dW[i];
      return { lossSum, count, dx };
    },
  };
}
