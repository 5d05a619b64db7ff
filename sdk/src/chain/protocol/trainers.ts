// Trainer operators: profile, stake, unstake (request, then withdraw after the cooldown).
import type { Address } from "viem";
import type { ChainConnection } from "../client.ts";
import { NoWalletError } from "../errors.ts";
import { sendTx } from "../write.ts";
import type { TxRef } from "./access.ts";
import { addJson } from "./content.ts";
import type { ProtocolContentStore } from "./content.ts";
import { ensureAllowance } from "./token.ts";

/** Pins the trainer profile (endpoint, capabilities) and publishes it; stakes `stake` if given. */
export async function registerTrainer(
  conn: ChainConnection,
  store: ProtocolContentStore,
  input: { endpoint: string; baseModels?: string[]; hardware?: string; stake?: bigint },
): Promise<TxRef & { profileCid: string; staked?: bigint }> {
  if (!conn.account) throw new NoWalletError("trainer register");
  const profileCid = await addJson(store, {
    schema: "tributary/trainer-profile@1",
    endpoint: input.endpoint,
    baseModels: input.baseModels ?? [],
    hardware: input.hardware,
  });
  const tx = await sendTx(conn, conn.contracts.TrainerRegistry, "setProfile", [profileCid]);
  let staked: bigint | undefined;
  if (input.stake) staked = (await stake(conn, input.stake)).staked;
  return { hash: tx.hash, blockNumber: tx.blockNumber, profileCid, staked };
}

export async function stake(conn: ChainConnection, amount: bigint): Promise<TxRef & { staked: bigint }> {
  const reg = conn.contracts.TrainerRegistry;
  await ensureAllowance(conn, reg.address, amount);
  const tx = await sendTx(conn, reg, "stake", [amount]);
  const t = await getTrainer(conn, conn.account!.address);
  return { hash: tx.hash, blockNumber: tx.blockNumber, staked: t.staked };
}

/** Moves `amount` into cooldown. */
export async function requestUnstake(
  conn: ChainConnection,
  amount: bigint,
): Promise<TxRef & { availableAt: bigint }> {
  const reg = conn.contracts.TrainerRegistry;
  const tx = await sendTx(conn, reg, "requestUnstake", [amount]);
  const t = await getTrainer(conn, conn.account!.address);
  return { hash: tx.hash, blockNumber: tx.blockNumber, availableAt: t.unstakeAvailableAt };
}

/** Withdraws cooled-down stake. */
export async function withdrawStake(conn: ChainConnection): Promise<TxRef> {
  const tx = await sendTx(conn, conn.contracts.TrainerRegistry, "withdrawStake", []);
  return { hash: tx.hash, blockNumber: tx.blockNumber };
}

export async function getTrainer(conn: ChainConnection, trainer: Address) {
  const reg = conn.contracts.TrainerRegistry;
  const [t, eligible, profileCid] = await Promise.all([
    conn.publicClient.readContract({
      address: reg.address,
      abi: reg.abi,
      functionName: "getTrainer",
      args: [trainer],
    }),
    conn.publicClient.readContract({
      address: reg.address,
      abi: reg.abi,
      functionName: "isEligible",
      args: [trainer],
    }),
    conn.publicClient.readContract({
      address: reg.address,
      abi: reg.abi,
      functionName: "profileOf",
      args: [trainer],
    }),
  ]);
  return {
    trainer,
    staked: t.staked,
    unstaking: t.unstaking,
    /** Part of `staked` locked as collateral of the jobs the trainer holds. */
    locked: t.locked,
    unstakeAvailableAt: BigInt(t.unstakeAvailableAt),
    activeJobs: t.activeJobs,
    eligible,
    profileCid,
  };
}
