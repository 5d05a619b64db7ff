// The browser's session key for paid chat: made once per chain and payer, kept in the browser's storage,
// and the vouchers it signs. A separate module (secp256k1 signing) that the chat loads only for a priced
// model.
import { createWalletClient, custom } from "viem";
import type { Address, Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { signVoucher } from "@tributary/sdk/chain/browser";
import type { ChainConnection, Voucher } from "@tributary/sdk/chain/browser";
import { keyName } from "./payment.ts";
import type { KeyValueStore } from "./payment.ts";

export type SessionKey = ReturnType<typeof privateKeyToAccount>;

/**
 * This browser's session key for `payer` on `chainId`: created on first use and kept in `storage`.
 * Only its address leaves the browser (registered on the channel); the wallet's key is never asked for.
 */
export function sessionKey(storage: KeyValueStore, chainId: number, payer: Address): SessionKey {
  const name = keyName(chainId, payer);
  let pk = storage.getItem(name) as Hex | null;
  if (!pk || !/^0x[0-9a-fA-F]{64}$/.test(pk)) {
    pk = generatePrivateKey();
    storage.setItem(name, pk);
  }
  return privateKeyToAccount(pk);
}

/**
 * Signs a voucher for `cumulativeAmount` with the session key, exactly as the SDK's `signVoucher` does
 * (EIP-712 over channel id, amount and the channel's epoch), through a wallet client holding only that key.
 */
export function signWithSessionKey(
  conn: ChainConnection,
  key: SessionKey,
  input: { channelId: Hex; cumulativeAmount: bigint; epoch: number },
): Promise<Voucher> {
  // a local account signs typed data itself: the transport is never called
  const walletClient = createWalletClient({
    account: key,
    transport: custom({
      request: () => Promise.reject(new Error("the session key signs locally; it sends nothing")),
    }),
  });
  return signVoucher({ ...conn, account: key, walletClient } as unknown as ChainConnection, input);
}
