// The entity store: SQLite on disk (node:sqlite, built into Node 22), every entity version kept with the
// block range it was current in ([block_from, block_to)), so queries at a past block and reverts after a
// reorg are plain range predicates. The current state is also held in memory for queries and handlers.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { EntityData } from "./values.ts";

export type BlockPointer = { number: number; hash: string; parentHash: string; timestamp: number };

/** Entity writes of one block: `null` removes the entity. */
export type BlockChanges = Map<string, Map<string, EntityData | null>>;

export class StoreOpenError extends Error {
  constructor(path: string, cause: unknown) {
    super(
      `cannot open the entity store at ${path}: ${(cause as Error).message}; check the data directory is writable`,
    );
    this.name = "StoreOpenError";
  }
}

export class EntityStore {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly current = new Map<string, Map<string, EntityData>>();
  /** Bumped on every change to the current state; lets callers cache derived indexes. */
  version = 0;
  private readonly st: Record<string, StatementSync>;
  private inTx = false;

  constructor(path: string) {
    this.path = path;
    try {
      if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
      this.db = new DatabaseSync(path);
    } catch (e) {
      throw new StoreOpenError(path, e);
    }
    this.db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      CREATE TABLE IF NOT EXISTS versions (
        type TEXT NOT NULL, id TEXT NOT NULL, block_from INTEGER NOT NULL, block_to INTEGER, data TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS versions_current ON versions (type, id, block_to);
      CREATE INDEX IF NOT EXISTS versions_range ON versions (type, block_from);
      CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, hash TEXT NOT NULL, parent_hash TEXT NOT NULL,
        timestamp INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `);
    this.st = {
      close: this.db.prepare(
        "UPDATE versions SET block_to = ? WHERE type = ? AND id = ? AND block_to IS NULL",
      ),
      insert: this.db.prepare(
        "INSERT INTO versions (type, id, block_from, block_to, data) VALUES (?, ?, ?, NULL, ?)",
      ),
      block: this.db.prepare(
        "INSERT OR REPLACE INTO blocks (number, hash, parent_hash, timestamp) VALUES (?, ?, ?, ?)",
      ),
      metaGet: this.db.prepare("SELECT value FROM meta WHERE key = ?"),
      metaSet: this.db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"),
      at: this.db.prepare(
        "SELECT id, data FROM versions WHERE type = ? AND block_from <= ? AND (block_to IS NULL OR block_to > ?)",
      ),
      blockGet: this.db.prepare("SELECT number, hash, parent_hash, timestamp FROM blocks WHERE number = ?"),
      blocksDesc: this.db.prepare(
        "SELECT number, hash FROM blocks WHERE number <= ? ORDER BY number DESC LIMIT ?",
      ),
    };
    this.loadCurrent();
  }

  private loadCurrent(): void {
    this.current.clear();
    const rows = this.db.prepare("SELECT type, id, data FROM versions WHERE block_to IS NULL").all();
    for (const r of rows)
      this.table(String(r.type)).set(String(r.id), JSON.parse(String(r.data)) as EntityData);
    this.version++;
  }

  private table(type: string): Map<string, EntityData> {
    let t = this.current.get(type);
    if (!t) {
      t = new Map();
      this.current.set(type, t);
    }
    return t;
  }

  get(type: string, id: string): EntityData | null {
    return this.current.get(type)?.get(id) ?? null;
  }

  /** Every current entity of a type (live map: do not mutate). */
  all(type: string): Map<string, EntityData> {
    return this.table(type);
  }

  /** Every entity of a type as it was at the end of `block`. */
  allAt(type: string, block: number): Map<string, EntityData> {
    const out = new Map<string, EntityData>();
    for (const r of this.st.at.all(type, block, block))
      out.set(String(r.id), JSON.parse(String(r.data)) as EntityData);
    return out;
  }

  /** Runs `fn` in one SQLite transaction (many blocks are committed together while catching up). */
  transaction<T>(fn: () => T): T {
    if (this.inTx) return fn();
    this.inTx = true;
    this.db.exec("BEGIN");
    try {
      const out = fn();
      this.db.exec("COMMIT");
      return out;
    } catch (e) {
      this.db.exec("ROLLBACK");
      this.loadCurrent();
      throw e;
    } finally {
      this.inTx = false;
    }
  }

  /** Records the writes of one block and the block itself. */
  commitBlock(block: BlockPointer, changes: BlockChanges): void {
    this.transaction(() => {
      for (const [type, byId] of changes) {
        const t = this.table(type);
        for (const [id, data] of byId) {
          this.st.close.run(block.number, type, id);
          if (data) {
            this.st.insert.run(type, id, block.number, JSON.stringify(data));
            t.set(id, data);
          } else {
            t.delete(id);
          }
        }
      }
      this.st.block.run(block.number, block.hash, block.parentHash, block.timestamp);
    });
    if (changes.size) this.version++;
  }

  /** Notes that every block up to `block` has been indexed. */
  setHead(block: BlockPointer): void {
    this.transaction(() => {
      this.st.block.run(block.number, block.hash, block.parentHash, block.timestamp);
      this.setMeta("head", JSON.stringify(block));
    });
  }

  head(): BlockPointer | null {
    const v = this.getMeta("head");
    return v ? (JSON.parse(v) as BlockPointer) : null;
  }

  block(number: number): BlockPointer | null {
    const r = this.st.blockGet.get(number);
    if (!r) return null;
    return {
      number: Number(r.number),
      hash: String(r.hash),
      parentHash: String(r.parent_hash),
      timestamp: Number(r.timestamp),
    };
  }

  blockByHash(hash: string): BlockPointer | null {
    const r = this.db.prepare("SELECT number FROM blocks WHERE hash = ?").get(hash.toLowerCase());
    return r ? this.block(Number(r.number)) : null;
  }

  /** Known block hashes at or below `number`, newest first (for finding a common ancestor after a reorg). */
  recentBlocks(number: number, limit: number): { number: number; hash: string }[] {
    return this.st.blocksDesc
      .all(number, limit)
      .map((r) => ({ number: Number(r.number), hash: String(r.hash) }));
  }

  /** Forgets everything after `number` (a reorg), making `number` the head. */
  revertTo(number: number): void {
    this.transaction(() => {
      this.db.prepare("DELETE FROM versions WHERE block_from > ?").run(number);
      this.db.prepare("UPDATE versions SET block_to = NULL WHERE block_to > ?").run(number);
      this.db.prepare("DELETE FROM blocks WHERE number > ?").run(number);
      const b = this.block(number);
      if (b) this.setMeta("head", JSON.stringify(b));
      else this.db.prepare("DELETE FROM meta WHERE key = 'head'").run();
    });
    this.loadCurrent();
  }

  /** Drops all entities and blocks (a different subgraph build). */
  reset(): void {
    this.db.exec("DELETE FROM versions; DELETE FROM blocks; DELETE FROM meta;");
    this.loadCurrent();
  }

  getMeta(key: string): string | null {
    const r = this.st.metaGet.get(key);
    return r ? String(r.value) : null;
  }

  setMeta(key: string, value: string): void {
    this.st.metaSet.run(key, value);
  }

  deleteMeta(key: string): void {
    this.db.prepare("DELETE FROM meta WHERE key = ?").run(key);
  }

  close(): void {
    this.db.close();
  }
}
