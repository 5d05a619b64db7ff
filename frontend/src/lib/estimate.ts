// The cost and time of a job before it is posted: tokens from the data's size and the settings, time from
// the training throughput active trainers publish in their profile (`throughput.flops`, training FLOP/s),
// counted as the trainer node's deadline check counts (trainer-node/src/jobs/pipeline.ts `checkDeadline`):
// data tokens = bytes / 3 (each record at most the max length), training tokens = data tokens x epochs x
// 1.1 (the eval passes), attribution = 3 checkpoints of per-record gradients at 1.5x the cost, 6 FLOPs per
// parameter per token. A trainer claims a job only when all of it fits in 60% of the deadline.

/** Bytes of JSONL per token for English BPE, as the node counts (a low guess errs long). */
export const BYTES_PER_TOKEN = 3;
/** Share of the deadline the node lets the estimated work fill before it refuses a job. */
export const DEADLINE_SHARE = 0.6;
/** Checkpoints the node attributes at (trainer-node/src/jobs/attribution.ts). */
export const ATTRIBUTION_CHECKPOINTS = 3;

export interface EstimateData {
  /** Bytes of the approved records the job trains on. */
  bytes: number;
  records: number;
}

export interface EstimateSettings {
  epochs: number;
  maxSeqLength: number;
  /** The base model's parameter count (its card). */
  parameters: number;
  /** Escrowed budget in OPEN wei, and the share (basis points) paid to the Datanets as data fees. */
  budgetWei?: bigint;
  dataFeeBps?: number;
  /** The deadline after a claim, in seconds. */
  durationSeconds?: number;
}

/** A trainer's published throughput (null: its profile has none). */
export interface TrainerSpeed {
  trainer: string;
  flops: number | null;
}

export interface JobEstimate {
  dataTokens: number;
  trainTokens: number;
  /** Training plus attribution work, in FLOPs. */
  flop: number;
  /** Seconds on the fastest and the slowest trainer that published a throughput; null when none did. */
  seconds: { fastest: number; slowest: number } | null;
  trainersMeasured: number;
  trainersTotal: number;
  /** Trainers whose estimate fits the node's deadline rule (60% of the duration). */
  trainersInTime: number | null;
  cost: { total: bigint; dataFees: bigint; trainer: bigint } | null;
}

/** Estimates a job; throws a sentence when the inputs cannot give one. */
export function estimateJob(data: EstimateData, s: EstimateSettings, trainers: TrainerSpeed[]): JobEstimate {
  if (!(s.parameters > 0))
    throw new Error("The base model's parameter count is unknown, so no time can be estimated.");
  if (!(s.epochs > 0) || !(s.maxSeqLength > 0)) throw new Error("Enter the epochs and max length first.");
  // every record is cut to the max length, so the data can be no longer than records x max length
  const dataTokens = Math.min(data.bytes / BYTES_PER_TOKEN, data.records * s.maxSeqLength);
  const trainTokens = dataTokens * s.epochs * 1.1;
  const flop = 6 * s.parameters * (trainTokens + dataTokens * ATTRIBUTION_CHECKPOINTS * 1.5);
  const speeds = trainers.map((t) => t.flops).filter((f): f is number => f !== null && f > 0);
  const seconds = speeds.length
    ? { fastest: flop / Math.max(...speeds), slowest: flop / Math.min(...speeds) }
    : null;
  const trainersInTime =
    s.durationSeconds !== undefined && speeds.length
      ? speeds.filter((f) => flop / f <= DEADLINE_SHARE * s.durationSeconds!).length
      : null;
  const cost =
    s.budgetWei !== undefined
      ? (() => {
          const dataFees = (s.budgetWei * BigInt(s.dataFeeBps ?? 0)) / 10_000n;
          return { total: s.budgetWei, dataFees, trainer: s.budgetWei - dataFees };
        })()
      : null;
  return {
    dataTokens: Math.round(dataTokens),
    trainTokens: Math.round(trainTokens),
    flop,
    seconds,
    trainersMeasured: speeds.length,
    trainersTotal: trainers.length,
    trainersInTime,
    cost,
  };
}

/** A trainer profile's published throughput (`throughput.flops`), or null when it has none. */
export function throughputOf(profile: unknown): number | null {
  const t = (profile as { throughput?: { flops?: unknown } } | null)?.throughput;
  return typeof t?.flops === "number" && Number.isFinite(t.flops) && t.flops > 0 ? t.flops : null;
}

/** "about 40 s", "about 3 min", "about 2.5 h" (estimates: two significant digits at most). */
export function formatEstimate(seconds: number): string {
  const round = (x: number) => Number(x.toPrecision(2));
  if (seconds < 90) return `about ${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 90 * 60) return `about ${round(seconds / 60)} min`;
  if (seconds < 48 * 3600) return `about ${round(seconds / 3600)} h`;
  return `about ${round(seconds / 86_400)} days`;
}

/** "12,345 tokens" / "1.2M tokens". */
export function formatTokens(n: number): string {
  if (n >= 1e6) return `${Number((n / 1e6).toPrecision(2))}M tokens`;
  return `${Math.round(n).toLocaleString("en-US")} tokens`;
}
