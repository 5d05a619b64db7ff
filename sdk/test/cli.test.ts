// The CLI as a subprocess with --json, against a real hardhat node, the embedded IPFS node and a custodian.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { connect, encryptKeystore, sendTx } from "../src/chain/index.ts";
import type { ChainConnection } from "../src/chain/index.ts";
import { startCustodian } from "../src/custody/index.ts";
import type { RunningCustodian } from "../src/custody/index.ts";
import { startContentStore, startDevChain, TEST_KEYS } from "./helpers/devchain.ts";
import type { DevChain } from "./helpers/devchain.ts";
import { BIN, cliRunner, ok } from "./helpers/cli.ts";

describe("tributary CLI end to end", () => {
  let chain: DevChain;
  let ipfs: Awaited<ReturnType<typeof startContentStore>>;
  let custodian: RunningCustodian;
  let deployer: ChainConnection;
  const dir = mkdtempSync(join(tmpdir(), "cli-test-"));
  const [OWNER, CONTRIBUTOR, BUILDER, STRANGER] = [1, 2, 3, 5];
  const addr = (i: number) => privateKeyToAccount(TEST_KEYS[i]).address;

  let run: ReturnType<typeof cliRunner>;
  const cli = (who: number | undefined, ...args: string[]) =>
    run(who === undefined ? undefined : TEST_KEYS[who], ...args);
  const read = <T>(
    name: "DatanetRegistry" | "AccessRegistry" | "JobMarket",
    functionName: string,
    args: unknown[],
  ) =>
    deployer.publicClient.readContract({
      address: deployer.contracts[name].address,
      abi: deployer.contracts[name].abi as never,
      functionName,
      args,
    } as never) as Promise<T>;

  before(async () => {
    [chain, ipfs] = await Promise.all([startDevChain(), startContentStore()]);
    run = cliRunner({
      rpcUrl: chain.rpcUrl,
      deploymentsFile: chain.deploymentsFile,
      ipfsApi: ipfs.apiUrl,
      cwd: dir,
    });
    deployer = await connect({
      rpcUrl: chain.rpcUrl,
      chainId: chain.chainId,
      deployments: chain.deploymentsFile,
      account: privateKeyToAccount(TEST_KEYS[0]),
      pollingInterval: 50,
    });
    custodian = await startCustodian({
      conn: deployer,
      store: ipfs.store,
      stateDir: join(dir, "custodian"),
      port: 0,
    });
    await sendTx(deployer, deployer.contracts.OpenToken, "mint", [addr(BUILDER), parseEther("100")]);
    await sendTx(deployer, deployer.contracts.ModelRegistry, "registerBaseModel", [
      "tiny-llama",
      "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
    ]);
    writeFileSync(
      join(dir, "chats.jsonl"),
      '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n{"prompt":"1+1","completion":"2"}\n',
    );
    writeFileSync(join(dir, "notes.md"), "# Rivers\n\nRivers flow to the sea.\n\nLakes are still.\n");
    writeFileSync(join(dir, "bad.jsonl"), '{"text":"fine"}\n{"prompt":"no completion"}\n');
  });
  after(async () => {
    await custodian?.stop();
    await ipfs?.stop();
    await chain?.stop();
  });

  it("runs the datanet flow: create, contribute, review, list, show, withdraw", async () => {
    const created = await ok(
      cli(
        OWNER,
        "datanet",
        "create",
        "--name",
        "Chats",
        "--policy",
        "approval",
        "--custodian-url",
        custodian.url,
      ),
    );
    assert.equal(created.datanetId, "1");
    const onChain = await read<{ owner: string; policy: number }>("DatanetRegistry", "getDatanet", [1n]);
    assert.equal(onChain.owner, addr(OWNER));
    assert.equal(onChain.policy, 1);

    const contributed = await ok(
      cli(CONTRIBUTOR, "datanet", "contribute", "1", join(dir, "chats.jsonl"), join(dir, "notes.md")),
    );
    assert.deepEqual(
      contributed.map((c: { contributionId: string; records: number; encrypted: boolean }) => [
        c.contributionId,
        c.records,
        c.encrypted,
      ]),
      [
        ["1", 2, true],
        ["2", 1, true],
      ],
    );

    const reviewed = await ok(cli(OWNER, "datanet", "review", "1", "--approve", "1,2"));
    assert.equal(reviewed.version, 2);
    assert.equal(await read<number>("DatanetRegistry", "versionOf", [1n]), 2);

    const list = await ok(cli(undefined, "datanet", "list", "--metadata"));
    assert.deepEqual(
      list.map((d: { datanetId: string; metadata: { name: string }; version: number; policy: string }) => [
        d.datanetId,
        d.metadata.name,
        d.version,
        d.policy,
      ]),
      [["1", "Chats", 2, "approval"]],
    );

    await ok(cli(CONTRIBUTOR, "datanet", "withdraw", "1", "2"));
    const shown = await ok(cli(undefined, "datanet", "show", "1"));
    assert.deepEqual(
      shown.contributions.map((c: { contributionId: string; status: string; approvedInVersion: number }) => [
        c.contributionId,
        c.status,
        c.approvedInVersion,
      ]),
      [
        ["1", "approved", 1],
        ["2", "withdrawn", 2],
      ],
    );
    assert.equal(shown.metadata.custodian.publicKey, custodian.publicKey);
  });

  it("reports a malformed file with its line number and registers nothing", async () => {
    const r = await cli(CONTRIBUTOR, "datanet", "contribute", "1", join(dir, "bad.jsonl"));
    assert.equal(r.code, 1);
    assert.equal(r.json.error.name, "NormaliseError");
    assert.match(r.json.error.message, /bad\.jsonl:2/);
    assert.equal(
      (await read<{ contributionCount: number }>("DatanetRegistry", "getDatanet", [1n])).contributionCount,
      2,
    );
  });

  it("shows the decoded custom error when a transaction would revert", async () => {
    const r = await cli(STRANGER, "datanet", "review", "1", "--approve", "1");
    assert.equal(r.code, 1);
    assert.equal(r.json.error.errorName, "NotCurator");
    assert.match(r.json.error.message, /is not a curator of Datanet 1/);
  });

  it("runs the access flow: request, grant, list, revoke, and buy on a paid Datanet", async () => {
    const req = await ok(cli(BUILDER, "access", "request", "1", "--purpose", "support bot"));
    assert.ok(req.requestCid);
    await ok(cli(OWNER, "access", "grant", "1", addr(BUILDER), "--uses", "2", "--duration", "7d"));
    assert.equal(await read<boolean>("AccessRegistry", "hasAccess", [1n, addr(BUILDER)]), true);
    const list = await ok(cli(undefined, "access", "list", "1"));
    assert.deepEqual(
      list.map((a: { account: string; hasAccess: boolean; usesLeft: number; requestCid: string }) => [
        a.account,
        a.hasAccess,
        a.usesLeft,
        a.requestCid,
      ]),
      [[addr(BUILDER), true, 2, req.requestCid]],
    );
    await ok(cli(OWNER, "access", "revoke", "1", addr(BUILDER)));
    assert.equal(await read<boolean>("AccessRegistry", "hasAccess", [1n, addr(BUILDER)]), false);

    const paid = await ok(
      cli(
        OWNER,
        "datanet",
        "create",
        "--name",
        "Paid",
        "--policy",
        "paid",
        "--price",
        "5",
        "--custodian-key",
        custodian.publicKey,
      ),
    );
    const bought = await ok(cli(BUILDER, "access", "buy", paid.datanetId, "--uses", "2"));
    assert.equal(bought.paid, parseEther("10").toString());
    assert.equal(
      (
        await read<{ usesLeft: number }>("AccessRegistry", "getGrant", [
          BigInt(paid.datanetId),
          addr(BUILDER),
        ])
      ).usesLeft,
      2,
    );
  });

  it("posts a job from flags, shows its status and cancels it; rejects an invalid spec", async () => {
    const bad = await cli(
      BUILDER,
      "job",
      "post",
      "--base-model",
      "tiny-llama",
      "--data",
      "1:1",
      "--lr",
      "5",
      "--budget",
      "1",
    );
    assert.equal(bad.code, 1);
    assert.match(bad.json.error.message, /learningRate/);
    await ok(cli(OWNER, "access", "grant", "1", addr(BUILDER)));
    const posted = await ok(
      cli(
        BUILDER,
        "job",
        "post",
        "--base-model",
        "tiny-llama",
        "--data",
        "1",
        "--rank",
        "16",
        "--budget",
        "20",
        "--duration",
        "2h",
      ),
    );
    assert.deepEqual(posted.spec.data, [{ datanetId: "1", version: 2 }]);
    assert.equal(posted.spec.lora.r, 16);
    const status = await ok(cli(undefined, "job", "status", posted.jobId));
    assert.equal(status.status, "open");
    // the spec leaves verification out: the base model decides (replay on Llama bases, eval on others)
    assert.equal(status.verification.class, null);
    assert.match(status.verification.text, /^replay on Llama bases \(engine wasm kernel, bit for bit\), eval on others/);
    assert.equal(status.budget, parseEther("20").toString());
    await ok(cli(BUILDER, "job", "cancel", posted.jobId));
    assert.equal((await read<{ status: number }>("JobMarket", "getJob", [BigInt(posted.jobId)])).status, 6);
  });

  it("fails clearly on a wrong chain id", async () => {
    const r = await cli(undefined, "datanet", "list", "--chain-id", "5");
    assert.equal(r.code, 1);
    assert.equal(r.json.error.name, "WrongChainError");
    assert.match(r.json.error.message, /expected chain id 5 but .* serves chain id 31337/);
  });

  it("signs with an encrypted keystore file instead of a raw key", async () => {
    const file = join(dir, "builder.json");
    writeFileSync(file, JSON.stringify(encryptKeystore(TEST_KEYS[BUILDER], "s3cret", { n: 1024 })));
    writeFileSync(join(dir, "pw.txt"), "s3cret\n");
    const r = await ok(
      cli(
        undefined,
        "access",
        "request",
        "1",
        "--purpose",
        "eval",
        "--keystore",
        file,
        "--password-file",
        join(dir, "pw.txt"),
      ),
    );
    const tx = await deployer.publicClient.getTransaction({ hash: r.hash });
    assert.equal(tx.from.toLowerCase(), addr(BUILDER).toLowerCase());
    const wrong = await cli(undefined, "wallet", "address", "--keystore", file);
    assert.equal(wrong.code, 1);
    assert.match(wrong.json.error.message, /needs a password/);
  });

  it("runs the custodian until SIGTERM", async () => {
    const child = spawn(
      process.execPath,
      [BIN, "custodian", "start", "--port", "0", "--state-dir", join(dir, "cust2"), "--json"],
      {
        env: {
          PATH: process.env.PATH,
          TRIBUTARY_RPC_URL: chain.rpcUrl,
          TRIBUTARY_DEPLOYMENTS: chain.deploymentsFile,
          TRIBUTARY_IPFS_API: ipfs.apiUrl,
        },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const line = await new Promise<string>((resolve) => {
      let out = "";
      child.stdout.on("data", (d) => {
        out += d;
        if (out.includes("\n")) resolve(out);
      });
    });
    const started = JSON.parse(line);
    const info = (await (await fetch(new URL("/v1/info", started.url))).json()) as { publicKey: string };
    assert.equal(info.publicKey, started.publicKey);
    const code = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    assert.equal(await code, 0);
  });
  it("shows curators a contribution duplicated under a second address, read with the custodian key", async () => {
    writeFileSync(
      join(dir, "copy.jsonl"),
      '{"messages":[{"role":"user","content":"Hi!"},{"role":"assistant","content":"Hello."}]}\n{"prompt":"1+1","completion":"2"}\n',
    );
    const [copy] = await ok(cli(STRANGER, "datanet", "contribute", "1", join(dir, "copy.jsonl")));
    assert.equal(copy.contributionId, "3");
    const unread = await ok(cli(undefined, "datanet", "show", "1", "--duplicates"));
    assert.equal(unread.contributions.find((c: { contributionId: string }) => c.contributionId === "3").duplicate, "unread (encrypted)");
    const keyFile = join(dir, "custodian", "custodian-key.json");
    const flagged = await ok(cli(undefined, "datanet", "show", "1", "--duplicates", "--custodian-key", keyFile));
    const byId = new Map(flagged.contributions.map((c: { contributionId: string }) => [c.contributionId, c]));
    assert.deepEqual((byId.get("3") as { duplicateOf: unknown }).duplicateOf, { contributionId: "1", kind: "exact", similarity: 1 });
    assert.equal((byId.get("3") as { duplicate: string }).duplicate, "of #1 (exact, 1)");
    assert.equal((byId.get("1") as { duplicate: string }).duplicate, "", "the earlier registration keeps the credit");
    assert.equal((byId.get("2") as { duplicate: string }).duplicate, "", "withdrawn contributions are not compared");
    const wrong = await cli(undefined, "datanet", "show", "1", "--custodian-key", keyFile);
    assert.equal(wrong.code, 1);
    assert.equal(wrong.json.error.name, "UsageError");
    assert.match(wrong.json.error.message, /only used with --duplicates/);
  });
});
