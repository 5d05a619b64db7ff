/**
 * Citations for the models this node trained: the job folder holds the job's verified training data, so
 * the node indexes the text each record teaches (assistant turns, completions, plain text) with the base
 * model's tokenizer and looks completions up in it (serve/citations.ts). Every cited span is appended to
 * `<dataDir>/usage.jsonl` (model, contribution, contributor, tokens): the per-contribution usage that an
 * epoch-based distribution reads. Models trained elsewhere have no local data and get no citations.
 */
import { existsSync } from "node:fs";
import { appendFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ChatTokenizer, TrainingRecord } from "@tributary/engine";
import { CitationIndex } from "../serve/citations.ts";
import type { ServedModel } from "../types.ts";
import type { JobContribution } from "./data.ts";
import type { JobStore } from "./store.ts";

export interface Citation {
  datanet_id: string;
  contribution_id: string;
  contributor: string;
  /** The cited span of the completion and its length in tokens. */
  text: string;
  tokens: number;
}

function taughtText(r: TrainingRecord): string[] {
  if ("messages" in r) return r.messages.filter((m) => m.role === "assistant").map((m) => m.content);
  if ("completion" in r) return [r.completion];
  return [r.text];
}

export function citationProvider(o: {
  jobs: JobStore;
  dataDir: string;
  tokenizer: (model: ServedModel) => Promise<ChatTokenizer>;
  /** Shortest span worth citing, in tokens (default 6). */
  minTokens?: number;
}): (model: ServedModel, ids: number[]) => Promise<Citation[] | null> {
  const indexes = new Map<string, Promise<CitationIndex | null>>();
  const minTokens = o.minTokens ?? 6;
  const indexFor = (model: ServedModel) => {
    const key = model.modelId!;
    let p = indexes.get(key);
    if (!p) {
      p = (async () => {
        const job = o.jobs.list().find((j) => j.modelId === key);
        const file = job && join(o.dataDir, "jobs", job.jobId, "data.json");
        if (!file || !existsSync(file)) return null;
        const tok = await o.tokenizer(model);
        const data = JSON.parse(await readFile(file, "utf8")) as JobContribution[];
        return CitationIndex.build(
          data.flatMap((c) =>
            c.records.flatMap(taughtText).map((t) => ({ ids: tok.encode(t), source: { datanetId: c.datanetId, contributionId: c.contributionId, contributor: c.contributor } })),
          ),
        );
      })();
      indexes.set(key, p);
      p.catch(() => indexes.delete(key));
    }
    return p;
  };
  return async (model, ids) => {
    if (!model.modelId) return null;
    const index = await indexFor(model);
    if (!index) return null;
    const tok = await o.tokenizer(model);
    const spans = index.find(ids, minTokens);
    const citations = spans.map((s) => ({
      datanet_id: s.source.datanetId,
      contribution_id: s.source.contributionId,
      contributor: s.source.contributor,
      text: tok.decode(ids.slice(s.start, s.end)),
      tokens: s.end - s.start,
    }));
    if (citations.length) {
      const at = new Date().toISOString();
      await appendFile(join(o.dataDir, "usage.jsonl"), citations.map((c) => JSON.stringify({ at, model_id: model.modelId, datanet_id: c.datanet_id, contribution_id: c.contribution_id, contributor: c.contributor, tokens: c.tokens })).join("\n") + "\n");
    }
    return citations;
  };
}
