// OPEN amounts as typed (src/lib/amount.ts): exact to 18 decimals, or a sentence saying what is wrong.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseOpen } from "../src/lib/amount.ts";

describe("OPEN amounts", () => {
  it("reads whole and decimal amounts exactly", () => {
    assert.equal(parseOpen("12").value, 12n * 10n ** 18n);
    assert.equal(parseOpen(" 0.000000000000000001 ").value, 1n);
    assert.equal(parseOpen("1.5").value, 15n * 10n ** 17n);
  });

  it("refuses empty, zero, commas, signs and more than 18 decimals with what to type", () => {
    assert.equal(parseOpen("", "the stake").error, "Enter the stake in OPEN.");
    assert.equal(parseOpen("0", "the stake").error, "The stake must be above 0.");
    for (const bad of ["1,5", "-2", "1e3", "0.0000000000000000001"])
      assert.match(parseOpen(bad).error!, /is not an amount of OPEN/, bad);
  });
});
