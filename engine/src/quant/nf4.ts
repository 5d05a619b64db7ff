/**
 * NF4 (4-bit NormalFloat) blockwise quantization with double-quantized scales, after the QLoRA paper:
 *  - weights in blocks of 64; each value stores the index of the nearest of 16 NF4 levels to
 *    x / absmax(block), two indices per byte;
 *  - the per-block absmax values are themselves quantized ("double quantization"): their mean is
 *    subtracted, then each group of 256 is stored as int8 codes with one f32 scale per group.
 *    (bitsandbytes uses an 8-bit dynamic float map for this step; a linear int8 map is used here,
 *    whose error is far below the NF4 error it scales.)
 * Storage: 0.5 + 1/64 + 4/(64*256) ~= 0.516 bytes per parameter.
 */
import type { WeightSource } from "../nn/linear.ts";

/** The 16 NF4 levels (quantiles of N(0, 1) normalised to [-1, 1], with an exact zero). */
export const NF4_LEVELS = new Float32Array([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
  -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
  0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
  0.7229568362236023, 1.0,
]);
const MIDPOINTS = NF4_LEVELS.slice(1).map((v, i) => (v + NF4_LEVELS[i]) / 2);

export const NF4_BLOCK = 64;
export const ABSMAX_BLOCK = 256;

export class Nf4Tensor implements WeightSource {
  readonly rows: number;
  readonly cols: number;
  readonly codes: Uint8Array; // ceil(n / 2) bytes, even index in the low nibble
  readonly absmaxCodes: Int8Array; // one per block of 64
  readonly absmaxScales: Float32Array; // one per group of 256 blocks
  readonly absmaxOffset: number;

  constructor(rows: number, cols: number, codes: Uint8Array, absmaxCodes: Int8Array, absmaxScales: Float32Array, absmaxOffset: number) {
    this.rows = rows;
    this.cols = cols;
    this.codes = codes;
    this.absmaxCodes = absmaxCodes;
    this.absmaxScales = absmaxScales;
    this.absmaxOffset = absmaxOffset;
  }

  get byteLength(): number {
    return this.codes.byteLength + this.absmaxCodes.byteLength + this.absmaxScales.byteLength + 4;
  }

  /** The dense [rows, cols] matrix. */
  dequantize(): Float32Array {
    return this.dequantizeRange(0, this.rows * this.cols);
  }

  /** Flat elements [start, end) (e.g. a few embedding rows). */
  dequantizeRange(start: number, end: number): Float32Array {
    const out = new Float32Array(end - start);
    for (let b = Math.floor(start / NF4_BLOCK); b * NF4_BLOCK < end; b++) {
      const scale = (this.absmaxCodes[b] * this.absmaxScales[Math.floor(b / ABSMAX_BLOCK)]) / 127 + this.absmaxOffset;
      const hi = Math.min(end, (b + 1) * NF4_BLOCK);
      for (let i = Math.max(start, b * NF4_BLOCK); i < hi; i++) {
        const byte = this.codes[i >> 1];
        const code = i & 1 ? byte >> 4 : byte & 15;
        out[i - start] = NF4_LEVELS[code] * scale;
      }
    }
    return out;
  }
}

function nearestLevel(x: number): number {
  let lo = 0;
  let hi = MIDPOINTS.length; // answer in [0, 15]
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x > MIDPOINTS[mid]) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// quantize: w [rows, cols] -> Nf4Tensor
export function quantizeNf4(w: Float32Array, rows: number, cols: number): Nf4Tensor {
  const n = rows * cols;
  if (w.length !== n) throw new RangeError(`quantizeNf4: ${w.length} values for a ${rows}x${cols} matrix`);
  const nb = Math.ceil(n / NF4_BLOCK);
  const absmax = new Float64Array(nb);
  for (let b = 0; b < nb; b++) {
    let m = 0;
    const end = Math.min(n, (b + 1) * NF4_BLOCK);
    for (let i = b * NF4_BLOCK; i < end; i++) m = Math.max(m, Math.abs(w[i]));
    absmax[b] = m;
  }
  // double quantization of the block scales
  let mean = 0;
  for (let b = 0; b < nb; b++) mean += absmax[b];
  const offset = Math.fround(mean / nb);
  const ng = Math.ceil(nb / ABSMAX_BLOCK);
  const scales = new Float32Array(ng);
  const qabs = new Int8Array(nb);
  for (let g = 0; g < ng; g++) {
    let m = 0;
    const end = Math.min(nb, (g + 1) * ABSMAX_BLOCK);
    for (let b = g * ABSMAX_BLOCK; b < end; b++) m = Math.max(m, Math.abs(absmax[b] - offset));
    scales[g] = m;
    for (let b = g * ABSMAX_BLOCK; b < end; b++) qabs[b] = m > 0 ? Math.round(((absmax[b] - offset) / scales[g]) * 127) : 0;
  }
  // codes against the scale the dequantizer will actually use
  const codes = new Uint8Array(Math.ceil(n / 2));
  for (let b = 0; b < nb; b++) {
    const scale = (qabs[b] * scales[Math.floor(b / ABSMAX_BLOCK)]) / 127 + offset;
    const inv = scale > 0 ? 1 / scale : 0;
    const end = Math.min(n, (b + 1) * NF4_BLOCK);
    for (let i = b * NF4_BLOCK; i < end; i++) {
      const code = nearestLevel(w[i] * inv);
      codes[i >> 1] |= i & 1 ? code << 4 : code;
    }
  }
  return new Nf4Tensor(rows, cols, codes, qabs, scales, offset);
}
