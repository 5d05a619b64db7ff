/**
 * Constrained decoding through XGrammar's WebAssembly build (`@mlc-ai/web-xgrammar`): a JSON schema (or a
 * structural tag for tool calls) compiles against the model's vocabulary into a grammar; a matcher per
 * sequence gives the bitmask of tokens allowed next and advances on each sampled token. XGrammar
 * precomputes per-token tables once per tokenizer, so a mask costs microseconds even for 150k-token
 * vocabularies.
 *
 * The package ships one UMD bundle (WASM inlined) in a `"type": "module"` package, which Node cannot
 * import as published (ERR_AMBIGUOUS_MODULE_SYNTAX: the bundle calls `require` at top level). It is
 * loaded here as the CommonJS script it is, with Node's own `require`; nothing is fetched.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import type * as XG from "@mlc-ai/web-xgrammar";

type XGrammar = typeof XG;

let loaded: XGrammar | undefined;

function xgrammar(): XGrammar {
  if (!loaded) {
    const require = createRequire(import.meta.url);
    const file = require.resolve("@mlc-ai/web-xgrammar");
    const module = { exports: {} as XGrammar };
    // a Function (not vm.compileFunction) so that the bundle's dynamic import() uses the default loader
    const fn = new Function("exports", "require", "module", "__filename", "__dirname", `${readFileSync(file, "utf8")}\n//# sourceURL=${file}`) as (...a: unknown[]) => void;
    fn(module.exports, require, module, file, dirname(file));
    loaded = module.exports;
  }
  return loaded;
}

/** A tokenizer's vocabulary as XGrammar needs it. */
export interface Vocabulary {
  /** Token strings by id, in the tokenizer's own encoding ("Ġthe" for byte-level BPE); "" for special tokens. */
  tokens: string[];
  /** "BYTE_LEVEL" (GPT-2 style), "BYTE_FALLBACK" (SentencePiece with <0xXX> tokens) or "RAW". */
  type: "BYTE_LEVEL" | "BYTE_FALLBACK" | "RAW";
  /** Logit rows are this long (may exceed tokens.length: padded embedding rows are never allowed). */
  vocabSize: number;
  /** Tokens that end a sequence (allowed only where the grammar is complete). */
  stopIds: number[];
}

/** The grammar state of one sequence: which tokens may come next, and advancing on one. */
export interface TokenConstraint {
  /** Bitmask over the vocabulary (bit `id & 31` of word `id >> 5`): 1 = allowed. */
  mask(): Promise<Int32Array>;
  /** Advances on `id`; false when the grammar does not allow it (the caller sampled outside the mask). */
  accept(id: number): boolean;
  /** The grammar has accepted a stop token. */
  terminated(): boolean;
  dispose(): void;
}

/**
 * Bounds the digits of JSON numbers in an EBNF grammar printed by XGrammar (its `basic_number*` and
 * `basic_integer*` rules): at most 16 digits before and after the point, 2 in an exponent. A tiny model
 * in a number otherwise tends to write digits until max_tokens; every bounded number still validates
 * (llama.cpp's schema converter bounds digits the same way).
 */
export function boundNumbers(ebnf: string, digits = 16, exponentDigits = 2): string {
  const lines = ebnf.split("\n");
  const exponent = new Set<string>();
  for (const line of lines) {
    const m = /\[eE\] (?:(\w+) )?(\w+)\)/.exec(line);
    if (m && /^basic_number/.test(line)) exponent.add(m[2]);
  }
  return lines
    .map((line) => {
      const m = /^(basic_(?:number|integer)\w*) ::= (.*)$/.exec(line);
      if (!m) return line;
      const n = exponent.has(m[1]) ? exponentDigits : digits;
      if (m[2] === `(([0-9] ${m[1]}) | ([0-9]))`) return `${m[1]} ::= [0-9]{1,${n}}`;
      return `${m[1]} ::= ${m[2].replaceAll("[0-9]*", `[0-9]{0,${n - 1}}`).replaceAll("[0-9]+", `[0-9]{1,${n}}`)}`;
    })
    .join("\n");
}

/** The EBNF of a JSON schema, compact (", " and ": " separators, no newlines), numbers bounded. */
async function schemaEbnf(schema: unknown, strict: boolean): Promise<string> {
  const g = await xgrammar().Grammar.fromJSONSchema(JSON.stringify(schema), false, -1, [", ", ": "], strict);
  try {
    return boundNumbers(g.toString());
  } finally {
    g.dispose();
  }
}

/** Replaces each `json_schema` format inside a structural tag by its bounded compact grammar. */
async function compactTag(node: unknown): Promise<unknown> {
  if (Array.isArray(node)) return Promise.all(node.map(compactTag));
  if (typeof node !== "object" || node === null) return node;
  const o = node as Record<string, unknown>;
  if (o.type === "json_schema" && "json_schema" in o) return { type: "grammar", grammar: await schemaEbnf(o.json_schema, true) };
  return Object.fromEntries(await Promise.all(Object.entries(o).map(async ([k, v]) => [k, await compactTag(v)])));
}

export type GrammarSpec =
  /** Output is one JSON value matching the schema, compact (", " and ": " separators, no newlines). `strict`: no properties beyond the schema's. */
  | { kind: "json_schema"; schema: Record<string, unknown> | boolean; strict: boolean }
  /** An XGrammar structural tag (free text with triggered tagged sections, e.g. tool calls). */
  | { kind: "structural_tag"; tag: Record<string, unknown> };

/** Compiles grammars for one vocabulary and hands out matchers; compiled grammars are kept in an LRU. */
export class GrammarCompiler {
  private readonly cache = new Map<string, Promise<XG.CompiledGrammar>>();
  private readonly compiler: XG.GrammarCompiler;
  private readonly info: XG.TokenizerInfo;
  private readonly maxCached: number;
  private constructor(compiler: XG.GrammarCompiler, info: XG.TokenizerInfo, maxCached: number) {
    this.compiler = compiler;
    this.info = info;
    this.maxCached = maxCached;
  }

  static async create(vocab: Vocabulary, maxCached = 64): Promise<GrammarCompiler> {
    const xg = xgrammar();
    const info = await xg.TokenizerInfo.createTokenizerInfo(vocab.tokens, vocab.type, false, vocab.vocabSize, vocab.stopIds);
    return new GrammarCompiler(await xg.GrammarCompiler.createGrammarCompiler(info, false), info, maxCached);
  }

  private compiled(spec: GrammarSpec): Promise<XG.CompiledGrammar> {
    const key = JSON.stringify(spec);
    let p = this.cache.get(key);
    if (p) {
      this.cache.delete(key);
      this.cache.set(key, p);
      return p;
    }
    p =
      spec.kind === "json_schema"
        ? schemaEbnf(spec.schema, spec.strict).then((ebnf) => this.compiler.compileGrammar(ebnf))
        : compactTag(spec.tag).then((tag) => this.compiler.compileStructuralTag(tag as XG.StructuralTag));
    this.cache.set(key, p);
    p.catch(() => this.cache.delete(key));
    while (this.cache.size > this.maxCached) {
      const [oldest, q] = this.cache.entries().next().value!;
      this.cache.delete(oldest);
      void q.then((g) => g.dispose()).catch(() => undefined);
    }
    return p;
  }

  /** A fresh matcher (one per sequence). Throws when XGrammar cannot compile the spec. */
  async constraint(spec: GrammarSpec): Promise<TokenConstraint> {
    const g = await this.compiled(spec);
    const m = await xgrammar().GrammarMatcher.createGrammarMatcher(g);
    let disposed = false;
    return {
      mask: () => m.getNextTokenBitmask(),
      accept: (id) => m.acceptToken(id),
      terminated: () => m.isTerminated(),
      dispose: () => {
        if (!disposed) m.dispose();
        disposed = true;
      },
    };
  }

  dispose(): void {
    for (const p of this.cache.values()) void p.then((g) => g.dispose()).catch(() => undefined);
    this.cache.clear();
    this.compiler.dispose();
    this.info.dispose();
  }
}
