// The wizard's form -> job spec -> field errors, checked against the SDK's job-spec schema; the form's
// defaults from a base model's card (the committed demo model's, and one derived from a config).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { cardFromConfig, parseBaseModelCard, parseJobSpec } from "@tributary/sdk/schemas";
import { parseEther } from "viem";
import {
  applyCard,
  cardNote,
  DEFAULT_FORM,
  specInputOf,
  stepErrors,
  TARGET_MODULES,
  validateJobForm,
} from "../src/lib/job-form.ts";
import type { FormField, JobForm } from "../src/lib/job-form.ts";

const good: JobForm = {
  ...DEFAULT_FORM,
  baseModel: "tributary-austen-4m",
  data: [{ datanetId: "1", version: 4 }],
};

describe("job form", () => {
  it("turns a complete form into a spec the SDK accepts, with the typed values", () => {
    const v = validateJobForm({ ...good, learningRate: "0.0003", rank: "16", alpha: "32", method: "qlora" });
    assert.deepEqual(v.errors, {});
    assert.ok(v.spec);
    const again = parseJobSpec(v.spec);
    assert.equal(again.training.learningRate, 0.0003);
    assert.equal(again.lora.r, 16);
    assert.equal(again.lora.alpha, 32);
    assert.equal(again.method, "qlora");
    assert.deepEqual(again.data, [{ datanetId: "1", version: 4 }]);
    assert.equal(v.budgetWei, parseEther("50"));
    assert.equal(v.durationSeconds, 24 * 3600);
  });

  it("every training setting of the spec is a field: scheduler, warm-up, accumulation, dropout, decay, clipping, eval split, seed", () => {
    const v = validateJobForm({
      ...good,
      scheduler: "linear",
      warmupRatio: "0.2",
      gradientAccumulation: "4",
      dropout: "0.1",
      weightDecay: "0.01",
      maxGradNorm: "0.5",
      evalSplit: "0.25",
      seed: "7",
    });
    assert.deepEqual(v.errors, {});
    const spec = parseJobSpec(v.spec);
    assert.deepEqual(
      [
        spec.training.scheduler,
        spec.training.warmupRatio,
        spec.training.gradientAccumulation,
        spec.training.seed,
      ],
      ["linear", 0.2, 4, 7],
    );
    assert.deepEqual(
      [spec.lora.dropout, spec.training.weightDecay, spec.training.maxGradNorm],
      [0.1, 0.01, 0.5],
    );
    assert.equal(spec.evalSplit, 0.25);
    const bad = validateJobForm({
      ...good,
      dropout: "1.5",
      evalSplit: "0.9",
      gradientAccumulation: "0",
      seed: "x",
    });
    assert.equal(bad.errors.dropout, "must be below 1");
    assert.equal(bad.errors.evalSplit, "must be at most 0.5");
    assert.match(bad.errors.gradientAccumulation!, /0/);
    assert.equal(bad.errors.seed, "enter a number");
    assert.deepEqual(
      Object.keys(stepErrors(bad.errors, "method")).sort(),
      ["dropout", "evalSplit", "gradientAccumulation", "seed"],
      "they block the method step",
    );
  });

  it("the defaults are valid once a model and data are chosen", () => {
    assert.deepEqual(validateJobForm(good).errors, {});
  });

  it("names each bad field in plain words", () => {
    const v = validateJobForm({
      ...good,
      baseModel: "",
      data: [],
      learningRate: "abc",
      epochs: "1.5",
      rank: "0",
      targetModules: [],
      budget: "-3",
      durationHours: "0",
    });
    assert.equal(v.spec, undefined);
    assert.equal(v.errors.baseModel, "must name a base model");
    assert.equal(v.errors.data, "must reference at least one Datanet version");
    assert.equal(v.errors.learningRate, "enter a number");
    assert.equal(v.errors.epochs, "use a whole number of epochs");
    assert.match(v.errors.rank!, />=\s*1|at least 1|too small/i);
    assert.equal(v.errors.targetModules, "must name at least one module");
    assert.match(v.errors.budget!, /amount of OPEN/);
    assert.match(v.errors.durationHours!, /at least 1 minute/);
  });

  it("keeps the deadline within the job market's bounds (1 minute to 90 days)", () => {
    assert.match(
      validateJobForm({ ...good, durationHours: "0.01" }).errors.durationHours!,
      /at least 1 minute/,
    );
    assert.match(
      validateJobForm({ ...good, durationHours: "2161" }).errors.durationHours!,
      /at most 90 days/,
    );
    assert.equal(validateJobForm({ ...good, durationHours: "2160" }).errors.durationHours, undefined);
  });

  it("checks the schema's bounds (learning rate at most 1) and the balance", () => {
    assert.equal(validateJobForm({ ...good, learningRate: "2" }).errors.learningRate, "must be at most 1");
    assert.equal(validateJobForm({ ...good, budget: "0" }).errors.budget, "the budget must be more than 0");
    assert.equal(
      validateJobForm({ ...good, budget: "100" }, { balanceWei: parseEther("99.5") }).errors.budget,
      "more than your OPEN balance",
    );
    assert.equal(
      validateJobForm({ ...good, budget: "99.5" }, { balanceWei: parseEther("99.5") }).errors.budget,
      undefined,
    );
  });

  it("keeps a step's errors to its own fields", () => {
    const { errors } = validateJobForm({ ...good, data: [], learningRate: "x" });
    assert.deepEqual(Object.keys(stepErrors(errors, "data")), ["data"]);
    assert.deepEqual(Object.keys(stepErrors(errors, "method")), ["learningRate"]);
    assert.deepEqual(stepErrors(errors, "budget"), {});
  });

  it("reads empty number fields as missing, not zero", () => {
    const spec = specInputOf({ ...good, batchSize: " " }) as { training: { batchSize: number } };
    assert.ok(Number.isNaN(spec.training.batchSize));
    assert.equal(validateJobForm({ ...good, batchSize: "" }).errors.batchSize, "enter a number");
  });
});

describe("job form from a base model's card", () => {
  const card = parseBaseModelCard(
    JSON.parse(
      fs.readFileSync(
        path.join(
          import.meta.dirname,
          "..",
          "..",
          "engine",
          "models",
          "tributary-austen-4m",
          "tributary-model.json",
        ),
        "utf8",
      ),
    ),
  );
  // A bigger model's card derived from its config (recommendations by size).
  const big = cardFromConfig("big-1b", {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    vocab_size: 32000,
    hidden_size: 2048,
    intermediate_size: 5632,
    num_hidden_layers: 22,
    num_attention_heads: 32,
    num_key_value_heads: 4,
    max_position_embeddings: 2048,
  });

  it("prefills every setting with the card's recommendation, and the spec carries the hidden ones", () => {
    const form = applyCard(good, card, new Set());
    assert.equal(form.learningRate, "0.01");
    assert.equal(form.epochs, "30");
    assert.equal(form.maxSeqLength, "512");
    assert.equal(form.rank, "16");
    assert.equal(form.alpha, "32");
    assert.equal(form.method, "lora");
    assert.deepEqual(form.targetModules, [...TARGET_MODULES]);
    const v = validateJobForm(form, { card });
    assert.deepEqual(v.errors, {});
    assert.equal(v.spec!.lora.dropout, 0, "dropout from the card, not the schema's 0.05");
    assert.equal(v.spec!.training.warmupRatio, 0.05);
    assert.equal(v.spec!.evalSplit, 0.1);
    assert.match(cardNote(card, "learningRate")!, /^0\.01: /);
    assert.match(cardNote(card, "maxSeqLength")!, /context is 512/);
    assert.equal(cardNote(card, "budget"), undefined, "no note for what the card does not set");
  });

  it("keeps the fields the person edited when the base model changes, re-applies the others", () => {
    const edited = new Set<FormField>(["epochs", "targetModules"]);
    const mine = { ...applyCard(good, card, new Set()), epochs: "7", targetModules: ["q_proj"] };
    const switched = applyCard(mine, big, edited);
    assert.equal(switched.epochs, "7");
    assert.deepEqual(switched.targetModules, ["q_proj"]);
    assert.equal(switched.learningRate, String(big.recommended.training.learningRate));
    assert.notEqual(switched.learningRate, "0.01");
    assert.equal(switched.maxSeqLength, "2048");
    assert.equal(switched.budget, mine.budget, "non-settings untouched");
    // and back: the untouched fields follow the card again
    const back = applyCard(switched, card, edited);
    assert.equal(back.learningRate, "0.01");
    assert.equal(back.maxSeqLength, "512");
    assert.equal(back.epochs, "7");
  });

  it("a setting the card leaves out goes back to the generic default", () => {
    const sparse = { ...card, recommended: { method: "lora" as const, lora: {}, training: {} } };
    const form = applyCard({ ...good, epochs: "30", rank: "16" }, sparse, new Set());
    assert.equal(form.epochs, DEFAULT_FORM.epochs);
    assert.equal(form.rank, DEFAULT_FORM.rank);
    assert.equal(form.maxSeqLength, "512", "no recommended length: the whole context");
    // a model without a card: every untouched setting back to the generic defaults
    const none = applyCard(
      { ...applyCard(good, card, new Set()), epochs: "9" },
      undefined,
      new Set(["epochs"]),
    );
    assert.equal(none.learningRate, DEFAULT_FORM.learningRate);
    assert.equal(none.epochs, "9");
  });

  it("does not accept a max length above the model's context and names the context", () => {
    const form = applyCard(good, card, new Set());
    const v = validateJobForm({ ...form, maxSeqLength: "513" }, { card });
    assert.equal(v.errors.maxSeqLength, "at most 512 tokens: tributary-austen-4m's context is 512 tokens");
    assert.equal(v.spec, undefined, "nothing to post");
    assert.equal(validateJobForm({ ...form, maxSeqLength: "512" }, { card }).errors.maxSeqLength, undefined);
    // a card never prefills more than the context
    const short = { ...card, contextLength: 256 };
    assert.equal(applyCard(good, short, new Set()).maxSeqLength, "256");
  });
});
