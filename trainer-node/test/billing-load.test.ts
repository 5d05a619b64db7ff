// Paid inference under concurrency on real components: a Hardhat chain with the protocol deployed, an
// embedded IPFS node holding the committed base model and a LoRA adapter trained here, a model version
// minted and priced on chain, payment channels opened by several payers, and the node's API over fetch.
// 64 streams run at once (some aborted mid-stream, some beyond their channel's deposit); afterwards what
// the node counts as owed must equal what it computed, no channel may be served beyond its deposit or its
// best voucher plus one request's credit, and redemption must collect exactly the best vouchers.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { parseEther, zeroHash } from "viem";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { ChatTokenizer, fineTune, selectKernel } from "@tributary/engine";
import type { Kernel } from "@tributary/engine";
import { connect, getChannel, openChannel, redeemVoucher, sendTx, setInferencePrice, signVoucher } from "@tributary/sdk/chain";
import type { ChainConnection } from "@tributary/sdk/chain";
import { addFileSet } from "@tributary/sdk/files";
import { startContentStore, startDevChain, TEST_KEYS } from "../../sdk/test/helpers/devchain.ts";
import type { DevChain } from "../../sdk/test/helpers/devchain.ts";
import { Billing, chainCatalog, ModelServer, startApi } from "../src/serve/index.ts";
import type { ApiServer } from "../src/serve/index.ts";
import { MemoryJobs, sseEvents } from "./helpers/serve.ts";

const BASE_DIR = fileURLToPath(new URL("../models/tributary-austen-4m/", import.meta.resolve("@tributary/engine")));
const PRICE = 1000n; // OPEN wei per 1,000 tokens: a token costs exactly 1 wei, so owed counts tokens
const PROMPT = 8; // prompt tokens of every request (token ids)
const MAX = 24; // max_tokens of every request
const COST = BigInt(PROMPT + MAX); // the most one request can cost
const DEPOSIT = 10n * COST; // each channel can pay for 10 full requests; 16 are sent on it

describe("billing under concurrency: 64 paid streams against a real node and chain", { timeout: 600_000 }, () => {
  let chain: DevChain;
  let ipfs: Awaited<ReturnType<typeof startContentStore>>;
  let kernel: Kernel;
  let provider: ChainConnection;
  let modelId = 0n;
  let eos = 0;
  const payers: ChainConnection[] = [];
  const tmp = mkdtempSync(join(tmpdir(), "billing-load-"));
  const [deployer, owner, node] = [0, 1, 2];

  before(async () => {
    chain = await startDevChain();
    ipfs = await startContentStore();
    const conns = [];
    for (let i = 0; i < 8; i++) conns.push(await connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, deployments: chain.deploymentsFile, account: privateKeyToAccount(TEST_KEYS[i]), pollingInterval: 50 }));
    const d = conns[deployer];
    provider = conns[node];
    payers.push(...conns.slice(3));
    const baseCid = (await addFileSet(ipfs.store, BASE_DIR)).cid;
    await sendTx(d, d.contracts.ModelRegistry, "registerBaseModel", ["tributary-austen-4m", baseCid]);
    const baseModelId = await d.publicClient.readContract({ address: d.contracts.ModelRegistry.address, abi: d.contracts.ModelRegistry.abi, functionName: "baseModelCount" });
    // a small adapter, minted as a model version the way the job market does it (the deployer takes its roles)
    kernel = await selectKernel("ort", 2);
    const out = join(tmp, "adapter");
    await fineTune({ modelDir: BASE_DIR, records: [{ messages: [{ role: "user", content: "Who wrote Emma?" }, { role: "assistant", content: "Jane Austen." }] }], evalSplit: 0, outDir: out, method: "lora", kernel, config: { lr: 1e-2, epochs: 2, batchSize: 1, warmupSteps: 0, seed: 1, lora: { r: 4, alpha: 8, targetModules: ["q_proj", "v_proj"] } } });
    const adapterCid = (await addFileSet(ipfs.store, out)).cid;
    const adapterHash = `0x${createHash("sha256").update(readFileSync(join(out, "adapter_model.safetensors"))).digest("hex")}` as Hex;
    const role = async (name: "ModelRegistry" | "RewardDistributor", r: string) => d.publicClient.readContract({ address: d.contracts[name].address, abi: d.contracts[name].abi, functionName: r as never }) as Promise<Hex>;
    await sendTx(d, d.contracts.ModelRegistry, "grantRole", [await role("ModelRegistry", "MINTER_ROLE"), d.account!.address]);
    await sendTx(d, d.contracts.RewardDistributor, "grantRole", [await role("RewardDistributor", "REGISTRAR_ROLE"), d.account!.address]);
    await sendTx(d, d.contracts.ModelRegistry, "mintModelVersion", [{ to: conns[owner].account!.address, jobId: 0n, baseModelId, parentId: 0n, trainer: provider.account!.address, adapterCID: adapterCid, adapterHash, attributionRoot: zeroHash, attributionTotalWeight: 0n, reportCID: "", datanetIds: [] }]);
    modelId = await d.publicClient.readContract({ address: d.contracts.ModelRegistry.address, abi: d.contracts.ModelRegistry.abi, functionName: "modelCount" });
    await sendTx(d, d.contracts.RewardDistributor, "registerModel", [modelId, provider.account!.address, zeroHash, 0n, []]);
    await setInferencePrice(conns[owner], modelId, PRICE);
    for (const p of payers) await sendTx(d, d.contracts.OpenToken, "mint", [p.account!.address, parseEther("1")]);
    eos = (await ChatTokenizer.fromDir(BASE_DIR)).eosId ?? 0;
  });

  after(async () => {
    await kernel?.dispose();
    await ipfs?.stop();
    await chain?.stop();
  });

  async function startNode(name: string): Promise<{ api: ApiServer; billing: Billing; models: ModelServer; cacheDir: string; stop(): Promise<void> }> {
    const cacheDir = join(tmp, name, "cache");
    const billing = await Billing.open({ conn: provider, file: join(tmp, name, "vouchers.json"), redeemEveryMs: 0 });
    const models = new ModelServer({ store: ipfs.store, cacheDir, kernel });
    const api = await startApi({ port: 0, catalog: chainCatalog(provider), models, jobs: new MemoryJobs(), billing });
    return { api, billing, models, cacheDir, stop: async () => (await api.stop(), await billing.close(), await models.close()) };
  }

  const request = (url: string, voucher: unknown, body: Record<string, unknown>, signal?: AbortSignal) =>
    fetch(`${url}/v1/completions`, { method: "POST", signal, headers: { "content-type": "application/json", ...(voucher ? { "x-tributary-voucher": JSON.stringify(voucher) } : {}) }, body: JSON.stringify({ model: `model-${modelId}`, ...body }) });
  const promptIds = (k: number) => Array.from({ length: PROMPT }, (_, i) => 30 + ((k * 7 + i * 13) % 200));

  it("answers 402 before fetching or loading anything, and starts an unseen channel at the chain's redeemed amount", async () => {
    const n = await startNode("first");
    try {
      const res = await request(n.api.url, null, { prompt: promptIds(0), max_tokens: MAX });
      assert.equal(res.status, 402);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, "voucher_required");
      const forged = await request(n.api.url, await signVoucher(payers[1], { channelId: zeroHash, cumulativeAmount: 0n, epoch: 0 }), { prompt: promptIds(0), max_tokens: MAX });
      assert.equal(forged.status, 402);
      assert.equal(n.models.stats().baseModels, 0, "no base model was loaded for unpaid requests");
      assert.equal(existsSync(join(n.cacheDir, "models")) || existsSync(join(n.cacheDir, "adapters")), false, "nothing was fetched from IPFS");

      // the last payer's channel was used elsewhere: 100 wei redeemed on chain before this node sees it
      const payer = payers.at(-1)!;
      const { channelId } = await openChannel(payer, { provider: provider.account!.address, modelId, amount: DEPOSIT });
      await redeemVoucher(provider, await signVoucher(payer, { channelId, cumulativeAmount: 100n }));
      const stale = await request(n.api.url, await signVoucher(payer, { channelId, cumulativeAmount: 99n }), { prompt: promptIds(0), max_tokens: MAX });
      const body = (await stale.json()) as { error: { code: string; message: string }; tributary: { owed: string; sign_at_least: string } };
      assert.equal(stale.status, 402, JSON.stringify(body));
      assert.equal(body.error.code, "voucher_insufficient");
      assert.equal(body.tributary.owed, "100", "an unseen channel starts at what the chain redeemed, not 0");
      assert.equal(body.tributary.sign_at_least, "100");
      const ok = await request(n.api.url, await signVoucher(payer, { channelId, cumulativeAmount: 100n }), { prompt: promptIds(0), max_tokens: 4 });
      const r = (await ok.json()) as { usage: { total_tokens: number }; tributary: { billing: { owed: string } } };
      assert.equal(ok.status, 200, JSON.stringify(r));
      assert.equal(BigInt(r.tributary.billing.owed), 100n + BigInt(r.usage.total_tokens));
    } finally {
      await n.stop();
    }
  });

  it("bills exactly what was generated across finished, aborted and refused streams, within deposits and vouchers", async () => {
    const n = await startNode("load");
    const channels = payers.slice(0, 4);
    const ids: Hex[] = [];
    for (const p of channels) ids.push((await openChannel(p, { provider: provider.account!.address, modelId, amount: DEPOSIT })).channelId);
    const before = n.models.stats();
    const signed = ids.map(() => 0n); // the best voucher each payer sent
    const outcomes = { finished: 0, aborted: 0, deposit: 0, voucher: 0, other: [] as string[] };
    const stream = async (c: number, k: number) => {
      // channels 0 and 1: request k prepays the k requests sent before it (capped at the deposit), only itself
      // runs on credit; channels 2 and 3: a client that signs nothing ahead (0) and fires all 16 at once
      const amount = c >= 2 ? 0n : BigInt(k) * COST < DEPOSIT ? BigInt(k) * COST : DEPOSIT;
      const voucher = await signVoucher(channels[c], { channelId: ids[c], cumulativeAmount: amount });
      if (amount > signed[c]) signed[c] = amount;
      const abort = k % 4 === 1 ? new AbortController() : null;
      const res = await request(n.api.url, voucher, { prompt: promptIds(c * 16 + k), max_tokens: MAX, temperature: 1, seed: k, logit_bias: { [eos]: -100 }, stream: true, stream_options: { include_usage: true } }, abort?.signal);
      if (res.status === 402) {
        const code = ((await res.json()) as { error: { code: string } }).error.code;
        if (code === "deposit_exhausted") outcomes.deposit++;
        else if (code === "voucher_insufficient") outcomes.voucher++;
        else outcomes.other.push(code);
        return;
      }
      if (res.status !== 200) return void outcomes.other.push(`${res.status} ${await res.text()}`);
      try {
        let deltas = 0;
        for await (const e of sseEvents(res)) {
          if (e.data === "[DONE]") break;
          const chunk = JSON.parse(e.data) as { choices: { text: string }[]; error?: unknown };
          if (chunk.error) outcomes.other.push(e.data);
          if (chunk.choices?.[0]?.text && ++deltas === 2 && abort) abort.abort(); // mid-stream
        }
        outcomes.finished++;
      } catch (e) {
        if ((e as Error).name !== "AbortError") throw e;
        outcomes.aborted++;
      }
    };
    try {
      await Promise.all(ids.flatMap((_, c) => Array.from({ length: 16 }, (_, k) => stream(c, k))));
      // the node stops an aborted generation at its next token; wait until nothing runs
      for (let i = 0; i < 400 && (n.models.stats().running || n.models.stats().queued || ids.some((id) => n.billing.channel(id)?.reserved !== "0")); i++) await new Promise((r) => setTimeout(r, 25));
      assert.deepEqual(outcomes.other, [], "every request was served or refused with 402");
      assert.ok(outcomes.aborted >= 2, `some streams were aborted mid-stream: ${JSON.stringify(outcomes)}`);
      assert.ok(outcomes.deposit >= 2, `some requests were refused beyond the deposit: ${JSON.stringify(outcomes)}`);
      assert.ok(outcomes.voucher >= 2, `some requests were refused for want of a voucher: ${JSON.stringify(outcomes)}`);
      assert.equal(outcomes.finished + outcomes.aborted + outcomes.deposit + outcomes.voucher, 64);

      const after = n.models.stats();
      const computed = BigInt(after.promptTokens - before.promptTokens + after.completionTokens - before.completionTokens);
      const owed = ids.map((id) => BigInt(n.billing.channel(id)!.owed));
      assert.equal(owed.reduce((a, b) => a + b, 0n), computed, "owed (1 wei a token) equals exactly the tokens the node computed");
      for (const [c, id] of ids.entries()) {
        const ch = n.billing.channel(id)!;
        assert.equal(ch.reserved, "0", "no reservation outlives its request");
        assert.ok(owed[c] <= DEPOSIT, `channel ${c}: served ${owed[c]} within the deposit ${DEPOSIT}`);
        assert.ok(owed[c] <= signed[c] + COST, `channel ${c}: served ${owed[c]} within the best voucher ${signed[c]} plus one request (${COST})`);
        assert.equal(BigInt(ch.voucher!.cumulativeAmount), signed[c], "the node keeps the best voucher sent");
      }

      // the next request on a channel must cover everything counted, the aborted streams' tokens included
      for (const [c, id] of ids.entries()) {
        if (owed[c] <= signed[c]) continue;
        const res = await request(n.api.url, await signVoucher(channels[c], { channelId: id, cumulativeAmount: signed[c] }), { prompt: promptIds(0), max_tokens: 1 });
        const body = (await res.json()) as { error: { code: string }; tributary: { sign_at_least: string } };
        assert.equal(res.status, 402);
        assert.equal(body.error.code, "voucher_insufficient");
        assert.equal(body.tributary.sign_at_least, owed[c].toString());
      }

      await n.billing.redeemAll();
      for (const [c, id] of ids.entries()) assert.equal((await getChannel(provider, id)).redeemed, signed[c], `channel ${c}: redeemed the best signed voucher`);
    } finally {
      await n.stop();
    }
  });
});
