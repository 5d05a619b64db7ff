#!/usr/bin/env node
// Seeds the local chain with the demo (run by `npm start` once per fresh chain; safe to run again):
// OPEN for the demo accounts, a staked trainer, two datanets with real-looking contributions (records in
// scripts/seed-data/, normalised, encrypted for the custodian where the policy needs it, pinned to IPFS)
// from several accounts, some approved, and one approved access grant for the demo builder. The base
// model is registered by the deploy step. Records what it did in <TRIBUTARY_HOME>/seed.json.
//
// It uses the SDK's protocol functions, as the CLI and the web app do.
// Usage: node scripts/seed.ts   (env as set by the stack: TRIBUTARY_RPC_URL, TRIBUTARY_IPFS_API_URL, ...)
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseUnits } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  connect,
  contribute,
  createDatanet,
  grantAccess,
  registerTrainer,
  requestAccess,
  review,
  sendTx,
  type AccessPolicyName,
  type ChainConnection,
} from "@tributary/sdk/chain";
import { KuboContentStore } from "@tributary/sdk/content";
import { demoAccount, type DemoRole } from "./stack/accounts.ts";
import { chainInstance } from "./stack/chain.ts";
import { configEnv, layout, loadConfig, rpcUrl } from "./stack/config.ts";
import { StackError } from "./stack/errors.ts";
import { readSeedRecord, seedFile, writeJson, type SeedRecord } from "./stack/state.ts";

const dataDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "seed-data");

interface DemoPlan {
  openPerAccount: string;
  fundedRoles: DemoRole[];
  trainerStake: string;
  trainerProfile: { endpoint: string; hardware: string };
  baseModel: { name: string; dir: string };
  datanets: {
    key: string;
    owner: DemoRole;
    policy: AccessPolicyName;
    price: string;
    file: string;
    metadata: { name: string; description: string; license: string; tags: string[] };
    contributions: {
      from: DemoRole;
      records: [number, number];
      file: string;
      status: "approved" | "pending";
    }[];
    accessRequests: { from: DemoRole; purpose: string; grant?: { days: number; uses: number } }[];
  }[];
}

async function main(): Promise<void> {
  const config = loadConfig();
  const env = configEnv(config);
  const instance = await chainInstance(config, { create: false });
  if (!instance) {
    throw new StackError("the chain has no stack instance id", {
      hint: "run the seed through `npm start`, which marks the chain first",
    });
  }
  const previous = readSeedRecord(config);
  if (previous?.chainInstance === instance) {
    console.log(`demo already seeded on this chain at ${previous.seededAt}; nothing to do`);
    return;
  }
  const plan = JSON.parse(fs.readFileSync(path.join(dataDir, "demo.json"), "utf8")) as DemoPlan;
  const store = new KuboContentStore({ url: env.TRIBUTARY_IPFS_API_URL! });
  const deploymentsFile = layout(config).deploymentsFile;
  const connections = new Map<DemoRole, ChainConnection>();
  const as = async (role: DemoRole): Promise<ChainConnection> => {
    let conn = connections.get(role);
    if (!conn) {
      conn = await connect({
        rpcUrl: rpcUrl(config),
        chainId: config.chainId,
        deployments: deploymentsFile,
        account: privateKeyToAccount(demoAccount(role).privateKey),
      });
      connections.set(role, conn);
    }
    return conn;
  };

  const deployer = await as("deployer");
  const existing = await deployer.publicClient.readContract({
    address: deployer.contracts.DatanetRegistry.address,
    abi: deployer.contracts.DatanetRegistry.abi,
    functionName: "datanetCount",
  });
  if (existing > 0n) {
    throw new StackError(
      `this chain already has ${existing} datanet(s) but no record of a finished demo seed`,
      {
        details: "an earlier seed probably stopped half-way",
        hint: "start over with `npm start -- --fresh`",
      },
    );
  }

  // The custodian the encrypted datanet's contributions are wrapped for (started before the seed).
  const info = (await (await fetch(`${env.TRIBUTARY_CUSTODIAN_URL}/v1/info`)).json()) as {
    publicKey: string;
  };
  const custodian = { publicKey: info.publicKey, url: env.TRIBUTARY_CUSTODIAN_URL! };

  const open = parseUnits(plan.openPerAccount, 18);
  for (const role of plan.fundedRoles) {
    await sendTx(deployer, deployer.contracts.OpenToken, "mint", [demoAccount(role).address, open]);
  }
  console.log(`minted ${plan.openPerAccount} OPEN to ${plan.fundedRoles.join(", ")}`);

  const trainer = await registerTrainer(await as("trainer"), store, {
    endpoint: plan.trainerProfile.endpoint,
    baseModels: [plan.baseModel.name],
    hardware: plan.trainerProfile.hardware,
    stake: parseUnits(plan.trainerStake, 18),
  });
  console.log(
    `trainer ${demoAccount("trainer").address} staked ${plan.trainerStake} OPEN (profile ${trainer.profileCid})`,
  );

  const datanets: SeedRecord["datanets"][number][] = [];
  const cids: string[] = [];
  for (const dn of plan.datanets) {
    const owner = await as(dn.owner);
    const created = await createDatanet(owner, store, {
      ...dn.metadata,
      policy: dn.policy,
      price: parseUnits(dn.price, 18),
      curators: [], // the owner curates; the registry adds it
      ...(dn.policy === "open" ? {} : { custodian }),
    });
    const datanetId = created.datanetId;
    const lines = fs.readFileSync(path.join(dataDir, dn.file), "utf8").trimEnd().split("\n");
    const toApprove: bigint[] = [];
    for (const c of dn.contributions) {
      const content = lines.slice(c.records[0], c.records[1]).join("\n") + "\n";
      const result = await contribute(await as(c.from), store, { datanetId, fileName: c.file, content });
      if (c.status === "approved") toApprove.push(result.contributionId);
      cids.push(result.cid);
    }
    if (toApprove.length) await review(owner, { datanetId, approve: toApprove });
    for (const req of dn.accessRequests) {
      await requestAccess(await as(req.from), store, { datanetId, purpose: req.purpose });
      if (req.grant) {
        const now = (await owner.publicClient.getBlock()).timestamp;
        await grantAccess(owner, {
          datanetId,
          account: demoAccount(req.from).address,
          expiresAt: now + BigInt(req.grant.days * 86400),
          uses: req.grant.uses,
        });
      }
    }
    datanets.push({
      id: String(datanetId),
      name: dn.metadata.name,
      contributions: dn.contributions.length,
      approved: toApprove.length,
    });
    console.log(
      `datanet #${datanetId} "${dn.metadata.name}" (${dn.policy}): ${dn.contributions.length} contributions, ` +
        `${toApprove.length} approved, ${dn.accessRequests.filter((r) => r.grant).length} access grant(s)`,
    );
  }

  const deployments = JSON.parse(fs.readFileSync(deploymentsFile, "utf8")) as {
    baseModels?: { id: number }[];
  };
  const done: SeedRecord = {
    version: 1,
    chainInstance: instance,
    seededAt: new Date().toISOString(),
    datanets,
    contributionCids: cids,
    ...(deployments.baseModels?.[0] ? { baseModelId: String(deployments.baseModels[0].id) } : {}),
  };
  writeJson(seedFile(config), done);
  console.log(`seed recorded in ${seedFile(config)}`);
}

main().catch((err: unknown) => {
  if (err instanceof StackError) console.error(`seed failed: ${err.describe()}`);
  else console.error(err, `\nseed failed: ${(err as Error).message}`); // the summary last, for the log's tail
  process.exit(1);
});
