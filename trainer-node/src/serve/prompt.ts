/**
 * Chat prompts with tools, the grammars of structured answers, and reading tool calls back.
 *
 * Tool calls are written `<tool_call>{"name": <name>, "arguments": <JSON object>}</tool_call>` (the
 * Hermes/Qwen convention). A chat template that mentions `tools` renders the tools and the tool messages
 * itself (it gets `tools`, assistant `tool_calls` and `tool` messages in Hugging Face's shape). Otherwise
 * the default format applies: the tool list goes into the system message with instructions, one line per
 * function `name({arg: type, opt?: type})` with the argument types written TypeScript-style, an earlier
 * assistant call is rendered as its `<tool_call>` text, and a tool result becomes a user message
 * `<tool_response name="...">...</tool_response>`.
 *
 * tool_choice `required` and a named function: the prompt ends with `<tool_call>` and the answer is one
 * JSON object `{"name", "arguments"}` constrained by the functions' schemas (one call per answer).
 * `auto`: free text in which `<tool_call>` starts a call constrained the same way (XGrammar structural
 * tag). `none`: plain text.
 */
import type { ChatTokenizer } from "@tributary/engine";
import { BadRequestError } from "./errors.ts";
import type { GrammarSpec } from "./grammar/xgrammar.ts";
import type { ApiMessage, ChatRequest, FunctionTool, ToolCall } from "./validate.ts";

export const CALL_OPEN = "<tool_call>";
export const CALL_CLOSE = "</tool_call>";

const header = (name: string) => `{"name": ${JSON.stringify(name)}, "arguments": `;

function toolJson(f: FunctionTool) {
  return { type: "function", function: { name: f.name, ...(f.description ? { description: f.description } : {}), parameters: f.parameters } };
}

/** Whether the model's chat template renders tools itself. */
export function templateHasTools(tokenizer: ChatTokenizer): boolean {
  const t = tokenizer.config.chat_template;
  const src = typeof t === "string" ? t : Array.isArray(t) ? JSON.stringify(t) : "";
  return /\btools\b/.test(src);
}

/** A schema (of the supported subset) as a TypeScript-like type: far fewer tokens than the JSON schema. */
export function typeText(s: unknown): string {
  if (s === true || typeof s !== "object" || s === null) return "any";
  const o = s as Record<string, any>;
  if (o.const !== undefined) return JSON.stringify(o.const);
  if (Array.isArray(o.enum)) return o.enum.map((v: unknown) => JSON.stringify(v)).join(" | ");
  if (Array.isArray(o.anyOf)) return o.anyOf.map(typeText).join(" | ");
  const types: string[] = Array.isArray(o.type) ? o.type : o.type ? [o.type] : o.properties ? ["object"] : o.items ? ["array"] : [];
  if (!types.length) return "any";
  return types
    .map((t) => {
      if (t === "object") {
        const req = new Set<string>(o.required ?? []);
        const props = Object.entries((o.properties ?? {}) as Record<string, unknown>).map(([k, v]) => `${k}${req.has(k) ? "" : "?"}: ${typeText(v)}`);
        return `{${props.join(", ")}}`;
      }
      if (t === "array") {
        const item = typeText(o.items ?? true);
        return `${/[ |]/.test(item) ? `(${item})` : item}[]`;
      }
      return t;
    })
    .join(" | ");
}

/** The system-message section that offers `fns` in the default format (also what training data for tool use should show). */
export function defaultToolsText(fns: FunctionTool[]): string {
  return [
    "# Tools",
    "You may call these functions:",
    ...fns.map((f) => `${f.description ? `// ${f.description.replace(/\s+/g, " ")}\n` : ""}${f.name}(${typeText(f.parameters)})`),
    `To call one, answer ${CALL_OPEN}{"name": <function name>, "arguments": <arguments as a JSON object>}${CALL_CLOSE}`,
  ].join("\n");
}

const callText = (c: ToolCall) => `${CALL_OPEN}${header(c.name)}${c.arguments}}${CALL_CLOSE}`;

/** The prompt text of a chat request (generation prompt open; `<tool_call>` appended when a call is forced). */
export function chatPrompt(tokenizer: ChatTokenizer, req: Pick<ChatRequest, "messages" | "tools" | "toolChoice">): string {
  const fns = req.toolChoice.mode === "function" ? req.tools.filter((f) => f.name === (req.toolChoice as { name: string }).name) : req.tools;
  const offered = req.tools.length > 0;
  let text: string;
  try {
    if (offered && templateHasTools(tokenizer) && tokenizer.template) {
      const messages = req.messages.map((m) => ({
        role: m.role,
        content: m.content,
        ...(m.name ? { name: m.name } : {}),
        ...(m.toolCalls ? { tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: JSON.parse(c.arguments) } })) } : {}),
        ...(m.toolCallId ? { tool_call_id: m.toolCallId } : {}),
      }));
      text = tokenizer.template.render({ messages, tools: fns.map(toolJson), add_generation_prompt: true, bos_token: tokenizer.bosToken ?? "", eos_token: tokenizer.eosToken ?? "" });
    } else {
      const names = new Map<string, string>();
      for (const m of req.messages) for (const c of m.toolCalls ?? []) names.set(c.id, c.name);
      const messages = req.messages.map((m: ApiMessage) => {
        if (m.role === "tool") {
          const name = names.get(m.toolCallId!);
          return { role: "user", content: `<tool_response${name ? ` name=${JSON.stringify(name)}` : ""}>\n${m.content}\n</tool_response>` };
        }
        if (m.toolCalls?.length) return { role: m.role, content: m.content + m.toolCalls.map(callText).join("") };
        return { role: m.role, content: m.content };
      });
      if (offered) {
        const sys = defaultToolsText(fns);
        if (messages[0]?.role === "system") messages[0] = { role: "system", content: `${messages[0].content}\n\n${sys}` };
        else messages.unshift({ role: "system", content: sys });
      }
      text = tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
    }
  } catch (e) {
    throw new BadRequestError("messages", `the model's chat template rejected the messages: ${(e as Error).message}`);
  }
  return forcedCall(req) ? text + CALL_OPEN : text;
}

const forcedCall = (req: Pick<ChatRequest, "toolChoice">) => req.toolChoice.mode === "required" || req.toolChoice.mode === "function";

/** The grammar that constrains the answer, or null for free text. */
export function chatGrammar(req: Pick<ChatRequest, "responseFormat" | "tools" | "toolChoice">): GrammarSpec | null {
  const f = req.responseFormat;
  if (f.type === "json_object") return { kind: "json_schema", schema: { type: "object" }, strict: false };
  if (f.type === "json_schema") return { kind: "json_schema", schema: f.schema, strict: true };
  const c = req.toolChoice;
  if (c.mode === "none") return null;
  const fns = c.mode === "function" ? req.tools.filter((t) => t.name === c.name) : req.tools;
  const call = (t: FunctionTool) => ({ type: "object", properties: { name: { const: t.name }, arguments: t.parameters }, required: ["name", "arguments"], additionalProperties: false });
  if (c.mode === "required" || c.mode === "function") return { kind: "json_schema", schema: fns.length === 1 ? call(fns[0]) : { anyOf: fns.map(call) }, strict: true };
  return {
    kind: "structural_tag",
    tag: {
      type: "structural_tag",
      format: { type: "triggered_tags", triggers: [CALL_OPEN], tags: fns.map((t) => ({ type: "tag", begin: CALL_OPEN + header(t.name), content: { type: "json_schema", json_schema: t.parameters }, end: `}${CALL_CLOSE}` })), stop_after_first: true },
    },
  };
}

/** An answer read as content and tool calls (arguments as generated text). */
export interface AnswerView {
  content: string;
  calls: { name: string; arguments: string; complete: boolean }[];
}

/**
 * Reads generated `text` as content and tool calls. `final`: the text is complete; otherwise anything
 * that may still turn out to be markup (a partial `<tool_call>`, a call's closing characters) is held back,
 * so successive views only grow and can be streamed as deltas.
 */
export function readAnswer(text: string, req: Pick<ChatRequest, "toolChoice">, final: boolean): AnswerView {
  if (req.toolChoice.mode === "none") return { content: text, calls: [] };
  if (forcedCall(req)) {
    const m = /^\{"name": ("(?:[^"\\]|\\.)*"), "arguments": /.exec(text);
    if (!m) return { content: "", calls: [] };
    const rest = text.slice(m[0].length);
    const complete = final && rest.endsWith("}") && isJson(rest.slice(0, -1));
    return { content: "", calls: [{ name: JSON.parse(m[1]) as string, arguments: complete ? rest.slice(0, -1) : rest.slice(0, Math.max(0, rest.length - 1)), complete }] };
  }
  const view: AnswerView = { content: "", calls: [] };
  let at = 0;
  while (at < text.length) {
    const open = text.indexOf(CALL_OPEN, at);
    if (open < 0) {
      const tail = text.slice(at);
      view.content += final ? tail : tail.slice(0, tail.length - partialSuffix(tail, CALL_OPEN));
      break;
    }
    view.content += text.slice(at, open);
    const body = text.slice(open + CALL_OPEN.length);
    const m = /^\{"name": ("(?:[^"\\]|\\.)*"), "arguments": /.exec(body);
    if (!m) {
      if (final) view.content += text.slice(open);
      break;
    }
    const args = body.slice(m[0].length);
    const end = args.indexOf(`}${CALL_CLOSE}`);
    if (end < 0) {
      view.calls.push({ name: JSON.parse(m[1]) as string, arguments: final ? args : args.slice(0, args.length - partialSuffix(args, `}${CALL_CLOSE}`)), complete: false });
      break;
    }
    view.calls.push({ name: JSON.parse(m[1]) as string, arguments: args.slice(0, end), complete: isJson(args.slice(0, end)) });
    at = open + CALL_OPEN.length + m[0].length + end + CALL_CLOSE.length + 1;
  }
  return view;
}

/** Length of the longest suffix of `text` that is a proper prefix of `marker`. */
function partialSuffix(text: string, marker: string): number {
  for (let k = Math.min(marker.length - 1, text.length); k > 0; k--) if (text.endsWith(marker.slice(0, k))) return k;
  return 0;
}

function isJson(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}
