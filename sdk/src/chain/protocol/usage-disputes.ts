// Usage-epoch disputes (contracts/disputes/UsageGame.sol): anyone but the provider challenges an epoch with a bond;
// verifiers drawn from the VerifierPool fetch the epoch's per-request records from the provider (served to drawn
// verifiers only, on a signed request) and recompute the epoch; their commit-reveal majority decides. Verdicts and
// witnesses are computed here so that the provider's node, the verifier nodes and tests agree on them.
import { encodeAbiParameters, hexToBigInt, keccak256, recoverMessageAddress, toBytes } from "viem";
import type { Address, Hex } from "viem";
import type { ChainConnection } from "../client.ts";
import { addJson } from "./content.ts";
import type { ProtocolContentStore } from "./content.ts";
import { NoWalletError } from "../errors.ts";
import { scanEvents } from "../logs.ts";
import { eventsIn, readView, sendTx } from "../write.ts";
import type { TxRef } from "./access.ts";
import { voteCommitment } from "./disputes.ts";
import { ensureAllowance } from "./token.ts";
import { USAGE_RECORD_ENCODING } from "./usage.ts";

export const USAGE_DISPUTE_PHASES = ["none", "awaitingDraw", "voting", "stuck", "settled"] as const;
export type UsageDisputePhase = (typeof USAGE_DISPUTE_PHASES)[number];

/** A verifier the provider served no records building the committed root (as UsageGame.UNAVAILABLE). */
export const USAGE_UNAVAILABLE_VERDICT: Hex = keccak256(toBytes("tributary/usage-verdict-unavailable@1"));
/** Records that build the root but do not tile the accounted channel ranges (as UsageGame.INVALID_RECORDS). */
export const USAGE_INVALID_RECORDS_VERDICT: Hex = keccak256(
  toBytes("tributary/usage-verdict-invalid-records@1"),
);
const ZERO = `0x${"0".repeat(64)}` as Hex;

/** The verdict of a recomputed epoch: `keccak256(abi.encode(recordsRoot, claimsRoot, citedRevenue))`. */
export function usageVerdict(recordsRoot: Hex, claimsRoot: Hex, citedRevenue: bigint): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "bytes32" }, { type: "bytes32" }, { type: "uint256" }],
      [recordsRoot, claimsRoot, citedRevenue],
    ),
  );
}

/** A record's leaf in the records tree (OpenZeppelin's standard leaf: keccak256 of keccak256 of the encoding). */
export function usageRecordLeafHash(leaf: readonly [Hex, bigint, bigint, Hex, Hex]): Hex {
  return keccak256(
    keccak256(
      encodeAbiParameters(
        USAGE_RECORD_ENCODING.map((type) => ({ type })),
        leaf,
      ),
    ),
  );
}

/**
 * The witness of a round: of every record's leaf hash `h`, the one minimising `keccak256(abi.encode(seed, h))`.
 * The seed is fixed by the draw and the records are not published, so only a verifier that has them all can name it.
 */
export function usageWitness(seed: Hex, leafHashes: readonly Hex[]): Hex {
  let best: Hex = ZERO;
  let bestKey = 2n ** 256n;
  for (const h of leafHashes) {
    const k = hexToBigInt(
      keccak256(encodeAbiParameters([{ type: "bytes32" }, { type: "bytes32" }], [seed, h])),
    );
    if (k < bestKey) [best, bestKey] = [h, k];
  }
  return best;
}

/** What a drawn verifier signs to fetch an epoch's records from its provider (fresh for five minutes). */
export function usageRecordsMessage(chainId: number, game: Address, epochId: bigint, at: number): string {
  return `tributary/usage-records@1\nchain ${chainId}\ngame ${game.toLowerCase()}\nepoch ${epochId}\nat ${at}`;
}

export const USAGE_RECORDS_MAX_AGE_S = 300;

/** Headers a verifier sends with `GET /v1/usage/epochs/<id>/records` (signed by its wallet). */
export async function usageRecordsAuth(
  conn: ChainConnection,
  epochId: bigint,
  now = Math.floor(Date.now() / 1000),
): Promise<Record<string, string>> {
  if (!conn.account || !conn.walletClient) throw new NoWalletError("fetching usage records as a verifier");
  const message = usageRecordsMessage(conn.chainId, conn.contracts.UsageGame.address, epochId, now);
  const signature = await conn.walletClient.signMessage({ account: conn.account, message });
  return {
    "x-tributary-verifier": conn.account.address,
    "x-tributary-at": String(now),
    "x-tributary-signature": signature,
  };
}

/**
 * The provider's check of such a request: a fresh signature by an address that sits on the current committee of a
 * dispute of the epoch. Returns the verifier, or a reason it is refused.
 */
export async function checkUsageRecordsAuth(
  conn: ChainConnection,
  epochId: bigint,
  headers: { verifier?: string; at?: string; signature?: string },
  now = Math.floor(Date.now() / 1000),
): Promise<{ ok: true; verifier: Address } | { ok: false; reason: string }> {
  const at = Number(headers.at);
  if (!headers.verifier || !headers.signature || !Number.isInteger(at))
    return { ok: false, reason: "missing x-tributary-verifier, x-tributary-at or x-tributary-signature" };
  if (Math.abs(now - at) > USAGE_RECORDS_MAX_AGE_S)
    return {
      ok: false,
      reason: `the signature's time ${at} is more than ${USAGE_RECORDS_MAX_AGE_S} s from now`,
    };
  const message = usageRecordsMessage(conn.chainId, conn.contracts.UsageGame.address, epochId, at);
  let signer: Address;
  try {
    signer = await recoverMessageAddress({ message, signature: headers.signature as Hex });
  } catch {
    return { ok: false, reason: "the signature does not parse" };
  }
  if (signer.toLowerCase() !== headers.verifier.toLowerCase())
    return { ok: false, reason: "the signature is not the named verifier's" };
  if (!(await isDrawnUsageVerifier(conn, epochId, signer)))
    return { ok: false, reason: `${signer} is not on a committee of epoch ${epochId}` };
  return { ok: true, verifier: signer };
}

/**
 * Challenges a committed epoch within its window (anyone but its provider): pins the reason (and any evidence) to
 * IPFS, approves the usage game's bond and opens the dispute. The committee is drawn `lookahead` blocks later.
 */
export async function challengeUsageEpoch(
  conn: ChainConnection,
  store: ProtocolContentStore,
  epochId: bigint,
  reason: string,
  evidence?: Record<string, unknown>,
): Promise<TxRef & { disputeId: bigint; drawBlock: bigint; bond: bigint; reasonCid: string }> {
  const reasonCid = await addJson(store, { schema: "tributary/usage-challenge@1", epochId: epochId.toString(), reason, ...(evidence ? { evidence } : {}), createdAt: new Date().toISOString() });
  const g = conn.contracts.UsageGame;
  const p = await readView(g, "params", () => conn.publicClient.readContract({ address: g.address, abi: g.abi, functionName: "params" }));
  await ensureAllowance(conn, g.address, p.challengeBond);
  const tx = await sendTx(conn, g, "openChallenge", [epochId, reasonCid]);
  const [ev] = eventsIn(g, tx.receipt, "ChallengeOpened");
  return { hash: tx.hash, blockNumber: tx.blockNumber, disputeId: ev.args.disputeId!, drawBlock: ev.args.drawBlock!, bond: ev.args.bond!, reasonCid };
}

export async function getUsageDispute(conn: ChainConnection, disputeId: bigint) {
  const g = conn.contracts.UsageGame;
  const d = await conn.publicClient.readContract({
    address: g.address,
    abi: g.abi,
    functionName: "getDispute",
    args: [disputeId],
  });
  return { ...d, phaseName: USAGE_DISPUTE_PHASES[d.phase] as UsageDisputePhase };
}

/** The latest dispute of an epoch (0n: never challenged). */
export async function usageDisputeOf(conn: ChainConnection, epochId: bigint): Promise<bigint> {
  const g = conn.contracts.UsageGame;
  return conn.publicClient.readContract({
    address: g.address,
    abi: g.abi,
    functionName: "disputeOf",
    args: [epochId],
  });
}

export async function usageCommitteeOf(
  conn: ChainConnection,
  disputeId: bigint,
): Promise<readonly Address[]> {
  const g = conn.contracts.UsageGame;
  return conn.publicClient.readContract({
    address: g.address,
    abi: g.abi,
    functionName: "committeeOf",
    args: [disputeId],
  });
}

export async function isDrawnUsageVerifier(
  conn: ChainConnection,
  epochId: bigint,
  verifier: Address,
): Promise<boolean> {
  const g = conn.contracts.UsageGame;
  return conn.publicClient.readContract({
    address: g.address,
    abi: g.abi,
    functionName: "isDrawnVerifier",
    args: [epochId, verifier],
  });
}

/** The verdict that upholds an epoch (what its committed roots and cited revenue give). */
export async function expectedUsageVerdict(conn: ChainConnection, epochId: bigint): Promise<Hex> {
  const g = conn.contracts.UsageGame;
  return conn.publicClient.readContract({
    address: g.address,
    abi: g.abi,
    functionName: "expectedVerdict",
    args: [epochId],
  });
}

/** Anyone: draws the committee once the draw block is past. */
export async function drawUsageCommittee(
  conn: ChainConnection,
  disputeId: bigint,
): Promise<TxRef & { members: readonly Address[] }> {
  const g = conn.contracts.UsageGame;
  const tx = await sendTx(conn, g, "drawCommittee", [disputeId]);
  const [ev] = eventsIn(g, tx.receipt, "CommitteeDrawn");
  return { hash: tx.hash, blockNumber: tx.blockNumber, members: ev?.args.members ?? [] };
}

export async function commitUsageVote(
  conn: ChainConnection,
  disputeId: bigint,
  vote: { verdict: Hex; witness: Hex; salt: Hex },
): Promise<TxRef> {
  if (!conn.account) throw new NoWalletError("committing a vote");
  const d = await getUsageDispute(conn, disputeId);
  const commitment = voteCommitment(
    disputeId,
    d.round,
    conn.account.address,
    vote.verdict,
    vote.witness,
    vote.salt,
  );
  const tx = await sendTx(conn, conn.contracts.UsageGame, "commitVote", [disputeId, commitment]);
  return { hash: tx.hash, blockNumber: tx.blockNumber };
}

export async function revealUsageVote(
  conn: ChainConnection,
  disputeId: bigint,
  vote: { verdict: Hex; witness: Hex; salt: Hex },
): Promise<TxRef> {
  const tx = await sendTx(conn, conn.contracts.UsageGame, "revealVote", [
    disputeId,
    vote.verdict,
    vote.witness,
    vote.salt,
  ]);
  return { hash: tx.hash, blockNumber: tx.blockNumber };
}

/** Anyone: settles a finished vote (a verdict, or a redraw when split). */
export async function settleUsageDispute(
  conn: ChainConnection,
  disputeId: bigint,
): Promise<TxRef & { providerWins?: boolean }> {
  const g = conn.contracts.UsageGame;
  const tx = await sendTx(conn, g, "settle", [disputeId]);
  const [ev] = eventsIn(g, tx.receipt, "DisputeSettled");
  return { hash: tx.hash, blockNumber: tx.blockNumber, providerWins: ev?.args.providerWins };
}

/** Withdraws the caller's credits in the usage game (bond back, rewards, verifier fees). */
export async function withdrawFromUsageGame(conn: ChainConnection): Promise<TxRef & { amount: bigint }> {
  const g = conn.contracts.UsageGame;
  const tx = await sendTx(conn, g, "withdraw", []);
  const [ev] = eventsIn(g, tx.receipt, "Withdrawn");
  return { hash: tx.hash, blockNumber: tx.blockNumber, amount: ev.args.amount! };
}

/** The channel ranges an epoch accounted (`ChannelAccounted`): what its records must tile. */
export async function usageEpochRanges(
  conn: ChainConnection,
  epochId: bigint,
): Promise<Array<{ channelId: Hex; fromCumulative: bigint; toCumulative: bigint }>> {
  const u = conn.contracts.UsageEpochs;
  const logs = await scanEvents(conn, {
    address: u.address,
    abi: u.abi,
    eventName: "ChannelAccounted",
    args: { epochId },
  });
  return logs.map((l) => ({
    channelId: l.args.channelId!,
    fromCumulative: l.args.fromCumulative!,
    toCumulative: l.args.toCumulative!,
  }));
}
