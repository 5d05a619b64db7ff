// A headless browser wallet for tests: an EIP-1193 provider injected into the page and announced via
// EIP-6963 (so RainbowKit lists it as an installed wallet). Its requests go to Node through an exposed
// function, where a viem local account signs and everything else is forwarded to the chain's RPC.
import type { Page } from "playwright-core";
import { createWalletClient, hexToString, http, isHex, numberToHex } from "viem";
import type { Hex, TypedDataDefinition } from "viem";
import { privateKeyToAccount } from "viem/accounts";

export const WALLET_NAME = "Headless Test Wallet";

type Answer = { result: unknown } | { error: { code: number; message: string } };

export interface HeadlessWallet {
  readonly address: Hex;
  /** Chain id the wallet reports now. */
  chainId: number;
  /** Methods the page called, in order (for assertions). */
  readonly calls: string[];
  /** Set to refuse the next transaction as a person would (EIP-1193 error 4001). */
  rejectNext?: boolean;
}

/**
 * Installs the wallet in `page` (call before the first navigation). It starts on `startChainId` (a wrong
 * one, to exercise the app's network banner) and can switch to `chainId`, the stack's chain.
 */
export async function installWallet(
  page: Page,
  opts: { privateKey: Hex; rpcUrl: string; chainId: number; startChainId?: number },
): Promise<HeadlessWallet> {
  const account = privateKeyToAccount(opts.privateKey);
  const wallet: HeadlessWallet = {
    address: account.address,
    chainId: opts.startChainId ?? opts.chainId,
    calls: [],
  };
  let connected = false;
  const client = createWalletClient({ account, transport: http(opts.rpcUrl) });
  const forward = async (method: string, params: unknown[]): Promise<Answer> => {
    const res = await fetch(opts.rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    });
    const body = (await res.json()) as {
      result?: unknown;
      error?: { code: number; message: string; data?: unknown };
    };
    return body.error ? { error: body.error } : { result: body.result };
  };
  const onWrongChain = (): Answer => ({
    error: { code: 4901, message: `the wallet is on chain ${wallet.chainId}` },
  });

  await page.exposeFunction(
    "__headlessWallet",
    async (method: string, params: unknown[] = []): Promise<Answer> => {
      wallet.calls.push(method);
      try {
        switch (method) {
          case "eth_requestAccounts":
            connected = true;
            return { result: [account.address] };
          case "eth_accounts":
            // [] until the page asks to connect, or wagmi would connect on its own.
            return { result: connected ? [account.address] : [] };
          case "eth_chainId":
            return { result: numberToHex(wallet.chainId) };
          case "net_version":
            return { result: String(wallet.chainId) };
          case "wallet_switchEthereumChain": {
            const id = Number((params[0] as { chainId: string }).chainId);
            if (id !== opts.chainId) return { error: { code: 4902, message: `unknown chain ${id}` } };
            wallet.chainId = id;
            await page.evaluate(
              (hex) =>
                (
                  window as unknown as { __headlessWalletEmit(e: string, v: unknown): void }
                ).__headlessWalletEmit("chainChanged", hex),
              numberToHex(id),
            );
            return { result: null };
          }
          case "wallet_addEthereumChain":
            return { result: null };
          case "wallet_requestPermissions":
            connected = true;
            return { result: [{ parentCapability: "eth_accounts" }] };
          case "wallet_getPermissions":
            return { result: connected ? [{ parentCapability: "eth_accounts" }] : [] };
          case "personal_sign": {
            const [data] = params as [Hex];
            return {
              result: await account.signMessage({ message: isHex(data) ? { raw: data } : hexToString(data) }),
            };
          }
          case "eth_signTypedData_v4": {
            const typed = JSON.parse(params[1] as string) as TypedDataDefinition;
            return { result: await account.signTypedData(typed) };
          }
          case "eth_sendTransaction": {
            if (wallet.chainId !== opts.chainId) return onWrongChain();
            if (wallet.rejectNext) {
              wallet.rejectNext = false;
              return { error: { code: 4001, message: "User rejected the request." } };
            }
            const tx = params[0] as { to?: Hex; data?: Hex; value?: Hex; gas?: Hex };
            const hash = await client.sendTransaction({
              chain: null,
              to: tx.to,
              data: tx.data,
              value: tx.value ? BigInt(tx.value) : undefined,
              gas: tx.gas ? BigInt(tx.gas) : undefined,
            });
            return { result: hash };
          }
          default:
            return forward(method, params);
        }
      } catch (e) {
        return { error: { code: -32603, message: e instanceof Error ? e.message : String(e) } };
      }
    },
  );

  await page.addInitScript((name: string) => {
    type Listener = (v: unknown) => void;
    const listeners = new Map<string, Set<Listener>>();
    const call = (window as unknown as { __headlessWallet(m: string, p: unknown[]): Promise<Answer> })
      .__headlessWallet;
    const provider = {
      isHeadlessTestWallet: true,
      async request({ method, params }: { method: string; params?: unknown[] }) {
        const answer = await call(method, params ?? []);
        if ("error" in answer) {
          const err = new Error(answer.error.message) as Error & { code: number };
          err.code = answer.error.code;
          throw err;
        }
        return answer.result;
      },
      on(event: string, fn: Listener) {
        if (!listeners.has(event)) listeners.set(event, new Set());
        listeners.get(event)!.add(fn);
        return provider;
      },
      removeListener(event: string, fn: Listener) {
        listeners.get(event)?.delete(fn);
        return provider;
      },
    };
    (window as unknown as { __headlessWalletEmit(e: string, v: unknown): void }).__headlessWalletEmit = (
      event,
      value,
    ) => {
      for (const fn of listeners.get(event) ?? []) fn(value);
    };
    const icon =
      "data:image/svg+xml;base64," +
      btoa(
        '<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><rect width="32" height="32" rx="6" fill="#1f6feb"/></svg>',
      );
    const detail = Object.freeze({
      info: {
        uuid: "0b8c1b5e-6c1e-4c1e-9b1e-7e57a11e7000",
        name,
        icon,
        rdns: "dev.tributary.headless-wallet",
      },
      provider,
    });
    const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail }));
    window.addEventListener("eip6963:requestProvider", announce);
    announce();
  }, WALLET_NAME);
  return wallet;
}

/** Moves the wallet to another chain as a person would in their wallet (the page gets `chainChanged`). */
export async function switchWalletChain(page: Page, wallet: HeadlessWallet, chainId: number): Promise<void> {
  wallet.chainId = chainId;
  await page.evaluate(
    (hex) =>
      (window as unknown as { __headlessWalletEmit(e: string, v: unknown): void }).__headlessWalletEmit(
        "chainChanged",
        hex,
      ),
    numberToHex(chainId),
  );
}
