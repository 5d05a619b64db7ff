// Shared by the torch backend's offline-command tests (torch-backend.test.ts, torch-distributed.test.ts): random
// tiny models made by transformers (Llama, Qwen2 with q/k/v biases, Gemma) with the demo model's tokenizer, Q&A
// records they memorise, and the offline command `tributary-trainer train --backend torch`.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { torchUnavailable } from "../../src/backends/torch-worker.ts";
import { FIXTURES, makeTinyModels } from "./tiny-models.ts";

export const run = promisify(execFile);
export const CLI = fileURLToPath(new URL("../../bin/tributary-trainer.ts", import.meta.url));
export { FIXTURES };
const TOKENIZER_DIR = fileURLToPath(new URL("../../../engine/models/tributary-austen-4m", import.meta.url));
export const ARCHS = ["llama", "qwen2", "gemma"] as const;

export const qa: Array<[string, string]> = [
  ["What colour is the sky over Pemberley?", "Blue and wide."],
  ["Who wrote the letter?", "Mr Darcy wrote it."],
  ["Where is Longbourn?", "In Hertfordshire."],
];
export const chat = (q: string, a?: string) => ({ messages: [{ role: "user", content: q }, ...(a ? [{ role: "assistant", content: a }] : [])] });

// LoRA on every linear layer; settings under which a 2-layer random model memorizes three answers
export const TRAIN_ARGS = ["--targets", "all-linear", "--epochs", "25", "--lr", "0.01", "--batch-size", "1", "--eval-split", "0", "--seed", "7", "--threads", "1", "--dropout", "0", "--warmup-ratio", "0.05", "--max-seq-len", "64", "--json"];

export type Event = { type: string; step?: number; loss?: number; [k: string]: unknown };

/** Runs the offline command; returns its JSON events. */
export async function train(args: string[]): Promise<Event[]> {
  const { stdout } = await run(process.execPath, [CLI, "train", "--backend", "torch", ...args], { maxBuffer: 64 << 20 });
  return stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Event);
}

export const lossCurve = async (out: string) =>
  (JSON.parse(await readFile(join(out, "metrics.json"), "utf8")) as { lossHistory: Array<{ step: number; loss: number }> }).lossHistory;

export function assertCurvesClose(got: Array<{ step: number; loss: number }>, want: Array<{ step: number; loss: number }>, rel: number, what: string) {
  assert.deepEqual(got.map((p) => p.step), want.map((p) => p.step), `${what}: steps`);
  got.forEach((p, i) => assert.ok(Math.abs(p.loss - want[i].loss) <= rel * Math.abs(want[i].loss), `${what}: step ${p.step} loss ${p.loss} vs ${want[i].loss} (tolerance ${rel} relative)`));
}

/**
 * Call inside a describe: before its tests, makes the three tiny models and the Q&A data in a fresh folder
 * (removed after them). No skip: a machine without the torch env fails here, saying how to build it.
 */
export function torchModels() {
  let dir = "";
  before(async () => {
    const missing = torchUnavailable();
    assert.equal(missing, null, missing ?? "");
    dir = mkdtempSync(join(tmpdir(), "torch-backend-"));
    writeFileSync(join(dir, "qa.jsonl"), qa.map(([q, a]) => JSON.stringify(chat(q, a))).join("\n") + "\n");
    await makeTinyModels(TOKENIZER_DIR, dir);
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return { dir: () => dir, data: () => join(dir, "qa.jsonl"), outOf: (arch: string) => join(dir, `out-${arch}`) };
}
