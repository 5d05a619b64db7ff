// The app's handle on the protocol: the read-only chain connection, the IPFS content store and the
// runtime config (one per page load), plus `useTx`, which runs an SDK protocol function with the
// connected wallet and reports each signature and confirmation as it happens.
import { createContext, useCallback, useContext, useState } from "react";
import type { ReactNode } from "react";
import type { ChainConnection } from "@tributary/sdk/chain/browser";
import type { ContentStore } from "@tributary/sdk/content";
import type { WalletClient } from "viem";
import type { RuntimeConfig } from "./config.ts";
import { errorMessage } from "./lib/errors.ts";
import { useWallet } from "./wallet.tsx";

export interface Protocol {
  config: RuntimeConfig;
  /** Read-only; `useTx` adds the wallet. */
  conn: ChainConnection;
  store: ContentStore;
}

const ProtocolContext = createContext<Protocol | null>(null);

export function ProtocolProvider({ value, children }: { value: Protocol; children: ReactNode }) {
  return <ProtocolContext.Provider value={value}>{children}</ProtocolContext.Provider>;
}

export function useProtocol(): Protocol {
  const p = useContext(ProtocolContext);
  if (!p) throw new Error("useProtocol outside ProtocolProvider");
  return p;
}

/** What people see for each contract function the app sends. */
const ACTIONS: Record<string, string> = {
  approve: "Allow the protocol to take your OPEN",
  createDatanet: "Create the Datanet",
  disputeResult: "Dispute the result",
  stake: "Stake OPEN",
  requestUnstake: "Start the unstake cooldown",
  withdrawStake: "Withdraw your stake",
  setMetadata: "Update the Datanet's description",
  addCurator: "Add a curator",
  removeCurator: "Remove a curator",
  postJob: "Post the job",
  requestAccess: "Request access",
  grantAccess: "Grant access",
  buyAccess: "Buy access",
  acceptResult: "Accept the result",
  finalizeJob: "Finalize the job",
  cancelJob: "Cancel the job",
  claimReward: "Claim your reward",
  claimPoolReward: "Claim your Datanet pool reward",
  submitContribution: "Register your contribution",
  approveContribution: "Approve the contribution",
  approveContributions: "Approve the contributions",
  rejectContribution: "Reject the contribution",
  openChannel: "Open the payment channel",
  topUp: "Top up the channel",
  setSessionKey: "Register this browser's session key",
  requestWithdrawal: "Close the channel (start the withdrawal timeout)",
  withdraw: "Withdraw what is left of the channel",
};

export interface TxStep {
  label: string;
  state: "sign" | "pending" | "confirmed" | "failed";
  hash?: string;
}

export type TxState =
  | { phase: "idle"; steps: TxStep[] }
  | { phase: "running"; note: string; steps: TxStep[] }
  | { phase: "done"; note: string; steps: TxStep[] }
  | { phase: "error"; error: string; steps: TxStep[] };

/** Runs `action` with a signing connection; `state` tracks wallet prompts, hashes and the outcome. */
export function useTx() {
  const { conn } = useProtocol();
  const { address, chainId, store: wallet } = useWallet();
  const [state, setState] = useState<TxState>({ phase: "idle", steps: [] });

  const run = useCallback(
    async <T,>(
      note: string,
      action: (signer: ChainConnection) => Promise<T>,
      doneNote?: (r: T) => string,
    ) => {
      const steps: TxStep[] = [];
      const show = (s: Partial<TxState> & { phase: TxState["phase"] }) =>
        setState({ ...s, steps: [...steps] } as TxState);
      if (!address) {
        show({ phase: "error", error: "Connect your wallet first." });
        return undefined;
      }
      if (chainId !== conn.chainId) {
        show({
          phase: "error",
          error: `Your wallet is on another network. Switch it to chain ${conn.chainId} first.`,
        });
        return undefined;
      }
      show({ phase: "running", note });
      let wc: WalletClient;
      try {
        // Asked at the time of use: right after connecting or switching, the hook's client may still load.
        wc = await (await wallet.load()).getWalletClient(conn.chainId);
      } catch (e) {
        show({ phase: "error", error: errorMessage(e) });
        return undefined;
      }
      const confirmOf = async (hash: `0x${string}`) => {
        const receipt = await conn.publicClient.waitForTransactionReceipt({ hash });
        const step = steps.find((s) => s.hash === hash);
        if (step) step.state = "confirmed";
        show({ phase: "running", note });
        return receipt;
      };
      // Same client, with writes reported: the SDK calls writeContract after simulating each call.
      const reporting = {
        ...wc,
        writeContract: async (args: Parameters<typeof wc.writeContract>[0]) => {
          const name = String((args as { functionName: unknown }).functionName);
          const step: TxStep = { label: ACTIONS[name] ?? name, state: "sign" };
          steps.push(step);
          show({ phase: "running", note });
          let hash: `0x${string}`;
          try {
            hash = await wc.writeContract(args);
          } catch (e) {
            step.state = "failed";
            throw e;
          }
          step.hash = hash;
          step.state = "pending";
          show({ phase: "running", note });
          return hash;
        },
      };
      const signer: ChainConnection = {
        ...conn,
        walletClient: reporting as unknown as ChainConnection["walletClient"],
        account: { address, type: "json-rpc" }, // the wallet signs: a JSON-RPC account, as viem takes it
        publicClient: {
          ...conn.publicClient,
          waitForTransactionReceipt: ({ hash }: { hash: `0x${string}` }) => confirmOf(hash),
        } as unknown as ChainConnection["publicClient"],
      };
      show({ phase: "running", note });
      try {
        const result = await action(signer);
        show({ phase: "done", note: doneNote ? doneNote(result) : "Done." });
        return result;
      } catch (e) {
        console.error(e);
        show({ phase: "error", error: errorMessage(e) });
        return undefined;
      }
    },
    [conn, address, chainId, wallet],
  );
  const reset = useCallback(() => setState({ phase: "idle", steps: [] }), []);
  return { state, run, reset, ready: Boolean(address && chainId === conn.chainId) };
}
