// Page frame: navigation, the wallet button, and the wrong-network banner.
import type { ReactNode } from "react";
import { useProtocol } from "../protocol.tsx";
import { Link } from "../router.tsx";
import { ConnectButton, useWallet } from "../wallet.tsx";

const NAV = [
  ["/datanets", "Datanets"],
  ["/new", "Fine-tune"],
  ["/jobs", "My jobs"],
  ["/models", "Models & chat"],
  ["/rewards", "Rewards"],
  ["/trainers", "Trainers"],
] as const;

export function NetworkBanner() {
  const { conn } = useProtocol();
  const { isConnected, chainId, switching: isPending, switchError: error, store } = useWallet();
  if (!isConnected || chainId === conn.chainId) return null;
  return (
    <div className="banner warn" role="alert" data-testid="wrong-network">
      <span>
        Your wallet is on network {chainId ?? "unknown"}, but Tributary runs on{" "}
        <strong>{conn.chain.name}</strong> (chain id {conn.chainId}). Switch networks to send transactions.
      </span>
      <button
        type="button"
        disabled={isPending}
        onClick={() =>
          void store.load().then(
            (w) => w.switchChain(conn.chainId),
            () => undefined,
          )
        }
      >
        {isPending ? "Switching…" : `Switch to ${conn.chain.name}`}
      </button>
      {error && <span className="banner-error">{error}</span>}
    </div>
  );
}

export function Layout({ route, children }: { route: string; children: ReactNode }) {
  return (
    <div className="app">
      <header className="top">
        <Link to="/" className="brand">
          Tributary
        </Link>
        <nav>
          {NAV.map(([to, label]) => (
            <Link key={to} to={to} className={route === to ? "active" : undefined}>
              {label}
            </Link>
          ))}
        </nav>
        <ConnectButton />
      </header>
      <NetworkBanner />
      <main>{children}</main>
    </div>
  );
}

/** Shown in place of a page's actions until a wallet is connected. */
export function ConnectFirst({ what }: { what: string }) {
  return (
    <div className="state empty">
      <p>Connect your wallet to {what}.</p>
      <ConnectButton />
    </div>
  );
}
