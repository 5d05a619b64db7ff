// The funded demo accounts of the local chain. They derive from the well-known Hardhat/anvil test
// mnemonic, so their keys are public: local test keys, never use them on a real network.
import { mnemonicToAccount } from "viem/accounts";
import { bytesToHex } from "viem";

export const DEV_MNEMONIC = "test test test test test test test test test test test junk";

/** Demo roles by account index (m/44'/60'/0'/0/<index>). */
export const DEMO_ROLES = [
  { index: 0, role: "deployer", what: "deploys the contracts; admin, arbiter, OPEN minter" },
  { index: 1, role: "alice", what: "owns and curates the cooking Q&A datanet" },
  { index: 2, role: "bob", what: "owns and curates the plant-care datanet" },
  { index: 3, role: "carol", what: "contributor" },
  { index: 4, role: "dave", what: "contributor" },
  { index: 5, role: "builder", what: "model builder with an approved access grant" },
  { index: 6, role: "trainer", what: "staked trainer (the trainer node's operator)" },
  { index: 7, role: "custodian", what: "the demo datanets' custodian key" },
] as const;

export type DemoRole = (typeof DEMO_ROLES)[number]["role"];

export interface DemoAccount {
  readonly index: number;
  readonly role: DemoRole;
  readonly what: string;
  readonly address: `0x${string}`;
  readonly privateKey: `0x${string}`;
}

let cache: DemoAccount[] | undefined;

export function demoAccounts(): DemoAccount[] {
  cache ??= DEMO_ROLES.map(({ index, role, what }) => {
    const account = mnemonicToAccount(DEV_MNEMONIC, { addressIndex: index });
    const key = account.getHdKey().privateKey;
    if (!key) throw new Error(`no private key derived for account ${index}`);
    return { index, role, what, address: account.address, privateKey: bytesToHex(key) };
  });
  return cache;
}

export function demoAccount(role: DemoRole): DemoAccount {
  const found = demoAccounts().find((a) => a.role === role);
  if (!found) throw new Error(`no demo account with role ${role}`);
  return found;
}
