/**
 * Loss and gradient of a set of examples without an optimizer step: the building block for
 * influence-style data attribution (TracIn: learning rate x <grad of eval loss, grad of a
 * contribution's loss> on the adapter parameters) and for diagnostics.
 */
import { adapterParams } from "../lora/adapter.ts";
import type { LoraAdapter } from "../lora/adapter.ts";
import { lossBackward, trainableBaseParams } from "../model/llama.ts";
import type { LlamaModel } from "../model/llama.ts";
import { countTargets, planBatches } from "./data.ts";
import type { Example } from "./data.ts";

export interface LossGradient {
  /** Mean loss over all target tokens of the examples. */
  loss: number;
  tokens: number;
  /** d loss / d parameter, by tensor name (adapter tensors, or every base tensor without an adapter). */
  grads: Map<string, Float32Array>;
}

export async function lossGradient(
  model: LlamaModel,
  examples: Example[],
  opts: { adapter?: LoraAdapter | null; batchSize?: number; maxSeqLen?: number } = {},
): Promise<LossGradient> {
  const adapter = opts.adapter ?? null;
  const params = adapter ? adapterParams(adapter) : trainableBaseParams(model);
  const grads = new Map([...params].map(([k, v]) => [k, new Float32Array(v.length)]));
  const batches = planBatches(examples, { batchSize: opts.batchSize ?? 8, maxSeqLen: opts.maxSeqLen ?? Math.min(2048, model.rope.maxPos), pack: false, seed: 0, epochs: 1, shuffle: false });
  const tokens = batches.reduce((s, b) => s + countTargets(b), 0);
  let lossSum = 0;
  for (const b of batches) {
    lossSum += (await lossBackward(model, b, tokens, grads, { adapter })).lossSum;
  }
  return { loss: lossSum / tokens, tokens, grads };
}
