// The network the dispute tests run on: a Hardhat chain with the protocol deployed, an embedded IPFS node, the
// custodian, and ten funded accounts in fixed roles (deployer, Datanet owner, two contributors, a builder, a
// trainer, an auditing verifier, two honest verifiers, a lazy one), with the logs of every node in one list.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEther } from "viem";
import { mnemonicToAccount, privateKeyToAccount } from "viem/accounts";
import type { LocalAccount } from "viem";
import { connect, contribute, createDatanet, getDispute, review, sendTx, verifierStake } from "@tributary/sdk/chain";
import type { ChainConnection, DisputePhase } from "@tributary/sdk/chain";
import { startCustodian } from "@tributary/sdk/custody";
import type { RunningCustodian } from "@tributary/sdk/custody";
import type { Kernel } from "@tributary/engine";
import { startContentStore, startDevChain, TEST_KEYS } from "../../../sdk/test/helpers/devchain.ts";
import type { DevChain } from "../../../sdk/test/helpers/devchain.ts";
import { Verifier } from "../../src/jobs/verify.ts";
import type { VerifierContext } from "../../src/jobs/verify.ts";
import { jsonl, qa } from "./austen-qa.ts";

/** Account indexes by role. */
export const ROLE = { deployer: 0, owner: 1, alice: 2, bob: 3, builder: 4, trainer: 5, auditor: 6, honest1: 7, honest2: 8, lazy: 9 } as const;

export interface DisputeNet {
  chain: DevChain;
  ipfs: Awaited<ReturnType<typeof startContentStore>>;
  custodian: RunningCustodian;
  /** One connection per account, indexed by `ROLE`. */
  conns: ChainConnection[];
  logs: string[];
  /** A log sink whose lines carry `who`. */
  log: (who: string) => (line: string) => void;
  /** Every node's log so far, for assertion messages. */
  context: () => string;
  /** A view of the DisputeGame. */
  read: <T>(functionName: string, args: unknown[]) => Promise<T>;
  /** Mines `blocks` empty blocks. */
  mine: (blocks: number) => Promise<void>;
  /** Runs `step` until dispute `id` is in `phase` (at most `tries` times); returns the dispute as it is then. */
  untilPhase: (id: bigint, phase: DisputePhase, tries: number, step: () => Promise<void>) => Promise<Awaited<ReturnType<typeof getDispute>>>;
  /** A verifier's stake in the game, and what the game credits it (by role index). */
  stakeOf: (who: number) => Promise<bigint>;
  credit: (who: number) => Promise<bigint>;
  stop: () => Promise<void>;
}

/** Starts the network; builder, trainer and the four verifiers get 1,000 OPEN each. */
export async function startDisputeNet(): Promise<DisputeNet> {
  const accounts: LocalAccount[] = [
    ...TEST_KEYS.map((k) => privateKeyToAccount(k)),
    // two more of the dev chain's funded accounts
    mnemonicToAccount("test test test test test test test test test test test junk", { addressIndex: 8 }),
    mnemonicToAccount("test test test test test test test test test test test junk", { addressIndex: 9 }),
  ];
  const chain = await startDevChain();
  const ipfs = await startContentStore();
  const conns: ChainConnection[] = [];
  for (const account of accounts) conns.push(await connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, deployments: chain.deploymentsFile, account, pollingInterval: 50 }));
  const custodian = await startCustodian({ conn: conns[ROLE.owner], store: ipfs.store, stateDir: mkdtempSync(join(tmpdir(), "custodian-")), port: 0 });
  const d = conns[ROLE.deployer];
  for (const who of [ROLE.builder, ROLE.trainer, ROLE.auditor, ROLE.honest1, ROLE.honest2, ROLE.lazy]) await sendTx(d, d.contracts.OpenToken, "mint", [conns[who].account!.address, parseEther("1000")]);
  const logs: string[] = [];
  const game = d.contracts.DisputeGame;
  const read = <T,>(functionName: string, args: unknown[]) => d.publicClient.readContract({ address: game.address, abi: game.abi, functionName: functionName as never, args: args as never }) as Promise<T>;
  return {
    chain,
    ipfs,
    custodian,
    conns,
    logs,
    log: (who) => (line) => logs.push(`[${who}] ${line}`),
    context: () => `\n${logs.join("\n")}`,
    read,
    mine: async (blocks) => {
      for (let i = 0; i < blocks; i++) await d.publicClient.request({ method: "evm_mine" as never, params: [] as never });
    },
    untilPhase: async (id, phase, tries, step) => {
      for (let i = 0; i < tries && (await getDispute(d, id)).phaseName !== phase; i++) await step();
      return getDispute(d, id);
    },
    stakeOf: async (who) => (await verifierStake(d, conns[who].account!.address)).stake,
    credit: (who) => read<bigint>("withdrawable", [conns[who].account!.address]),
    stop: async () => {
      await custodian.stop();
      await ipfs.stop();
      await chain.stop();
    },
  };
}

/** Two more Austen Q&A records (the eval tests hold a quarter of six out). */
export const MORE_QA: Array<[string, string]> = [
  ["Who proposes to Elizabeth first?", "Mr. Collins, the clergyman."],
  ["Whom does Jane Bennet marry?", "Mr. Bingley, of Netherfield."],
];

/** An open Datanet of six Q&A records in three contributions (alice 2, bob 2, alice 2 more), all approved: version 3. */
export async function qaDatanet(net: DisputeNet): Promise<bigint> {
  const { conns, ipfs } = net;
  const { datanetId } = await createDatanet(conns[ROLE.owner], ipfs.store, { name: "Austen Q&A (open)", policy: "open" });
  await contribute(conns[ROLE.alice], ipfs.store, { datanetId, fileName: "alice.jsonl", content: jsonl(qa.slice(0, 2)) });
  await contribute(conns[ROLE.bob], ipfs.store, { datanetId, fileName: "bob.jsonl", content: jsonl(qa.slice(2)) });
  await contribute(conns[ROLE.alice], ipfs.store, { datanetId, fileName: "alice-2.jsonl", content: jsonl(MORE_QA) });
  await review(conns[ROLE.owner], { datanetId, approve: [1n, 2n, 3n] });
  return datanetId;
}

/**
 * The four verifier nodes, each staking 100 OPEN on its first tick: the auditor (`auditor` options), two honest
 * ones that serve on committees only, and a lazy one (copies the trainer's claim).
 */
export async function verifierNodes(net: DisputeNet, kernel: Kernel, o: { auditor?: ConstructorParameters<typeof Verifier>[1]; context?: Partial<VerifierContext> } = {}): Promise<Map<number, Verifier>> {
  const { conns, ipfs, custodian } = net;
  const verifier = (who: number, name: string, opts: ConstructorParameters<typeof Verifier>[1]) =>
    new Verifier({ conn: conns[who], store: ipfs.store, custodianUrl: custodian.url, dataDir: mkdtempSync(join(tmpdir(), `verifier-${name}-`)), kernel, log: net.log(name), ...o.context }, { stake: parseEther("100"), ...opts });
  const nodes = new Map<number, Verifier>([
    [ROLE.auditor, verifier(ROLE.auditor, "auditor", o.auditor ?? {})],
    [ROLE.honest1, verifier(ROLE.honest1, "honest1", { audit: false })],
    [ROLE.honest2, verifier(ROLE.honest2, "honest2", { audit: false })],
    [ROLE.lazy, verifier(ROLE.lazy, "lazy", { lazy: true })],
  ]);
  for (const v of nodes.values()) await v.tick(); // each stakes
  return nodes;
}

/**
 * Lets the verifier nodes serve on an eval dispute's committee: checks that it skipped the bisection, mines past
 * the lookahead, draws (the first honest node), then lets every node commit, reveal and settle. `expected`: the
 * roles that must sit (all three seats). Returns the settled dispute and the members' addresses (lower case).
 */
export async function serveEvalCommittee(net: DisputeNet, verifiers: Map<number, Verifier>, disputeId: bigint, expected?: number[]) {
  const d0 = await getDispute(net.conns[ROLE.deployer], disputeId);
  assert.equal(d0.eval, true, "an eval dispute");
  assert.equal(d0.phaseName, "awaitingDraw", `no bisection: the committee is next${net.context()}`);
  await net.mine(5);
  await verifiers.get(ROLE.honest1)!.tick();
  const members = (await net.read<string[]>("committeeOf", [disputeId])).map((a) => a.toLowerCase()).sort();
  assert.equal(members.length, 3, net.context());
  if (expected) assert.deepEqual(members, expected.map((i) => net.conns[i].account!.address.toLowerCase()).sort(), net.context());
  for (let round = 0; round < 2; round++) for (const v of verifiers.values()) await v.tick();
  const d = await getDispute(net.conns[ROLE.deployer], disputeId);
  assert.equal(d.phaseName, "settled", net.context());
  return { d, members };
}
