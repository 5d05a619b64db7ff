/**
 * The product graphs the `ort` kernel runs: one Gemm node, Y = op(A) @ op(B), with symbolic dims M, N, K
 * so one session serves every shape, and a batched MatMul. Built with onnx-graph.ts.
 */
import { OnnxGraph } from "./onnx-graph.ts";

/**
 * Model bytes for Y[M, N] = op(A) @ op(B) where A is [M, K] (or [K, M] with transA) and B is [K, N]
 * (or [N, K] with transB). Inputs "A", "B"; output "Y".
 */
export function gemmModel(transA: boolean, transB: boolean): Uint8Array {
  const g = new OnnxGraph("matmul");
  g.input("A", "float", transA ? ["K", "M"] : ["M", "K"]);
  g.input("B", "float", transB ? ["N", "K"] : ["K", "N"]);
  g.op("Gemm", ["A", "B"], { transA: transA ? 1 : 0, transB: transB ? 1 : 0 }, ["Y"]);
  g.output("Y", "Y", "float", ["M", "N"]);
  return g.build();
}

/**
 * Model bytes for the batched product Y[P, M, N] = op(A)[P, M, K] @ op(B)[P, K, N]: MatMul over 3-D
 * inputs, with a Transpose (perm 0, 2, 1) in front of an input stored transposed. Inputs "A", "B"; output "Y".
 */
export function batchMatmulModel(transA: boolean, transB: boolean): Uint8Array {
  const g = new OnnxGraph("batch_matmul");
  g.input("A", "float", transA ? ["P", "K", "M"] : ["P", "M", "K"]);
  g.input("B", "float", transB ? ["P", "N", "K"] : ["P", "K", "N"]);
  const a = transA ? g.op1("Transpose", ["A"], { perm: [0, 2, 1] }) : "A";
  const b = transB ? g.op1("Transpose", ["B"], { perm: [0, 2, 1] }) : "B";
  g.op("MatMul", [a, b], {}, ["Y"]);
  g.output("Y", "Y", "float", ["P", "M", "N"]);
  return g.build();
}
