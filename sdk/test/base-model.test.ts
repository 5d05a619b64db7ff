// Base model cards: the settings recommended for a model by its size and context, laid under what a job
// poster sets; `tributary model register-base` pins any Hugging Face folder with its card and registers
// it; `tributary model card` shows it; `tributary job post` fills unset settings from it and never asks
// for more than the model's context.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { connect, createDatanet, contribute, review, sendTx } from "../src/chain/index.ts";
import { readFileFromSet } from "../src/files/index.ts";
import { applyRecommended, BASE_MODEL_CARD_FILE, cardFromConfig, parameterCount, parseBaseModelCard, parseJobSpec, recommendSettings } from "../src/schemas/index.ts";
import type { HfModelConfig } from "../src/schemas/index.ts";
import { cliRunner, ok } from "./helpers/cli.ts";
import { startContentStore, startDevChain, TEST_KEYS } from "./helpers/devchain.ts";
import type { DevChain } from "./helpers/devchain.ts";

const DEMO = fileURLToPath(new URL("../../engine/models/tributary-austen-4m", import.meta.url));
const demoConfig = JSON.parse(readFileSync(join(DEMO, "config.json"), "utf8")) as HfModelConfig;
const llama = (hidden: number, layers: number, vocab: number, ctx: number): HfModelConfig => ({
  architectures: ["LlamaForCausalLM"], model_type: "llama", vocab_size: vocab, hidden_size: hidden, intermediate_size: Math.round(hidden * 2.6875),
  num_hidden_layers: layers, num_attention_heads: hidden / 64, num_key_value_heads: hidden / 256, max_position_embeddings: ctx, tie_word_embeddings: false,
});

describe("base model cards", () => {
  it("count the demo model's parameters exactly as its README states", () => {
    assert.equal(parameterCount(demoConfig), 3_803_392);
  });

  it("recommend larger steps and more passes for smaller models, within the context", () => {
    const tiny = recommendSettings(demoConfig).recommended;
    const oneB = recommendSettings(llama(2048, 16, 128_256, 131_072)).recommended;
    const eightB = recommendSettings(llama(4096, 32, 128_256, 131_072)).recommended;
    assert.ok(tiny.training.learningRate! > oneB.training.learningRate! && oneB.training.learningRate! > eightB.training.learningRate!);
    assert.ok(tiny.training.learningRate! <= 1e-2 && eightB.training.learningRate! >= 5e-5, "within the usual LoRA range");
    assert.ok(tiny.training.epochs! > oneB.training.epochs!);
    assert.equal(tiny.training.maxSeqLength, 512, "the demo model's whole context");
    assert.equal(oneB.training.maxSeqLength, 2048, "long contexts are capped for memory");
    assert.equal(eightB.method, "qlora", "an 8B model trains on a 4-bit base");
    assert.equal(tiny.method, "lora");
  });

  it("the committed demo card parses, matches its config and explains every recommended setting", () => {
    const card = parseBaseModelCard(JSON.parse(readFileSync(join(DEMO, BASE_MODEL_CARD_FILE), "utf8")));
    assert.equal(card.contextLength, demoConfig.max_position_embeddings);
    assert.equal(card.parameters, parameterCount(demoConfig));
    for (const k of ["training.learningRate", "training.epochs", "training.maxSeqLength", "lora.r"]) assert.ok(card.notes[k], `a note for ${k}`);
    assert.ok(card.recommended.training.maxSeqLength! <= card.contextLength);
  });

  it("lay the card under the poster's settings: the poster wins, the max length stays within the context", () => {
    const card = cardFromConfig("demo", demoConfig);
    const spec = parseJobSpec(applyRecommended({ baseModel: "demo", data: [{ datanetId: "1", version: 1 }], training: { epochs: 2, maxSeqLength: 1024 } }, card));
    assert.equal(spec.training.epochs, 2, "the poster's epochs");
    assert.equal(spec.training.learningRate, card.recommended.training.learningRate, "the card's learning rate");
    assert.equal(spec.training.maxSeqLength, 512, "1024 cut to the context");
    assert.deepEqual(spec.lora.targetModules, card.recommended.lora.targetModules);
    assert.equal(spec.lora.r, 16);
  });
});

describe("tributary model register-base / card / job post", () => {
  let chain: DevChain;
  let ipfs: Awaited<ReturnType<typeof startContentStore>>;
  let run: ReturnType<typeof cliRunner>;
  const folder = join(mkdtempSync(join(tmpdir(), "hf-model-")), "my-llama");
  const [DEPLOYER, OWNER, ALICE, BUILDER] = [0, 1, 2, 3];

  before(async () => {
    [chain, ipfs] = await Promise.all([startDevChain(), startContentStore()]);
    run = cliRunner({ rpcUrl: chain.rpcUrl, deploymentsFile: chain.deploymentsFile, ipfsApi: ipfs.apiUrl, cwd: tmpdir() });
    // a Hugging Face folder without a card: the command makes one from config.json
    cpSync(DEMO, folder, { recursive: true });
    rmSync(join(folder, BASE_MODEL_CARD_FILE));
    const conn = (i: number) => connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, deployments: chain.deploymentsFile, account: privateKeyToAccount(TEST_KEYS[i]), pollingInterval: 50 });
    const d = await conn(DEPLOYER);
    await sendTx(d, d.contracts.OpenToken, "mint", [privateKeyToAccount(TEST_KEYS[BUILDER]).address, parseEther("100")]);
    await createDatanet(await conn(OWNER), ipfs.store, { name: "Open notes", policy: "open" });
    await contribute(await conn(ALICE), ipfs.store, { datanetId: 1n, fileName: "a.jsonl", content: '{"text":"alpha"}\n' });
    await review(await conn(OWNER), { datanetId: 1n, approve: [1n] });
  });
  after(async () => {
    await ipfs?.stop();
    await chain?.stop();
  });

  it("refuses a folder that is not a Hugging Face model, saying what is missing", async () => {
    const empty = mkdtempSync(join(tmpdir(), "not-a-model-"));
    const r = await run(TEST_KEYS[DEPLOYER], "model", "register-base", "--dir", empty);
    assert.notEqual(r.code, 0);
    assert.match(JSON.stringify(r.json.error), /has no config\.json/);
  });

  it("only governance registers base models", async () => {
    const r = await run(TEST_KEYS[BUILDER], "model", "register-base", "--dir", folder, "--name", "sneaky");
    assert.notEqual(r.code, 0);
    assert.equal(r.json.error.errorName, "AccessControlUnauthorizedAccount", JSON.stringify(r.json));
  });

  it("pins the folder with a generated card, registers it, shows the card and posts jobs from it", async () => {
    const reg = (await ok(run(TEST_KEYS[DEPLOYER], "model", "register-base", "--dir", folder, "--name", "my-llama", "--license", "MIT"))) as { baseModelId: number; cid: string; card: { parameters: number; contextLength: number } };
    const listed = (await ok(run(undefined, "model", "base-models"))) as Array<{ baseModelId: number; name: string; cid: string }>;
    assert.deepEqual(listed.find((b) => b.baseModelId === reg.baseModelId), { baseModelId: reg.baseModelId, name: "my-llama", cid: reg.cid, active: true });
    assert.equal(reg.card.parameters, 3_803_392);
    assert.equal(reg.card.contextLength, 512);
    const stored = await readFileFromSet(ipfs.store, reg.cid, BASE_MODEL_CARD_FILE);
    const card = parseBaseModelCard(JSON.parse(new TextDecoder().decode(stored!)));
    assert.equal(card.name, "my-llama");
    assert.equal(card.license, "MIT");
    assert.ok(await readFileFromSet(ipfs.store, reg.cid, "model.safetensors"), "the weights are in the file set");

    const shown = (await ok(run(undefined, "model", "card", "my-llama"))) as typeof card;
    assert.deepEqual(shown.recommended, card.recommended);

    // a job with only the data and budget gets the card's settings; a max length above the context is cut to it
    const posted = (await ok(run(TEST_KEYS[BUILDER], "job", "post", "--base-model", "my-llama", "--data", "1", "--budget", "5", "--epochs", "2", "--max-seq-length", "4096"))) as { spec: ReturnType<typeof parseJobSpec>; adjusted: string[] };
    assert.equal(posted.spec.training.learningRate, card.recommended.training.learningRate);
    assert.equal(posted.spec.lora.r, card.recommended.lora.r);
    assert.equal(posted.spec.training.epochs, 2, "what the poster set wins");
    assert.equal(posted.spec.training.maxSeqLength, 512);
    assert.match(posted.adjusted.join("\n"), /maxSeqLength 4096 -> 512/);
  });
});
