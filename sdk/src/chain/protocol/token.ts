// OPEN token helpers: balances and approvals before the protocol pulls tokens.
import type { Address } from "viem";
import type { ChainConnection } from "../client.ts";
import { sendTx } from "../write.ts";
import type { TxResult } from "../write.ts";

export async function balanceOf(conn: ChainConnection, account: Address): Promise<bigint> {
  const t = conn.contracts.OpenToken;
  return conn.publicClient.readContract({
    address: t.address,
    abi: t.abi,
    functionName: "balanceOf",
    args: [account],
  });
}

/** Approves `spender` for `amount` unless the allowance already covers it. Returns the tx, if one was sent. */
export async function ensureAllowance(
  conn: ChainConnection,
  spender: Address,
  amount: bigint,
): Promise<TxResult | undefined> {
  const t = conn.contracts.OpenToken;
  const owner = conn.account?.address;
  if (!owner || amount === 0n) return undefined;
  const allowance = await conn.publicClient.readContract({
    address: t.address,
    abi: t.abi,
    functionName: "allowance",
    args: [owner, spender],
  });
  if (allowance >= amount) return undefined;
  return sendTx(conn, t, "approve", [spender, amount]);
}
