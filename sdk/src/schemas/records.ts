// Training records: one JSON object per JSONL line, in one of three shapes.
import { z } from "zod";
import { fieldIssues, SchemaValidationError } from "./errors.ts";

export const ChatRole = z.enum(["system", "user", "assistant", "tool"]);

export const ChatMessage = z.object({
  role: ChatRole,
  content: z.string(),
});

/** `{"messages":[{role,content}...]}`: a conversation; the assistant turns are what the model learns. */
export const ChatRecord = z.object({
  messages: z.array(ChatMessage).min(1, "must contain at least one message").refine(
    (ms) => ms.some((m) => m.role === "assistant"), "must contain at least one assistant message to learn from"),
});

/** `{"prompt","completion"}`: the loss is taken on the completion only. */
export const PromptCompletionRecord = z.object({
  prompt: z.string(),
  completion: z.string().min(1, "must not be empty"),
});

/** `{"text"}`: plain text for causal language modelling. */
export const TextRecord = z.object({
  text: z.string().min(1, "must not be empty"),
});

export const TrainingRecord = z.union([ChatRecord, PromptCompletionRecord, TextRecord]);

export type ChatMessage = z.infer<typeof ChatMessage>;
export type ChatRecord = z.infer<typeof ChatRecord>;
export type PromptCompletionRecord = z.infer<typeof PromptCompletionRecord>;
export type TextRecord = z.infer<typeof TextRecord>;
export type TrainingRecord = z.infer<typeof TrainingRecord>;
export type RecordKind = "chat" | "prompt-completion" | "text";

export const RECORD_KINDS: readonly RecordKind[] = ["chat", "prompt-completion", "text"];

const byKind = { chat: ChatRecord, "prompt-completion": PromptCompletionRecord, text: TextRecord } as const;

/** Which record shape an object claims to be, by its keys; undefined when it has none of them. */
export function recordKindOf(value: unknown): RecordKind | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  if ("messages" in value) return "chat";
  if ("prompt" in value || "completion" in value) return "prompt-completion";
  if ("text" in value) return "text";
  return undefined;
}

/** The kind of an already valid record. */
export function kindOfRecord(record: TrainingRecord): RecordKind {
  return recordKindOf(record)!;
}

/**
 * Validates one record. The shape is chosen by its keys first, so errors name the field that is wrong
 * for that shape (e.g. `messages[1].role`) instead of a vague "matches no union member".
 */
export function parseRecord(value: unknown): TrainingRecord {
  const kind = recordKindOf(value);
  if (kind === undefined) {
    const what = typeof value !== "object" || value === null ? (value === null ? "null" : typeof value)
      : Array.isArray(value) ? "an array" : `an object with keys [${Object.keys(value).join(", ")}]`;
    throw new SchemaValidationError("record", [{
      path: "",
      message: `expected an object with "messages", "prompt"+"completion" or "text", got ${what}`,
    }]);
  }
  const result = byKind[kind].safeParse(value);
  if (!result.success) throw new SchemaValidationError(`${kind} record`, fieldIssues(result.error.issues));
  return result.data;
}
