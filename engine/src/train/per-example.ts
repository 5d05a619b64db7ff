/**
 * Per-example LoRA gradients from a batched backward. A LoRA module's weight gradients are sums over the
 * batch's token rows of outer products (dB = Σ_t dy_t hs_tᵀ, dA = Σ_t dh_t xd_tᵀ; see nn/linear.ts), so
 * one example's gradient is the same sum over its own rows: the training step's backward yields every
 * example's gradient at the cost of splitting those sums, with no pass of its own (in-run attribution).
 *
 * The flat layout is `adapterParams(adapter)`'s order: per module lora_A [r, in] then lora_B [out, r].
 * Gradients are of the loss the backward was given (a micro-batch's summed token loss over its normalizer).
 */
import { EngineError } from "../errors.ts";
import { adapterParams } from "../lora/adapter.ts";
import type { LoraAdapter } from "../lora/adapter.ts";
import type { Batch, LoraTap } from "../model/llama.ts";

export class ExampleGradients {
  /** Length of one flat gradient (all adapter tensors). */
  readonly size: number;
  private readonly offsets = new Map<string, { a: number; b: number }>();
  private current = new Map<number, Float32Array>();
  private tmp = new Float64Array(0);

  constructor(adapter: LoraAdapter) {
    let at = 0;
    const params = adapterParams(adapter);
    for (const name of adapter.modules.keys()) {
      const a = at;
      at += params.get(`${name}.lora_A.weight`)!.length;
      this.offsets.set(name, { a, b: at });
      at += params.get(`${name}.lora_B.weight`)!.length;
    }
    this.size = at;
  }

  /** The tap for one batch's backward: its rows' factors are added to their examples' gradients. */
  tap(batch: Batch): LoraTap {
    const ex = batch.exampleOf;
    if (!ex) throw new EngineError("per-example gradients need the batch's exampleOf (batches from planBatches)", {});
    return (module, f) => {
      const off = this.offsets.get(module);
      if (!off) return;
      const { outF, inF, r, dy, hs, dh, xd } = f;
      if (this.tmp.length < r * outF) this.tmp = new Float64Array(r * outF);
      const tmp = this.tmp; // lora_B's gradient transposed, [r, out]: long contiguous inner loops
      for (let t0 = 0; t0 < f.n; ) {
        const e = ex[t0];
        let t1 = t0 + 1;
        while (t1 < f.n && ex[t1] === e) t1++; // an example's tokens are contiguous
        if (e >= 0) this.addRows(e, off, t0, t1, outF, inF, r, dy, hs, dh, xd, tmp);
        t0 = t1;
      }
    };
  }

  private addRows(e: number, off: { a: number; b: number }, t0: number, t1: number, outF: number, inF: number, r: number, dy: Float32Array, hs: Float32Array, dh: Float32Array, xd: Float32Array, tmp: Float64Array): void {
    let g: Float32Array | undefined;
    let anyB = false;
    for (let t = t0; t < t1; t++) {
      // a row without gradient (a masked example's, or one after the last target) adds nothing
      let nz = false;
      for (let o = t * outF, end = o + outF; o < end && !nz; o++) nz = dy[o] !== 0;
      if (!nz) continue;
      if (!g) {
        g = this.current.get(e);
        if (!g) this.current.set(e, (g = new Float32Array(this.size)));
        tmp.fill(0, 0, r * outF);
      }
      anyB = true;
      const y0 = t * outF;
      const x0 = t * inF;
      for (let j = 0; j < r; j++) {
        // lora_B [out, r] += dy_t hs_tᵀ, as tmp [r, out]
        const h = hs[t * r + j];
        if (h !== 0) {
          const b = j * outF;
          for (let o = 0; o < outF; o++) tmp[b + o] += h * dy[y0 + o];
        }
        // lora_A [r, in] += dh_t xd_tᵀ
        const d = dh[t * r + j];
        if (d !== 0) {
          const a = off.a + j * inF;
          for (let i = 0; i < inF; i++) g[a + i] += d * xd[x0 + i];
        }
      }
    }
    if (!g || !anyB) return;
    for (let j = 0; j < r; j++) for (let o = 0; o < outF; o++) g[off.b + o * r + j] += tmp[j * outF + o];
  }

  /** The gradients collected since the last take, by example index; then starts afresh. */
  take(): Map<number, Float32Array> {
    const out = this.current;
    this.current = new Map();
    return out;
  }
}
