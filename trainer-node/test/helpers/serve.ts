// Helpers of the serving tests: an in-memory JobsView, an SSE reader, and adding a local directory to IPFS.
import { addFileSet } from "@tributary/sdk/files";
import { readdirSync } from "node:fs";
import type { KuboContentStore } from "@tributary/sdk/content";
import type { JobEvent, JobRecord, JobStage, JobsView } from "../../src/types.ts";

/** A real JobsView over a Map: set() replaces a record and emits its stage event; progress() emits progress. */
export class MemoryJobs implements JobsView {
  private readonly jobs = new Map<string, JobRecord>();
  private readonly listeners = new Set<(e: JobEvent) => void>();
  list(): JobRecord[] {
    return [...this.jobs.values()];
  }
  get(jobId: string): JobRecord | undefined {
    return this.jobs.get(jobId);
  }
  subscribe(listener: (e: JobEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  get listenerCount(): number {
    return this.listeners.size;
  }
  set(jobId: string, stage: JobStage, extra: Partial<JobRecord> = {}): JobRecord {
    const job: JobRecord = { ...(this.jobs.get(jobId) ?? { lossHistory: [], evalHistory: [], txs: {} }), jobId, stage, updatedAt: new Date().toISOString(), ...extra };
    this.jobs.set(jobId, job);
    for (const l of this.listeners) l({ type: "stage", job });
    return job;
  }
  progress(jobId: string, step: number, totalSteps: number): void {
    const progress = { step, totalSteps, loss: 1 / step, lr: 1e-3, tokensPerSec: 100, etaSec: totalSteps - step };
    const job = this.jobs.get(jobId);
    if (job) this.jobs.set(jobId, { ...job, progress });
    for (const l of this.listeners) l({ type: "progress", jobId, progress });
  }
}

export interface SseEvent {
  event?: string;
  data: string;
}

/** The events of an SSE response, as they arrive. */
export async function* sseEvents(res: Response): AsyncGenerator<SseEvent> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += value;
    let i: number;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const ev: SseEvent = { data: "" };
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) ev.event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (!data.length) continue; // a comment (keep-alive)
      ev.data = data.join("\n");
      yield ev;
    }
  }
}

/** Adds the files of a local (flat) directory to IPFS as a file set (@tributary/sdk/files); returns its CID. */
export async function addDirectory(store: KuboContentStore, dir: string, files = readdirSync(dir)): Promise<string> {
  return (await addFileSet(store, dir, { files })).cid;
}
