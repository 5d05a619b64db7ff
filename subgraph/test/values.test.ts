// The number encodings the host shares with graph-ts: BigDecimal arithmetic (34 significant digits,
// half-even rounding, plain notation) and BigInt as little-endian two's complement bytes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bigIntFromSignedLe, bigIntToSignedLe } from "../runner/asc.ts";
import {
  add,
  compare,
  decimalToString,
  div,
  DecimalParseError,
  DivisionByZeroError,
  mul,
  parseDecimal,
  sub,
} from "../runner/decimal.ts";

const d = parseDecimal;
const s = decimalToString;

describe("BigDecimal", () => {
  it("parses and prints in plain notation without trailing zeros", () => {
    assert.equal(s(d("0.250")), "0.25");
    assert.equal(s(d("-12.5e3")), "-12500");
    assert.equal(s(d("1e-5")), "0.00001");
    assert.equal(s(d("100")), "100");
    assert.equal(s(d("-0.0")), "0");
    assert.equal(s(d(".5")), "0.5");
  });

  it("adds, subtracts and multiplies exactly", () => {
    assert.equal(s(add(d("0.1"), d("0.2"))), "0.3");
    assert.equal(s(sub(d("1"), d("0.0001"))), "0.9999");
    assert.equal(s(mul(d("1.5"), d("-4"))), "-6");
    assert.equal(s(mul(d("123456789.123"), d("1000"))), "123456789123");
  });

  it("divides to 34 significant digits, rounding half to even", () => {
    assert.equal(s(div(d("1"), d("3"))), "0." + "3".repeat(34));
    assert.equal(s(div(d("2"), d("3"))), "0." + "6".repeat(33) + "7");
    assert.equal(s(div(d("10"), d("4"))), "2.5");
    // a 34-digit integer plus 0.5 has 35 digits: the tie goes to the even neighbour
    assert.equal(s(add(d("1" + "0".repeat(32) + "2"), d("0.5"))), "1" + "0".repeat(32) + "2");
    assert.equal(s(add(d("1" + "0".repeat(32) + "3"), d("0.5"))), "1" + "0".repeat(32) + "4");
  });

  it("compares by value", () => {
    assert.equal(compare(d("1.50"), d("1.5")), 0);
    assert.equal(compare(d("-2"), d("1")), -1);
    assert.equal(compare(d("1e3"), d("999.999")), 1);
  });

  it("rejects malformed input and division by zero", () => {
    for (const bad of ["", "abc", "1.2.3", "1e", "--1"]) assert.throws(() => d(bad), DecimalParseError, bad);
    assert.throws(() => div(d("1"), d("0")), DivisionByZeroError);
  });
});

describe("BigInt bytes", () => {
  it("encodes minimal little-endian two's complement", () => {
    assert.deepEqual([...bigIntToSignedLe(0n)], [0]);
    assert.deepEqual([...bigIntToSignedLe(1n)], [1]);
    assert.deepEqual([...bigIntToSignedLe(-1n)], [0xff]);
    assert.deepEqual([...bigIntToSignedLe(127n)], [0x7f]);
    assert.deepEqual([...bigIntToSignedLe(128n)], [0x80, 0x00]);
    assert.deepEqual([...bigIntToSignedLe(-128n)], [0x80]);
    assert.deepEqual([...bigIntToSignedLe(-129n)], [0x7f, 0xff]);
    assert.deepEqual([...bigIntToSignedLe(0x1234n)], [0x34, 0x12]);
  });

  it("round-trips large values of both signs", () => {
    for (const n of [2n ** 255n, -(2n ** 255n), 2n ** 256n - 1n, 10n ** 30n, -(10n ** 30n) + 7n]) {
      assert.equal(bigIntFromSignedLe(bigIntToSignedLe(n)), n);
    }
    assert.equal(bigIntFromSignedLe(new Uint8Array([])), 0n);
  });
});
