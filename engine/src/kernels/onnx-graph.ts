/**
 * A small builder for ONNX models, written as raw protobuf (ModelProto and the messages under it; field
 * numbers from onnx/onnx.proto). The `ort` kernel builds its graphs with it at run time: a one-node Gemm
 * for plain products, and the fused graphs of ort-ops.ts (attention with RoPE, the LM head with the
 * cross-entropy gradient, SwiGLU) that move the elementwise work between products into onnxruntime's
 * multi-threaded kernels. Graphs are a few hundred bytes: no onnx package is needed to write them.
 */

// Protobuf wire types.
const VARINT = 0;
const I32 = 5;
const LEN = 2;

class ProtoWriter {
  private readonly bytes: number[] = [];

  private varint(v: number): void {
    // Non-negative values below 2^53, or negative int64 values in two's complement (10 bytes).
    if (v < 0) {
      let big = BigInt.asUintN(64, BigInt(v));
      while (big >= 0x80n) {
        this.bytes.push(Number(big & 0x7fn) | 0x80);
        big >>= 7n;
      }
      this.bytes.push(Number(big));
      return;
    }
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

  float(field: number, v: number): this {
    this.tag(field, I32);
    const b = new Uint8Array(new Float32Array([v]).buffer);
    for (const x of b) this.bytes.push(x);
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

/** TensorProto.DataType values the engine uses. */
export const DType = { float: 1, int64: 7 } as const;
export type DTypeName = keyof typeof DType;

/** A dimension: a number, or the name of a symbolic dimension shared by the inputs that use it. */
export type Dim = number | string;

/** Attribute values: int, float (wrap in `{ f: x }`), string, ints (array of integers). */
export type AttrValue = number | { f: number } | string | readonly number[];

const MS = "com.microsoft.";

const ATTR = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const;

function valueInfo(name: string, dtype: DTypeName, dims: readonly Dim[]): ProtoWriter {
  const shape = pb();
  for (const d of dims) shape.message(1 /* dim */, typeof d === "number" ? pb().int(1 /* dim_value */, d) : pb().string(2 /* dim_param */, d));
  const tensorType = pb().int(1 /* elem_type */, DType[dtype]).message(2 /* shape */, shape);
  return pb().string(1 /* name */, name).message(2 /* type */, pb().message(1 /* tensor_type */, tensorType));
}

function attribute(name: string, v: AttrValue): ProtoWriter {
  const a = pb().string(1 /* name */, name);
  if (typeof v === "number") {
    if (!Number.isInteger(v)) throw new TypeError(`ONNX attribute ${name}: ${v} is not an integer; wrap floats as { f: ${v} }`);
    return a.int(3 /* i */, v).int(20 /* type */, ATTR.INT);
  }
  if (typeof v === "string") return a.message(4 /* s */, new TextEncoder().encode(v)).int(20, ATTR.STRING);
  if (Array.isArray(v)) {
    for (const x of v as readonly number[]) a.int(8 /* ints */, x);
    return a.int(20, ATTR.INTS);
  }
  return a.float(2 /* f */, (v as { f: number }).f).int(20, ATTR.FLOAT);
}

/**
 * An ONNX graph under construction. `op` appends a node and returns the names of its outputs; values
 * are referred to by name. Constants become initializers.
 */
interface NodeDef {
  type: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
}

export class OnnxGraph {
  private readonly nodes: NodeDef[] = [];
  private readonly inits: ProtoWriter[] = [];
  private readonly inputs: ProtoWriter[] = [];
  private readonly outputs: ProtoWriter[] = [];
  private readonly inputNames = new Set<string>();
  /** value -> the graph output name it was renamed to (so that no Identity copy is needed). */
  private readonly alias = new Map<string, string>();
  private counter = 0;
  readonly name: string;

  constructor(name: string) {
    this.name = name;
  }

  input(name: string, dtype: DTypeName, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, dtype, dims));
    this.inputNames.add(name);
    return name;
  }

  /**
   * Declares `value` (the output of some node) as the graph output `name`: the node producing it writes
   * `name` directly; `value` stays usable as a name for it. Graph inputs and values already exported
   * under another name go through an Identity node.
   */
  output(value: string, name: string, dtype: DTypeName, dims: readonly Dim[]): void {
    const resolved = this.alias.get(value) ?? value;
    if (resolved !== name) {
      if (this.inputNames.has(resolved) || this.alias.has(value)) this.op("Identity", [resolved], {}, [name]);
      else this.alias.set(value, name);
    }
    this.outputs.push(valueInfo(name, dtype, dims));
  }

  /**
   * Appends a node; returns its output names (`outputs` names them, else they are generated). A type
   * "com.microsoft.X" is onnxruntime's contrib op X. An empty input name is an omitted optional input.
   */
  op(type: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, outputs: number | readonly string[] = 1): string[] {
    const outs = typeof outputs === "number" ? Array.from({ length: outputs }, () => `${type.toLowerCase()}_${this.counter++}`) : [...outputs];
    this.nodes.push({ type, inputs: [...inputs], outputs: outs, attrs });
    return outs;
  }

  /** One-output shorthand for `op`. */
  op1(type: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}): string {
    return this.op(type, inputs, attrs)[0];
  }

  /** A constant int64 tensor (1-D, or a scalar with `scalar`) as an initializer; returns its name. */
  int64s(values: readonly number[], scalar = false): string {
    const name = `c${this.counter++}`;
    const raw = new Uint8Array(new BigInt64Array(values.map((v) => BigInt(v))).buffer);
    const t = pb();
    if (!scalar) t.int(1 /* dims */, values.length);
    this.inits.push(t.int(2 /* data_type */, DType.int64).string(8 /* name */, name).message(9 /* raw_data */, raw));
    return name;
  }

  /** A constant float scalar as an initializer; returns its name. */
  float(value: number): string {
    const name = `c${this.counter++}`;
    const raw = new Uint8Array(new Float32Array([value]).buffer);
    this.inits.push(pb().int(2 /* data_type */, DType.float).string(8 /* name */, name).message(9 /* raw_data */, raw));
    return name;
  }

  /** The serialized ModelProto (IR 8, default domain opset 18; com.microsoft 1 when a contrib op is used). */
  build(): Uint8Array {
    const graph = pb();
    const name = (v: string) => this.alias.get(v) ?? v;
    let contrib = false;
    this.nodes.forEach((n, idx) => {
      const node = pb();
      for (const i of n.inputs) node.string(1 /* input */, name(i));
      for (const o of n.outputs) node.string(2 /* output */, name(o));
      const isContrib = n.type.startsWith(MS);
      contrib ||= isContrib;
      node.string(3 /* name */, `n${idx}`).string(4 /* op_type */, isContrib ? n.type.slice(MS.length) : n.type);
      for (const [k, v] of Object.entries(n.attrs)) node.message(5 /* attribute */, attribute(k, v));
      if (isContrib) node.string(7 /* domain */, "com.microsoft");
      graph.message(1 /* node */, node);
    });
    graph.string(2 /* name */, this.name);
    for (const i of this.inits) graph.message(5 /* initializer */, i);
    for (const i of this.inputs) graph.message(11 /* input */, i);
    for (const o of this.outputs) graph.message(12 /* output */, o);
    const model = pb()
      .int(1 /* ir_version */, 8)
      .string(2 /* producer_name */, "tributary-engine")
      .message(7 /* graph */, graph)
      .message(8 /* opset_import */, pb().string(1 /* domain */, "").int(2 /* version */, 18));
    if (contrib) model.message(8, pb().string(1, "com.microsoft").int(2, 1));
    return model.finish();
  }
}
