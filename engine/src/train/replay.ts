/**
 * Replaying segments of a training run, as a verifier of the dispute game does (contracts/disputes,
 * docs/contracts.md "Dispute game"): from checkpoint j-1 (adapter, AdamW moments, step, dropout RNG, data
 * cursor: a folder `saveCheckpoint` wrote) — or from the run's start — run exactly the optimizer steps up to
 * checkpoint j with the job's data and options, and return
 *  - `stateHash`: `checkpointStateHash` of the state reached (the verdict: the run's `stateHash_j`), and
 *  - `witness`: a digest of the state hashes of every step inside the segment (`segmentWitness`). Only the
 *    checkpoints are published, never the states between them, so a verifier that did not replay cannot
 *    produce it (with a checkpoint interval of at least 2 steps).
 * Bit-exact on the `wasm` kernel: given the same start, data and options, every verifier gets the same pair.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { EngineError } from "../errors.ts";
import type { Kernel } from "../kernels/kernel.ts";
import { saveAdapter } from "../lora/peft.ts";
import { loadModel, readConfig } from "../model/io.ts";
import { ChatTokenizer } from "../model/tokenizer.ts";
import { checkpointStateHash } from "./checkpoint.ts";
import type { TrainerState } from "./checkpoint.ts";
import { encodeRecord } from "./data.ts";
import type { TrainingRecord } from "./data.ts";
import { fineTuneConfig } from "./fine-tune.ts";
import type { FineTuneOptions } from "./fine-tune.ts";
import { runMaxSeqLen, runPlan, train } from "./trainer.ts";

/** The state a replay reached at a segment's end. */
export interface ReplayedState {
  /** Optimizer step of the state. */
  step: number;
  /** `checkpointStateHash` of the state (what the run's checkpoint at this step must hash to). */
  stateHash: `0x${string}`;
  /** `segmentWitness` of the states of the steps since the previous boundary (or the start), this one included. */
  witness: `0x${string}`;
}

export interface ReplayOptions {
  modelDir: string;
  /** The records the run trained on and its eval records, exactly as `fineTune` got them. */
  records: TrainingRecord[];
  evalRecords: TrainingRecord[];
  method: FineTuneOptions["method"];
  /** The run's training options, as `fineTune` got them (checkpoint interval included: a resume checks them). */
  config: FineTuneOptions["config"];
  /** Replays are bit-exact on `wasm` only. */
  kernel: Kernel;
  /** The checkpoint folder to start from; null: the run's start (fresh adapter from the seed, step 0). */
  start: string | null;
  /**
   * Steps at which to report the state, ascending, above the start's step; the replay ends at the last. The last
   * may be `Infinity`: the run's end as the options and data define it (the last checkpoint must be the end of
   * the run, however many steps the trainer claims it holds).
   */
  boundaries: number[];
  /** Called at each boundary as it is reached; returning false ends the replay there. */
  onBoundary?: (s: ReplayedState) => boolean | void;
  /**
   * Writes the replayed checkpoints (at the run's checkpoint interval and its last step) into
   * `<outDir>/checkpoints`, and when the replay reaches the run's end the adapter (`saveAdapter`) into `outDir`:
   * what recomputing the run's result (adapter hash, attribution) at the last checkpoint reads.
   */
  outDir?: string;
  signal?: AbortSignal;
}

/** The witness of a segment: SHA-256 over the state hashes of its steps, in order. Returns 0x-hex (bytes32). */
export function segmentWitness(stepStates: readonly string[]): `0x${string}` {
  const h = createHash("sha256").update("tributary/segment-witness@1");
  for (const s of stepStates) h.update(Buffer.from(s.replace(/^0x/, ""), "hex"));
  return `0x${h.digest("hex")}`;
}

/**
 * Replays from `start` to each boundary in turn (see the file comment). Returns the states reached, one per
 * boundary (fewer when `onBoundary` ended the replay early). The start checkpoint contributes its state only
 * (tensors, moments, step, data cursor, RNG): the configuration it records is ignored, the given one is run.
 * Throws when the run ends before a boundary.
 */
export async function replaySegments(o: ReplayOptions): Promise<ReplayedState[]> {
  if (o.boundaries.length === 0) throw new EngineError("a replay needs at least one boundary step");
  for (let i = 1; i < o.boundaries.length; i++) {
    if (!(o.boundaries[i] > o.boundaries[i - 1])) throw new EngineError("replay boundaries must be ascending", { boundaries: o.boundaries });
  }
  let startStep = 0;
  if (o.start) startStep = (JSON.parse(await readFile(join(o.start, "trainer_state.json"), "utf8")) as TrainerState).step;
  if (!(o.boundaries[0] > startStep)) throw new EngineError("the first replay boundary must come after the start checkpoint", { start: startStep, first: o.boundaries[0] });
  const model = await loadModel(o.modelDir, { kernel: o.kernel, quantize: o.method === "qlora" ? "nf4" : null });
  const tok = await ChatTokenizer.fromDir(o.modelDir);
  // as fineTune builds it; the start's own record of its configuration is not trusted (`replay`): the job's is run
  const config = fineTuneConfig(o);
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  o.signal?.addEventListener("abort", onAbort);
  const out: ReplayedState[] = [];
  let steps: string[] = [];
  let next = 0;
  try {
    const result = await train({
      model,
      train: o.records.map((r) => encodeRecord(tok, r)),
      eval: o.evalRecords.map((r) => encodeRecord(tok, r)),
      config,
      resume: o.start ?? undefined,
      replay: true,
      checkpointDir: o.outDir ? join(o.outDir, "checkpoints") : undefined,
      stopAfterSteps: o.boundaries[o.boundaries.length - 1],
      signal: stop.signal,
      afterStep: ({ params, opt, state, totalSteps }) => {
        if (next >= o.boundaries.length) return;
        steps.push(checkpointStateHash(params, opt, state));
        const b = o.boundaries[next];
        if (state.step !== b && !(b === Infinity && state.step === totalSteps)) return;
        const s: ReplayedState = { step: state.step, stateHash: steps[steps.length - 1] as `0x${string}`, witness: segmentWitness(steps) };
        out.push(s);
        steps = [];
        next++;
        if (o.onBoundary?.(s) === false) {
          next = o.boundaries.length;
          stop.abort();
        }
      },
    });
    o.signal?.throwIfAborted();
    if (out.length < o.boundaries.length && next < o.boundaries.length) {
      throw new EngineError("the run ended before the replay's last boundary", { steps: result.totalSteps, boundary: o.boundaries[next] }, "Replay to a step the run reaches");
    }
    if (o.outDir && result.adapter && result.steps === result.totalSteps) await saveAdapter(o.outDir, result.adapter, { model: model.config });
  } finally {
    o.signal?.removeEventListener("abort", onAbort);
  }
  return out;
}

/**
 * The optimizer steps of the run the options and data define (as `train` plans it: no weights are loaded): the step
 * a replay to `Infinity` ends at. A checkpoint that claims a later step is not a state of this run.
 */
export async function runSteps(o: Pick<ReplayOptions, "modelDir" | "records" | "method" | "config">): Promise<number> {
  const tok = await ChatTokenizer.fromDir(o.modelDir);
  const config = fineTuneConfig(o);
  const maxPos = Math.min((await readConfig(o.modelDir)).maxPositionEmbeddings, 1 << 16); // as the model's rope caps it
  return runPlan(o.records.map((r) => encodeRecord(tok, r)), config, runMaxSeqLen(config, maxPos)).totalSteps;
}

/** Replays one segment: from checkpoint `start` (null: the run's start) to step `endStep` (`Infinity`: the run's end). */
export async function replaySegment(o: Omit<ReplayOptions, "boundaries" | "onBoundary"> & { endStep: number }): Promise<ReplayedState> {
  const [s] = await replaySegments({ ...o, boundaries: [o.endStep] });
  return s;
}
