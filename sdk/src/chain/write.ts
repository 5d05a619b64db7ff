// Writes: simulate (so a revert is decoded before anything is signed), send, then wait for the receipt.
import { parseEventLogs } from "viem";
import type {
  Abi,
  ContractEventName,
  ContractFunctionArgs,
  ContractFunctionName,
  Hash,
  ParseEventLogsReturnType,
  TransactionReceipt,
} from "viem";
import type { ContractName } from "./deployments.ts";
import type { ChainConnection, ContractHandle } from "./client.ts";
import { NoWalletError, TransactionFailedError } from "./errors.ts";
import { decodeRevert } from "./revert.ts";

export interface TxResult {
  hash: Hash;
  receipt: TransactionReceipt;
  blockNumber: bigint;
}

/**
 * Simulates `functionName(args)` on `contract` as the connection's account, sends it, and waits for
 * `confirmations` (default: the connection's). Reverts become ContractRevertError with a readable reason.
 */
export async function sendTx<
  N extends ContractName,
  F extends ContractFunctionName<ContractHandle<N>["abi"], "nonpayable" | "payable">,
>(
  conn: ChainConnection,
  contract: ContractHandle<N>,
  functionName: F,
  args: ContractFunctionArgs<ContractHandle<N>["abi"], "nonpayable" | "payable", F>,
  opts: { confirmations?: number } = {},
): Promise<TxResult> {
  const where = { contract: contract.name, functionName: String(functionName) };
  if (!conn.walletClient || !conn.account) throw new NoWalletError(`${where.contract}.${where.functionName}`);
  let hash: Hash;
  try {
    const { request } = await conn.publicClient.simulateContract({
      address: contract.address,
      abi: contract.abi as Abi,
      functionName: functionName as string,
      args: args as readonly unknown[],
      account: conn.account,
    });
    hash = await conn.walletClient.writeContract(
      request as Parameters<NonNullable<ChainConnection["walletClient"]>["writeContract"]>[0],
    );
  } catch (e) {
    throw decodeRevert(e, where);
  }
  const receipt = await conn.publicClient.waitForTransactionReceipt({
    hash,
    confirmations: opts.confirmations ?? conn.confirmations,
  });
  if (receipt.status !== "success")
    throw new TransactionFailedError(hash, `${where.contract}.${where.functionName}`);
  return { hash, receipt, blockNumber: receipt.blockNumber };
}

/** The events `eventName` that `contract` emitted in a receipt. */
export function eventsIn<N extends ContractName, E extends ContractEventName<ContractHandle<N>["abi"]>>(
  contract: ContractHandle<N>,
  receipt: TransactionReceipt,
  eventName: E,
): ParseEventLogsReturnType<ContractHandle<N>["abi"], E> {
  const logs = receipt.logs.filter((l) => l.address.toLowerCase() === contract.address.toLowerCase());
  return parseEventLogs({ abi: contract.abi, logs, eventName }) as ParseEventLogsReturnType<
    ContractHandle<N>["abi"],
    E
  >;
}

/** Calls a view through viem with revert decoding. */
export async function readView<T>(
  contract: { name: string },
  functionName: string,
  call: () => Promise<T>,
): Promise<T> {
  try {
    return await call();
  } catch (e) {
    throw decodeRevert(e, { contract: contract.name, functionName });
  }
}
