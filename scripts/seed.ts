#!/usr/bin/env node
// Seeds the local chain with the demo (run by `npm start` once per fresh chain; safe to run again):
// OPEN for the demo accounts, a staked trainer, a registered base model, two datanets with real-looking
// contributions (records in scripts/seed-data/, pinned to IPFS) from several accounts, some approved,
// and one approved access grant for the demo builder. Records what it did in <TRIBUTARY_HOME>/seed.json.
//
// Usage: node scripts/seed.ts   (env as set by the stack: TRIBUTARY_RPC_URL, TRIBUTARY_IPFS_API_URL, ...)
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  parseAbi,
  parseEventLogs,
  parseUnits,
  type Abi,
  type Address,
  type Hash,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { demoAccount, type DemoRole } from "./stack/accounts.ts";
import { genesisHash, readDeployments } from "./stack/chain.ts";
import { configEnv, layout, loadConfig, rpcUrl } from "./stack/config.ts";
import { StackError } from "./stack/errors.ts";
import { readSeedRecord, seedFile, writeJson, type SeedRecord } from "./stack/state.ts";

const dataDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "seed-data");

// The few functions the seed calls, from contracts/interfaces/*.sol.
const ABI = {
  token: parseAbi([
    "function mint(address to, uint256 amount)",
    "function approve(address spender, uint256 amount) returns (bool)",
    "function balanceOf(address) view returns (uint256)",
  ]),
  datanets: parseAbi([
    "function createDatanet(string metadataCID, uint8 policy, uint128 price, address[] curators) returns (uint256)",
    "function submitContribution(uint256 datanetId, string cid, bytes32 contentHash, uint32 records, uint48 byteSize, bool encrypted) returns (uint256)",
    "function approveContributions(uint256 datanetId, uint256[] contributionIds) returns (uint32)",
    "function datanetCount() view returns (uint256)",
    "event DatanetCreated(uint256 indexed datanetId, address indexed owner, string metadataCID, uint8 policy, uint256 price, address[] curators)",
    "event ContributionSubmitted(uint256 indexed datanetId, uint256 indexed contributionId, address indexed contributor, string cid, bytes32 contentHash, uint32 records, uint48 byteSize, bool encrypted)",
  ]),
  access: parseAbi([
    "function requestAccess(uint256 datanetId, string requestCID)",
    "function grantAccess(uint256 datanetId, address account, uint64 expiresAt, uint32 uses)",
  ]),
  trainers: parseAbi([
    "function stake(uint256 amount)",
    "function setProfile(string profileCID)",
    "function minStake() view returns (uint256)",
  ]),
  models: parseAbi([
    "function registerBaseModel(string name, string cid) returns (uint32)",
    "event BaseModelRegistered(uint32 indexed baseModelId, string name, string cid)",
  ]),
} as const;

const POLICY = { Open: 0, Approval: 1, Paid: 2 } as const;

interface DemoPlan {
  openPerAccount: string;
  fundedRoles: DemoRole[];
  trainerStake: string;
  trainerProfile: Record<string, unknown>;
  baseModel: { name: string; config: Record<string, unknown> };
  datanets: {
    key: string;
    owner: DemoRole;
    policy: keyof typeof POLICY;
    price: string;
    file: string;
    metadata: Record<string, unknown>;
    contributions: { from: DemoRole; records: [number, number]; file: string; status: "approved" | "pending" }[];
    accessRequests: { from: DemoRole; purpose: string; grant?: { days: number; uses: number } }[];
  }[];
}

/** Finds a contract's address in a deployments file, whatever nesting the deploy script chose. */
export function contractAddress(deployments: unknown, name: string): Address {
  const d = deployments as Record<string, unknown>;
  const pools = [d?.contracts, d?.addresses, d].filter((p): p is Record<string, unknown> => !!p && typeof p === "object");
  for (const pool of pools) {
    const entry = pool[name];
    if (typeof entry === "string") return entry as Address;
    if (entry && typeof entry === "object" && typeof (entry as { address?: unknown }).address === "string") {
      return (entry as { address: Address }).address;
    }
  }
  throw new StackError(`the deployments file names no ${name} contract`, {
    hint: "redeploy (delete the deployments file and run `npm start`), or check scripts/deploy.ts's output",
  });
}

/** Adds bytes to IPFS through the Kubo RPC API (pinned) and returns the CID. */
async function ipfsAdd(apiUrl: string, name: string, bytes: Uint8Array): Promise<string> {
  const form = new FormData();
  form.append("file", new Blob([bytes]), name);
  const res = await fetch(`${apiUrl}/api/v0/add?pin=true&cid-version=1`, { method: "POST", body: form });
  if (!res.ok) throw new StackError(`IPFS add of ${name} failed: HTTP ${res.status} ${await res.text()}`);
  const lines = (await res.text()).trim().split("\n");
  const last = JSON.parse(lines[lines.length - 1]!) as { Hash: string };
  return last.Hash;
}

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n");

async function main(): Promise<void> {
  const config = loadConfig();
  const env = configEnv(config);
  const ipfsApi = process.env.TRIBUTARY_IPFS_API_URL || env.TRIBUTARY_IPFS_API_URL!;
  const genesis = await genesisHash(config);
  const previous = readSeedRecord(config);
  if (previous?.genesisHash === genesis) {
    console.log(`demo already seeded on this chain at ${previous.seededAt}; nothing to do`);
    return;
  }
  const deployments = readDeployments(config);
  if (deployments === undefined) {
    throw new StackError(`no deployments at ${layout(config).deploymentsFile}`, { hint: "deploy first (npm start does)" });
  }
  const plan = JSON.parse(fs.readFileSync(path.join(dataDir, "demo.json"), "utf8")) as DemoPlan;
  const addr = {
    token: contractAddress(deployments, "OpenToken"),
    datanets: contractAddress(deployments, "DatanetRegistry"),
    access: contractAddress(deployments, "AccessRegistry"),
    trainers: contractAddress(deployments, "TrainerRegistry"),
    models: contractAddress(deployments, "ModelRegistry"),
  };

  const chain = defineChain({
    id: config.chainId,
    name: "Tributary local",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl(config)] } },
  });
  const publicClient = createPublicClient({ chain, transport: http() });
  const existing = await publicClient.readContract({ address: addr.datanets, abi: ABI.datanets, functionName: "datanetCount" });
  if (existing > 0n) {
    throw new StackError(`this chain already has ${existing} datanet(s) but no record of a finished demo seed`, {
      details: "an earlier seed probably stopped half-way",
      hint: "start over with `npm start -- --fresh`",
    });
  }

  /** Sends a transaction as a demo account and waits for its receipt; returns the receipt's logs. */
  const send = async (role: DemoRole, address: Address, abi: Abi, functionName: string, args: readonly unknown[]) => {
    const account = privateKeyToAccount(demoAccount(role).privateKey);
    const wallet = createWalletClient({ account, chain, transport: http() });
    const hash: Hash = await wallet.writeContract({ address, abi, functionName, args } as never);
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new StackError(`${role}: ${functionName} reverted (tx ${hash})`);
    return receipt.logs;
  };

  // OPEN for everyone who pays for something in the demo.
  const open = parseUnits(plan.openPerAccount, 18);
  for (const role of plan.fundedRoles) {
    await send("deployer", addr.token, ABI.token, "mint", [demoAccount(role).address, open]);
  }
  console.log(`minted ${plan.openPerAccount} OPEN to ${plan.fundedRoles.join(", ")}`);

  // The demo trainer: profile on IPFS, stake (at least the registry's minimum).
  const minStake = await publicClient.readContract({ address: addr.trainers, abi: ABI.trainers, functionName: "minStake" });
  const wanted = parseUnits(plan.trainerStake, 18);
  const stake = wanted > minStake ? wanted : minStake;
  await send("trainer", addr.token, ABI.token, "approve", [addr.trainers, stake]);
  await send("trainer", addr.trainers, ABI.trainers, "stake", [stake]);
  const profileCid = await ipfsAdd(ipfsApi, "trainer-profile.json", json(plan.trainerProfile));
  await send("trainer", addr.trainers, ABI.trainers, "setProfile", [profileCid]);
  console.log(`trainer ${demoAccount("trainer").address} staked ${stake} wei OPEN, profile ${profileCid}`);

  // A base model (its config.json; the weights are made by the engine, not shipped here).
  const baseCid = await ipfsAdd(ipfsApi, "config.json", json(plan.baseModel.config));
  const baseLogs = await send("deployer", addr.models, ABI.models, "registerBaseModel", [plan.baseModel.name, baseCid]);
  const [registered] = parseEventLogs({ abi: ABI.models, logs: baseLogs, eventName: "BaseModelRegistered" });
  const baseModelId = registered ? String(registered.args.baseModelId) : undefined;
  console.log(`base model ${plan.baseModel.name} registered (#${baseModelId}, config ${baseCid})`);

  const record: { datanets: SeedRecord["datanets"][number][]; cids: string[] } = { datanets: [], cids: [] };
  for (const dn of plan.datanets) {
    const owner = demoAccount(dn.owner);
    const metadata = { schema: "tributary/datanet@1", ...dn.metadata, owner: owner.address };
    const metadataCid = await ipfsAdd(ipfsApi, "datanet.json", json(metadata));
    const createdLogs = await send(dn.owner, addr.datanets, ABI.datanets, "createDatanet", [
      metadataCid, POLICY[dn.policy], parseUnits(dn.price, 18), [owner.address],
    ]);
    const [created] = parseEventLogs({ abi: ABI.datanets, logs: createdLogs, eventName: "DatanetCreated" });
    if (!created) throw new StackError(`createDatanet for ${dn.key} emitted no DatanetCreated event`);
    const datanetId = created.args.datanetId;

    const lines = fs.readFileSync(path.join(dataDir, dn.file), "utf8").trimEnd().split("\n");
    const toApprove: bigint[] = [];
    for (const c of dn.contributions) {
      const jsonl = lines.slice(c.records[0], c.records[1]).join("\n") + "\n";
      const bytes = new TextEncoder().encode(jsonl);
      const sha256 = createHash("sha256").update(bytes).digest("hex");
      const contentCid = await ipfsAdd(ipfsApi, c.file, bytes);
      const kinds = [...new Set(lines.slice(c.records[0], c.records[1]).map((l) => {
        const r = JSON.parse(l) as Record<string, unknown>;
        return "messages" in r ? "chat" : "prompt" in r ? "prompt-completion" : "text";
      }))];
      const manifest = {
        schema: "tributary/contribution@1",
        datanetId: String(datanetId),
        contributor: demoAccount(c.from).address,
        contentCid,
        contentHash: `0x${sha256}`,
        records: c.records[1] - c.records[0],
        bytes: bytes.length,
        recordKinds: kinds,
        source: { fileName: c.file, mediaType: "application/jsonl", bytes: bytes.length },
        createdAt: new Date().toISOString(),
      };
      const manifestCid = await ipfsAdd(ipfsApi, "manifest.json", json(manifest));
      const logs = await send(c.from, addr.datanets, ABI.datanets, "submitContribution", [
        datanetId, manifestCid, `0x${sha256}`, manifest.records, bytes.length, false,
      ]);
      const [submitted] = parseEventLogs({ abi: ABI.datanets, logs, eventName: "ContributionSubmitted" });
      if (!submitted) throw new StackError(`submitContribution emitted no ContributionSubmitted event`);
      if (c.status === "approved") toApprove.push(submitted.args.contributionId);
      record.cids.push(contentCid);
    }
    if (toApprove.length) await send(dn.owner, addr.datanets, ABI.datanets, "approveContributions", [datanetId, toApprove]);

    for (const req of dn.accessRequests) {
      const requestCid = await ipfsAdd(ipfsApi, "access-request.json", json({ purpose: req.purpose, from: demoAccount(req.from).address }));
      await send(req.from, addr.access, ABI.access, "requestAccess", [datanetId, requestCid]);
      if (req.grant) {
        const now = (await publicClient.getBlock()).timestamp;
        const expiresAt = now + BigInt(req.grant.days * 86400);
        await send(dn.owner, addr.access, ABI.access, "grantAccess", [datanetId, demoAccount(req.from).address, expiresAt, req.grant.uses]);
      }
    }
    const name = String(dn.metadata.name);
    record.datanets.push({ id: String(datanetId), name, contributions: dn.contributions.length, approved: toApprove.length });
    console.log(`datanet #${datanetId} "${name}": ${dn.contributions.length} contributions, ${toApprove.length} approved, ${dn.accessRequests.filter((r) => r.grant).length} access grant(s)`);
  }

  const done: SeedRecord = {
    version: 1,
    genesisHash: genesis,
    seededAt: new Date().toISOString(),
    datanets: record.datanets,
    contributionCids: record.cids,
    ...(baseModelId !== undefined ? { baseModelId } : {}),
  };
  writeJson(seedFile(config), done);
  console.log(`seed recorded in ${seedFile(config)}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    if (err instanceof StackError) console.error(`seed failed: ${err.describe()}`);
    else console.error("seed failed:", err);
    process.exit(1);
  });
}
