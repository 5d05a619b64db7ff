/**
 * Tokenizer + chat template of a Hugging Face model directory: `tokenizer.json` through
 * @huggingface/tokenizers, `tokenizer_config.json`'s `chat_template` through @huggingface/jinja.
 *
 * Special tokens follow Hugging Face transformers (5.x, `TokenizersBackend`) exactly:
 * - `tokenizer(text)` = the post-processor's prefix + the text's tokens + its suffix. The prefix and
 *   suffix are read here from tokenizer.json's `post_processor` (TemplateProcessing's `single` template,
 *   Bert/RobertaProcessing's cls/sep, ByteLevel or none: nothing, Sequence: nested), with the ids of
 *   TemplateProcessing's `special_tokens` map as the Rust library uses them (the JS library looks the
 *   token names up instead, which differs when a name is not itself the token).
 * - `add_bos_token` / `add_eos_token` in tokenizer_config.json do not change it: transformers 5 drops
 *   them when a tokenizer.json is present (`_from_pretrained`), because a tokenizer saved by
 *   transformers already has them baked into its post-processor (transformers 4's
 *   LlamaTokenizerFast/GemmaTokenizerFast rebuilt the post-processor from them when loading).
 *   Where the two disagree the post-processor wins, and `notes` says so.
 * - Chat templates render as `apply_chat_template` does (the template writes BOS itself where it wants
 *   one) and the rendered text is encoded without the post-processor's specials.
 * - Named special tokens of the config (bos/eos/unk/sep/pad/cls/mask, additional_special_tokens) that
 *   are in the vocabulary but not among tokenizer.json's added tokens become added special tokens,
 *   as transformers adds them when it loads the tokenizer.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { Tokenizer } from "@huggingface/tokenizers";
import { FormatError } from "../errors.ts";

export interface ChatMessage {
  role: string;
  content: string;
}

/** The special-token ids `tokenizer(text)` puts around a single text. */
export interface SpecialTokenFrame {
  prefix: number[];
  suffix: number[];
}

/** Named special tokens transformers hands to chat templates (its `special_tokens_map`). */
const SPECIAL_TOKEN_KEYS = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"] as const;

function tokenText(t: unknown): string | null {
  if (typeof t === "string") return t;
  if (t && typeof t === "object" && typeof (t as { content?: unknown }).content === "string") return (t as { content: string }).content;
  return null;
}

const unsupported = (what: string, details: Record<string, unknown>) =>
  new FormatError(`tokenizer.json post_processor: ${what}`, details, "Use a TemplateProcessing, ByteLevel, BertProcessing, RobertaProcessing or Sequence post-processor");

/** A TemplateProcessing template's pieces, from its JSON (array) or string ("<s> $A:0 </s>") form. */
function templatePieces(single: unknown): Array<{ special: string } | { sequence: string }> {
  if (typeof single === "string") {
    return single
      .split(/\s+/)
      .filter(Boolean)
      .map((p) => {
        if (!p.startsWith("$")) return { special: p.replace(/:\d+$/, "") };
        const id = p.slice(1).replace(/:?\d*$/, "");
        return { sequence: id === "" ? "A" : id };
      });
  }
  if (!Array.isArray(single)) throw unsupported("TemplateProcessing without a `single` template", {});
  return single.map((p: any) => {
    if (p?.SpecialToken && typeof p.SpecialToken.id === "string") return { special: p.SpecialToken.id };
    if (p?.Sequence && typeof p.Sequence.id === "string") return { sequence: p.Sequence.id };
    throw unsupported("unknown TemplateProcessing piece", { piece: p });
  });
}

/**
 * The ids a post-processor adds around one sequence, as `tokenizer(text)` (add_special_tokens=True)
 * adds them; `null` adds nothing.
 */
export function postProcessorFrame(pp: any): SpecialTokenFrame {
  if (pp === null || pp === undefined) return { prefix: [], suffix: [] };
  switch (pp.type) {
    case "ByteLevel":
      return { prefix: [], suffix: [] };
    case "TemplateProcessing": {
      const pieces = templatePieces(pp.single);
      const seq = pieces.flatMap((p, i) => ("sequence" in p ? [i] : []));
      if (seq.length !== 1 || (pieces[seq[0]] as { sequence: string }).sequence !== "A") {
        throw unsupported("the `single` template must hold the sequence $A exactly once", { single: pp.single });
      }
      const ids = (ps: typeof pieces) =>
        ps.flatMap((p) => {
          const name = (p as { special: string }).special;
          const st = pp.special_tokens?.[name];
          if (!st || !Array.isArray(st.ids) || !st.ids.every(Number.isInteger)) throw unsupported("a template token is missing from special_tokens", { token: name });
          return st.ids as number[];
        });
      return { prefix: ids(pieces.slice(0, seq[0])), suffix: ids(pieces.slice(seq[0] + 1)) };
    }
    case "BertProcessing":
    case "RobertaProcessing": {
      const id = (pair: unknown, name: string) => {
        if (!Array.isArray(pair) || !Number.isInteger(pair[1])) throw unsupported(`${pp.type} without a [token, id] ${name}`, { [name]: pair });
        return pair[1] as number;
      };
      return { prefix: [id(pp.cls, "cls")], suffix: [id(pp.sep, "sep")] };
    }
    case "Sequence": {
      if (!Array.isArray(pp.processors)) throw unsupported("Sequence without processors", {});
      // each processor wraps what the previous ones produced
      return pp.processors.reduce(
        (acc: SpecialTokenFrame, p: unknown) => {
          const f = postProcessorFrame(p);
          return { prefix: [...f.prefix, ...acc.prefix], suffix: [...acc.suffix, ...f.suffix] };
        },
        { prefix: [], suffix: [] },
      );
    }
    default:
      throw unsupported(`unsupported type ${JSON.stringify(pp.type)}`, {});
  }
}

/** Vocabulary id of `token` in tokenizer.json's model (BPE/WordPiece/WordLevel map, Unigram list). */
function modelVocabId(model: any, token: string): number | null {
  const vocab = model?.vocab;
  if (Array.isArray(vocab)) {
    const i = vocab.findIndex((v: unknown) => (Array.isArray(v) ? v[0] : v) === token);
    return i >= 0 ? i : null;
  }
  if (vocab && typeof vocab === "object" && Number.isInteger(vocab[token])) return vocab[token];
  return null;
}

/** tokenizer.json with the config's named special tokens added where transformers adds them. */
function withConfigSpecials(tokenizerJson: Record<string, any>, config: Record<string, any>): Record<string, any> {
  const added: any[] = Array.isArray(tokenizerJson.added_tokens) ? [...tokenizerJson.added_tokens] : [];
  const have = new Set(added.map((a) => a?.content));
  const extra = config.additional_special_tokens ?? config.extra_special_tokens; // a list, or (5.x) a dict of named tokens
  const extras: unknown[] = Array.isArray(extra) ? extra : extra && typeof extra === "object" ? Object.values(extra) : [];
  const names = [...SPECIAL_TOKEN_KEYS.map((k) => config[k]), ...extras].map(tokenText).filter((t): t is string => t !== null);
  for (const content of names) {
    if (have.has(content)) continue;
    const id = modelVocabId(tokenizerJson.model, content);
    if (id === null) continue;
    added.push({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    have.add(content);
  }
  return added.length === (tokenizerJson.added_tokens?.length ?? 0) ? tokenizerJson : { ...tokenizerJson, added_tokens: added };
}

export class ChatTokenizer {
  readonly tokenizer: Tokenizer;
  readonly config: Record<string, any>;
  readonly template: Template | null;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly bosId: number | null;
  readonly eosId: number | null;
  /** What `tokenizer(text)` adds around a text (from tokenizer.json's post-processor). */
  readonly frame: SpecialTokenFrame;
  /** `tokenizer(text)` starts with BOS (the post-processor's prefix holds it). */
  readonly addBos: boolean;
  /** `tokenizer(text)` ends with EOS (the post-processor's suffix ends with it). */
  readonly addEos: boolean;
  /** Where tokenizer_config.json's add_bos_token/add_eos_token disagree with the post-processor (which wins). */
  readonly notes: string[] = [];

  constructor(tokenizerJson: Record<string, any>, tokenizerConfig: Record<string, any> = {}) {
    this.tokenizer = new Tokenizer(withConfigSpecials(tokenizerJson, tokenizerConfig), tokenizerConfig);
    this.config = tokenizerConfig;
    let tpl = tokenizerConfig.chat_template;
    if (Array.isArray(tpl)) tpl = tpl.find((t: { name: string }) => t.name === "default")?.template ?? tpl[0]?.template;
    try {
      this.template = typeof tpl === "string" ? new Template(tpl) : null;
    } catch (e) {
      throw new FormatError("the chat template does not parse", { error: (e as Error).message }, "Fix chat_template in tokenizer_config.json (or chat_template.jinja)");
    }
    this.bosToken = tokenText(tokenizerConfig.bos_token);
    this.eosToken = tokenText(tokenizerConfig.eos_token);
    this.bosId = this.bosToken === null ? null : (this.tokenizer.token_to_id(this.bosToken) ?? null);
    this.eosId = this.eosToken === null ? null : (this.tokenizer.token_to_id(this.eosToken) ?? null);
    this.frame = postProcessorFrame(tokenizerJson.post_processor);
    this.addBos = this.bosId !== null && this.frame.prefix.includes(this.bosId);
    this.addEos = this.eosId !== null && this.frame.suffix.at(-1) === this.eosId;
    const disagree = (key: "add_bos_token" | "add_eos_token", adds: boolean, token: string | null) => {
      const v = tokenizerConfig[key];
      if (typeof v === "boolean" && token !== null && v !== adds) {
        this.notes.push(
          `tokenizer_config.json has ${key}: ${v} but tokenizer.json's post-processor ${adds ? "adds" : "does not add"} ${token}; ` +
            `following transformers (5.x ignores ${key} when tokenizer.json is present): ${token} is ${adds ? "" : "not "}added. Edit tokenizer.json's post_processor to change it`,
        );
      }
    };
    disagree("add_bos_token", this.addBos, this.bosToken);
    disagree("add_eos_token", this.addEos, this.eosToken);
  }

  /**
   * Loads tokenizer.json and tokenizer_config.json of a model directory, as transformers does:
   * chat_template.jinja takes priority over the config's template, and special_tokens_map.json
   * (legacy) fills the named special tokens when the config has no added_tokens_decoder.
   */
  static async fromDir(dir: string): Promise<ChatTokenizer> {
    const tj = join(dir, "tokenizer.json");
    if (!existsSync(tj)) throw new FormatError("no tokenizer.json in the model directory", { dir }, "Add the model's tokenizer.json");
    const tc = join(dir, "tokenizer_config.json");
    const config = existsSync(tc) ? JSON.parse(await readFile(tc, "utf8")) : {};
    const stm = join(dir, "special_tokens_map.json");
    if (config.added_tokens_decoder === undefined && existsSync(stm)) Object.assign(config, JSON.parse(await readFile(stm, "utf8")));
    const jinja = join(dir, "chat_template.jinja");
    if (existsSync(jinja)) config.chat_template = await readFile(jinja, "utf8");
    return new ChatTokenizer(JSON.parse(await readFile(tj, "utf8")), config);
  }

  get vocabSize(): number {
    return this.tokenizer.get_vocab(true).size;
  }

  /**
   * Token ids of `text`; special-token strings in it become their ids.
   * - default: no specials around it (transformers' `add_special_tokens=False`, how a rendered chat
   *   template is encoded);
   * - `addSpecialTokens`: the post-processor's prefix and suffix around it, as `tokenizer(text)`;
   * - `bos`: BOS in front (explicitly, whatever the post-processor says).
   */
  encode(text: string, { bos = false, addSpecialTokens = false }: { bos?: boolean; addSpecialTokens?: boolean } = {}): number[] {
    const ids = text.length ? this.tokenizer.encode(text, { add_special_tokens: false }).ids : [];
    if (addSpecialTokens) return [...this.frame.prefix, ...ids, ...this.frame.suffix];
    return bos && this.bosId !== null ? [this.bosId, ...ids] : ids;
  }

  /**
   * A text prompt to continue (`generate`, and the prompt part of prompt/completion records): the
   * post-processor's prefix (BOS only where `tokenizer(text)` adds it), never its suffix, since the
   * continuation follows the prompt directly.
   */
  encodePrompt(text: string): number[] {
    return [...this.frame.prefix, ...this.encode(text)];
  }

  decode(ids: number[], { skipSpecial = true }: { skipSpecial?: boolean } = {}): string {
    if (!ids.length) return "";
    return this.tokenizer.decode(ids, { skip_special_tokens: skipSpecial, clean_up_tokenization_spaces: false });
  }

  /** The variables transformers gives a chat template besides the messages. */
  private templateContext(): Record<string, unknown> {
    const ctx: Record<string, unknown> = { tools: null, documents: null };
    for (const k of SPECIAL_TOKEN_KEYS) {
      const t = tokenText(this.config[k]);
      if (t !== null) ctx[k] = t;
    }
    return ctx;
  }

  /** Renders messages with the chat template (`add_generation_prompt` opens an assistant turn). */
  applyChatTemplate(messages: ChatMessage[], { addGenerationPrompt = false }: { addGenerationPrompt?: boolean } = {}): string {
    if (!this.template) {
      throw new FormatError("the tokenizer has no chat template", {}, "Add chat_template to tokenizer_config.json, or use prompt/completion records");
    }
    if (!messages.length) throw new FormatError("cannot apply the chat template to an empty conversation", {}, "Give at least one message");
    return this.render(this.template, messages, addGenerationPrompt);
  }

  private render(template: Template, messages: ChatMessage[], addGenerationPrompt: boolean): string {
    try {
      return template.render({ ...this.templateContext(), messages, add_generation_prompt: addGenerationPrompt });
    } catch (e) {
      throw new FormatError(`the chat template refused the conversation: ${(e as Error).message}`, { roles: messages.map((m) => m.role) }, "Shape the conversation as the model's chat template expects");
    }
  }

  /**
   * A conversation as token ids with a per-token flag "train on this token": true on assistant turns
   * (their content and the template's closing tokens), false elsewhere. The conversation is encoded
   * render by render: each render (up to an open assistant turn, then through that turn, ...) is
   * encoded whole, and what it adds to the ids so far is appended. So the ids are exactly
   * `apply_chat_template(messages, tokenize=True)`'s, and every prompt `generateChat` encodes
   * (the render with an open assistant turn) is a prefix of them — except where BPE merges across a
   * turn boundary (e.g. "\n\n" + "A" under GPT-2's regex): there the new piece is encoded on its own,
   * keeping the prompt exactly as inference encodes it.
   */
  encodeChat(messages: ChatMessage[]): { ids: number[]; train: boolean[] } {
    if (!this.template) this.applyChatTemplate(messages); // throws the missing-template error
    const template = this.template!;
    const ids: number[] = [];
    const train: boolean[] = [];
    let prev = "";
    const extend = (text: string, flag: boolean) => {
      if (!text.startsWith(prev)) {
        throw new FormatError("chat template output is not incremental", { prefix: prev.slice(-40), next: text.slice(0, 40) }, "Use a template whose renders of a conversation's prefixes are prefixes of each other");
      }
      const whole = this.encode(text);
      const extends_ = whole.length >= ids.length && ids.every((id, i) => whole[i] === id);
      for (const id of extends_ ? whole.slice(ids.length) : this.encode(text.slice(prev.length))) {
        ids.push(id);
        train.push(flag);
      }
      prev = text;
    };
    messages.forEach((m, i) => {
      if (m.role !== "assistant") return;
      extend(this.render(template, messages.slice(0, i), true), false);
      extend(this.render(template, messages.slice(0, i + 1), false), true);
    });
    extend(this.render(template, messages, false), false);
    return { ids, train };
  }
}
