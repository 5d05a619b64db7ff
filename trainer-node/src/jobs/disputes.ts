/**
 * The trainer's side of the dispute game (contracts/disputes/DisputeGame.sol, docs/contracts.md):
 * - before submitting, commit the Merkle root over the state hashes of the run's checkpoints (every
 *   `checkpointEvery` optimizer steps and the last one), so that any challenge can be bisected down to one
 *   replayable segment. The last leaf's state is `finalCheckpointState(runState, result)`: it binds the submitted
 *   adapter hash and attribution (root and total weight) in a way the contract checks at the last leaf
 *   (`DisputeGame.finalState`), so an attribution the run did not compute cannot be defended (review finding 2);
 * - while a result is challengeable, answer every challenge of this node's jobs with its move (the children of
 *   the disputed node, or at one leaf the segment proof) before the move's clock runs out. A trainer that does
 *   not answer loses its collateral on the clock, so an honest node must run this.
 * The tree's states are kept in `<job>/checkpoint-tree.json`: the checkpoints may be pruned later, the tree
 * must still answer.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { checkpointDirStateHash } from "@tributary/engine";
import { addJson, checkpointTree, commitCheckpoints, defendDispute, getDispute } from "@tributary/sdk/chain";
import type { ContentStore } from "@tributary/sdk/content";
import { addFileSet } from "@tributary/sdk/files";
import { parseCheckpointManifest } from "@tributary/sdk/schemas";
import type { CheckpointTree, ChainConnection, FinalBinding } from "@tributary/sdk/chain";
import type { Hex } from "viem";

/** The contract accepts 2..1,025 checkpoints. */
export const MAX_CHECKPOINTS = 1025;

/** SHA-256 over a checkpoint folder's files (name, size, bytes; sorted): the torch worker's checkpoints. */
async function folderHash(dir: string, extra: string[]): Promise<Hex> {
  const h = createHash("sha256").update("tributary/checkpoint-files@1");
  const walk = async (d: string, prefix: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.isDirectory()) await walk(join(d, e.name), `${prefix}${e.name}/`);
      else {
        const b = await readFile(join(d, e.name));
        h.update(`${prefix}${e.name}\0${b.length}\0`).update(b);
      }
    }
  };
  await walk(dir, "");
  for (const e of extra) h.update(`\0${e}`);
  return `0x${h.digest("hex")}`;
}

/** The start leaf of a run with a single checkpoint: the hash of the job's spec and seed the adapter starts from. */
export function startState(jobId: string, specCid: string): Hex {
  return `0x${createHash("sha256").update(`tributary/checkpoint-start@1\0${jobId}\0${specCid}`).digest("hex")}`;
}

/**
 * The checkpoint folders of a finished run that the tree commits to, oldest first (`<adapterDir>/checkpoints/
 * step-N`), evenly thinned to at most 1,025 with the last one kept.
 */
export async function runCheckpoints(adapterDir: string): Promise<Array<{ step: number; dir: string }>> {
  const dir = join(adapterDir, "checkpoints");
  let names = existsSync(dir) ? (await readdir(dir)).filter((n) => /^step-\d+$/.test(n)).sort((a, b) => Number(a.slice(5)) - Number(b.slice(5))) : [];
  if (names.length === 0) throw new Error(`no checkpoints in ${dir}: the run cannot be committed for the dispute game`);
  if (names.length > MAX_CHECKPOINTS) {
    const keep = new Set(Array.from({ length: MAX_CHECKPOINTS }, (_, i) => Math.round((i * (names.length - 1)) / (MAX_CHECKPOINTS - 1))));
    names = names.filter((_, i) => keep.has(i));
  }
  return names.map((n) => ({ step: Number(n.slice(5)), dir: join(dir, n) }));
}

/**
 * The run state hashes of a finished run's checkpoints (`runCheckpoints`); a run shorter than one checkpoint
 * interval (a single checkpoint) gets its start state in front (`startState`). (`extra` is hashed into the last
 * state: an eval job's eval-loss commitment; the result itself is bound by `jobCheckpointTree`'s `final`.)
 */
export async function runStates(o: { adapterDir: string; backend: "engine" | "torch"; jobId: string; specCid: string; extra?: string[] }): Promise<Hex[]> {
  const ckpts = await runCheckpoints(o.adapterDir);
  const states: Hex[] = [];
  for (const [i, c] of ckpts.entries()) {
    const extra = i === ckpts.length - 1 ? (o.extra ?? []) : [];
    states.push(o.backend === "torch" ? await folderHash(c.dir, extra) : await checkpointDirStateHash(c.dir, extra));
  }
  if (states.length === 1) states.unshift(startState(o.jobId, o.specCid));
  return states;
}

/** The files of a checkpoint folder a replay starts from (what is pinned). */
export const CHECKPOINT_FILES = ["params.safetensors", "optimizer.safetensors", "trainer_state.json"];

/**
 * Pins the run's checkpoints and the checkpoint manifest (`tributary/checkpoint-manifest@1`) for a replay job:
 * what a verifier needs to replay any segment of the committed tree. `tree` is the job's tree (its run states
 * are the checkpoints' state hashes, in order). Returns the manifest's CID, for the adapter manifest.
 */
export async function publishCheckpoints(o: {
  store: ContentStore;
  adapterDir: string;
  jobId: string;
  tree: CheckpointTree;
  runStates: Hex[];
  final: FinalBinding;
  checkpointEvery: number;
  /** Tests only (a trainer withholding a checkpoint): this leaf names the next checkpoint's folder instead of its own. */
  corruptLeaf?: number;
  signal?: AbortSignal;
}): Promise<string> {
  const ckpts = await runCheckpoints(o.adapterDir);
  const start = o.runStates.length === ckpts.length + 1 ? 1 : 0;
  if (o.runStates.length !== ckpts.length + start) throw new Error(`the tree has ${o.runStates.length} run states, the run ${ckpts.length} checkpoints`);
  const leaves: Array<{ index: number; step: number; state: Hex; cid?: string }> = start ? [{ index: 0, step: 0, state: o.runStates[0] }] : [];
  for (const [i, c] of ckpts.entries()) {
    const { cid } = await addFileSet(o.store, c.dir, { files: CHECKPOINT_FILES, signal: o.signal });
    leaves.push({ index: i + start, step: c.step, state: o.runStates[i + start], cid });
  }
  if (o.corruptLeaf !== undefined && leaves[o.corruptLeaf + 1]) leaves[o.corruptLeaf].cid = leaves[o.corruptLeaf + 1].cid;
  const manifest = parseCheckpointManifest({
    schema: "tributary/checkpoint-manifest@1",
    jobId: o.jobId,
    checkpointEvery: o.checkpointEvery,
    root: o.tree.root,
    count: o.tree.count,
    leaves,
    final: { ...o.final, attributionTotalWeight: o.final.attributionTotalWeight.toString() },
    createdAt: new Date().toISOString(),
  });
  return addJson(o.store, manifest);
}

interface SavedTree {
  jobId: string;
  /** Run states; with `final`, the tree's last state is derived from the last of them. */
  states: Hex[];
  final?: { adapterHash: Hex; attributionRoot: Hex; attributionTotalWeight: string };
}

function fromSaved(saved: SavedTree): CheckpointTree {
  const final = saved.final ? { ...saved.final, attributionTotalWeight: BigInt(saved.final.attributionTotalWeight) } : undefined;
  return checkpointTree(BigInt(saved.jobId), saved.states, final);
}

/**
 * The job's checkpoint tree: read from `<jobDir>/checkpoint-tree.json`, else built from the run and saved. With
 * `final` (the result it backs), the last leaf binds the result as the contract requires.
 */
export async function jobCheckpointTree(jobDir: string, build: () => Promise<Hex[]>, jobId: string, final?: FinalBinding): Promise<CheckpointTree> {
  const file = join(jobDir, "checkpoint-tree.json");
  let saved: SavedTree;
  if (existsSync(file)) saved = JSON.parse(await readFile(file, "utf8")) as SavedTree;
  else {
    saved = { jobId, states: await build(), ...(final ? { final: { ...final, attributionTotalWeight: final.attributionTotalWeight.toString() } } : {}) };
    await writeFile(file, `${JSON.stringify(saved)}\n`);
  }
  return fromSaved(saved);
}

/** The tree saved by `jobCheckpointTree` in `<jobDir>/checkpoint-tree.json`, or null when none was saved. */
export async function readCheckpointTree(jobDir: string): Promise<CheckpointTree | null> {
  const file = join(jobDir, "checkpoint-tree.json");
  if (!existsSync(file)) return null;
  return fromSaved(JSON.parse(await readFile(file, "utf8")) as SavedTree);
}

/** Commits the tree unless the chain already holds it for this job (a restart after committing). */
export async function ensureCommitted(conn: ChainConnection, tree: CheckpointTree): Promise<boolean> {
  const g = conn.contracts.DisputeGame;
  const [, root] = (await conn.publicClient.readContract({ address: g.address, abi: g.abi, functionName: "checkpointsOf", args: [tree.jobId] })) as readonly [string, Hex, number];
  if (root.toLowerCase() === tree.root.toLowerCase()) return false;
  await commitCheckpoints(conn, tree);
  return true;
}

/**
 * Answers every open challenge of `trees`' jobs in which it is the trainer's move. Disputes are scanned from
 * `fromId` (the caller keeps the cursor: ids below the first still-open one need no second look). Returns the
 * moves made and the new cursor.
 */
export async function defendDisputes(conn: ChainConnection, trees: Map<string, CheckpointTree>, fromId: bigint, log: (l: string) => void): Promise<{ moves: number; cursor: bigint }> {
  const g = conn.contracts.DisputeGame;
  const count = (await conn.publicClient.readContract({ address: g.address, abi: g.abi, functionName: "disputeCount", args: [] })) as bigint;
  let moves = 0;
  let cursor = fromId;
  let open = false;
  for (let id = fromId; id <= count; id++) {
    const d = await getDispute(conn, id);
    const settled = d.phaseName === "settled" || d.phaseName === "none";
    if (!settled && !open) {
      open = true;
      cursor = id;
    }
    if (settled && !open) cursor = id + 1n;
    const tree = trees.get(d.jobId.toString());
    if (!tree || d.phaseName !== "trainerMove") continue;
    const tx = await defendDispute(conn, id, tree);
    moves++;
    log(`job ${d.jobId}: answered challenge ${id} (${tx.move})`);
  }
  return { moves, cursor };
}
