// The checkpoint manifest a trainer pins with its result (found from the adapter manifest's `checkpoints`): what
// a verifier needs to replay any segment of the run the dispute game's checkpoint tree commits to.
import { z } from "zod";
import { Bytes32, CidString, schemaField, Timestamp, Uint256String } from "./common.ts";

export const CheckpointLeaf = z.object({
  /** Leaf index in the tree (0..count-1). */
  index: z.number().int().nonnegative(),
  /** Optimizer step of the checkpoint; 0 for a start leaf (a run with a single checkpoint). */
  step: z.number().int().nonnegative(),
  /**
   * The run state hash (`checkpointStateHash`); for the last leaf the run state from which the contract derives
   * the committed state with the submitted result (`finalCheckpointState`).
   */
  state: Bytes32,
  /** The checkpoint folder (params, optimizer, trainer_state.json) on IPFS; absent for a start leaf. */
  cid: CidString.optional(),
});

/**
 * An auditor rebuilds the tree from `leaves` and `final` (`checkpointTree(jobId, states, final)`), checks its root
 * against `DisputeGame.checkpointsOf(jobId)` and `final` against the submitted result before replaying, and checks
 * each fetched checkpoint folder against its leaf's `state`.
 */
export const CheckpointManifest = z.object({
  schema: schemaField("checkpoint-manifest"),
  jobId: Uint256String,
  /** Optimizer steps between checkpoints (the last checkpoint is the run's last step). */
  checkpointEvery: z.number().int().positive(),
  root: Bytes32,
  count: z.number().int().min(2).max(1025),
  leaves: z.array(CheckpointLeaf).min(2).max(1025),
  /** The submitted result the last leaf binds. */
  final: z.object({ adapterHash: Bytes32, attributionRoot: Bytes32, attributionTotalWeight: Uint256String }),
  createdAt: Timestamp,
}).superRefine((m, ctx) => {
  if (m.leaves.length !== m.count) ctx.addIssue({ code: "custom", path: ["leaves"], message: `must list count (${m.count}) leaves, got ${m.leaves.length}` });
  m.leaves.forEach((l, i) => {
    if (l.index !== i) ctx.addIssue({ code: "custom", path: ["leaves", i, "index"], message: `must be ${i} (leaves in order)` });
    if (i > 0 && l.step <= m.leaves[i - 1].step) ctx.addIssue({ code: "custom", path: ["leaves", i, "step"], message: "steps must increase" });
    if (l.step > 0 && !l.cid) ctx.addIssue({ code: "custom", path: ["leaves", i, "cid"], message: "a checkpoint leaf needs the CID of its folder" });
  });
});

export type CheckpointLeaf = z.infer<typeof CheckpointLeaf>;
export type CheckpointManifest = z.infer<typeof CheckpointManifest>;
