// BigDecimal as graph-node keeps it: digits x 10^exp, at most 34 significant digits (rounded half to
// even), trailing zeros stripped, printed in plain notation.

export type Decimal = { digits: bigint; exp: number };

const PRECISION = 34;

export class DecimalParseError extends Error {
  constructor(input: string) {
    super(
      `"${input}" is not a decimal number; use digits with an optional sign, point and exponent (e.g. -12.5e3)`,
    );
    this.name = "DecimalParseError";
  }
}

export class DivisionByZeroError extends Error {
  constructor(what: string) {
    super(`${what} division by zero; guard the divisor in the mapping`);
    this.name = "DivisionByZeroError";
  }
}

function digitCount(n: bigint): number {
  return (n < 0n ? -n : n).toString().length;
}

function pow10(k: number): bigint {
  return 10n ** BigInt(k);
}

/** Divides rounding half to even. */
function divRound(n: bigint, d: bigint): bigint {
  const neg = n < 0n !== d < 0n;
  const an = n < 0n ? -n : n;
  const ad = d < 0n ? -d : d;
  let q = an / ad;
  const r2 = (an % ad) * 2n;
  if (r2 > ad || (r2 === ad && q % 2n === 1n)) q += 1n;
  return neg ? -q : q;
}

export function normalize(d: Decimal): Decimal {
  let { digits, exp } = d;
  if (digits === 0n) return { digits: 0n, exp: 0 };
  const extra = digitCount(digits) - PRECISION;
  if (extra > 0) {
    digits = divRound(digits, pow10(extra));
    exp += extra;
  }
  while (digits % 10n === 0n) {
    digits /= 10n;
    exp += 1;
  }
  return { digits, exp };
}

export function parseDecimal(s: string): Decimal {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s.trim());
  if (!m || (m[2] === "" && (m[3] ?? "") === "")) throw new DecimalParseError(s);
  const frac = m[3] ?? "";
  const digits = BigInt((m[1] === "-" ? "-" : "") + (m[2] + frac || "0"));
  return normalize({ digits, exp: Number(m[4] ?? 0) - frac.length });
}

export function decimalToString(d: Decimal): string {
  const { digits, exp } = normalize(d);
  const neg = digits < 0n;
  const abs = (neg ? -digits : digits).toString();
  let out: string;
  if (exp >= 0) out = abs + "0".repeat(exp);
  else if (-exp >= abs.length) out = "0." + "0".repeat(-exp - abs.length) + abs;
  else out = abs.slice(0, abs.length + exp) + "." + abs.slice(abs.length + exp);
  return neg ? "-" + out : out;
}

function align(a: Decimal, b: Decimal): [bigint, bigint, number] {
  const exp = Math.min(a.exp, b.exp);
  return [a.digits * pow10(a.exp - exp), b.digits * pow10(b.exp - exp), exp];
}

export function add(a: Decimal, b: Decimal): Decimal {
  const [x, y, exp] = align(a, b);
  return normalize({ digits: x + y, exp });
}

export function sub(a: Decimal, b: Decimal): Decimal {
  const [x, y, exp] = align(a, b);
  return normalize({ digits: x - y, exp });
}

export function mul(a: Decimal, b: Decimal): Decimal {
  return normalize({ digits: a.digits * b.digits, exp: a.exp + b.exp });
}

export function div(a: Decimal, b: Decimal): Decimal {
  if (b.digits === 0n) throw new DivisionByZeroError("BigDecimal");
  // Scale the numerator so the quotient carries more than PRECISION digits before rounding.
  const scale = Math.max(0, PRECISION + 2 + digitCount(b.digits) - digitCount(a.digits));
  return normalize({ digits: divRound(a.digits * pow10(scale), b.digits), exp: a.exp - b.exp - scale });
}

export function compare(a: Decimal, b: Decimal): number {
  const [x, y] = align(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function fromBigInt(n: bigint): Decimal {
  return normalize({ digits: n, exp: 0 });
}
