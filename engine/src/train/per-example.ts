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
      for (let t = 0; t < f.n; t++) {
        const e = ex[t];
        if (e < 0) continue;
        let any = false;
        for (let j = 0; j < r && !any; j++) any = dh[t * r + j] !== 0;
        if (!any) {
          for (let o = 0; o < outF && !any; o++) any = dy[t * outF + o] !== 0;
          if (!any) continue; // a row without gradient (masked example, or after the last target)
        }
        let g = this.current.get(e);
        if (!g) this.current.set(e, (g = new Float32Array(this.size)));
        // lora_B [out, r] += dy_t hs_tᵀ
        const h0 = t * r;
        for (let o = 0; o < outF; o++) {
          const d = dy[t * outF + o];
          if (d === 0) continue;
          const base = off.b + o * r;
          for (let j = 0; j < r; j++) g[base + j] += d * hs[h0 + j];
        }
        // lora_A [r, in] += dh_t xd_tᵀ
        const x0 = t * inF;
        for (let j = 0; j < r; j++) {
          const d = dh[h0 + j];
          if (d === 0) continue;
          const base = off.a + j * inF;
          for (let i = 0; i < inF; i++) g[base + i] += d * xd[x0 + i];
        }
      }
    };
  }

  /** The gradients collected since the last take, by example index; then starts afresh. */
  take(): Map<number, Float32Array> {
    const out = this.current;
    this.current = new Map();
    return out;
  }
}
