/**
 * The fast elementwise ops in WebAssembly SIMD (engine/assembly/elementwise.ts): SwiGLU's sigmoid and
 * cross-entropy's row exps through the polynomial exp of nn/fast-math.ts, two f64 lanes at a time.
 * Each result is bit-identical to the TypeScript fast path (same operations, same f32 roundings, sums in
 * element order); the module only makes it cheaper (~1 ns instead of ~7-10 ns per exp, plus the copies).
 * It is loaded by the fast kernels when they are created (`loadElementwise`); until then, or where it
 * cannot be compiled, the TypeScript fast path runs and gives the same numbers.
 */
import { loadElementwiseModule } from "./wasm-build.ts";
import { WebAssemblyApi } from "./wasm-api.ts";

interface Exports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  expArray(x: number, y: number, n: number): void;
  swiglu(g: number, u: number, h: number, sig: number, n: number): void;
  expRow(z: number, n: number): number;
  scaleRow(z: number, n: number, c: number): void;
  rowMax: { value: number };
  bgmv(x: number, y: number, tab: number, R: number, inF: number, Rg: number, outTot: number, proj: number, nP: number, h: number): void;
  attnRow(q: number, k: number, v: number, out: number, qp: number, sc: number, len: number, H: number, Hkv: number, hd: number, scale: number): void;
}

/** Where the buffers start in the module's memory (after its static data). */
const BASE = 65536;

export interface Elementwise {
  /** exp of each value (f64), for the tests. */
  exp(x: Float64Array): Float64Array;
  /** As swigluForward's fast path. */
  swiglu(g: Float32Array, u: Float32Array, h: Float32Array, sig: Float32Array): void;
  /**
   * Cross-entropy rows in place (rows of `vocab` logits, vocab even): for each listed row, z <- exp(z - max)
   * as f32; returns max and the f64 sum per listed row. Then `scale` multiplies a row by c.
   */
  expRows(z: Float32Array, rows: Int32Array, vocab: number): { max: Float64Array; sum: Float64Array };
  scaleRows(z: Float32Array, rows: Int32Array, vocab: number, c: Float64Array): void;
  /**
   * As nn/attention.ts attentionDecodeRows (same bits); only for H / Hkv even and hd a multiple of 4
   * (the caller checks `attentionRowsFit`).
   */
  attentionRows(q: Float32Array, rows: readonly { qRow: number; k: Float32Array; v: Float32Array; len: number }[], H: number, Hkv: number, hd: number, out: Float32Array): void;
}

/** Whether Elementwise.attentionRows takes this head layout. */
export function attentionRowsFit(H: number, Hkv: number, hd: number): boolean {
  return H % Hkv === 0 && (H / Hkv) % 2 === 0 && hd % 4 === 0;
}

let instance: Elementwise | null = null;
let compiled: unknown = null;
let loraInstance: LoraRows | null = null;
let loading: Promise<Elementwise | null> | null = null;

/** The loaded module, or null (not loaded yet, or unavailable here). */
export function elementwise(): Elementwise | null {
  return instance;
}

/** Loads (once) the module; resolves to null, never rejects, where it cannot be compiled. */
export function loadElementwise(): Promise<Elementwise | null> {
  loading ??= loadElementwiseModule().then(
    (module) => {
      compiled = module;
      instance = wrap(instantiate(module));
      return instance;
    },
    () => null,
  );
  return loading;
}

function instantiate(module: unknown): Exports {
  const inst = new (WebAssemblyApi.Instance as unknown as new (m: unknown, i: object) => { exports: unknown })(module, {
    env: { abort: () => { throw new Error("wasm elementwise aborted"); }, exp: Math.exp },
  });
  return inst.exports as Exports;
}

/** One row group's LoRA layout: per projection its rank (max over the rows' adapters) and outputs. */
export interface LoraLayout {
  ranks: readonly number[];
  outs: readonly number[];
}

/** An adapter's weights for one layout (see model/llama.ts loraBlock): At [inF, Rg], B each projection's [rank, out] in turn. */
export interface LoraRowBlock {
  At: Float32Array;
  Bc: Float32Array;
}

/**
 * Per-row LoRA products in wasm SIMD (the `ort` kernel's batched decoding with many adapters), on a second
 * instance of the module whose memory keeps the adapters' weights (uploaded once per block; when the arena
 * passes its cap it is emptied and refilled on use), so a step copies only the rows' inputs and outputs.
 */
export interface LoraRows {
  /** Whether `fits` can run this layout (Rg a multiple of 4 after padding, outputs multiples of 4). */
  fits(layout: LoraLayout): boolean;
  /** d [R, outTot] = each listed row's LoRA outputs: x rows `rows` of [*, inF], blocks[j] the weights of row j. */
  run(x: Float32Array, inF: number, rows: readonly number[], blocks: readonly LoraRowBlock[], layout: LoraLayout, rg: number): Float32Array;
}

/** Bytes of adapter weights the LoRA arena keeps before it starts over. */
const LORA_ARENA_BYTES = 512 * 2 ** 20;

/** The per-row LoRA runner, or null until loadElementwise has loaded the module (or where it cannot). */
export function loraRows(): LoraRows | null {
  if (loraInstance || !compiled) return loraInstance;
  const w = instantiate(compiled);
  let f32 = new Float32Array(w.memory.buffer);
  let i32 = new Int32Array(w.memory.buffer);
  let u32 = new Uint32Array(w.memory.buffer);
  const ensure = (end: number) => {
    const have = w.memory.buffer.byteLength;
    if (end > have) w.memory.grow(Math.ceil((end - have) / 65536));
    if (f32.buffer !== w.memory.buffer) {
      f32 = new Float32Array(w.memory.buffer);
      i32 = new Int32Array(w.memory.buffer);
      u32 = new Uint32Array(w.memory.buffer);
    }
  };
  let placed = new WeakMap<LoraRowBlock, number>();
  let top = BASE;
  const place = (b: LoraRowBlock): number => {
    let at = placed.get(b);
    if (at !== undefined) return at;
    at = top;
    ensure(at + 4 * (b.At.length + b.Bc.length));
    f32.set(b.At, at / 4);
    f32.set(b.Bc, at / 4 + b.At.length);
    top = at + 4 * (b.At.length + b.Bc.length);
    placed.set(b, at);
    return at;
  };
  loraInstance = {
    fits: ({ outs }) => outs.every((o) => o % 4 === 0),
    run(x, inF, rows, blocks, { ranks, outs }, rg) {
      const R = rows.length;
      const outTot = outs.reduce((s, o) => s + o, 0);
      const bytes = blocks.reduce((s, b) => s + 4 * (b.At.length + b.Bc.length), 0);
      if (top + bytes > BASE + LORA_ARENA_BYTES) {
        placed = new WeakMap();
        top = BASE;
      }
      const tab: number[] = [];
      for (const b of blocks) {
        const at = place(b);
        tab.push(at, at + 4 * b.At.length);
      }
      // scratch above the arena: x rows, table, projections, h, y
      const x0 = top;
      const tab0 = x0 + 4 * R * inF;
      const proj0 = tab0 + 8 * R;
      const h0 = proj0 + 16 * ranks.length;
      const y0 = h0 + 4 * rg;
      ensure(y0 + 4 * R * outTot);
      rows.forEach((r, j) => f32.set(x.subarray(r * inF, (r + 1) * inF), x0 / 4 + j * inF));
      for (let j = 0; j < tab.length; j++) u32[tab0 / 4 + j] = tab[j];
      for (let i = 0, ro = 0, oo = 0; i < ranks.length; ro += ranks[i], oo += outs[i], i++) i32.set([ro, ranks[i], oo, outs[i]], proj0 / 4 + 4 * i);
      w.bgmv(x0, y0, tab0, R, inF, rg, outTot, proj0, ranks.length, h0);
      return f32.slice(y0 / 4, y0 / 4 + R * outTot);
    },
  };
  return loraInstance;
}

function wrap(w: Exports): Elementwise {
  let f32 = new Float32Array(w.memory.buffer);
  const ensure = (bytes: number) => {
    const have = w.memory.buffer.byteLength;
    if (BASE + bytes > have) w.memory.grow(Math.ceil((BASE + bytes - have) / 65536));
    if (f32.buffer !== w.memory.buffer) f32 = new Float32Array(w.memory.buffer);
  };
  const pad = (n: number) => (n + 3) & ~3;
  return {
    exp(x) {
      const n = pad(x.length);
      ensure(n * 16);
      const f64 = new Float64Array(w.memory.buffer);
      f64.set(x, BASE / 8);
      w.expArray(BASE, BASE + n * 8, n);
      return f64.slice(BASE / 8 + n, BASE / 8 + n + x.length);
    },
    swiglu(g, u, h, sig) {
      const n = g.length;
      const p = pad(n);
      ensure(p * 16);
      const gp = BASE, up = gp + p * 4, hp = up + p * 4, sp = hp + p * 4;
      f32.set(g, gp / 4);
      f32.set(u, up / 4);
      w.swiglu(gp, up, hp, sp, n);
      h.set(f32.subarray(hp / 4, hp / 4 + n));
      sig.set(f32.subarray(sp / 4, sp / 4 + n));
    },
    expRows(z, rows, vocab) {
      // one row at a time through a small window: no copy of the whole logits matrix
      ensure(vocab * 4);
      const max = new Float64Array(rows.length);
      const sum = new Float64Array(rows.length);
      for (let r = 0; r < rows.length; r++) {
        const o = rows[r] * vocab;
        f32.set(z.subarray(o, o + vocab), BASE / 4);
        sum[r] = w.expRow(BASE, vocab);
        max[r] = w.rowMax.value;
        z.set(f32.subarray(BASE / 4, BASE / 4 + vocab), o);
      }
      return { max, sum };
    },
    attentionRows(q, rows, H, Hkv, hd, out) {
      const qw = H * hd;
      const kvw = Hkv * hd;
      let maxLen = 0;
      for (const r of rows) if (r.len > maxLen) maxLen = r.len;
      // [q | out | qp (hd f64x2) | sc (2 maxLen f64) | k | v]
      const qp0 = BASE + 8 * qw;
      const sc0 = qp0 + 16 * hd;
      const k0 = sc0 + 16 * maxLen;
      const v0 = k0 + 4 * maxLen * kvw;
      ensure(v0 - BASE + 4 * maxLen * kvw);
      const scale = 1 / Math.sqrt(hd);
      for (const { qRow, k, v, len } of rows) {
        f32.set(q.subarray(qRow * qw, (qRow + 1) * qw), BASE / 4);
        f32.set(k.subarray(0, len * kvw), k0 / 4);
        f32.set(v.subarray(0, len * kvw), v0 / 4);
        w.attnRow(BASE, k0, v0, BASE + 4 * qw, qp0, sc0, len, H, Hkv, hd, scale);
        out.set(f32.subarray((BASE + 4 * qw) / 4, (BASE + 8 * qw) / 4), qRow * qw);
      }
    },
    scaleRows(z, rows, vocab, c) {
      ensure(vocab * 4);
      for (let r = 0; r < rows.length; r++) {
        const o = rows[r] * vocab;
        f32.set(z.subarray(o, o + vocab), BASE / 4);
        w.scaleRow(BASE, vocab, c[r]);
        z.set(f32.subarray(BASE / 4, BASE / 4 + vocab), o);
      }
    },
  };
}
