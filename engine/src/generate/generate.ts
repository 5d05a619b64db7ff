/**
 * Text generation with a KV cache: prefill the prompt, then one token at a time until EOS, a stop
 * sequence, or maxTokens. The adapter (if any) is applied unmerged, so one loaded base serves many
 * adapters, chosen per request. Streaming emits text only once it can no longer turn into a stop
 * sequence or an incomplete UTF-8 character.
 */
import { EngineError } from "../errors.ts";
import type { LoraAdapter } from "../lora/adapter.ts";
import { createKvCache, forwardCached } from "../model/llama.ts";
import type { LlamaModel } from "../model/llama.ts";
import type { ChatMessage, ChatTokenizer } from "../model/tokenizer.ts";
import { Rng } from "../random/prng.ts";
import { sampleToken } from "./sampling.ts";

export interface GenerateOptions {
  maxTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  stop?: string[];
  /** Token ids that end generation; default: the model's eos ids and the tokenizer's EOS. */
  eosIds?: number[];
  adapter?: LoraAdapter | null;
  /** Streaming: called with each new piece of text (and the ids generated so far). */
  onText?: (delta: string, ids: readonly number[]) => void;
}

export interface GenerateResult {
  text: string;
  ids: number[];
  finishReason: "eos" | "stop" | "length";
  promptTokens: number;
  prefillMs: number;
  decodeMs: number;
}

/** Completes `prompt`: token ids, or text encoded as `ChatTokenizer.encodePrompt` does (BOS only where the model's tokenizer adds it). */
export async function generate(model: LlamaModel, tokenizer: ChatTokenizer, prompt: number[] | string, o: GenerateOptions = {}): Promise<GenerateResult> {
  const promptIds = typeof prompt === "string" ? tokenizer.encodePrompt(prompt) : prompt;
  if (!promptIds.length) throw new EngineError("empty prompt", {}, "Give at least one token");
  const maxTokens = o.maxTokens ?? 128;
  const maxLen = Math.min(model.rope.maxPos, promptIds.length + maxTokens);
  if (promptIds.length >= maxLen) throw new EngineError("prompt is as long as the model's context", { promptTokens: promptIds.length, context: model.rope.maxPos });
  const eos = new Set(o.eosIds ?? [...model.config.eosTokenIds, ...(tokenizer.eosId === null ? [] : [tokenizer.eosId])]);
  const stops = (o.stop ?? []).filter((s) => s.length > 0);
  const rng = new Rng(o.seed ?? 0);
  const sampling = { temperature: o.temperature ?? 0, topK: o.topK ?? 0, topP: o.topP ?? 1 };
  const kv = createKvCache(model.config, maxLen);
  const adapter = o.adapter ?? null;

  const t0 = performance.now();
  let logits = await forwardCached(model, promptIds, kv, adapter);
  const t1 = performance.now();
  const ids: number[] = [];
  let emitted = 0;
  let text = "";
  let finishReason: GenerateResult["finishReason"] = "length";
  while (ids.length < maxTokens && kv.length < maxLen) {
    const next = sampleToken(logits, sampling, rng);
    if (eos.has(next)) {
      finishReason = "eos";
      break;
    }
    ids.push(next);
    text = tokenizer.decode(ids);
    const hit = firstStop(text, stops);
    if (hit >= 0) {
      text = text.slice(0, hit);
      finishReason = "stop";
      break;
    }
    const safe = text.length - heldBack(text, stops);
    if (safe > emitted) {
      o.onText?.(text.slice(emitted, safe), ids);
      emitted = safe;
    }
    if (ids.length < maxTokens && kv.length < maxLen) logits = await forwardCached(model, [next], kv, adapter);
  }
  if (text.length > emitted) o.onText?.(text.slice(emitted), ids);
  return { text, ids, finishReason, promptTokens: promptIds.length, prefillMs: t1 - t0, decodeMs: performance.now() - t1 };
}

/** Chat completion: the conversation through the chat template with an open assistant turn. */
export async function generateChat(model: LlamaModel, tokenizer: ChatTokenizer, messages: ChatMessage[], o: GenerateOptions = {}): Promise<GenerateResult> {
  return generate(model, tokenizer, tokenizer.encode(tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true })), o);
}

function firstStop(text: string, stops: string[]): number {
  let at = -1;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  return at;
}

/** Characters at the end of `text` to hold back: a possible stop-sequence prefix or a partial character. */
function heldBack(text: string, stops: string[]): number {
  let hold = text.endsWith("\uFFFD") ? 1 : 0;
  for (const s of stops) {
    for (let k = Math.min(s.length - 1, text.length); k > hold; k--) {
      if (text.endsWith(s.slice(0, k))) {
        hold = k;
        break;
      }
    }
  }
  return hold;
}
