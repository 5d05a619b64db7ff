// The wallet chunk (loaded on demand by wallet.tsx): wagmi with RainbowKit's injected-wallet connector
// (nothing calls out to the internet). It renders no page content: a bridge publishes the account and
// network to the app's WalletStore and registers the actions (connect, account menu, switch network, a
// wallet client for signing).
import "@rainbow-me/rainbowkit/styles.css";
import {
  connectorsForWallets,
  RainbowKitProvider,
  useAccountModal,
  useConnectModal,
} from "@rainbow-me/rainbowkit";
import { injectedWallet } from "@rainbow-me/rainbowkit/wallets";
import { chainFor } from "@tributary/sdk/chain/browser";
import { useEffect, useMemo, useRef, useState } from "react";
import type { WalletClient } from "viem";
import { createConfig, http, useAccount, useConfig, useSwitchChain, WagmiProvider } from "wagmi";
import { getWalletClient } from "wagmi/actions";
import { errorMessage } from "./lib/errors.ts";
import { useProtocol } from "./protocol.tsx";
import type { WalletActions, WalletStore } from "./wallet.tsx";

function Bridge({ store }: { store: WalletStore }) {
  const { address, chainId, isConnected } = useAccount();
  const { openConnectModal } = useConnectModal();
  const { openAccountModal } = useAccountModal();
  const { switchChain, isPending, error } = useSwitchChain();
  const config = useConfig();
  const [asked, setAsked] = useState(0);
  const latest = useRef({ openAccountModal, switchChain, config });
  latest.current = { openAccountModal, switchChain, config };

  useEffect(() => {
    store.set({
      address,
      chainId,
      isConnected,
      switching: isPending,
      switchError: error ? errorMessage(error) : undefined,
    });
  }, [store, address, chainId, isConnected, isPending, error]);

  useEffect(() => {
    const actions: WalletActions = {
      openConnect: () => {
        store.wantConnect = true;
        setAsked((n) => n + 1);
      },
      openAccount: () => latest.current.openAccountModal?.(),
      switchChain: (id) => latest.current.switchChain({ chainId: id }),
      getWalletClient: async (id) =>
        (await getWalletClient(latest.current.config, { chainId: id })) as unknown as WalletClient,
    };
    store.register(actions);
  }, [store]);

  // RainbowKit offers its connect modal only while disconnected (not while reconnecting).
  useEffect(() => {
    if (store.wantConnect && openConnectModal) {
      store.wantConnect = false;
      openConnectModal();
    }
  }, [store, openConnectModal, asked]);
  return null;
}

export default function WalletImpl({ store }: { store: WalletStore }) {
  const { config } = useProtocol();
  const wagmiConfig = useMemo(() => {
    // Wallets get the chain's own RPC URL (to add the network); the app reads through the same-origin proxy.
    const chain = chainFor(config.chainId, config.rpcUrl);
    const connectors = connectorsForWallets([{ groupName: "Browser wallets", wallets: [injectedWallet] }], {
      appName: "Tributary",
      projectId: "tributary-local",
    });
    return createConfig({
      chains: [chain],
      connectors,
      transports: { [chain.id]: http(config.proxied.rpc) },
      pollingInterval: 1000,
    });
  }, [config]);
  return (
    <WagmiProvider config={wagmiConfig}>
      <RainbowKitProvider>
        <Bridge store={store} />
      </RainbowKitProvider>
    </WagmiProvider>
  );
}
