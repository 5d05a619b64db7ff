import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseEther, recoverTypedDataAddress, sha256 } from "viem";
import { keyReleaseDomain, signKeyRelease } from "../src/custody/index.ts";
import { privateKeyToAccount } from "viem/accounts";
import {
  buyAccess,
  connect,
  contribute,
  ContractRevertError,
  createDatanet,
  updateDatanetMetadata,
  decryptKeystore,
  describeCustomError,
  DeploymentsError,
  encryptKeystore,
  getDatanet,
  getContributionManifest,
  listContributions,
  loadAccount,
  review,
  sendTx,
  signVoucher,
  VOUCHER_TYPES,
  WalletError,
  withdrawContribution,
  WrongChainError,
} from "../src/chain/index.ts";
import type { ChainConnection } from "../src/chain/index.ts";
import { decryptContent, generateKeyPair, keyIdOf } from "../src/crypto/index.ts";
import { startContentStore, startDevChain, TEST_KEYS } from "./helpers/devchain.ts";
import type { DevChain } from "./helpers/devchain.ts";
import type { KuboContentStore } from "../src/content/index.ts";

describe("custom error sentences", () => {
  it("names an error without a sentence with its arguments, and never throws on odd values", () => {
    assert.equal(
      describeCustomError("InvalidSplit", { ownerBps: 9000, trainerBps: 2000, protocolBps: 0 }),
      "the contract raised InvalidSplit(ownerBps=9000, trainerBps=2000, protocolBps=0).",
    );
    assert.match(
      describeCustomError("CooldownActive", { trainer: "0xabc", availableAt: 0n }),
      /1970-01-01T00:00:00.000Z/,
    );
    assert.match(
      describeCustomError("ERC20InsufficientBalance", {}),
      /^the contract raised ERC20InsufficientBalance/,
    );
  });
});

describe("keystore", () => {
  it("round-trips a key through a V3 keystore and refuses a wrong password", () => {
    const ks = encryptKeystore(TEST_KEYS[3], "correct horse", { n: 1024 });
    assert.equal(ks.version, 3);
    assert.equal(`0x${ks.address}`, privateKeyToAccount(TEST_KEYS[3]).address.toLowerCase());
    assert.ok(
      !JSON.stringify(ks).includes(TEST_KEYS[3].slice(2)),
      "the keystore must not hold the plain key",
    );
    assert.equal(decryptKeystore(ks, "correct horse"), TEST_KEYS[3]);
    assert.throws(
      () => decryptKeystore(ks, "wrong"),
      (e: unknown) => e instanceof WalletError && /Wrong keystore password/.test(e.message),
    );
  });

  it("loads the account from a keystore file named in the environment", () => {
    const dir = mkdtempSync(join(tmpdir(), "ks-"));
    const file = join(dir, "key.json");
    writeFileSync(file, JSON.stringify(encryptKeystore(TEST_KEYS[2], "pw", { n: 1024 })));
    const acc = loadAccount({}, { TRIBUTARY_KEYSTORE: file, TRIBUTARY_KEYSTORE_PASSWORD: "pw" });
    assert.equal(acc?.address, privateKeyToAccount(TEST_KEYS[2]).address);
    assert.throws(() => loadAccount({}, { TRIBUTARY_KEYSTORE: file }), /needs a password/);
    assert.throws(
      () => loadAccount({}, { TRIBUTARY_PRIVATE_KEY: "0x1234" }),
      (e: unknown) => e instanceof WalletError && !/0x1234/.test((e as Error).message),
    );
    assert.equal(loadAccount({}, {}), undefined);
  });
});

describe("chain against a hardhat node", () => {
  let chain: DevChain;
  let store: KuboContentStore;
  let ipfs: Awaited<ReturnType<typeof startContentStore>>;
  let owner: ChainConnection;
  let contributor: ChainConnection;
  let stranger: ChainConnection;
  const custodian = generateKeyPair();

  before(async () => {
    chain = await startDevChain();
    ipfs = await startContentStore();
    store = ipfs.store;
    const opts = {
      rpcUrl: chain.rpcUrl,
      chainId: chain.chainId,
      deployments: chain.deploymentsFile,
      pollingInterval: 50,
    };
    owner = await connect({ ...opts, account: privateKeyToAccount(TEST_KEYS[1]) });
    contributor = await connect({ ...opts, account: privateKeyToAccount(TEST_KEYS[2]) });
    stranger = await connect({ ...opts, account: privateKeyToAccount(TEST_KEYS[5]) });
  });
  after(async () => {
    await ipfs?.stop();
    await chain?.stop();
  });

  it("takes an address as viem does (a JSON-RPC account: the node signs), for writes and vouchers; key releases need a key", async () => {
    const who = privateKeyToAccount(TEST_KEYS[6]).address; // unlocked on the dev node, no key given here
    const wallet = await connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, deployments: chain.deploymentsFile, pollingInterval: 50, account: who });
    assert.equal(wallet.account!.type, "json-rpc");
    assert.equal(wallet.account!.address, who);
    const token = wallet.contracts.OpenToken;
    await sendTx(wallet, token, "approve", [owner.account!.address, 1234n]);
    assert.equal(await owner.publicClient.readContract({ address: token.address, abi: token.abi, functionName: "allowance", args: [who, owner.account!.address] }), 1234n);
    const channelId = `0x${"ab".repeat(32)}` as const;
    const v = await signVoucher(wallet, { channelId, cumulativeAmount: 5n, epoch: 0 });
    const pc = wallet.contracts.PaymentChannels;
    const signer = await recoverTypedDataAddress({
      domain: { name: "Tributary PaymentChannels", version: "1", chainId: chain.chainId, verifyingContract: pc.address },
      types: VOUCHER_TYPES,
      primaryType: "Voucher",
      message: { channelId, cumulativeAmount: 5n, epoch: 0 },
      signature: v.signature as `0x${string}`,
    });
    assert.equal(signer, who);
    await assert.rejects(
      signKeyRelease(wallet.account!, keyReleaseDomain(chain.chainId, wallet.contracts.JobMarket.address), { trainer: who, jobId: 1n, datanetId: 1n, contributionIds: [1n], trainerPubKey: "0x00", expiry: 1n }),
      /needs a local account \(the trainer's key\)/,
    );
  });

  it("fails with WrongChainError naming both chain ids", async () => {
    await assert.rejects(
      connect({ rpcUrl: chain.rpcUrl, chainId: 1, deployments: chain.deploymentsFile }),
      (e: unknown) => {
        assert.ok(e instanceof WrongChainError);
        assert.equal(e.expected, 1);
        assert.equal(e.actual, 31337);
        assert.match(e.message, /expected chain id 1 but .* serves chain id 31337/);
        return true;
      },
    );
  });

  it("says to run npm run deploy when the deployments file is missing", async () => {
    await assert.rejects(
      connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, deployments: join(chain.dir, "nowhere") }),
      (e: unknown) => {
        assert.ok(e instanceof DeploymentsError);
        assert.match(e.message, /npm run deploy/);
        return true;
      },
    );
  });

  it("decodes a custom error from a reverted write into a sentence", async () => {
    await assert.rejects(review(stranger, { datanetId: 99n, approve: [1n] }), (e: unknown) => {
      assert.ok(e instanceof ContractRevertError, String(e));
      assert.equal(e.errorName, "DatanetNotFound");
      assert.equal(e.args.datanetId, 99n);
      assert.match(e.message, /DatanetRegistry\.approveContribution reverted: Datanet 99 does not exist/);
      return true;
    });
  });

  it("decodes an OpenZeppelin error raised inside a nested token transfer", async () => {
    const paid = await createDatanet(owner, store, {
      name: "Paid set",
      policy: "paid",
      price: parseEther("3"),
      custodian: { publicKey: Buffer.from(custodian.publicKey).toString("hex") },
    });
    await assert.rejects(buyAccess(stranger, { datanetId: paid.datanetId, uses: 1 }), (e: unknown) => {
      assert.ok(e instanceof ContractRevertError, String(e));
      assert.equal(e.contract, "AccessRegistry");
      assert.equal(e.errorName, "ERC20InsufficientBalance");
      assert.equal(e.args.needed, parseEther("3"));
      assert.match(e.message, /holds 0 OPEN, less than the 3 OPEN needed/);
      return true;
    });
  });

  it("waits for the configured number of confirmations before resolving a write", async () => {
    const deployer = await connect({
      rpcUrl: chain.rpcUrl,
      chainId: chain.chainId,
      deployments: chain.deploymentsFile,
      account: privateKeyToAccount(TEST_KEYS[0]),
      pollingInterval: 50,
      confirmations: 2,
    });
    let done = false;
    const pending = sendTx(deployer, deployer.contracts.OpenToken, "mint", [
      deployer.account!.address,
      1n,
    ]).then((r) => {
      done = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(done, false, "one block is not two confirmations");
    await deployer.publicClient.request({ method: "evm_mine" } as never);
    const r = await pending;
    assert.equal(r.receipt.status, "success");
    assert.equal(await deployer.publicClient.getBlockNumber(), r.blockNumber + 1n);
  });

  it("creates a Datanet, takes an encrypted contribution, approves it and records the withdrawal", async () => {
    const created = await createDatanet(owner, store, {
      name: "Support chats",
      policy: "approval",
      custodian: { publicKey: Buffer.from(custodian.publicKey).toString("hex") },
    });
    const id = created.datanetId;
    assert.equal((await getDatanet(owner, id)).owner, owner.account!.address);
    const jsonl = '{"prompt":"2+2?","completion":"4"}\n{"text":"hello world"}\n';
    const c = await contribute(contributor, store, {
      datanetId: created.datanetId,
      fileName: "qa.jsonl",
      content: jsonl,
    });
    assert.equal(c.records, 2);
    assert.equal(c.encrypted, true);
    const manifest = await getContributionManifest(store, c.cid);
    const ciphertext = await store.cat(manifest.contentCid);
    assert.ok(
      !Buffer.from(ciphertext).toString("utf8").includes("hello world"),
      "content must be stored encrypted",
    );
    const plain = await decryptContent(ciphertext, manifest.encryption!, custodian.privateKey);
    assert.equal(sha256(plain), c.contentHash);

    await assert.rejects(review(contributor, { datanetId: id, approve: [c.contributionId] }), /NotCurator/);
    const r = await review(owner, { datanetId: id, approve: [c.contributionId] });
    assert.equal(r.version, 1);
    let list = await listContributions(owner, id);
    assert.deepEqual(
      list.map((x) => [x.contributionId, x.status, x.approvedInVersion, x.cid]),
      [[1n, "approved", 1, c.cid]],
    );

    await withdrawContribution(contributor, id, c.contributionId);
    list = await listContributions(owner, id);
    assert.equal(list[0].status, "withdrawn");
  });

  it("lets only the owner edit a Datanet's description, keeping its custodian", async () => {
    const created = await createDatanet(owner, store, {
      name: "Recipes",
      description: "Old.",
      tags: ["food"],
      policy: "approval",
      custodian: { publicKey: Buffer.from(custodian.publicKey).toString("hex") },
    });
    const id = created.datanetId;
    await assert.rejects(
      updateDatanetMetadata(stranger, store, { datanetId: id, description: "Mine now." }),
      /NotDatanetOwner/,
    );
    const r = await updateDatanetMetadata(owner, store, {
      datanetId: id,
      description: "New.\n\n## More",
      tags: ["cooking"],
    });
    const after = await getDatanet(owner, id, store);
    assert.equal(after.metadataCid, r.metadataCid);
    assert.notEqual(after.metadataCid, created.metadataCid);
    assert.equal(after.metadata!.name, "Recipes");
    assert.equal(after.metadata!.description, "New.\n\n## More");
    assert.deepEqual(after.metadata!.tags, ["cooking"]);
    assert.equal(after.metadata!.custodian?.keyId, keyIdOf(Buffer.from(custodian.publicKey).toString("hex")));
    await assert.rejects(updateDatanetMetadata(owner, store, { datanetId: id, name: " " }), /name/);
  });
});
