// The wallet, loaded on demand. wagmi, RainbowKit and their connectors are a separate chunk
// (wallet-impl.tsx) that loads when a person clicks "Connect Wallet", when a page sends a transaction, or at
// start when this browser was connected last time (so wagmi can reconnect). Until then the app reads the
// chain read-only and the first page renders without that code. Pages read the account through
// `useWallet()`, never through wagmi directly, so they do not pull the wallet chunk into theirs.
import { createContext, lazy, Suspense, useContext, useMemo, useSyncExternalStore } from "react";
import type { ComponentType, ReactNode } from "react";
import type { WalletStore } from "./lib/wallet-store.ts";
import type { WalletState } from "./lib/wallet-store.ts";

export { hadConnection, WalletStore } from "./lib/wallet-store.ts";
export type { WalletActions, WalletState } from "./lib/wallet-store.ts";

const WalletContext = createContext<WalletStore | null>(null);

function useStore(): WalletStore {
  const s = useContext(WalletContext);
  if (!s) throw new Error("useWallet outside WalletProvider");
  return s;
}

/** The connected account (if any) and the wallet's network, plus the store to load the wallet. */
export function useWallet(): WalletState & { store: WalletStore } {
  const store = useStore();
  const state = useSyncExternalStore(store.subscribe, store.get);
  return { ...state, store };
}

/** Provides the store; renders the wallet chunk (which renders no page content) once it is asked for. */
export function WalletProvider({ store, children }: { store: WalletStore; children: ReactNode }) {
  const { status } = useSyncExternalStore(store.subscribe, store.get);
  const attempt = store.attempt;
  const WalletImpl = useMemo(
    () =>
      lazy(async (): Promise<{ default: ComponentType<{ store: WalletStore }> }> => {
        try {
          return await import("./wallet-impl.tsx");
        } catch (e) {
          queueMicrotask(() => store.fail(e instanceof Error ? e.message : String(e)));
          return { default: () => null };
        }
      }),
    // A new attempt after a failure imports again.
    [store, attempt],
  );
  return (
    <WalletContext.Provider value={store}>
      {children}
      {status !== "off" && status !== "error" && (
        <Suspense fallback={null}>
          <WalletImpl store={store} />
        </Suspense>
      )}
    </WalletContext.Provider>
  );
}

const short = (a: string) => `${a.slice(0, 6)}…${a.slice(-4)}`;

/** "Connect Wallet" (loads the wallet, then opens RainbowKit's modal) or the connected account. */
export function ConnectButton() {
  const w = useWallet();
  if (w.isConnected && w.address) {
    return (
      <button
        type="button"
        className="wallet-button connected"
        onClick={() =>
          void w.store.load().then(
            (a) => a.openAccount(),
            () => undefined,
          )
        }
        title={`${w.address}: open the account menu`}
      >
        <span className="visually-hidden">Wallet </span>
        {short(w.address)}
      </button>
    );
  }
  const loading = w.status === "loading" && w.store.wantConnect;
  return (
    <span className="wallet-connect">
      <button
        type="button"
        className="wallet-button"
        aria-busy={loading}
        onClick={() => {
          w.store.wantConnect = true;
          w.store.load().then(
            (a) => a.openConnect(),
            () => undefined, // shown below from the store's error
          );
        }}
      >
        Connect Wallet
      </button>
      {w.status === "error" && (
        <span className="banner-error" role="alert">
          The wallet code did not load ({w.error}). Check your connection and try again.
        </span>
      )}
    </span>
  );
}
