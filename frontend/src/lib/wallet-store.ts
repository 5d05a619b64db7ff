// The wallet's state as the app sees it, in a store the on-demand wallet chunk writes to (see wallet.tsx).
import type { WalletClient } from "viem";

export interface WalletState {
  /** off: not loaded; loading: the chunk is on its way; ready: wagmi runs; error: the chunk failed. */
  status: "off" | "loading" | "ready" | "error";
  error?: string;
  address?: `0x${string}`;
  chainId?: number;
  isConnected: boolean;
  /** A network switch asked of the wallet is pending, or failed with `switchError`. */
  switching: boolean;
  switchError?: string;
}

/** What the loaded wallet chunk provides (wallet-impl.tsx registers them). */
export interface WalletActions {
  openConnect(): void;
  openAccount(): void;
  switchChain(chainId: number): void;
  getWalletClient(chainId: number): Promise<WalletClient>;
}

/** A tiny external store: the loaded chunk writes to it, the app reads it with `useWallet`. */
export class WalletStore {
  private state: WalletState = { status: "off", isConnected: false, switching: false };
  private listeners = new Set<() => void>();
  private actions?: WalletActions;
  private waiting: Array<{ resolve: (a: WalletActions) => void; reject: (e: Error) => void }> = [];
  /** Counts failed loads, so a retry imports the chunk afresh. */
  attempt = 0;
  /** Set by "Connect Wallet" before the chunk is ready: the chunk opens its modal once it can. */
  wantConnect = false;

  get = (): WalletState => this.state;
  subscribe = (l: () => void): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
  set(patch: Partial<WalletState>): void {
    const next = { ...this.state, ...patch };
    const same = (Object.keys(next) as Array<keyof WalletState>).every((k) => next[k] === this.state[k]);
    if (same) return;
    this.state = next;
    for (const l of this.listeners) l();
  }
  /** Called by the chunk once wagmi is set up. */
  register(actions: WalletActions): void {
    this.actions = actions;
    this.set({ status: "ready" });
    for (const w of this.waiting.splice(0)) w.resolve(actions);
  }
  /** Loads the wallet chunk (once) and resolves to its actions. */
  load(): Promise<WalletActions> {
    if (this.actions) return Promise.resolve(this.actions);
    if (this.state.status === "off" || this.state.status === "error")
      this.set({ status: "loading", error: undefined });
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }
  fail(error: string): void {
    this.attempt++;
    this.set({ status: "error", error });
    for (const w of this.waiting.splice(0)) w.reject(new Error(`The wallet code did not load: ${error}`));
  }
}

/**
 * True when wagmi's persisted state (localStorage `wagmi.store`) says a wallet was connected when this
 * browser last left the app: then the app loads the wallet at start so wagmi reconnects without a click.
 */
export function hadConnection(storage: Pick<Storage, "getItem">): boolean {
  try {
    const raw = storage.getItem("wagmi.store");
    if (!raw) return false;
    const s = JSON.parse(raw) as { state?: { current?: string | null } };
    return Boolean(s.state?.current);
  } catch {
    return false;
  }
}
