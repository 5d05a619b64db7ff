import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../src/errors.ts";
import { parseLlamaConfig, toHfConfig } from "../src/model/config.ts";

const hf = {
  architectures: ["LlamaForCausalLM"],
  vocab_size: 32000,
  hidden_size: 2048,
  intermediate_size: 5632,
  num_hidden_layers: 22,
  num_attention_heads: 32,
  num_key_value_heads: 4,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  tie_word_embeddings: false,
  max_position_embeddings: 2048,
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: "silu",
};

test("a Hugging Face Llama config.json is parsed and written back", () => {
  const c = parseLlamaConfig(hf);
  assert.equal(c.headDim, 64);
  assert.equal(c.numKvHeads, 4);
  assert.deepEqual(c.eosTokenIds, [2]);
  assert.equal(c.bosTokenId, 1);
  assert.deepEqual(parseLlamaConfig(toHfConfig(c)), c);
  assert.deepEqual(parseLlamaConfig({ ...hf, eos_token_id: [2, 7] }).eosTokenIds, [2, 7]);
  // defaults: kv heads = heads, tie false, theta 10000
  const d = parseLlamaConfig({ vocab_size: 10, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 2 });
  assert.equal(d.numKvHeads, 2);
  assert.equal(d.ropeTheta, 10000);
  assert.equal(d.tieWordEmbeddings, false);
});

test("unsupported or inconsistent configs are rejected", () => {
  assert.throws(() => parseLlamaConfig({ ...hf, hidden_size: undefined }), ConfigError);
  assert.throws(() => parseLlamaConfig({ ...hf, num_key_value_heads: 5 }), /multiple/);
  assert.throws(() => parseLlamaConfig({ ...hf, architectures: ["GPT2LMHeadModel"] }), /architecture/);
  assert.throws(() => parseLlamaConfig({ ...hf, rope_scaling: { type: "linear", factor: 2 } }), /rope_scaling/);
});
