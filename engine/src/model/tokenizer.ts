/**
 * Tokenizer + chat template of a Hugging Face model directory: `tokenizer.json` through
 * @huggingface/tokenizers, `tokenizer_config.json`'s `chat_template` through @huggingface/jinja.
 * Text is encoded without the library's post-processor; BOS is added explicitly where the
 * checkpoint asks for it (`add_bos_token`), so training and generation build prompts the same way.
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

function tokenText(t: unknown): string | null {
  if (typeof t === "string") return t;
  if (t && typeof t === "object" && typeof (t as { content?: unknown }).content === "string") return (t as { content: string }).content;
  return null;
}

export class ChatTokenizer {
  readonly tokenizer: Tokenizer;
  readonly config: Record<string, any>;
  readonly template: Template | null;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly bosId: number | null;
  readonly eosId: number | null;
  /** Prepend BOS to raw text (prompt/completion and text records, and `generate`). */
  readonly addBos: boolean;

  constructor(tokenizerJson: Record<string, any>, tokenizerConfig: Record<string, any> = {}) {
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    this.config = tokenizerConfig;
    let tpl = tokenizerConfig.chat_template;
    if (Array.isArray(tpl)) tpl = tpl.find((t: { name: string }) => t.name === "default")?.template ?? tpl[0]?.template;
    this.template = typeof tpl === "string" ? new Template(tpl) : null;
    this.bosToken = tokenText(tokenizerConfig.bos_token);
    this.eosToken = tokenText(tokenizerConfig.eos_token);
    this.bosId = this.bosToken === null ? null : (this.tokenizer.token_to_id(this.bosToken) ?? null);
    this.eosId = this.eosToken === null ? null : (this.tokenizer.token_to_id(this.eosToken) ?? null);
    this.addBos = this.bosId !== null && tokenizerConfig.add_bos_token !== false;
  }

  static async fromDir(dir: string): Promise<ChatTokenizer> {
    const tj = join(dir, "tokenizer.json");
    if (!existsSync(tj)) throw new FormatError("no tokenizer.json in the model directory", { dir }, "Add the model's tokenizer.json");
    const tc = join(dir, "tokenizer_config.json");
    const config = existsSync(tc) ? JSON.parse(await readFile(tc, "utf8")) : {};
    // recent transformers save the template next to the config instead of inside it
    const jinja = join(dir, "chat_template.jinja");
    if (config.chat_template === undefined && existsSync(jinja)) config.chat_template = await readFile(jinja, "utf8");
    return new ChatTokenizer(JSON.parse(await readFile(tj, "utf8")), config);
  }

  get vocabSize(): number {
    return this.tokenizer.get_vocab(true).size;
  }

  /** Token ids of `text` (special-token strings in it become their ids); BOS only when asked. */
  encode(text: string, { bos = false }: { bos?: boolean } = {}): number[] {
    const ids = text.length ? this.tokenizer.encode(text, { add_special_tokens: false }).ids : [];
    return bos && this.bosId !== null ? [this.bosId, ...ids] : ids;
  }

  decode(ids: number[], { skipSpecial = true }: { skipSpecial?: boolean } = {}): string {
    return this.tokenizer.decode(ids, { skip_special_tokens: skipSpecial, clean_up_tokenization_spaces: false });
  }

  /** Renders messages with the chat template (`add_generation_prompt` opens an assistant turn). */
  applyChatTemplate(messages: ChatMessage[], { addGenerationPrompt = false }: { addGenerationPrompt?: boolean } = {}): string {
    if (!this.template) {
      throw new FormatError("the tokenizer has no chat template", {}, "Add chat_template to tokenizer_config.json, or use prompt/completion records");
    }
    return this.template.render({
      messages,
      add_generation_prompt: addGenerationPrompt,
      bos_token: this.bosToken ?? "",
      eos_token: this.eosToken ?? "",
    });
  }

  /**
   * A conversation as token ids with a per-token flag "train on this token": true on assistant
   * turns (their content and the template's closing tokens), false elsewhere. Each rendered piece
   * is encoded on its own, exactly as a prompt rendered with add_generation_prompt is at inference.
   */
  encodeChat(messages: ChatMessage[]): { ids: number[]; train: boolean[] } {
    const ids: number[] = [];
    const train: boolean[] = [];
    let prev = "";
    const push = (text: string, flag: boolean) => {
      if (!text.startsWith(prev)) {
        throw new FormatError("chat template output is not incremental", { prefix: prev.slice(-40), next: text.slice(0, 40) }, "Use a template whose renders of a conversation's prefixes are prefixes of each other");
      }
      for (const id of this.encode(text.slice(prev.length))) {
        ids.push(id);
        train.push(flag);
      }
      prev = text;
    };
    messages.forEach((m, i) => {
      if (m.role !== "assistant") return;
      push(this.applyChatTemplate(messages.slice(0, i), { addGenerationPrompt: true }), false);
      push(this.applyChatTemplate(messages.slice(0, i + 1)), true);
    });
    push(this.applyChatTemplate(messages), false);
    return { ids, train };
  }
}
