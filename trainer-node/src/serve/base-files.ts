/**
 * A base model's files for backends that do not load it into the engine (external.ts, llamacpp.ts): the
 * Hugging Face directory from IPFS by CID (verified, cached under `<cacheDir>/models/<cid>` like the
 * engine's), its tokenizer (chat template, prompt encoding, citations), token table and context length.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ChatTokenizer, readConfig } from "@tributary/engine";
import type { LlamaConfig } from "@tributary/engine";
import type { ContentStore } from "@tributary/sdk/content";
import { fetchFileSet } from "@tributary/sdk/files";
import type { ServedModel } from "../types.ts";
import { ContentUnavailableError, ServeError } from "./errors.ts";
import { tokenTable } from "./grammar/vocab.ts";
import type { TokenTable } from "./grammar/vocab.ts";

export interface BaseFiles {
  dir: string;
  config: LlamaConfig;
  tokenizer: ChatTokenizer;
  table: TokenTable;
  /** Context length (max_position_embeddings). */
  context: number;
  vocab: number;
  /** End-of-turn token ids (config and tokenizer). */
  eos: Set<number>;
}

export class BaseFilesCache {
  private readonly bases = new Map<string, Promise<BaseFiles>>();
  private readonly store: Pick<ContentStore, "cat">;
  private readonly cacheDir: string;
  constructor(store: Pick<ContentStore, "cat">, cacheDir: string) {
    this.store = store;
    this.cacheDir = cacheDir;
  }

  get size(): number {
    return this.bases.size;
  }

  get(m: ServedModel): Promise<BaseFiles> {
    let p = this.bases.get(m.baseModelCid);
    if (!p) {
      p = (async () => {
        const dir = join(this.cacheDir, "models", m.baseModelCid);
        try {
          await fetchFileSet(this.store as ContentStore, m.baseModelCid, dir);
        } catch (e) {
          throw e instanceof ServeError ? e : new ContentUnavailableError("base model", m.baseModelCid, e);
        }
        const config = await readConfig(dir);
        const tokenizer = await ChatTokenizer.fromDir(dir);
        const eos = new Set([...config.eosTokenIds, ...(tokenizer.eosId === null ? [] : [tokenizer.eosId])]);
        const table = tokenTable(JSON.parse(await readFile(join(dir, "tokenizer.json"), "utf8")), config.vocabSize, [...eos]);
        return { dir, config, tokenizer, table, context: config.maxPositionEmbeddings, vocab: config.vocabSize, eos };
      })();
      this.bases.set(m.baseModelCid, p);
      p.catch(() => this.bases.delete(m.baseModelCid));
    }
    return p;
  }

  clear(): void {
    this.bases.clear();
  }
}
