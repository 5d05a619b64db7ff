// End to end: `npm start` on non-default ports in a temp TRIBUTARY_HOME; every service answers; state survives a restart; a lost chain is detected and everything derived
// from it reset; --fresh wipes; a hard-killed supervisor is cleaned up after; a taken port is named.
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { createPublicClient, http, parseAbi, type Address } from "viem";
import { demoAccount } from "../accounts.ts";
import { deploymentAddresses, INSTANCE_SLOT_ADDRESS } from "../chain.ts";
import {
  interrupt,
  readJson,
  stopAll,
  rpc,
  spawnStack,
  startStack,
  testEnv,
  waitUp,
  type RunningStack,
} from "./helpers.ts";

const ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const RECEIVER = "0x000000000000000000000000000000000000bEEF";

describe("npm start", { timeout: 600_000 }, () => {
  let env: Record<string, string>;
  let home: string;
  let current: RunningStack | undefined;
  const state: {
    instance?: string;
    deployments?: string;
    receiverBalance?: string;
    cid?: string;
    seeded?: boolean;
  } = {};

  /** The chain's identity as the stack marks it (see chainInstance in chain.ts). */
  const instance = async () => rpc<string>(env, "eth_getStorageAt", [INSTANCE_SLOT_ADDRESS, "0x0", "latest"]);
  const deploymentsFile = () => path.join(env.TRIBUTARY_DEPLOYMENTS_DIR!, `${env.TRIBUTARY_CHAIN_ID}.json`);
  const ipfsApi = () => `http://127.0.0.1:${env.TRIBUTARY_IPFS_API_PORT}/api/v0`;

  before(async () => {
    env = await testEnv();
    home = env.TRIBUTARY_HOME!;
  });
  // A failed assertion must not leave a stack running into the next test.
  afterEach(stopAll);
  after(async () => {
    await stopAll();
    fs.rmSync(path.dirname(home), { recursive: true, force: true });
  });

  it("starts every service, each answering on its configured port", async () => {
    current = await startStack(env);
    const out = current.output;
    assert.equal(Number(await rpc<string>(env, "eth_chainId")), Number(env.TRIBUTARY_CHAIN_ID));
    assert.match(out, new RegExp(`chain RPC\\s+http://127\\.0\\.0\\.1:${env.TRIBUTARY_CHAIN_PORT}`));
    assert.match(out, /0x70997970C51812dc3A010C7d01b50e0d17dc79C8/, "summary lists the demo accounts");
    assert.match(out, /local test keys, never use on a real network/);
    state.instance = await instance();
    assert.notEqual(BigInt(state.instance), 0n, "the stack marked its chain");

    const deployments = readJson<unknown>(deploymentsFile());
    const addresses = deploymentAddresses(deployments);
    assert.ok(addresses.length >= 5, `deployments name the contracts: ${addresses.join(", ")}`);
    for (const a of addresses)
      assert.notEqual(await rpc<string>(env, "eth_getCode", [a, "latest"]), "0x", `${a} has code`);
    state.deployments = fs.readFileSync(deploymentsFile(), "utf8");
    const version = await fetch(`${ipfsApi()}/version`, { method: "POST" });
    assert.equal(version.status, 200);
    assert.ok(((await version.json()) as { Version?: string }).Version, "IPFS reports a version");

    const seed = readJson<{
      chainInstance: string;
      contributionCids: string[];
      datanets: { name: string; approved: number }[];
    }>(path.join(home, "seed.json"));
    assert.equal(seed.chainInstance, state.instance);
    assert.deepEqual(seed.datanets.map((d) => d.name).sort(), ["Home Cooking Q&A", "Houseplant Care"]);
    const client = createPublicClient({ transport: http(`http://127.0.0.1:${env.TRIBUTARY_CHAIN_PORT}`) });
    const registry = (JSON.parse(state.deployments!) as { contracts: Record<string, { address: Address }> })
      .contracts.DatanetRegistry.address;
    const count = await client.readContract({
      address: registry,
      abi: parseAbi(["function datanetCount() view returns (uint256)"]),
      functionName: "datanetCount",
    });
    assert.equal(count, 2n, "the seed created two datanets on chain");
    const plan = readJson<{ datanets: { contributions: { status: string }[] }[] }>(
      path.join(import.meta.dirname, "..", "..", "seed-data", "demo.json"),
    );
    const contracts = (
      JSON.parse(state.deployments!) as { contracts: Record<string, { address: Address }> }
    ).contracts;
    const builder = demoAccount("builder").address;
    const view = parseAbi([
      "function hasAccess(uint256 datanetId, address account) view returns (bool)",
      "function isEligible(address trainer) view returns (bool)",
      "function balanceOf(address) view returns (uint256)",
      "function versionOf(uint256 datanetId) view returns (uint32)",
    ]);
    const read = (
      address: Address,
      functionName: "hasAccess" | "isEligible" | "balanceOf" | "versionOf",
      args: readonly unknown[],
    ) => client.readContract({ address, abi: view, functionName, args } as never) as Promise<unknown>;
    assert.equal(
      await read(contracts.AccessRegistry.address, "hasAccess", [1n, builder]),
      true,
      "the builder's grant",
    );
    assert.equal(
      await read(contracts.AccessRegistry.address, "hasAccess", [1n, demoAccount("dave").address]),
      false,
    );
    assert.equal(
      await read(contracts.TrainerRegistry.address, "isEligible", [demoAccount("trainer").address]),
      true,
      "the staked trainer",
    );
    assert.ok(
      ((await read(contracts.OpenToken.address, "balanceOf", [builder])) as bigint) > 0n,
      "the builder holds OPEN",
    );
    assert.deepEqual(
      [await read(registry, "versionOf", [1n]), await read(registry, "versionOf", [2n])],
      plan.datanets.map((d) => d.contributions.filter((c) => c.status === "approved").length),
      "approved contributions raised each datanet's version",
    );
    state.cid = seed.contributionCids[0];
    const cat = await fetch(`${ipfsApi()}/cat?arg=${state.cid}`, { method: "POST" });
    assert.equal(cat.status, 200);
    assert.ok((await cat.arrayBuffer()).byteLength > 0, "a seeded contribution's content is in IPFS");
    const base = (JSON.parse(state.deployments!) as { baseModels?: { cid: string }[] }).baseModels?.[0];
    assert.ok(base, "the deploy step registered a base model");
    const set = await fetch(`${ipfsApi()}/cat?arg=${base.cid}`, { method: "POST" });
    assert.equal(set.status, 200, `the base model's CID ${base.cid} resolves in IPFS`);
    const files = ((await set.json()) as { files: { path: string; cid: string }[] }).files;
    assert.ok(files.some((f) => f.path === "model.safetensors"), "the base model's weights are pinned");
    const config = await fetch(`${ipfsApi()}/cat?arg=${files.find((f) => f.path === "config.json")!.cid}`, { method: "POST" });
    assert.equal(((await config.json()) as { model_type?: string }).model_type, "llama");
    state.seeded = true;

    const health = await fetch(`http://127.0.0.1:${env.TRIBUTARY_CUSTODIAN_PORT}/health`);
    assert.equal(health.status, 200);
    const graph = await fetch(`http://127.0.0.1:${env.TRIBUTARY_INDEXER_PORT}/subgraphs/name/tributary`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ _meta { block { number } } }" }),
    });
    const body = (await graph.json()) as { data?: { _meta?: { block?: { number?: number } } } };
    assert.equal(typeof body.data?._meta?.block?.number, "number");
    // the trainer node serves the base model the deploy step pinned and registered
    const listed = await fetch(`http://127.0.0.1:${env.TRIBUTARY_TRAINER_PORT}/v1/models`);
    const models = ((await listed.json()) as { data: { id: string }[] }).data.map((m) => m.id);
    assert.ok(models.includes("tributary-austen-4m"), `the trainer node lists the base model: ${models.join(", ")}`);

    // Change chain state so the restart has something to keep.
    const hash = await rpc<string>(env, "eth_sendTransaction", [{ from: ALICE, to: RECEIVER, value: "0x1234" }]);
    // anvil answers with the hash once the transaction is in its pool; the block follows (automine)
    for (let i = 0; i < 100 && !(await rpc<unknown>(env, "eth_getTransactionReceipt", [hash])); i++) await new Promise((r) => setTimeout(r, 100));
    state.receiverBalance = await rpc<string>(env, "eth_getBalance", [RECEIVER, "latest"]);
    assert.equal(BigInt(state.receiverBalance), 0x1234n);

    assert.equal(await interrupt(current), 0, current.output);
    assert.match(current.output, /stopped chain \(exit code 0\)/);
    assert.ok(fs.existsSync(path.join(home, "chain", "state.json")), "the chain saved its state");
  });

  it("restarts with the chain state, pins and seed of the last run (no re-seed, same addresses)", async () => {
    current = await startStack(env);
    assert.equal(await instance(), state.instance, "same chain");
    assert.equal(await rpc<string>(env, "eth_getBalance", [RECEIVER, "latest"]), state.receiverBalance);
    assert.doesNotMatch(current.output, /Redeploying/);
    const second = spawnStack(env, ["--fresh"]);
    assert.equal(await second.exited, 1, "a second stack on the same home is refused");
    assert.match(second.output, /another stack is already running from .* \(pid \d+\)/);
    assert.equal(await instance(), state.instance, "and the first one's state is untouched");
    assert.ok(state.deployments && state.seeded, "the first start deployed and seeded");
    assert.equal(fs.readFileSync(deploymentsFile(), "utf8"), state.deployments, "same deployments");
    assert.match(current.output, /deploy: contracts already deployed/);
    assert.match(current.output, /seed: demo already seeded/);
    const cat = await fetch(`${ipfsApi()}/cat?arg=${state.cid}`, { method: "POST" });
    assert.equal(cat.status, 200, "the content survived the restart");
    const pins = await fetch(`${ipfsApi()}/pin/ls?type=recursive`, { method: "POST" });
    assert.equal(pins.status, 200);
    assert.ok(
      Object.keys(((await pins.json()) as { Keys: object }).Keys).includes(state.cid!),
      "and is still pinned",
    );
    await rpc(env, "eth_sendTransaction", [{ from: ALICE, to: RECEIVER, value: "0x1" }]);
    const head = await rpc<string>(env, "eth_blockNumber");
    current.child.kill("SIGTERM"); // as a service manager stops it
    assert.equal(await current.exited, 0, current.output);
    assert.match(current.output, /SIGTERM: stopping/);
    assert.match(current.output, /stopped chain \(exit code 0\)/);
    const saved = readJson<{ block: { number: string } }>(path.join(home, "chain", "state.json"));
    // services may still send a transaction (the trainer node working on the seeded job) between reading the
    // head and the chain's stop: the saved state must hold at least every block seen
    assert.ok(BigInt(saved.block.number) >= BigInt(head), `the chain saved its latest block on SIGTERM (saved ${saved.block.number}, seen ${head})`);
  });

  it("detects a lost chain state, says so, and resets what was derived from the old chain", async () => {
    fs.mkdirSync(path.join(home, "indexer"), { recursive: true });
    fs.writeFileSync(path.join(home, "indexer", "store.db"), "rows from the old chain");
    fs.rmSync(path.join(home, "chain", "state.json"));
    current = await startStack(env);
    assert.match(current.output, /not the one this stack used before/);
    assert.notEqual(await instance(), state.instance, "a new chain");
    assert.equal(await rpc<string>(env, "eth_getBalance", [RECEIVER, "latest"]), "0x0");
    assert.equal(fs.existsSync(path.join(home, "indexer", "store.db")), false, "the indexer store was reset");
    const record = readJson<{ chainInstance: string }>(path.join(home, "stack.json"));
    assert.equal(record.chainInstance, await instance());
    for (const a of deploymentAddresses(readJson(deploymentsFile()))) {
      assert.notEqual(await rpc<string>(env, "eth_getCode", [a, "latest"]), "0x", `${a} redeployed`);
    }
    assert.equal(
      readJson<{ chainInstance: string }>(path.join(home, "seed.json")).chainInstance,
      await instance(),
    );
    state.instance = await instance();
    assert.equal(await interrupt(current), 0, current.output);
  });

  it("cleans up after a supervisor that was killed hard and keeps the chain", async () => {
    current = await startStack(env);
    current.child.kill("SIGKILL");
    await current.exited;
    // The chain (its own process group) outlives the supervisor; the next start stops it (it saves its state).
    assert.equal(await instance(), state.instance);
    current = await startStack(env);
    assert.match(current.output, /stopping chain \(pid \d+\) left running by an earlier stack/);
    assert.equal(await instance(), state.instance, `same chain after the cleanup:\n${current.output}`);
    assert.equal(await interrupt(current), 0, current.output);
  });

  it("names the taken port and the env var that moves it", async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(Number(env.TRIBUTARY_CHAIN_PORT), "127.0.0.1", r));
    try {
      const stack = spawnStack(env);
      assert.equal(await stack.exited, 1);
      assert.match(
        stack.output,
        new RegExp(`port ${env.TRIBUTARY_CHAIN_PORT} on 127\\.0\\.0\\.1 \\(chain\\) is already in use`),
      );
      assert.match(stack.output, new RegExp(`TRIBUTARY_CHAIN_PORT=<port>`));
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it("--fresh wipes the state folder and starts a new chain", async () => {
    fs.writeFileSync(path.join(home, "leftover.txt"), "x");
    current = spawnStack(env, ["--fresh"]);
    await waitUp(current);
    assert.match(current.output, /--fresh: removed/);
    assert.equal(fs.existsSync(path.join(home, "leftover.txt")), false);
    assert.notEqual(await instance(), state.instance);
    assert.equal(await interrupt(current), 0, current.output);
  });
});
