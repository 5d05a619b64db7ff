/**
 * Training-time attribution, TracIn-style (Pruthi et al. 2020) at the final adapter: the influence of a
 * contribution on the model is  lr x <grad of the eval loss, grad of the contribution's training loss>
 * on the LoRA parameters. Positive: training on it lowered the eval loss. Scores become integer weights
 * per contributor (negative ones earn nothing) committed as a Merkle root by the SDK's report builder.
 * Without eval records there is no eval gradient: the report is "uniform" (weight by records).
 */
import { buildAttributionReport } from "@tributary/sdk/merkle";
import type { AttributionTree } from "@tributary/sdk/merkle";
import type { AttributionReport } from "@tributary/sdk/schemas";
import { ChatTokenizer, encodeRecord, loadAdapter, loadModel, lossGradient } from "@tributary/engine";
import type { Kernel, TrainingRecord } from "@tributary/engine";
import type { JobContribution } from "./data.ts";

export interface AttributionInput {
  modelDir: string;
  adapterDir: string;
  quantize: boolean;
  kernel: Kernel;
  learningRate: number;
  maxSeqLen: number;
  /** Training records per contribution (after the eval split), in the same order as `contributions`. */
  trainRecords: TrainingRecord[][];
  evalRecords: TrainingRecord[];
  contributions: JobContribution[];
}

function dot(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let s = 0;
  for (const [k, x] of a) {
    const y = b.get(k);
    if (!y) continue;
    for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  }
  return s;
}

export async function attribute(o: AttributionInput, onContribution?: (done: number, total: number) => void): Promise<{ report: AttributionReport; tree: AttributionTree }> {
  const base = o.contributions.map((c) => ({ datanetId: c.datanetId, contributionId: c.contributionId, contributor: c.contributor, contentHash: c.contentHash }));
  if (o.evalRecords.length === 0) {
    return buildAttributionReport(base.map((c, i) => ({ ...c, score: o.trainRecords[i].length })), { method: "uniform" });
  }
  const model = await loadModel(o.modelDir, { kernel: o.kernel, quantize: o.quantize ? "nf4" : null });
  const tok = await ChatTokenizer.fromDir(o.modelDir);
  const adapter = await loadAdapter(o.adapterDir, model.config);
  const opts = { adapter, batchSize: 8, maxSeqLen: o.maxSeqLen };
  const evalGrad = await lossGradient(model, o.evalRecords.map((r) => encodeRecord(tok, r)), opts);
  const scored = [];
  for (let i = 0; i < base.length; i++) {
    const recs = o.trainRecords[i];
    let score = 0;
    if (recs.length) {
      const g = await lossGradient(model, recs.map((r) => encodeRecord(tok, r)), opts);
      // lossGradient averages over the contribution's tokens; TracIn sums over its examples
      score = o.learningRate * recs.length * dot(evalGrad.grads, g.grads);
    }
    scored.push({ ...base[i], score });
    onContribution?.(i + 1, base.length);
  }
  return buildAttributionReport(scored, { method: "tracin" });
}
