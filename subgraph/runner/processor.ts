// Runs the mapping handlers of one block against a per-block entity cache, then commits the block's
// writes to the store. Entity semantics follow graph-node: `set` merges into the existing entity (null
// removes a field), required fields are checked, immutable entities cannot change after their block.
import type { BlockInfo, EventTrigger } from "./ethereum.ts";
import { writeEvent } from "./ethereum.ts";
import type { HostContext } from "./host.ts";
import type { DataSourceDef, EventHandlerDef, Subgraph } from "./manifest.ts";
import type { SubgraphSchema } from "./schema.ts";
import type { BlockChanges, EntityStore } from "./store.ts";
import type { EntityData, StoreValue } from "./values.ts";

export type Trigger = { dataSource: DataSourceDef; handler: EventHandlerDef; event: EventTrigger };

export type Logger = (level: "error" | "warn" | "info" | "debug", message: string) => void;

export class EntityValidationError extends Error {
  constructor(type: string, id: string, problem: string) {
    super(`entity ${type}[${id}]: ${problem}; fix the mapping so it matches schema.graphql`);
    this.name = "EntityValidationError";
  }
}

export class HandlerError extends Error {
  readonly blockNumber: number;
  constructor(trigger: Trigger, cause: unknown) {
    const ev = trigger.event;
    super(
      `${trigger.dataSource.name}.${trigger.handler.handler} failed at block ${ev.block.number} ` +
        `(tx ${ev.transaction.hash}, log ${ev.logIndex}): ${(cause as Error).message}`,
      { cause },
    );
    this.name = "HandlerError";
    this.blockNumber = Number(ev.block.number);
  }
}

const LEVELS = ["error", "error", "warn", "info", "debug"] as const;

/**
 * What `store.set(type, id, data)` leaves in the store, as graph-node does it: `data` merged into the
 * existing entity, null values removing fields, every required field present, no derived field set.
 */
export function mergeEntity(
  schema: SubgraphSchema,
  type: string,
  id: string,
  existing: EntityData | null,
  data: EntityData,
): EntityData {
  const def = schema.entities.get(type);
  if (!def) throw new EntityValidationError(type, id, "no such entity type in the schema");
  const merged: EntityData = { ...(existing ?? {}) };
  for (const [k, v] of Object.entries(data)) {
    const f = def.fields.get(k);
    if (!f) throw new EntityValidationError(type, id, `has no field ${k}`);
    if (f.derivedFrom) throw new EntityValidationError(type, id, `field ${k} is derived and cannot be set`);
    if (v[0] === "Null") delete merged[k];
    else merged[k] = v;
  }
  if (idOf(merged.id) !== id)
    merged.id = def.fields.get("id")!.type === "Bytes" ? ["Bytes", id] : ["String", id];
  for (const f of def.fields.values()) {
    if (f.nonNull && !f.derivedFrom && !(f.name in merged)) {
      throw new EntityValidationError(type, id, `missing value for non-nullable field ${f.name}`);
    }
  }
  return merged;
}

/** Entities of the type behind derived field `type.field` that point at `id`, from `all`. */
export function relatedEntities(
  schema: SubgraphSchema,
  type: string,
  id: string,
  field: string,
  all: (entityType: string) => Iterable<EntityData>,
): EntityData[] {
  const f = schema.entities.get(type)?.fields.get(field);
  if (!f?.derivedFrom) throw new EntityValidationError(type, id, `field ${field} is not a derived field`);
  const targets = schema.entities.has(f.type)
    ? [f.type]
    : (schema.interfaces.get(f.type)?.implementations ?? []);
  const out: EntityData[] = [];
  for (const t of targets) {
    for (const e of all(t)) {
      const v = e[f.derivedFrom];
      if (!v) continue;
      const hit = v[0] === "Array" ? v[1].some((x) => idOf(x) === id) : idOf(v) === id;
      if (hit) out.push(e);
    }
  }
  return out;
}

function idOf(v: StoreValue | undefined): string | null {
  if (!v) return null;
  if (v[0] === "String" || v[0] === "Bytes" || v[0] === "Int8") return v[1];
  return null;
}

export class BlockProcessor {
  private readonly subgraph: Subgraph;
  private readonly store: EntityStore;
  private readonly logger: Logger;

  constructor(subgraph: Subgraph, store: EntityStore, logger: Logger) {
    this.subgraph = subgraph;
    this.store = store;
    this.logger = logger;
  }

  /** Runs every trigger of `block` in order and commits the result; throws a HandlerError on failure. */
  processBlock(block: BlockInfo, triggers: Trigger[]): number {
    const changes: BlockChanges = new Map();
    const schema = this.subgraph.schema;
    const cached = (type: string, id: string): EntityData | null | undefined => changes.get(type)?.get(id);
    const write = (type: string, id: string, data: EntityData | null) => {
      let t = changes.get(type);
      if (!t) changes.set(type, (t = new Map()));
      t.set(id, data);
    };
    const get = (type: string, id: string): EntityData | null => {
      const c = cached(type, id);
      return c !== undefined ? c : this.store.get(type, id);
    };
    for (const trigger of triggers) {
      const ctx: HostContext = {
        get,
        getInBlock: (type, id) => cached(type, id) ?? null,
        set: (type, id, data) => {
          if (schema.entities.get(type)?.immutable && this.store.get(type, id)) {
            throw new EntityValidationError(
              type,
              id,
              "is immutable and was already written in an earlier block",
            );
          }
          write(type, id, mergeEntity(schema, type, id, get(type, id), data));
        },
        remove: (type, id) => {
          if (schema.entities.get(type)?.immutable) {
            throw new EntityValidationError(type, id, "is immutable and cannot be removed");
          }
          write(type, id, null);
        },
        loadRelated: (type, id, field) =>
          relatedEntities(schema, type, id, field, (t) => {
            const ids = new Set([...this.store.all(t).keys(), ...(changes.get(t)?.keys() ?? [])]);
            return [...ids].map((eid) => get(t, eid)).filter((e): e is EntityData => e !== null);
          }),
        log: (level, message) =>
          this.logger(LEVELS[level] ?? "info", `[${trigger.dataSource.name}] ${message}`),
        dataSource: { address: trigger.dataSource.address, network: trigger.dataSource.network, context: {} },
      };
      try {
        const { mem, exports } = trigger.dataSource.mapping.instantiate(ctx);
        const handler = exports[trigger.handler.handler];
        if (typeof handler !== "function") {
          throw new Error(`the mapping exports no function ${trigger.handler.handler}`);
        }
        (handler as (ptr: number) => void)(writeEvent(mem, trigger.event));
      } catch (e) {
        throw new HandlerError(trigger, e);
      }
    }
    this.store.commitBlock(
      {
        number: Number(block.number),
        hash: block.hash,
        parentHash: block.parentHash,
        timestamp: Number(block.timestamp),
      },
      changes,
    );
    return triggers.length;
  }
}
