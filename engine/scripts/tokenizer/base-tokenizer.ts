// The project's base-model tokenizer: byte-level BPE with Llama-style BOS, an EOS that also ends
// every chat turn, and one special token per chat role.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { countWords, toTokenizerJson, trainBpe, type BpeModel } from "./bpe-trainer.ts";

export const BOS = "<|bos|>";
export const EOS = "<|eos|>";
export const PAD = "<|pad|>";
export const ROLE_TOKENS = { system: "<|system|>", user: "<|user|>", assistant: "<|assistant|>" } as const;
/** ids 0..5, in this order */
export const SPECIAL_TOKENS = [BOS, EOS, PAD, ROLE_TOKENS.system, ROLE_TOKENS.user, ROLE_TOKENS.assistant];

/**
 * Chat format: `<|bos|>` then, per message, `<|role|>\n{content}<|eos|>`; a generation prompt is
 * `<|assistant|>\n`. Generation stops at `<|eos|>`, which is the model's EOS, so no extra stop string
 * is needed. Unknown roles are rejected rather than silently rendered.
 */
export const CHAT_TEMPLATE =
  "{{ bos_token }}" +
  "{% for message in messages %}" +
  "{% if message['role'] not in ['system', 'user', 'assistant'] %}{{ raise_exception('Unknown role: ' + message['role']) }}{% endif %}" +
  "{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token }}" +
  "{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}";

export function tokenizerConfigJson(model: BpeModel, modelMaxLength: number): object {
  const addedTokensDecoder: Record<string, object> = {};
  for (const t of model.specialTokens) {
    addedTokensDecoder[String(model.vocab.get(t))] = {
      content: t,
      lstrip: false,
      normalized: false,
      rstrip: false,
      single_word: false,
      special: true,
    };
  }
  return {
    tokenizer_class: "PreTrainedTokenizerFast",
    bos_token: BOS,
    eos_token: EOS,
    pad_token: PAD,
    unk_token: null,
    add_bos_token: true,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: modelMaxLength,
    additional_special_tokens: [ROLE_TOKENS.system, ROLE_TOKENS.user, ROLE_TOKENS.assistant],
    added_tokens_decoder: addedTokensDecoder,
    chat_template: CHAT_TEMPLATE,
  };
}

export type TrainedTokenizer = { model: BpeModel; tokenizerJson: object; tokenizerConfig: object };

/** Trains the base tokenizer on texts. Deterministic: the same texts give the same files. */
export function trainBaseTokenizer(texts: Iterable<string>, options: { vocabSize: number; modelMaxLength: number }): TrainedTokenizer {
  const model = trainBpe(countWords(texts), { vocabSize: options.vocabSize, specialTokens: SPECIAL_TOKENS });
  return {
    model,
    tokenizerJson: toTokenizerJson(model, { bosToken: BOS }),
    tokenizerConfig: tokenizerConfigJson(model, options.modelMaxLength),
  };
}

/** Writes tokenizer.json, tokenizer_config.json and special_tokens_map.json into `dir`. */
export function writeTokenizerFiles(dir: string, t: TrainedTokenizer): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(t.tokenizerJson));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(t.tokenizerConfig, null, 2) + "\n");
  const map = { bos_token: BOS, eos_token: EOS, pad_token: PAD, additional_special_tokens: Object.values(ROLE_TOKENS) };
  writeFileSync(join(dir, "special_tokens_map.json"), JSON.stringify(map, null, 2) + "\n");
}
