// The node's measured training throughput, published with its trainer profile (TrainerRegistry.setProfile):
// posters' apps read it to estimate how long a job takes across the active trainers before posting.
//
// The profile stays the `tributary/trainer-profile@1` JSON the SDK's `registerTrainer` pins (endpoint,
// base models, hardware), with `throughput` added: { kernel, flops (training FLOP/s, 6 x parameters x
// tokens per second, as the node's deadline check counts), measuredAt }. A new profile is pinned and set
// only when the figure moved by more than `minChange` (a transaction per job would waste gas).
import { addJson, catJson, getTrainer, sendTx } from "@tributary/sdk/chain";
import type { ChainConnection } from "@tributary/sdk/chain";
import type { ContentStore } from "@tributary/sdk/content";

export interface Throughput {
  /** The training kernel or backend it was measured on (wasm, ort, torch). */
  kernel: string;
  /** Training FLOP/s sustained on the last job (6 x parameters x tokens / seconds). */
  flops: number;
  measuredAt: string;
}

export interface PublishResult {
  /** The new profile's CID, or null when the published figure was close enough and nothing was sent. */
  profileCid: string | null;
  reason: string;
}

/**
 * Publishes `t` in this operator's trainer profile, keeping the profile's other fields. Sends nothing when
 * the published throughput is for the same kernel and within `minChange` (a share, default 0.1) of `t.flops`.
 */
export async function publishThroughput(
  conn: ChainConnection,
  store: ContentStore,
  t: Throughput,
  o: { minChange?: number; log?: (line: string) => void } = {},
): Promise<PublishResult> {
  if (!conn.account) throw new Error("publishing the trainer profile needs the operator's account");
  if (!(t.flops > 0) || !Number.isFinite(t.flops)) throw new Error(`throughput ${t.flops} FLOP/s is not a positive number`);
  const { profileCid } = await getTrainer(conn, conn.account.address);
  let profile: Record<string, unknown> = { schema: "tributary/trainer-profile@1", baseModels: [] };
  if (profileCid) {
    try {
      const doc = await catJson(store, profileCid, "trainer profile");
      if (doc && typeof doc === "object" && !Array.isArray(doc)) profile = doc as Record<string, unknown>;
    } catch (e) {
      // an unreadable profile is replaced by one holding at least the throughput
      o.log?.(`trainer profile ${profileCid} could not be read (${(e as Error).message}); publishing a new one`);
    }
  }
  const old = profile.throughput as Partial<Throughput> | undefined;
  const minChange = o.minChange ?? 0.1;
  if (old?.kernel === t.kernel && typeof old.flops === "number" && Math.abs(t.flops - old.flops) <= minChange * old.flops) {
    return { profileCid: null, reason: `the published ${old.flops.toExponential(2)} FLOP/s is within ${minChange * 100}% of ${t.flops.toExponential(2)}` };
  }
  const cid = await addJson(store, { ...profile, throughput: { kernel: t.kernel, flops: t.flops, measuredAt: t.measuredAt } });
  await sendTx(conn, conn.contracts.TrainerRegistry, "setProfile", [cid]);
  return { profileCid: cid, reason: `published ${t.flops.toExponential(2)} FLOP/s (${t.kernel})` };
}
