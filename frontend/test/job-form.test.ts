// The wizard's form -> job spec -> field errors, checked against the SDK's job-spec schema.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseJobSpec } from "@tributary/sdk/schemas";
import { parseEther } from "viem";
import { DEFAULT_FORM, specInputOf, stepErrors, validateJobForm } from "../src/lib/job-form.ts";
import type { JobForm } from "../src/lib/job-form.ts";

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
