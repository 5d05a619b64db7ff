// Entry: load the deployment's configuration, connect to the chain (read-only) and IPFS, set up wagmi and
// RainbowKit (injected wallets only: nothing calls out to the internet), then render the app.
import "@rainbow-me/rainbowkit/styles.css";
import "./styles.css";
import { connectorsForWallets, RainbowKitProvider } from "@rainbow-me/rainbowkit";
import { injectedWallet } from "@rainbow-me/rainbowkit/wallets";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { chainFor, connectChain } from "@tributary/sdk/chain/browser";
import { KuboContentStore } from "@tributary/sdk/content";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { createConfig, http, WagmiProvider } from "wagmi";
import { App } from "./App.tsx";
import { loadRuntimeConfig } from "./config.ts";
import { errorMessage } from "./lib/errors.ts";
import { ProtocolProvider } from "./protocol.tsx";

const root = createRoot(document.getElementById("root")!);

async function boot() {
  const config = await loadRuntimeConfig(window.location.origin);
  const conn = await connectChain({
    rpcUrl: config.proxied.rpc,
    chainId: config.chainId,
    deployments: config.deployments,
  });
  const store = new KuboContentStore({ url: config.proxied.ipfs });
  // Wallets get the chain's own RPC URL (to add the network); the app reads through the same-origin proxy.
  const chain = chainFor(config.chainId, config.rpcUrl);
  const connectors = connectorsForWallets([{ groupName: "Browser wallets", wallets: [injectedWallet] }], {
    appName: "Tributary",
    projectId: "tributary-local",
  });
  const wagmiConfig = createConfig({
    chains: [chain],
    connectors,
    transports: { [chain.id]: http(config.proxied.rpc) },
    pollingInterval: 1000,
  });
  const queryClient = new QueryClient({
    defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: false } },
  });
  root.render(
    <StrictMode>
      <WagmiProvider config={wagmiConfig}>
        <QueryClientProvider client={queryClient}>
          <RainbowKitProvider>
            <ProtocolProvider value={{ config, conn, store }}>
              <App />
            </ProtocolProvider>
          </RainbowKitProvider>
        </QueryClientProvider>
      </WagmiProvider>
    </StrictMode>,
  );
}

boot().catch((e: unknown) => {
  console.error(e);
  root.render(
    <div className="app">
      <div className="state error boot" role="alert">
        <h1>Tributary cannot start</h1>
        <p>{errorMessage(e)}</p>
        <button type="button" onClick={() => window.location.reload()}>
          Reload
        </button>
      </div>
    </div>,
  );
});
