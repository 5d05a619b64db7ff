/** Merging an adapter into the base: W' = W + scale * B A, for export as a plain model. */
import { assembleModel } from "../model/llama.ts";
import type { LlamaLayer, LlamaModel } from "../model/llama.ts";
import { denseWeight } from "../nn/linear.ts";
import { PROJECTIONS, loraScale, moduleName, projectionShape } from "./adapter.ts";
import type { LoraAdapter, Projection } from "./adapter.ts";

/** A new model with the adapter folded into its projections (dense f32; the inputs are unchanged). */
export async function mergeAdapter(model: LlamaModel, adapter: LoraAdapter): Promise<LlamaModel> {
  const c = model.config;
  const s = loraScale(adapter.config);
  const r = adapter.config.r;
  const layers: LlamaLayer[] = [];
  for (let l = 0; l < c.numLayers; l++) {
    const src = model.layers[l];
    const proj = {} as LlamaLayer["proj"];
    for (const p of PROJECTIONS as readonly Projection[]) {
      const w = denseWeight(src.proj[p]);
      const m = adapter.modules.get(moduleName(l, p));
      if (!m) {
        proj[p] = w;
        continue;
      }
      const [outF, inF] = projectionShape(c, p);
      const ba = await model.kernel.matmul({ a: m.B, b: m.A, m: outF, n: inF, k: r }); // [out, in]
      const merged = new Float32Array(w.length);
      for (let i = 0; i < merged.length; i++) merged[i] = w[i] + s * ba[i];
      proj[p] = merged;
    }
    layers.push({ inputNorm: src.inputNorm, postNorm: src.postNorm, proj });
  }
  return assembleModel(c, { embed: model.embed, layers, norm: model.norm, lmHead: model.lmHead }, model.kernel);
}
