/** Checks matmul arguments the way the reference kernel does; returns the destination length m * n. */
export function checkMatmulArgs(args: {
  a: Float32Array; b: Float32Array; m: number; n: number; k: number; out?: Float32Array; accumulate?: boolean;
}): number {
  const { a, b, m, n, k, out, accumulate } = args;
  for (const [name, v] of [["m", m], ["n", n], ["k", k]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`matmul: ${name} must be a non-negative integer, got ${v}`);
  }
  if (!(a instanceof Float32Array) || !(b instanceof Float32Array)) throw new TypeError("matmul: a and b must be Float32Arrays");
  if (a.length < m * k || b.length < k * n) {
    throw new RangeError(`matmul: inputs too small for m=${m} n=${n} k=${k} (a=${a.length}, b=${b.length})`);
  }
  if (out && out.length < m * n) throw new RangeError(`matmul: out has ${out.length} elements, needs ${m * n}`);
  if (accumulate && !out) throw new RangeError("matmul: accumulate needs `out`, the array to add the product to");
  return m * n;
}
