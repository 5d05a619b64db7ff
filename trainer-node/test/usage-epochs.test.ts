// Use pays, per request, end to end on real components: a Hardhat chain with the protocol deployed (PaymentChannels
// -> UsageEpochs -> RewardDistributor), an embedded IPFS node, two model versions of one trained adapter with equal
// training-time weights for three contributors, the node's API with billing, citations (a real CitationIndex) and
// the usage recorder. Paid answers cite alice's record; bob's equal record is never cited; carol pays for queries
// citing her own record. The node commits usage epochs; alice claims every epoch of both models in one transaction.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { getAddress, parseEther, zeroHash } from "viem";
import type { Address, Hex } from "viem";
import { mnemonicToAccount, privateKeyToAccount } from "viem/accounts";
import { ChatTokenizer, fineTune, selectKernel } from "@tributary/engine";
import type { Kernel } from "@tributary/engine";
import { connect, enableUsageEpochs, getUsageDispute, getUsageEpoch, openChannel, registerTrainer, sendTx, setInferencePrice, signVoucher, usageClaimsTree, usageCommitteeOf, usageDisputeOf, usageEarnings, usageRecordsAuth, verifierStake } from "@tributary/sdk/chain";
import type { ChainConnection } from "@tributary/sdk/chain";
import { addFileSet } from "@tributary/sdk/files";
import { addJson } from "@tributary/sdk/chain";
import { buildAttributionReport } from "@tributary/sdk/merkle";
import { cliRunner, ok } from "../../sdk/test/helpers/cli.ts";
import { startContentStore, startDevChain, TEST_KEYS } from "../../sdk/test/helpers/devchain.ts";
import type { DevChain } from "../../sdk/test/helpers/devchain.ts";
import { Billing, buildUsageEpoch, chainCatalog, CitationIndex, ModelServer, startApi, UsageRecorder } from "../src/serve/index.ts";
import type { UsageRecord, UsageRecorderOptions } from "../src/serve/index.ts";
import { MemoryJobs } from "./helpers/serve.ts";
import { Verifier } from "../src/jobs/verify.ts";

const BASE_DIR = fileURLToPath(new URL("../models/tributary-austen-4m/", import.meta.resolve("@tributary/engine")));
const PRICE = 10n ** 15n; // OPEN wei per 1,000 tokens: 1e12 wei a token
const TOKEN = PRICE / 1000n;
const MAX = 16;
const CONTRIBUTORS_BPS = 6_500n; // the local split: owner 20 %, trainer 10 %, protocol 5 %
const PROMPT_X = [40, 51, 62, 73, 84, 95, 106, 117];
const PROMPT_Y = [200, 190, 180, 170, 160, 150, 140, 130];

describe("usage epochs: paid answers pay what they cite", { timeout: 600_000 }, () => {
  let chain: DevChain;
  let ipfs: Awaited<ReturnType<typeof startContentStore>>;
  let kernel: Kernel;
  let wasm: Kernel;
  const conns: ChainConnection[] = [];
  const models: bigint[] = [];
  let eos = 0;
  const tmp = mkdtempSync(join(tmpdir(), "usage-epochs-"));
  const [deployer, owner, node, alice, bob, carol, payer] = [0, 1, 2, 3, 4, 5, 6];
  const addr = (i: number) => conns[i].account!.address;

  before(async () => {
    chain = await startDevChain();
    ipfs = await startContentStore();
    // the dev chain funds 20 accounts of its mnemonic: 0..7 are TEST_KEYS, 8..13 the dispute test's payer, warm-up and verifiers
    const accounts = [...TEST_KEYS.map((k) => privateKeyToAccount(k)), ...[8, 9, 10, 11, 12, 13].map((i) => mnemonicToAccount("test test test test test test test test test test test junk", { addressIndex: i }))];
    for (const account of accounts) conns.push(await connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, deployments: chain.deploymentsFile, account, pollingInterval: 50 }));
    const d = conns[deployer];
    const baseCid = (await addFileSet(ipfs.store, BASE_DIR)).cid;
    await sendTx(d, d.contracts.ModelRegistry, "registerBaseModel", ["tributary-austen-4m", baseCid]);
    const baseModelId = await d.publicClient.readContract({ address: d.contracts.ModelRegistry.address, abi: d.contracts.ModelRegistry.abi, functionName: "baseModelCount" });
    kernel = await selectKernel("ort", 2);
    wasm = await selectKernel("wasm", 1); // verifier nodes run on wasm (usage checks use no kernel, but the node requires it)
    const out = join(tmp, "adapter");
    await fineTune({ modelDir: BASE_DIR, records: [{ messages: [{ role: "user", content: "Who wrote Emma?" }, { role: "assistant", content: "Jane Austen." }] }], evalSplit: 0, outDir: out, method: "lora", kernel, config: { lr: 1e-2, epochs: 1, batchSize: 1, warmupSteps: 0, seed: 1, lora: { r: 4, alpha: 8, targetModules: ["q_proj", "v_proj"] } } });
    const adapterCid = (await addFileSet(ipfs.store, out)).cid;
    const adapterHash = `0x${createHash("sha256").update(readFileSync(join(out, "adapter_model.safetensors"))).digest("hex")}` as Hex;
    const role = async (name: "ModelRegistry" | "RewardDistributor", r: string) => d.publicClient.readContract({ address: d.contracts[name].address, abi: d.contracts[name].abi, functionName: r as never }) as Promise<Hex>;
    await sendTx(d, d.contracts.ModelRegistry, "grantRole", [await role("ModelRegistry", "MINTER_ROLE"), d.account!.address]);
    await sendTx(d, d.contracts.RewardDistributor, "grantRole", [await role("RewardDistributor", "REGISTRAR_ROLE"), d.account!.address]);
    // equal training-time weights: alice, bob and carol contributed one record each to Datanet 1, approved in its version 1
    const dn = d.contracts.DatanetRegistry;
    await sendTx(conns[owner], dn, "createDatanet", [baseCid, 1, 0n, []]);
    for (const [k, i] of [alice, bob, carol].entries()) await sendTx(conns[i], dn, "submitContribution", [1n, baseCid, `0x${(k + 1).toString(16).padStart(64, "0")}`, 1, 64, true]);
    await sendTx(conns[owner], dn, "approveContributions", [1n, [1n, 2n, 3n]]);
    const dataRef = (1n << 32n) | BigInt(await d.publicClient.readContract({ address: dn.address, abi: dn.abi, functionName: "versionOf", args: [1n] }));
    const { report, tree } = buildAttributionReport([alice, bob, carol].map((i, k) => ({ datanetId: "1", contributionId: String(k + 1), contributor: addr(i), score: 1 })), { totalWeight: 3n });
    const reportCid = await addJson(ipfs.store, report);
    for (let k = 0; k < 2; k++) {
      await sendTx(d, d.contracts.ModelRegistry, "mintModelVersion", [{ to: addr(owner), jobId: 0n, baseModelId, parentId: 0n, trainer: addr(node), adapterCID: adapterCid, adapterHash, attributionRoot: tree.root, attributionTotalWeight: 3n, reportCID: reportCid, datanetIds: [] }]);
      const modelId = await d.publicClient.readContract({ address: d.contracts.ModelRegistry.address, abi: d.contracts.ModelRegistry.abi, functionName: "modelCount" });
      await sendTx(d, d.contracts.RewardDistributor, "registerModel", [modelId, addr(node), tree.root, 3n, [dataRef]]);
      await setInferencePrice(conns[owner], modelId, PRICE);
      await enableUsageEpochs(conns[owner], modelId);
      models.push(modelId);
    }
    for (const p of [carol, payer, 7]) await sendTx(d, d.contracts.OpenToken, "mint", [addr(p), parseEther("10")]);
    // the provider bonds each epoch it commits (back at finalisation)
    await sendTx(d, d.contracts.OpenToken, "mint", [addr(node), parseEther("100")]);
    eos = (await ChatTokenizer.fromDir(BASE_DIR)).eosId ?? 0;
  });

  after(async () => {
    await kernel?.dispose();
    await wasm?.dispose();
    await ipfs?.stop();
    await chain?.stop();
  });

  /**
   * A serving node of `conns[node]` on `cacheDir`: billing, the usage recorder (`tamper`: a dishonest one) and a real
   * citation index built from the model's own greedy answers, asked once uncited by `warmup`: alice's record is what
   * the model says to X, carol's what it says to Y, bob's (as long) is never said.
   */
  async function startProvider(cacheDir: string, warmup: number, tamper?: UsageRecorderOptions["tamper"], log?: (line: string) => void) {
    const provider = conns[node];
    const billing = await Billing.open({ conn: provider, file: join(cacheDir, "vouchers.json"), redeemEveryMs: 0 });
    const server = new ModelServer({ store: ipfs.store, cacheDir, kernel });
    const usage = new UsageRecorder({ conn: provider, store: ipfs.store, dataDir: cacheDir, redeem: () => billing.redeemAll(), tamper, log });
    const captured: number[][] = [];
    let index: CitationIndex | null = null;
    const citations = async (_m: unknown, ids: number[]) => {
      if (!index) {
        captured.push(ids);
        return [];
      }
      return index.find(ids, 6).map((s) => ({ ...s.source, datanet_id: s.source.datanetId, contribution_id: s.source.contributionId, tokens: s.end - s.start }));
    };
    const api = await startApi({ port: 0, catalog: chainCatalog(provider), models: server, jobs: new MemoryJobs(), billing, citations, usage });
    const channels = new Map<string, { id: Hex; signer: ChainConnection; owed: bigint }>();
    const ask = async (who: number, model: bigint, prompt: number[]) => {
      const key = `${who}/${model}`;
      let ch = channels.get(key);
      if (!ch) {
        const { channelId } = await openChannel(conns[who], { provider: addr(node), modelId: model, amount: parseEther("1") });
        ch = { id: channelId, signer: conns[who], owed: 0n };
        channels.set(key, ch);
      }
      // each voucher covers what was used plus this request's maximum (post-paid, one request of credit)
      const voucher = await signVoucher(ch.signer, { channelId: ch.id, cumulativeAmount: ch.owed + BigInt(prompt.length + MAX) * TOKEN });
      const res = await fetch(`${api.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json", "x-tributary-voucher": JSON.stringify(voucher) }, body: JSON.stringify({ model: `model-${model}`, prompt, max_tokens: MAX, temperature: 0, logit_bias: { [eos]: -100 } }) });
      const body = (await res.json()) as { tributary: { billing: { owed: string }; citations?: Array<{ contributor: string }> } };
      assert.equal(res.status, 200, JSON.stringify(body));
      ch.owed = BigInt(body.tributary.billing.owed);
      return body.tributary.citations ?? [];
    };
    // warm-up (uncited): what the model answers to X and Y, greedily
    await ask(warmup, models[0], PROMPT_X);
    await ask(warmup, models[0], PROMPT_Y);
    assert.equal(captured.length, 2);
    const src = (who: number, c: number) => ({ datanetId: "1", contributionId: String(c), contributor: addr(who) });
    index = CitationIndex.build([
      { ids: captured[0], source: src(alice, 1) },
      { ids: captured[0].map((t, i) => 300 + ((t * 31 + i * 17) % 500)), source: src(bob, 2) },
      { ids: captured[1], source: src(carol, 3) },
    ]);
    const stop = async () => {
      await api.stop();
      await usage.close();
      await billing.close();
      await server.close();
    };
    return { provider, api, usage, ask, channels, stop };
  }

  it("a cited contribution earns more than an equal uncited one, self-citing captures nothing of others, one claim takes every epoch of both models", async () => {
    const cacheDir = join(tmp, "node");
    const { provider, usage, ask, channels, stop } = await startProvider(cacheDir, 7);
    try {
      for (let k = 0; k < 2; k++) {
        for (const m of models) for (let i = 0; i < 2; i++) assert.ok((await ask(payer, m, PROMPT_X)).every((c) => getAddress(c.contributor) === addr(alice)), "X cites alice");
        for (let i = 0; i < 2; i++) assert.ok((await ask(carol, models[0], PROMPT_Y)).some((c) => getAddress(c.contributor) === addr(carol)), "Y cites carol");
        const epochs = await usage.commit();
        assert.equal(epochs.length, 2, `round ${k}: one epoch per model`);
      }
      const ue = provider.contracts.UsageEpochs;
      const tok = provider.contracts.OpenToken;
      const balance = await provider.publicClient.readContract({ address: tok.address, abi: tok.abi, functionName: "balanceOf", args: [ue.address] });
      const owes = await provider.publicClient.readContract({ address: ue.address, abi: ue.abi, functionName: "liabilities" });
      assert.equal(balance, owes, "UsageEpochs holds exactly what it owes");

      // what each paid, from the node's records (their revenue is what the chain redeemed: checked on commit)
      const records = (epochFiles: string[]) => epochFiles.flatMap((f) => (JSON.parse(readFileSync(join(cacheDir, "usage", f), "utf8")) as { records: UsageRecord[] }).records);
      const all = records((await import("node:fs")).readdirSync(join(cacheDir, "usage")).filter((f) => f.startsWith("epoch-")));
      const share = (rs: UsageRecord[]) => rs.reduce((s, r) => s + (BigInt(r.revenue) * CONTRIBUTORS_BPS) / 10_000n, 0n);
      const paidBy = (who: number) => all.filter((r) => [...channels].some(([k, c]) => k.startsWith(`${who}/`) && c.id.toLowerCase() === r.channelId.toLowerCase()));
      const byPayer = paidBy(payer);
      const byCarol = paidBy(carol);
      assert.equal(byPayer.length, 8);
      assert.equal(byCarol.length, 4);

      // window over: claims open
      await provider.publicClient.request({ method: "evm_increaseTime" as never, params: [601] as never });
      await provider.publicClient.request({ method: "evm_mine" as never, params: [] as never });
      const earn = async (who: number) => (await usageEarnings(conns[who], ipfs.store, addr(who))).reduce((s, e) => s + e.amount, 0n);
      const [a, b, c] = [await earn(alice), await earn(bob), await earn(carol)];
      assert.ok(a > 0n, "alice's cited record earns from use");
      assert.equal(b, 0n, "bob's equal record, never cited, earns nothing from use");
      assert.equal(a, share(byPayer), "the contributors' share of the other payer's requests goes wholly to what they cited");
      assert.ok(c <= share(byCarol), `carol earns at most the contributors' share of her own payments (${c} <= ${share(byCarol)})`);
      assert.ok(c > 0n, "carol's own queries do cite her");
      // training-time influence (the RewardDistributor) is equal for all three: alice's total beats bob's
      const rd = provider.contracts.RewardDistributor;
      const influence = async (who: number) => {
        let s = 0n;
        // the leaf of the contribution `who` made (1: alice, 2: bob, 3: carol), weight 1 of 3
        const contributionId = BigInt([alice, bob, carol].indexOf(who) + 1);
        for (const m of models) s += await provider.publicClient.readContract({ address: rd.address, abi: rd.abi, functionName: "claimable", args: [m, 1n, contributionId, 1n] });
        return s;
      };


      // alice sees it (`tributary rewards overview`) and claims every epoch of both models in one transaction
      const cli = cliRunner({ rpcUrl: chain.rpcUrl, deploymentsFile: chain.deploymentsFile, ipfsApi: ipfs.apiUrl, cwd: tmp });
      const view = await ok(cli(TEST_KEYS[alice], "rewards", "overview"));
      const mineC = view.contributions.find((x: { contributionId: string }) => x.contributionId === "1");
      assert.equal(mineC.models.length, 2, "influence in each model");
      assert.ok(mineC.citations >= 8, `cited in every paid answer to X: ${mineC.citations}`);
      assert.equal(BigInt(mineC.usageEarned), a);
      assert.equal(view.epochs.length, 4, "earnings per epoch: two epochs of each model");
      assert.deepEqual(new Set(view.epochs.map((e: { modelId: string }) => BigInt(e.modelId))), new Set(models), "epochs of both models");
      const bobView = await ok(cli(TEST_KEYS[bob], "rewards", "overview"));
      assert.equal(bobView.contributions[0].citations, 0, "bob's record: influence, never cited");
      assert.equal(bobView.epochs.length, 0);
      const before = await provider.publicClient.readContract({ address: tok.address, abi: tok.abi, functionName: "balanceOf", args: [addr(alice)] });
      const claimed = await ok(cli(TEST_KEYS[alice], "rewards", "claim-all"));
      const afterBal = await provider.publicClient.readContract({ address: tok.address, abi: tok.abi, functionName: "balanceOf", args: [addr(alice)] });
      assert.equal(claimed.usage.epochs.length, 4);
      assert.equal(BigInt(claimed.usage.amount), a, "one transaction paid all four epochs");
      // finalising forwarded the uncited revenue to the RewardDistributor, where the three have equal weights
      assert.ok(BigInt(claimed.influence.amount) > 0n, "and one more transaction the training-time rewards of both models");
      assert.equal(await influence(bob), BigInt(claimed.influence.amount), "bob's training-time reward equals alice's");
      assert.ok(BigInt(claimed.influence.amount) + a > (await influence(bob)) + b, "cited earns more in total than the equal uncited record");
      assert.equal(afterBal - before, a + BigInt(claimed.influence.amount));
      for (const e of claimed.usage.epochs) assert.equal((await getUsageEpoch(provider, BigInt(e))).status, 3, "finalised by the claim");
      const again = await cli(TEST_KEYS[alice], "rewards", "claim-all");
      assert.notEqual(again.code, 0, "nothing left to claim");
      assert.match(again.stderr + again.stdout, /claimable/);
      const balance2 = await provider.publicClient.readContract({ address: tok.address, abi: tok.abi, functionName: "balanceOf", args: [ue.address] });
      const owes2 = await provider.publicClient.readContract({ address: ue.address, abi: ue.abi, functionName: "liabilities" });
      assert.equal(balance2, owes2, "still balanced after claims and finalisation");
    } finally {
      await stop();
    }
  });

  it("usage epochs are checked by verifier nodes: an auditor challenges a report paying the wrong contributor, a committee voids it from the provider's records (lazy verifier penalised), a false challenge loses its bond", async () => {
    const [payer2, warmup2, auditor, v2, lazyV, v3] = [8, 9, 10, 11, 12, 13];
    const d = conns[deployer];
    for (const who of [alice, carol, auditor, v2, v3, lazyV, payer2, warmup2]) await sendTx(d, d.contracts.OpenToken, "mint", [addr(who), parseEther("200")]);
    const cacheDir = join(tmp, "node2");
    // a dishonest provider on model 1: its committed claims pay bob (never cited) what its records give alice
    const tamper: UsageRecorderOptions["tamper"] = (plan) => {
      if (plan.modelId !== models[0] || plan.claims.length === 0) return plan;
      const total = plan.claims.reduce((s, c) => s + c.amount, 0n);
      const claims = [{ account: addr(bob), amount: total }];
      return { ...plan, claims, claimsRoot: usageClaimsTree(claims).root, contributions: plan.contributions.map((c) => ({ ...c, contributor: addr(bob) })) };
    };
    const logs: string[] = [];
    const { provider, api, usage, ask, stop } = await startProvider(cacheDir, warmup2, tamper, (l) => logs.push(`[provider] ${l}`));
    // four verifier nodes: one audits (usage epochs by their public report), one is lazy
    const verifiers = [auditor, v2, v3, lazyV].map(
      (who) =>
        new Verifier(
          { conn: conns[who], store: ipfs.store, custodianUrl: "http://127.0.0.1:9", dataDir: join(tmp, `verifier-${who}`), kernel: wasm, log: (l) => logs.push(`[${who}] ${l}`) },
          { stake: parseEther("100"), audit: who === auditor, lazy: who === lazyV },
        ),
    );
    const context = () => `\n${logs.join("\n")}`;
    const mine = async (n: number) => {
      for (let i = 0; i < n; i++) await d.publicClient.request({ method: "evm_mine" as never, params: [] as never });
    };
    try {
      // the provider publishes where its node serves the API (its trainer profile): verifiers fetch records there
      await registerTrainer(provider, ipfs.store, { endpoint: api.url });
      for (const v of verifiers) await v.tick(); // stakes
      for (const m of models) for (let i = 0; i < 2; i++) assert.ok((await ask(payer2, m, PROMPT_X)).every((c) => getAddress(c.contributor) === addr(alice)), "X cites alice");
      const [cheat, honest] = (await usage.commit()).sort((a, b) => (a.modelId < b.modelId ? -1 : 1)).map((e) => e.epochId);
      const ue = provider.contracts.UsageEpochs;
      const bondOf = async (e: bigint) => (await getUsageEpoch(provider, e)).bond;
      assert.ok((await bondOf(cheat)) > 0n, "the provider bonded its epoch");

      // the records are served to drawn verifiers only
      const unsigned = await fetch(`${api.url}/v1/usage/epochs/${cheat}/records`);
      assert.equal(unsigned.status, 401, "no signature: refused");
      const notDrawn = await fetch(`${api.url}/v1/usage/epochs/${cheat}/records`, { headers: await usageRecordsAuth(conns[v2], cheat) });
      assert.equal(notDrawn.status, 403, "a verifier not drawn for it: refused");
      assert.match(((await notDrawn.json()) as { error: { message: string } }).error.message, /not on a committee/);

      const settleAll = async (disputeId: bigint) => {
        await mine(5); // past the draw block
        for (let round = 0; round < 6 && (await getUsageDispute(d, disputeId)).phaseName !== "settled"; round++) {
          for (const v of verifiers) await v.tick();
        }
        return getUsageDispute(d, disputeId);
      };
      // the auditing node reads each epoch's public report: the cheat pays bob for alice's contribution 1/1
      await verifiers[0].tick();
      const disputeId = await usageDisputeOf(d, cheat);
      assert.ok(disputeId > 0n, `the auditor challenged the epoch${context()}`);
      assert.match(context(), /contribution 1\/1 belongs to 0x[0-9a-fA-F]{40}, but the report pays/);
      assert.equal(await usageDisputeOf(d, honest), 0n, "the honest epoch passes the audit");
      const d1 = await settleAll(disputeId);
      assert.equal(d1.phaseName, "settled", context());
      assert.equal(d1.providerWon, false, `the committee recomputed the epoch from the records: voided${context()}`);
      assert.equal((await getUsageEpoch(provider, cheat)).status, 4, "voided");
      assert.match(context(), /served its \d+ records to drawn verifier/, "the provider's node served the records");
      assert.match(context(), /differs from what the provider committed/);
      const p = await d.publicClient.readContract({ address: d.contracts.UsageGame.address, abi: d.contracts.UsageGame.abi, functionName: "params" });
      const penalised = await d.publicClient.getContractEvents({ address: d.contracts.UsageGame.address, abi: d.contracts.UsageGame.abi, eventName: "VerifierPenalised", args: { disputeId }, fromBlock: 0n });
      assert.deepEqual(penalised.map((e) => [e.args.verifier, e.args.amount]), [[addr(lazyV), p.verifierPenalty]], "the lazy verifier (copied the committed roots) is penalised, nobody else");
      await verifiers[3].tick();
      assert.equal((await verifierStake(d, addr(lazyV))).stake, parseEther("100"), "and its node tops its stake up again");
      const credit = (who: number) => d.publicClient.readContract({ address: d.contracts.UsageGame.address, abi: d.contracts.UsageGame.abi, functionName: "withdrawable", args: [addr(who)] });
      const fee = p.verifierFee;
      assert.deepEqual(new Set(await usageCommitteeOf(d, disputeId)), new Set([v2, v3, lazyV].map(addr)), "the challenging auditor does not sit on its own dispute");
      assert.equal(await credit(v2), fee + p.verifierPenalty / 2n, "an honest verifier: its fee and half the lazy one's penalty");
      const bond = await bondOf(cheat);
      assert.equal(await credit(auditor), p.challengeBond + bond - 2n * fee, "the challenger: its bond back and the provider's, less the fees");
      // voided: the whole revenue went by training-time influence; bob's forged claim is worthless
      const bobEarnings = await usageEarnings(conns[bob], ipfs.store, addr(bob));
      assert.ok(bobEarnings.every((e) => e.epochId !== cheat || !e.claimable), "nothing claimable from a voided epoch");

      // carol challenges the honest epoch (`tributary rewards challenge-epoch`): upheld, her bond pays the
      // verifiers and the provider
      const cli = cliRunner({ rpcUrl: chain.rpcUrl, deploymentsFile: chain.deploymentsFile, ipfsApi: ipfs.apiUrl, cwd: tmp });
      const c2 = await ok(cli(TEST_KEYS[carol], "rewards", "challenge-epoch", String(honest), "--reason", "I think my record was cited too"));
      assert.equal(BigInt(c2.bond), p.challengeBond, "the bond posted");
      const d2 = await settleAll(BigInt(c2.disputeId));
      assert.equal(d2.providerWon, true, `an honest epoch is upheld${context()}`);
      assert.equal((await getUsageEpoch(provider, honest)).status, 1, "committed, claimable at once");
      assert.match(context(), /agrees with what the provider committed/);
      const nodeCredit = await d.publicClient.readContract({ address: d.contracts.UsageGame.address, abi: d.contracts.UsageGame.abi, functionName: "withdrawable", args: [addr(node)] });
      const coherent = (await usageCommitteeOf(d, BigInt(c2.disputeId))).includes(addr(lazyV)) ? 2n : 3n;
      assert.equal(nodeCredit, p.challengeBond - coherent * fee, "the false challenger's bond less the coherent verifiers' fees to the provider");
      const earned = (await usageEarnings(conns[alice], ipfs.store, addr(alice))).find((e) => e.epochId === honest);
      assert.ok(earned && earned.claimable && earned.amount > 0n, "alice claims the upheld epoch at once");
      const balance = await provider.publicClient.readContract({ address: provider.contracts.OpenToken.address, abi: provider.contracts.OpenToken.abi, functionName: "balanceOf", args: [ue.address] });
      const owes = await provider.publicClient.readContract({ address: ue.address, abi: ue.abi, functionName: "liabilities" });
      assert.equal(balance, owes, "UsageEpochs still holds exactly what it owes");
    } finally {
      await stop();
    }
  });
});

describe("buildUsageEpoch", () => {
  const A = getAddress("0x00000000000000000000000000000000000000a1") as Address;
  const B = getAddress("0x00000000000000000000000000000000000000b2") as Address;
  const ch = `0x${"11".repeat(32)}` as Hex;
  const rec = (from: bigint, to: bigint, cites: Array<[Address, number]>): UsageRecord => ({ at: "", modelId: "1", channelId: ch, from: String(from), to: String(to), revenue: String(to - from), completionHash: zeroHash, citations: cites.map(([contributor, tokens], i) => ({ datanetId: "1", contributionId: String(i + 1), contributor, tokens })) });

  it("splits each cited request's contributors' share by cited tokens and leaves unredeemed records for later", () => {
    const pending = [rec(0n, 100n, [[A, 30], [B, 10]]), rec(100n, 300n, []), rec(300n, 400n, [[B, 5]]), rec(400n, 500n, [[A, 6]])];
    const plan = buildUsageEpoch(1n, pending, new Map([[ch, { redeemed: 400n, accounted: 0n }]]), 6_500)!;
    assert.equal(plan.records.length, 3);
    assert.deepEqual(plan.later.map((r) => r.to), ["500"], "not redeemed yet: the next epoch");
    assert.equal(plan.revenue, 400n);
    assert.equal(plan.citedRevenue, 200n, "uncited revenue is not split here");
    const amounts = Object.fromEntries(plan.claims.map((c) => [c.account, c.amount]));
    assert.equal(amounts[A], 48n, "65 wei of request 1, 3/4 to A");
    assert.equal(amounts[B], 16n + 65n, "1/4 of request 1 and all of request 3");
    assert.deepEqual(plan.ranges.map((r) => [r.fromCumulative, r.toCumulative]), [[0n, 400n]]);
  });

  it("drops records already accounted and returns null when nothing is due", () => {
    const pending = [rec(0n, 100n, [[A, 30]])];
    assert.equal(buildUsageEpoch(1n, pending, new Map([[ch, { redeemed: 100n, accounted: 100n }]]), 6_500), null);
    assert.equal(buildUsageEpoch(1n, pending, new Map([[ch, { redeemed: 50n, accounted: 0n }]]), 6_500), null);
  });
});
