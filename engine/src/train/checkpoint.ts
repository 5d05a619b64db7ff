/**
 * Training checkpoints: everything needed to continue a run bit-identically.
 *   <dir>/step-000012/params.safetensors     trainable tensors (adapter or full model) by name, F32
 *   <dir>/step-000012/optimizer.safetensors  AdamW moments (`exp_avg.<name>`, `exp_avg_sq.<name>`)
 *   <dir>/step-000012/trainer_state.json     step, data cursor, RNG state, histories, run config
 * A checkpoint is written to a temporary folder and renamed into place, so a crash never leaves a
 * half-written one behind.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FormatError } from "../errors.ts";
import { readSafetensors, writeSafetensors } from "../formats/safetensors.ts";
import type { Tensor } from "../formats/safetensors.ts";
import type { AdamW } from "./adamw.ts";

export interface TrainerState {
  step: number;
  /** Data cursor: index of the next micro-batch in the run's batch plan. */
  microStep: number;
  dropoutRng: number[];
  tokens: number;
  lossHistory: { step: number; loss: number; lr: number; gradNorm: number }[];
  evalHistory: { step: number; loss: number }[];
  /** The run configuration (must match on resume). */
  run: Record<string, unknown>;
}

export function checkpointName(step: number): string {
  return `step-${String(step).padStart(6, "0")}`;
}

export async function saveCheckpoint(dir: string, params: Map<string, Float32Array>, opt: AdamW, state: TrainerState): Promise<string> {
  const final = join(dir, checkpointName(state.step));
  const tmp = `${final}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const p = new Map<string, Tensor>();
  const o = new Map<string, Tensor>();
  for (const [name, data] of params) {
    p.set(name, { shape: [data.length], data });
    o.set(`exp_avg.${name}`, { shape: [data.length], data: opt.m.get(name)! });
    o.set(`exp_avg_sq.${name}`, { shape: [data.length], data: opt.v.get(name)! });
  }
  await writeFile(join(tmp, "params.safetensors"), writeSafetensors(p));
  await writeFile(join(tmp, "optimizer.safetensors"), writeSafetensors(o, { metadata: { t: String(opt.t) } }));
  await writeFile(join(tmp, "trainer_state.json"), JSON.stringify(state, null, 1) + "\n");
  await rm(final, { recursive: true, force: true });
  await rename(tmp, final);
  return final;
}

/**
 * The state hash the dispute game's checkpoint tree commits to (`stateHash_i`, contracts/disputes): SHA-256 over
 * everything a replay of the next segment starts from — each trainable tensor with its AdamW moments (by name,
 * sorted, raw little-endian F32), the optimizer step, the training step, the data cursor and the dropout RNG
 * state — so two checkpoints hash alike exactly when a replay from either continues identically. `extra` (e.g.
 * the adapter hash and the attribution root, for the last checkpoint) is appended as given. Returns 0x-hex.
 */
export function checkpointStateHash(
  params: Map<string, Float32Array>,
  opt: AdamW,
  state: Pick<TrainerState, "step" | "microStep" | "dropoutRng">,
  extra: string[] = [],
): `0x${string}` {
  const h = createHash("sha256");
  const field = (s: string) => {
    const b = Buffer.from(s, "utf8");
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    h.update(len).update(b);
  };
  const tensor = (a: Float32Array | undefined, what: string) => {
    if (!a) throw new FormatError("optimizer state missing for a trainable tensor", { tensor: what }, "Hash the state of a complete run");
    const len = Buffer.alloc(4);
    len.writeUInt32LE(a.length);
    h.update(len).update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  };
  field("tributary/checkpoint-state@1");
  for (const name of [...params.keys()].sort()) {
    field(name);
    tensor(params.get(name), name);
    tensor(opt.m.get(name), `exp_avg.${name}`);
    tensor(opt.v.get(name), `exp_avg_sq.${name}`);
  }
  field(JSON.stringify({ t: opt.t, step: state.step, microStep: state.microStep, dropoutRng: state.dropoutRng }));
  for (const e of extra) field(e);
  return `0x${h.digest("hex")}`;
}

/** The newest complete checkpoint in `dir`, or null. */
export async function latestCheckpoint(dir: string): Promise<string | null> {
  if (!existsSync(dir)) return null;
  const names = (await readdir(dir)).filter((n) => /^step-\d+$/.test(n)).sort();
  return names.length ? join(dir, names[names.length - 1]) : null;
}

/** Restores params and optimizer moments in place; returns the trainer state. */
export async function loadCheckpoint(path: string, params: Map<string, Float32Array>, opt: AdamW): Promise<TrainerState> {
  for (const f of ["params.safetensors", "optimizer.safetensors", "trainer_state.json"]) {
    if (!existsSync(join(path, f))) throw new FormatError("incomplete checkpoint", { path, missing: f }, "Resume from another checkpoint");
  }
  const p = readSafetensors(await readFile(join(path, "params.safetensors"))).tensors;
  const o = readSafetensors(await readFile(join(path, "optimizer.safetensors")));
  for (const [name, data] of params) {
    const src = p.get(name);
    if (!src || src.data.length !== data.length) throw new FormatError("checkpoint does not match the trainable parameters", { name });
    data.set(src.data);
    opt.m.get(name)!.set(o.tensors.get(`exp_avg.${name}`)!.data);
    opt.v.get(name)!.set(o.tensors.get(`exp_avg_sq.${name}`)!.data);
  }
  opt.t = Number(o.metadata.t);
  return JSON.parse(await readFile(join(path, "trainer_state.json"), "utf8")) as TrainerState;
}

/**
 * `checkpointStateHash` of a checkpoint folder as `saveCheckpoint` wrote it (what a trainer node commits for
 * each of its run's checkpoints after training, and a verifier recomputes after replaying a segment).
 */
export async function checkpointDirStateHash(path: string, extra: string[] = []): Promise<`0x${string}`> {
  for (const f of ["params.safetensors", "optimizer.safetensors", "trainer_state.json"]) {
    if (!existsSync(join(path, f))) throw new FormatError("incomplete checkpoint", { path, missing: f }, "Hash a complete checkpoint");
  }
  const p = readSafetensors(await readFile(join(path, "params.safetensors"))).tensors;
  const o = readSafetensors(await readFile(join(path, "optimizer.safetensors")));
  const params = new Map([...p].map(([name, t]) => [name, t.data]));
  const moments = (prefix: string) => new Map([...params.keys()].map((n) => [n, o.tensors.get(`${prefix}.${n}`)?.data as Float32Array]));
  const opt = { m: moments("exp_avg"), v: moments("exp_avg_sq"), t: Number(o.metadata.t) } as unknown as AdamW;
  const state = JSON.parse(await readFile(join(path, "trainer_state.json"), "utf8")) as TrainerState;
  return checkpointStateHash(params, opt, state, extra);
}
