// The trainer node's job progress (GET /v1/jobs/:id/events, SSE of JobEvent) folded into what the job
// page shows. The shapes are the trainer node's own (trainer-node/src/types.ts).

import type { JobEvent, JobProgress } from "@tributary/trainer-node/types";

export type { JobEvent, JobProgress };

export interface LiveJob {
  stage?: string;
  error?: string;
  reason?: string;
  progress?: JobProgress;
  loss: Array<{ x: number; y: number }>;
  evalLoss: Array<{ x: number; y: number }>;
}

export const EMPTY_LIVE: LiveJob = { loss: [], evalLoss: [] };

function upsert(points: Array<{ x: number; y: number }>, x: number, y: number) {
  const i = points.findIndex((p) => p.x === x);
  if (i >= 0) {
    const copy = points.slice();
    copy[i] = { x, y };
    return copy;
  }
  return [...points, { x, y }].sort((a, b) => a.x - b.x);
}

/** Applies one event for `jobId` (events of other jobs are ignored). */
export function applyJobEvent(live: LiveJob, e: JobEvent, jobId: string): LiveJob {
  if (e.type === "stage") {
    if (e.job.jobId !== jobId) return live;
    const j = e.job;
    let loss = live.loss;
    for (const p of j.lossHistory ?? []) loss = upsert(loss, p.step, p.loss);
    let evalLoss = live.evalLoss;
    for (const p of j.evalHistory ?? []) evalLoss = upsert(evalLoss, p.step, p.loss);
    return {
      stage: j.stage,
      error: j.error,
      reason: j.reason,
      progress: j.progress ?? live.progress,
      loss,
      evalLoss,
    };
  }
  if (e.jobId !== jobId) return live;
  const p = e.progress;
  return {
    ...live,
    stage: live.stage ?? "training",
    progress: p,
    loss: Number.isFinite(p.loss) ? upsert(live.loss, p.step, p.loss) : live.loss,
    evalLoss:
      p.evalLoss !== undefined && Number.isFinite(p.evalLoss)
        ? upsert(live.evalLoss, p.step, p.evalLoss)
        : live.evalLoss,
  };
}
