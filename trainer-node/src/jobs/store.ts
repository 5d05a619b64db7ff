/**
 * The node's job records: one JSON file per job under `<dir>/<jobId>.json`, written atomically (temporary
 * file, then rename), so a crash at any moment leaves either the old or the new record, never half of
 * one. Listeners get every stage change and every training progress report (the API streams them).
 * An operator's request about a job (`tributary-trainer jobs retry|abandon <id>`, from another process)
 * is a file next to the record, `<jobId>.<retry|abandon>`; the node acts on it at its next pass.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { JobEvent, JobProgress, JobRecord, JobsView } from "../types.ts";

/** What an operator can ask the node to do with one of its jobs. */
export type JobRequest = "retry" | "abandon";

export const TERMINAL_STAGES: ReadonlySet<JobRecord["stage"]> = new Set(["finalized", "failed", "skipped"]);

export class JobStore implements JobsView {
  private readonly records = new Map<string, JobRecord>();
  private readonly listeners = new Set<(e: JobEvent) => void>();
  private readonly dir: string;
  private writes: Promise<void> = Promise.resolve();

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Opens (creating when missing) the store in `dir` and loads every record in it. */
  static async open(dir: string): Promise<JobStore> {
    const s = new JobStore(dir);
    await mkdir(dir, { recursive: true });
    for (const f of await readdir(dir)) {
      if (!/^\d+\.json$/.test(f)) continue;
      try {
        const r = JSON.parse(await readFile(join(dir, f), "utf8")) as JobRecord;
        s.records.set(r.jobId, r);
      } catch (err) {
        throw new Error(`job record ${join(dir, f)} is not readable JSON (${(err as Error).message}); move it away to let the node start`, { cause: err });
      }
    }
    return s;
  }

  list(): JobRecord[] {
    return [...this.records.values()].sort((a, b) => Number(BigInt(a.jobId) - BigInt(b.jobId)));
  }

  get(jobId: string): JobRecord | undefined {
    return this.records.get(jobId);
  }

  subscribe(listener: (e: JobEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Creates the record of a job the node has not seen before (no-op when it exists). */
  async ensure(jobId: string): Promise<JobRecord> {
    return this.records.get(jobId) ?? this.update(jobId, { stage: "seen" });
  }

  /** Merges `patch` into the record, writes it and tells the listeners. */
  async update(jobId: string, patch: Partial<Omit<JobRecord, "jobId">>): Promise<JobRecord> {
    const prev = this.records.get(jobId) ?? { jobId, stage: "seen", updatedAt: "", lossHistory: [], evalHistory: [], txs: {} };
    const next: JobRecord = { ...prev, ...patch, jobId, txs: { ...prev.txs, ...patch.txs }, updatedAt: new Date().toISOString() };
    this.records.set(jobId, next);
    await this.persist(next);
    this.emit({ type: "stage", job: next });
    return next;
  }

  /** A training progress report: kept in memory and streamed; written with the next update. */
  progress(jobId: string, p: JobProgress): void {
    const r = this.records.get(jobId);
    if (!r) return;
    r.progress = p;
    r.lossHistory.push({ step: p.step, loss: p.loss });
    if (p.evalLoss !== undefined) r.evalHistory.push({ step: p.step, loss: p.evalLoss });
    this.emit({ type: "progress", jobId, progress: p });
  }

  private emit(e: JobEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // a listener's failure (a closed stream) must not stop the pipeline
      }
    }
  }

  private persist(r: JobRecord): Promise<void> {
    const file = join(this.dir, `${r.jobId}.json`);
    const body = `${JSON.stringify(r, null, 2)}\n`;
    // writes are serialized so that an older record never lands after a newer one
    this.writes = this.writes.then(async () => {
      const tmp = `${file}.tmp`;
      await writeFile(tmp, body);
      await rename(tmp, file);
    });
    return this.writes;
  }

  /** The operator's pending request of this kind about the job (its note), if any. */
  request(jobId: string, kind: JobRequest): { at: string; note?: string } | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir, `${jobId}.${kind}`), "utf8")) as { at: string; note?: string };
    } catch {
      return undefined;
    }
  }

  /** Files a request (the CLI; the running node picks it up at its next pass, or at its next start). */
  addRequest(jobId: string, kind: JobRequest, note?: string): void {
    const file = join(this.dir, `${jobId}.${kind}`);
    writeFileSync(`${file}.tmp`, JSON.stringify({ at: new Date().toISOString(), ...(note ? { note } : {}) }));
    renameSync(`${file}.tmp`, file);
  }

  clearRequest(jobId: string, kind: JobRequest): void {
    rmSync(join(this.dir, `${jobId}.${kind}`), { force: true });
  }

  /** Whether a record file exists for the job (tests, tooling). */
  has(jobId: string): boolean {
    return existsSync(join(this.dir, `${jobId}.json`));
  }
}
