/**
 * Builds the tiny ONNX model the `ort` kernel runs: one Gemm node, Y = op(A) @ op(B), with symbolic
 * dims M, N, K so one session serves every shape. Written as raw protobuf (ModelProto and the handful
 * of messages under it, field numbers from onnx/onnx.proto) because the whole model is a few dozen bytes.
 */

// Protobuf wire types.
const VARINT = 0;
const LEN = 2;

class ProtoWriter {
  private readonly bytes: number[] = [];

  private varint(v: number): void {
    // Non-negative values below 2^53 only (all this file writes).
    while (v >= 0x80) {
      this.bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.bytes.push(v);
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  int(field: number, v: number): this {
    this.tag(field, VARINT);
    this.varint(v);
    return this;
  }

  string(field: number, s: string): this {
    return this.message(field, new TextEncoder().encode(s));
  }

  message(field: number, body: Uint8Array | ProtoWriter): this {
    const b = body instanceof ProtoWriter ? body.finish() : body;
    this.tag(field, LEN);
    this.varint(b.length);
    for (const x of b) this.bytes.push(x);
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

const pb = () => new ProtoWriter();

// onnx.proto field numbers
const TENSOR_FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTRIBUTE_INT = 2; // AttributeProto.AttributeType.INT

/** ValueInfoProto of a float tensor with symbolic dims. */
function floatInput(name: string, dims: readonly string[]): ProtoWriter {
  const shape = pb();
  for (const d of dims) shape.message(1 /* dim */, pb().string(2 /* dim_param */, d));
  const tensorType = pb().int(1 /* elem_type */, TENSOR_FLOAT).message(2 /* shape */, shape);
  return pb().string(1 /* name */, name).message(2 /* type */, pb().message(1 /* tensor_type */, tensorType));
}

function intAttribute(name: string, value: number): ProtoWriter {
  return pb().string(1 /* name */, name).int(3 /* i */, value).int(20 /* type */, ATTRIBUTE_INT);
}

/**
 * Model bytes for Y[M, N] = op(A) @ op(B) where A is [M, K] (or [K, M] with transA) and B is [K, N]
 * (or [N, K] with transB). Inputs "A", "B"; output "Y".
 */
export function gemmModel(transA: boolean, transB: boolean): Uint8Array {
  const node = pb()
    .string(1 /* input */, "A").string(1, "B")
    .string(2 /* output */, "Y")
    .string(3 /* name */, "gemm")
    .string(4 /* op_type */, "Gemm")
    .message(5 /* attribute */, intAttribute("transA", transA ? 1 : 0))
    .message(5, intAttribute("transB", transB ? 1 : 0));
  const graph = pb()
    .message(1 /* node */, node)
    .string(2 /* name */, "matmul")
    .message(11 /* input */, floatInput("A", transA ? ["K", "M"] : ["M", "K"]))
    .message(11, floatInput("B", transB ? ["N", "K"] : ["K", "N"]))
    .message(12 /* output */, floatInput("Y", ["M", "N"]));
  return pb()
    .int(1 /* ir_version */, 8)
    .string(2 /* producer_name */, "tributary-engine")
    .message(7 /* graph */, graph)
    .message(8 /* opset_import */, pb().string(1 /* domain */, "").int(2 /* version */, 17))
    .finish();
}

/**
 * Model bytes for the batched product Y[P, M, N] = op(A)[P, M, K] @ op(B)[P, K, N]: MatMul over 3-D
 * inputs, with a Transpose (perm 0, 2, 1) in front of an input stored transposed. Inputs "A", "B"; output "Y".
 */
export function batchMatmulModel(transA: boolean, transB: boolean): Uint8Array {
  const graph = pb();
  const perm = pb().string(1 /* name */, "perm").int(20 /* type */, 7 /* INTS */);
  for (const p of [0, 2, 1]) perm.int(8 /* ints */, p);
  let inA = "A";
  let inB = "B";
  if (transA) {
    graph.message(1, pb().string(1, "A").string(2, "At").string(3, "ta").string(4, "Transpose").message(5, perm));
    inA = "At";
  }
  if (transB) {
    graph.message(1, pb().string(1, "B").string(2, "Bt").string(3, "tb").string(4, "Transpose").message(5, perm));
    inB = "Bt";
  }
  graph
    .message(1, pb().string(1, inA).string(1, inB).string(2, "Y").string(3, "matmul").string(4, "MatMul"))
    .string(2 /* name */, "batch_matmul")
    .message(11 /* input */, floatInput("A", transA ? ["P", "K", "M"] : ["P", "M", "K"]))
    .message(11, floatInput("B", transB ? ["P", "N", "K"] : ["P", "K", "N"]))
    .message(12 /* output */, floatInput("Y", ["P", "M", "N"]));
  return pb()
    .int(1 /* ir_version */, 8)
    .string(2 /* producer_name */, "tributary-engine")
    .message(7 /* graph */, graph)
    .message(8 /* opset_import */, pb().string(1 /* domain */, "").int(2 /* version */, 17))
    .finish();
}
