import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bfloat16BitsToFloat32, float16BitsToFloat32, float32ToBfloat16Bits, float32ToFloat16Bits, GgufError, readGguf, writeGguf, type GgufKv } from "../src/export/gguf.ts";
import { GgufExportError, llamaGgufName, llamaToGguf, loraGgufName, loraToGguf, permuteForLlamaCppRope, type LlamaHfConfig } from "../src/export/gguf-llama.ts";

describe("float16 conversion", () => {
  it("encodes known IEEE 754 half values, rounding to nearest even", () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [65504, 0x7bff], // largest finite half
      [65520, 0x7c00], // rounds up to infinity
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -26, 0x0000], // underflow
      [0.1, 0x2e66],
      [1 + 2 ** -11, 0x3c00], // tie -> even (down)
      [1 + 3 * 2 ** -11, 0x3c02], // tie -> even (up)
    ];
    for (const [v, bits] of cases) assert.equal(float32ToFloat16Bits(v), bits, `${v}`);
    assert.ok(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(Number.NaN))));
    for (const [v, bits] of cases.slice(0, 11)) assert.equal(float16BitsToFloat32(bits), Object.is(v, 65520) ? Infinity : v);
  });
});

describe("bfloat16 conversion", () => {
  it("keeps the top 16 bits of float32, rounding to nearest even", () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [1, 0x3f80],
      [-2, 0xc000],
      [Infinity, 0x7f80],
      [1 + 2 ** -8, 0x3f80], // tie -> even (down)
      [1 + 3 * 2 ** -8, 0x3f82], // tie -> even (up)
      [1 + 2 ** -8 + 2 ** -20, 0x3f81], // above the tie -> up
      [3.4028234663852886e38, 0x7f80], // float32 max rounds to infinity
    ];
    for (const [v, bits] of cases) assert.equal(float32ToBfloat16Bits(v), bits, `${v}`);
    assert.equal(bfloat16BitsToFloat32(0x3f81), 1 + 2 ** -7);
    assert.ok(Number.isNaN(bfloat16BitsToFloat32(float32ToBfloat16Bits(Number.NaN))));
  });
});

describe("GGUF container", () => {
  const kvs: GgufKv[] = [
    { key: "general.architecture", type: "string", value: "llama" },
    { key: "a.u8", type: "uint8", value: 200 },
    { key: "a.i8", type: "int8", value: -100 },
    { key: "a.u16", type: "uint16", value: 60000 },
    { key: "a.i16", type: "int16", value: -30000 },
    { key: "a.u32", type: "uint32", value: 4000000000 },
    { key: "a.i32", type: "int32", value: -2000000000 },
    { key: "a.f32", type: "float32", value: 0.25 },
    { key: "a.f64", type: "float64", value: Math.PI },
    { key: "a.bool", type: "bool", value: true },
    { key: "a.u64", type: "uint64", value: 2n ** 40n },
    { key: "a.i64", type: "int64", value: -(2n ** 40n) },
    { key: "a.strings", type: "array", itemType: "string", value: ["x", "Ġé", ""] },
    { key: "a.ints", type: "array", itemType: "int32", value: [1, -2, 3] },
  ];
  const tensors = [
    { name: "m", shape: [2, 3], dtype: "f32" as const, data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
    { name: "h", shape: [5], dtype: "f16" as const, data: Float32Array.from([0.5, -1, 2, 65504, 0.1]) },
    { name: "v", shape: [1], dtype: "f32" as const, data: Float32Array.from([7]) },
    { name: "b", shape: [2], dtype: "bf16" as const, data: Float32Array.from([1.5, -0.25]) },
  ];

  it("writes the v3 header and reads back every value type, shape and tensor", () => {
    const bytes = writeGguf(kvs, tensors);
    assert.equal(new TextDecoder().decode(bytes.subarray(0, 4)), "GGUF");
    const view = new DataView(bytes.buffer);
    assert.equal(view.getUint32(4, true), 3);
    assert.equal(view.getBigUint64(8, true), 4n);
    assert.equal(view.getBigUint64(16, true), BigInt(kvs.length));
    const f = readGguf(bytes);
    assert.equal(f.version, 3);
    for (const kv of kvs) assert.deepEqual(f.metadata.get(kv.key), kv.type === "uint64" || kv.type === "int64" ? BigInt(kv.value) : kv.type === "array" ? Array.from(kv.value as ArrayLike<unknown>) : kv.value, kv.key);
    assert.deepEqual(f.tensors.map((t) => [t.name, t.shape, t.dtype]), [["m", [2, 3], "f32"], ["h", [5], "f16"], ["v", [1], "f32"], ["b", [2], "bf16"]]);
    assert.deepEqual([...f.tensors[3]!.data], [1.5, -0.25]);
    assert.deepEqual([...f.tensors[0]!.data], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual([...f.tensors[1]!.data], [0.5, -1, 2, 65504, float16BitsToFloat32(0x2e66)]);
    for (const t of f.tensors) assert.equal(t.offset % 32, 0);
    assert.equal(f.tensors[1]!.offset, 32); // 24 bytes of f32 padded to 32
  });

  it("stores ne innermost-first (a [rows, cols] matrix has ne = [cols, rows])", () => {
    const bytes = writeGguf([], [{ name: "w", shape: [2, 3], dtype: "f32", data: new Float32Array(6) }]);
    // header 24 bytes, then name (8 + 1), n_dims (4), ne[0], ne[1]
    const view = new DataView(bytes.buffer);
    assert.equal(view.getUint32(24 + 9, true), 2);
    assert.equal(view.getBigUint64(24 + 13, true), 3n);
    assert.equal(view.getBigUint64(24 + 21, true), 2n);
  });

  it("honours general.alignment", () => {
    const f = readGguf(writeGguf([{ key: "general.alignment", type: "uint32", value: 64 }], tensors));
    assert.equal(f.alignment, 64);
    assert.deepEqual(f.tensors.map((t) => t.offset), [0, 64, 128, 192]);
  });

  it("rejects duplicate keys and names, bad shapes and bad alignment; refuses truncated files", () => {
    assert.throws(() => writeGguf([kvs[0]!, kvs[0]!], []), GgufError);
    assert.throws(() => writeGguf([], [tensors[0]!, tensors[0]!]), GgufError);
    assert.throws(() => writeGguf([], [{ name: "x", shape: [2, 2], dtype: "f32", data: new Float32Array(3) }]), /does not match its shape/);
    assert.throws(() => writeGguf([{ key: "general.alignment", type: "uint32", value: 12 }], []), /alignment/);
    assert.throws(() => writeGguf([], [{ name: "x", shape: [1], dtype: "q4" as "f32", data: new Float32Array(1) }]), /unsupported tensor dtype/);
    const bytes = writeGguf(kvs, tensors);
    assert.throws(() => readGguf(bytes.subarray(0, 100)), /truncated/);
    assert.throws(() => readGguf(new Uint8Array(32)), /not a GGUF file/);
  });
});

describe("Llama mapping", () => {
  it("maps HF names to llama.cpp names", () => {
    assert.equal(llamaGgufName("model.embed_tokens.weight"), "token_embd.weight");
    assert.equal(llamaGgufName("model.norm.weight"), "output_norm.weight");
    assert.equal(llamaGgufName("lm_head.weight"), "output.weight");
    assert.equal(llamaGgufName("model.layers.3.self_attn.q_proj.weight"), "blk.3.attn_q.weight");
    assert.equal(llamaGgufName("model.layers.0.self_attn.o_proj.weight"), "blk.0.attn_output.weight");
    assert.equal(llamaGgufName("model.layers.11.mlp.down_proj.weight"), "blk.11.ffn_down.weight");
    assert.equal(llamaGgufName("model.layers.2.input_layernorm.weight"), "blk.2.attn_norm.weight");
    assert.equal(llamaGgufName("model.layers.2.post_attention_layernorm.weight"), "blk.2.ffn_norm.weight");
    assert.equal(llamaGgufName("model.layers.0.self_attn.rotary_emb.inv_freq"), null);
    assert.throws(() => llamaGgufName("model.layers.0.self_attn.q_proj.bias"), GgufExportError);
    assert.deepEqual(loraGgufName("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"), ["blk.1.attn_v.weight", "b"]);
    assert.deepEqual(loraGgufName("base_model.model.model.layers.0.mlp.up_proj.lora_A.weight"), ["blk.0.ffn_up.weight", "a"]);
    assert.throws(() => loraGgufName("base_model.model.lm_head.lora_A.weight"), GgufExportError);
  });

  it("permutes q/k rows from rotate-half halves to interleaved pairs, per head", () => {
    // 2 heads of dim 4, one column: head rows [x0 x1 | x2 x3] -> [x0 x2 x1 x3]
    assert.deepEqual([...permuteForLlamaCppRope(Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]), 8, 1, 2)], [0, 2, 1, 3, 4, 6, 5, 7]);
    // whole rows move together
    assert.deepEqual([...permuteForLlamaCppRope(Float32Array.from([0, 10, 1, 11, 2, 12, 3, 13]), 4, 2, 1)], [0, 10, 2, 12, 1, 11, 3, 13]);
    assert.throws(() => permuteForLlamaCppRope(new Float32Array(6), 6, 1, 2), GgufExportError);
  });

  const config: LlamaHfConfig = {
    hidden_size: 8,
    intermediate_size: 16,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    rms_norm_eps: 1e-6,
    rope_theta: 50000,
    max_position_embeddings: 64,
    vocab_size: 259,
    tie_word_embeddings: true,
  };
  const bytesAlphabet: Record<string, number> = {};
  // 256 byte tokens (any distinct strings will do for metadata checks) after 3 specials
  for (let b = 0; b < 256; b++) bytesAlphabet[`b${b}`] = b + 3;
  const tokenizer = {
    tokenizerJson: {
      model: { type: "BPE", vocab: bytesAlphabet, merges: ["b1 b2", ["b3", "b4"] as [string, string]] },
      added_tokens: [
        { id: 0, content: "<s>", special: true },
        { id: 1, content: "</s>", special: true },
        { id: 2, content: "<tool>", special: false },
      ],
      // tokenizer(text) adds <s> in front: llama.cpp must too
      post_processor: { type: "TemplateProcessing", single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }], pair: [], special_tokens: { "<s>": { id: "<s>", ids: [0], tokens: ["<s>"] } } },
    },
    tokenizerConfig: { bos_token: "<s>", eos_token: { content: "</s>" }, chat_template: "{{ x }}" },
  };
  const weights = () => {
    const t = (name: string, shape: number[]) => ({ name, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5) });
    const p = "model.layers.0.";
    return [
      t("model.embed_tokens.weight", [259, 8]),
      t(p + "input_layernorm.weight", [8]),
      t(p + "self_attn.q_proj.weight", [8, 8]),
      t(p + "self_attn.k_proj.weight", [4, 8]),
      t(p + "self_attn.v_proj.weight", [4, 8]),
      t(p + "self_attn.o_proj.weight", [8, 8]),
      t(p + "post_attention_layernorm.weight", [8]),
      t(p + "mlp.gate_proj.weight", [16, 8]),
      t(p + "mlp.up_proj.weight", [16, 8]),
      t(p + "mlp.down_proj.weight", [8, 16]),
      t("model.norm.weight", [8]),
    ];
  };

  it("writes llama hyper-parameters and gpt2 tokenizer metadata", () => {
    const f = readGguf(llamaToGguf({ config, tensors: weights(), tokenizer, dtype: "f16", name: "tiny" }));
    const m = f.metadata;
    assert.equal(m.get("general.architecture"), "llama");
    assert.equal(m.get("general.name"), "tiny");
    assert.equal(m.get("general.file_type"), 1);
    assert.equal(m.get("llama.block_count"), 1);
    assert.equal(m.get("llama.embedding_length"), 8);
    assert.equal(m.get("llama.feed_forward_length"), 16);
    assert.equal(m.get("llama.attention.head_count"), 2);
    assert.equal(m.get("llama.attention.head_count_kv"), 1);
    assert.equal(m.get("llama.rope.dimension_count"), 4);
    assert.equal(m.get("llama.rope.freq_base"), 50000);
    assert.equal(m.get("llama.context_length"), 64);
    assert.equal(m.get("tokenizer.ggml.model"), "gpt2");
    assert.equal(m.get("tokenizer.ggml.pre"), "gpt-2");
    const tokens = m.get("tokenizer.ggml.tokens") as string[];
    assert.deepEqual(tokens.slice(0, 4), ["<s>", "</s>", "<tool>", "b0"]);
    assert.deepEqual((m.get("tokenizer.ggml.token_type") as number[]).slice(0, 4), [3, 3, 4, 1]);
    assert.deepEqual(m.get("tokenizer.ggml.merges"), ["b1 b2", "b3 b4"]);
    assert.equal(m.get("tokenizer.ggml.bos_token_id"), 0);
    assert.equal(m.get("tokenizer.ggml.eos_token_id"), 1);
    assert.equal(m.get("tokenizer.ggml.add_bos_token"), true);
    assert.equal(m.get("tokenizer.ggml.add_eos_token"), false);
    assert.equal(m.get("tokenizer.chat_template"), "{{ x }}");
    // a byte-level tokenizer whose post-processor adds nothing (GPT-2, SmolLM2, Qwen): no BOS, whatever the config names
    const noBos = { ...tokenizer, tokenizerJson: { ...tokenizer.tokenizerJson, post_processor: { type: "ByteLevel", trim_offsets: false } }, tokenizerConfig: { ...tokenizer.tokenizerConfig, add_bos_token: true } };
    assert.equal(readGguf(llamaToGguf({ config, tensors: weights(), tokenizer: noBos, dtype: "f16", name: "tiny" })).metadata.get("tokenizer.ggml.add_bos_token"), false);
    assert.equal(f.tensors.some((t) => t.name === "output.weight"), false, "tied: no output tensor");
    assert.equal(f.tensors.find((t) => t.name === "blk.0.ffn_norm.weight")!.dtype, "f32");
    assert.equal(f.tensors.find((t) => t.name === "blk.0.ffn_up.weight")!.dtype, "f16");
  });

  it("rejects missing tensors, a vocabulary the tokenizer does not cover, and RoPE scaling", () => {
    assert.throws(() => llamaToGguf({ config, tensors: weights().slice(1), tokenizer }), /missing tensors: token_embd.weight/);
    assert.throws(() => llamaToGguf({ config: { ...config, tie_word_embeddings: false }, tensors: weights(), tokenizer }), /output.weight/);
    assert.throws(() => llamaToGguf({ config: { ...config, vocab_size: 300 }, tensors: weights(), tokenizer }), /does not cover/);
    assert.throws(() => llamaToGguf({ config: { ...config, rope_scaling: { type: "linear", factor: 2 } }, tensors: weights(), tokenizer }), /RoPE scaling/);
  });

  it("writes adapter metadata (rsLoRA alpha folded for llama.cpp's alpha / r) and refuses incomplete pairs", () => {
    const a = { name: "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", shape: [4, 8], data: new Float32Array(32) };
    const b = { name: "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", shape: [8, 4], data: Float32Array.from({ length: 32 }, (_, i) => i) };
    const f = readGguf(loraToGguf({ config, adapterConfig: { r: 4, lora_alpha: 8, use_rslora: true }, tensors: [a, b] }));
    assert.equal(f.metadata.get("general.type"), "adapter");
    assert.equal(f.metadata.get("adapter.type"), "lora");
    assert.equal(f.metadata.get("adapter.lora.alpha"), 16); // 8 * sqrt(4): llama.cpp then scales by 16 / 4 = 8 / sqrt(4)
    assert.deepEqual(f.tensors.map((t) => [t.name, t.shape]), [["blk.0.attn_q.weight.lora_a", [4, 8]], ["blk.0.attn_q.weight.lora_b", [8, 4]]]);
    // B rows permuted like q_proj's rows (2 heads of dim 4): row order 0 2 1 3 | 4 6 5 7
    const rowsOfB = Array.from({ length: 8 }, (_, r) => f.tensors[1]!.data[r * 4]! / 4);
    assert.deepEqual(rowsOfB, [0, 2, 1, 3, 4, 6, 5, 7]);
    const plain = readGguf(loraToGguf({ config, adapterConfig: { r: 4, lora_alpha: 8 }, tensors: [a, b] }));
    assert.equal(plain.metadata.get("adapter.lora.alpha"), 8);
    assert.throws(() => loraToGguf({ config, adapterConfig: { r: 4, lora_alpha: 8 }, tensors: [a] }), /incomplete/);
    assert.throws(() => loraToGguf({ config, adapterConfig: { r: 2, lora_alpha: 8 }, tensors: [a, b] }), /shapes disagree/);
  });
});
