// Page frame: navigation, the wallet button, and the wrong-network banner.
import { ConnectButton } from "@rainbow-me/rainbowkit";
import type { ReactNode } from "react";
import { useAccount, useSwitchChain } from "wagmi";
import { errorMessage } from "../lib/errors.ts";
import { useProtocol } from "../protocol.tsx";
import { Link } from "../router.tsx";

const NAV = [
  ["/datanets", "Datanets"],
  ["/new", "Fine-tune"],
  ["/jobs", "My jobs"],
  ["/models", "Models & chat"],
  ["/rewards", "Rewards"],
] as const;

export function NetworkBanner() {
  const { conn } = useProtocol();
  const { isConnected, chainId } = useAccount();
  const { switchChain, isPending, error } = useSwitchChain();
  if (!isConnected || chainId === conn.chainId) return null;
  return (
    <div className="banner warn" role="alert" data-testid="wrong-network">
      <span>
        Your wallet is on network {chainId ?? "unknown"}, but Tributary runs on{" "}
        <strong>{conn.chain.name}</strong> (chain id {conn.chainId}). Switch networks to send transactions.
      </span>
      <button type="button" disabled={isPending} onClick={() => switchChain({ chainId: conn.chainId })}>
        {isPending ? "Switching…" : `Switch to ${conn.chain.name}`}
      </button>
      {error && <span className="banner-error">{errorMessage(error)}</span>}
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
        <ConnectButton showBalance={false} chainStatus="icon" accountStatus="address" />
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
