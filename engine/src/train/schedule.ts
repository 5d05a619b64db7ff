/**
 * Learning-rate schedules as Hugging Face's get_scheduler computes them, for optimizer step
 * `step` (0-based) of `total`: linear warmup from 0 over `warmup` steps, then constant, linear decay
 * to 0, or half-cosine decay to 0.
 */
export type SchedulerType = "constant" | "linear" | "cosine";

export interface ScheduleOptions {
  type: SchedulerType;
  lr: number;
  warmupSteps: number;
  totalSteps: number;
}

export function learningRate(step: number, o: ScheduleOptions): number {
  if (step < o.warmupSteps) return (o.lr * step) / Math.max(1, o.warmupSteps);
  if (o.type === "constant") return o.lr;
  const progress = (step - o.warmupSteps) / Math.max(1, o.totalSteps - o.warmupSteps);
  if (o.type === "linear") return o.lr * Math.max(0, 1 - progress);
  return o.lr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}
