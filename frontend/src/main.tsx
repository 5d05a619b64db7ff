// Entry: load the deployment's configuration, connect to the chain (read-only) and IPFS, then render the
// app. Pages are separate chunks (App.tsx) and so is the wallet (wallet.tsx loads wagmi and RainbowKit on
// demand), so the first screen needs only React, the SDK's read side and this shell.
import "./styles.css";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { connectChain } from "@tributary/sdk/chain/browser";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App.tsx";
import { loadRuntimeConfig } from "./config.ts";
import { lazyContentStore } from "./lib/content.ts";
import { errorMessage } from "./lib/errors.ts";
import { ProtocolProvider } from "./protocol.tsx";
import { hadConnection, WalletProvider, WalletStore } from "./wallet.tsx";

const root = createRoot(document.getElementById("root")!);

async function boot() {
  const config = await loadRuntimeConfig(window.location.origin);
  const conn = await connectChain({
    rpcUrl: config.proxied.rpc,
    chainId: config.chainId,
    deployments: config.deployments,
  });
  const store = lazyContentStore(config.proxied.ipfs);
  const queryClient = new QueryClient({
    defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: false } },
  });
  const wallet = new WalletStore();
  // Connected last time: load the wallet now so wagmi reconnects without a click.
  if (hadConnection(window.localStorage)) void wallet.load().catch(() => undefined);
  root.render(
    <StrictMode>
      <QueryClientProvider client={queryClient}>
        <ProtocolProvider value={{ config, conn, store }}>
          <WalletProvider store={wallet}>
            <App />
          </WalletProvider>
        </ProtocolProvider>
      </QueryClientProvider>
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
