/** Token embedding: a table lookup forward, a scatter-add backward. The table may be quantized (QLoRA). */
import type { Weight } from "./linear.ts";

// forward: table [V, D], ids [N] -> x [N, D]
export function embeddingForward(table: Weight, ids: ArrayLike<number>, dim: number): Float32Array {
  const n = ids.length;
  const vocab = table instanceof Float32Array ? table.length / dim : table.rows;
  const x = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    if (!(id >= 0 && id < vocab)) throw new RangeError(`token id ${id} outside the vocabulary [0, ${vocab})`);
    x.set(table instanceof Float32Array ? table.subarray(id * dim, id * dim + dim) : table.dequantizeRange(id * dim, id * dim + dim), i * dim);
  }
  return x;
}

// backward: dx [N, D] -> dTable [V, D] += one row per token (in token order: deterministic)
export function embeddingBackward(dTable: Float32Array, ids: ArrayLike<number>, dx: Float32Array, dim: number): void {
  for (let i = 0; i < ids.length; i++) {
    const row = ids[i] * dim;
    const src = i * dim;
    for (let j = 0; j < dim; j++) dTable[row + j] += dx[src + j];
  }
}
