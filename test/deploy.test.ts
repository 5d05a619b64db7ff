// The deploy step against a real `hardhat node` process on a free port (a local stack on 8545 is untouched):
// it deploys and wires everything, records the deployment, and a second run sends nothing.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createPublicClient, http, keccak256, toHex, type Address } from "viem";
import { LOCAL_PARAMS, NETWORK_PARAMS, paramsFor } from "../scripts/deploy.ts";

const root = join(import.meta.dirname, "..");
const hardhatCli = join(dirname(createRequire(import.meta.url).resolve("hardhat")), "cli.js");

/** A port nothing listens on now (so the test never deploys onto someone else's node). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

let URL = "";

function run(args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env } });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => resolve({ code: code ?? 1, out }));
  });
}

describe("scripts/deploy.ts against hardhat node", () => {
  let node: ChildProcess;
  let dir: string;
  let client: ReturnType<typeof createPublicClient>;

  before(async () => {
    const port = await freePort();
    URL = `http://127.0.0.1:${port}`;
    client = createPublicClient({ transport: http(URL) });
    dir = mkdtempSync(join(tmpdir(), "tributary-deploy-"));
    node = spawn(process.execPath, [hardhatCli, "node", "--hostname", "127.0.0.1", "--port", String(port)], {
      cwd: root,
      stdio: "ignore",
    });
    for (let i = 0; i < 120; i++) {
      try {
        await client.getChainId();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    throw new Error(`hardhat node did not answer on ${URL} within 60 s`);
  });

  after(() => {
    node?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("deploys, wires roles, registers a base model, then is idempotent", async () => {
    const env = { TRIBUTARY_RPC_URL: URL, TRIBUTARY_DEPLOYMENTS_DIR: dir };
    const first = await run(["scripts/deploy.ts"], env);
    assert.equal(first.code, 0, first.out);
    assert.doesNotMatch(first.out, /ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80/i, "key logged");
    const deployment = JSON.parse(readFileSync(join(dir, "31337.json"), "utf8")) as {
      chainId: number;
      deployBlock: number;
      contracts: Record<string, { address: Address; deployBlock: number }>;
    };
    assert.equal(deployment.chainId, 31337);
    assert.equal(Object.keys(deployment.contracts).length, 12);
    for (const { address, deployBlock } of Object.values(deployment.contracts)) {
      assert.notEqual(await client.getCode({ address }), undefined);
      assert.ok(deployBlock >= deployment.deployBlock);
    }
    const hasRole = (contract: string, role: string) =>
      client.readContract({
        address: deployment.contracts[contract].address,
        abi: [
          {
            type: "function",
            name: "hasRole",
            stateMutability: "view",
            inputs: [{ type: "bytes32" }, { type: "address" }],
            outputs: [{ type: "bool" }],
          },
        ],
        functionName: "hasRole",
        args: [keccak256(toHex(role)), deployment.contracts.JobMarket.address],
      });
    assert.equal(await hasRole("AccessRegistry", "CONSUMER_ROLE"), true);
    assert.equal(await hasRole("TrainerRegistry", "JOB_MARKET_ROLE"), true);
    assert.equal(await hasRole("ModelRegistry", "MINTER_ROLE"), true);
    assert.equal(await hasRole("RewardDistributor", "REGISTRAR_ROLE"), true);
    const active = await client.readContract({
      address: deployment.contracts.ModelRegistry.address,
      abi: [
        {
          type: "function",
          name: "isActiveBaseModel",
          stateMutability: "view",
          inputs: [{ type: "uint32" }],
          outputs: [{ type: "bool" }],
        },
      ],
      functionName: "isActiveBaseModel",
      args: [1],
    });
    assert.equal(active, true);
    const hook = await client.readContract({
      address: deployment.contracts.ModelRegistry.address,
      abi: [{ type: "function", name: "transferHook", stateMutability: "view", inputs: [], outputs: [{ type: "address" }] }],
      functionName: "transferHook",
    });
    assert.equal(hook, deployment.contracts.RewardDistributor.address);
    const game = await client.readContract({
      address: deployment.contracts.JobMarket.address,
      abi: [{ type: "function", name: "disputeGame", stateMutability: "view", inputs: [], outputs: [{ type: "address" }] }],
      functionName: "disputeGame",
    });
    assert.equal(game, deployment.contracts.DisputeGame.address, "the dispute game is wired into the market");
    const addressOf = (contract: string, name: string) =>
      client.readContract({
        address: deployment.contracts[contract].address,
        abi: [{ type: "function", name, stateMutability: "view", inputs: [], outputs: [{ type: "address" }] }],
        functionName: name,
      });
    assert.equal(
      await addressOf("UsageEpochs", "paymentChannels"),
      deployment.contracts.PaymentChannels.address,
      "voucher revenue goes through UsageEpochs",
    );
    assert.equal(await addressOf("UsageEpochs", "usageGame"), deployment.contracts.UsageGame.address, "usage challenges go to the usage game");
    for (const g of ["DisputeGame", "UsageGame"]) {
      assert.equal(await addressOf(g, "verifierPool"), deployment.contracts.VerifierPool.address, `${g} draws from the pool`);
      const isGame = await client.readContract({
        address: deployment.contracts.VerifierPool.address,
        abi: [{ type: "function", name: "isGame", stateMutability: "view", inputs: [{ type: "address" }], outputs: [{ type: "bool" }] }],
        functionName: "isGame",
        args: [deployment.contracts[g].address],
      });
      assert.equal(isGame, true, `the pool names ${g}`);
    }

    const blockBefore = await client.getBlockNumber();
    const second = await run(["scripts/deploy.ts"], env);
    assert.equal(second.code, 0, second.out);
    assert.match(second.out, /nothing to do/);
    assert.equal(await client.getBlockNumber(), blockBefore, "second run sent transactions");
  });

  it("reuses an existing OPEN token when TRIBUTARY_OPEN_TOKEN is set", async () => {
    const first = JSON.parse(readFileSync(join(dir, "31337.json"), "utf8")) as {
      contracts: Record<string, { address: Address }>;
    };
    const other = mkdtempSync(join(tmpdir(), "tributary-deploy-token-"));
    try {
      const token = first.contracts.OpenToken.address;
      const res = await run(["scripts/deploy.ts"], {
        TRIBUTARY_RPC_URL: URL,
        TRIBUTARY_DEPLOYMENTS_DIR: other,
        TRIBUTARY_OPEN_TOKEN: token,
      });
      assert.equal(res.code, 0, res.out);
      const second = JSON.parse(readFileSync(join(other, "31337.json"), "utf8")) as typeof first;
      assert.equal(second.contracts.OpenToken.address, token);
      assert.notEqual(second.contracts.JobMarket.address, first.contracts.JobMarket.address);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it("fails with a clear message when no chain answers", async () => {
    const res = await run(["scripts/deploy.ts"], { TRIBUTARY_RPC_URL: "http://127.0.0.1:9", TRIBUTARY_DEPLOYMENTS_DIR: dir });
    assert.equal(res.code, 1);
    assert.match(res.out, /No chain answers at http:\/\/127\.0\.0\.1:9/);
  });

  it("rejects a malformed private key without echoing it", async () => {
    const res = await run(["scripts/deploy.ts"], { TRIBUTARY_RPC_URL: URL, TRIBUTARY_PRIVATE_KEY: "0xdeadbeef" });
    assert.equal(res.code, 1);
    assert.match(res.out, /not a 32-byte hex key/);
    assert.doesNotMatch(res.out, /deadbeef/);
  });
});

describe("deploy parameters", () => {
  it("uses short windows on local chains and long ones elsewhere", () => {
    assert.equal(paramsFor(31337, {}).challengeWindow, LOCAL_PARAMS.challengeWindow);
    assert.equal(paramsFor(8453, {}).challengeWindow, NETWORK_PARAMS.challengeWindow);
    assert.ok(NETWORK_PARAMS.challengeWindow > LOCAL_PARAMS.challengeWindow);
  });

  it("rejects a malformed TRIBUTARY_OPEN_TOKEN", () => {
    assert.throws(() => paramsFor(1, { TRIBUTARY_OPEN_TOKEN: "0x1234" }), /not an address/);
    const token = "0x5fbdb2315678afecb367f032d93f642f64180aa3";
    assert.equal(paramsFor(1, { TRIBUTARY_OPEN_TOKEN: token }).token, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
  });
});
