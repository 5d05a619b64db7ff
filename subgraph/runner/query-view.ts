// A consistent read of the store for one query: the current state, or the state at a past block.
import type { SubgraphSchema } from "./schema.ts";
import type { EntityStore } from "./store.ts";
import type { EntityData, StoreValue } from "./values.ts";

export type Resolved = { __type: string; __data: EntityData; __view: QueryView };

/** The id an entity reference is stored as (`String`/`Bytes`/`Int8` value), or null. */
export function refId(v: StoreValue | undefined): string | null {
  if (!v) return null;
  if (v[0] === "String" || v[0] === "Int8") return v[1];
  if (v[0] === "Bytes") return v[1].toLowerCase();
  return null;
}

type DerivedIndex = Map<string, EntityData[]>;

/** Derived-field indexes of the current state, rebuilt when the store changes. */
const currentIndexes = new WeakMap<EntityStore, { version: number; indexes: Map<string, DerivedIndex> }>();

export class QueryView {
  readonly store: EntityStore;
  readonly schema: SubgraphSchema;
  /** null: the current state. */
  readonly block: number | null;
  private readonly tables = new Map<string, Map<string, EntityData>>();
  private readonly indexes: Map<string, DerivedIndex>;

  constructor(store: EntityStore, schema: SubgraphSchema, block: number | null) {
    this.store = store;
    this.schema = schema;
    this.block = block;
    if (block === null) {
      let c = currentIndexes.get(store);
      if (!c || c.version !== store.version) {
        c = { version: store.version, indexes: new Map() };
        currentIndexes.set(store, c);
      }
      this.indexes = c.indexes;
    } else {
      this.indexes = new Map();
    }
  }

  /** Concrete entity types behind an entity or interface name. */
  typesOf(name: string): string[] {
    if (this.schema.entities.has(name)) return [name];
    return this.schema.interfaces.get(name)?.implementations ?? [];
  }

  table(type: string): Map<string, EntityData> {
    if (this.block === null) return this.store.all(type);
    let t = this.tables.get(type);
    if (!t) {
      t = this.store.allAt(type, this.block);
      this.tables.set(type, t);
    }
    return t;
  }

  get(typeOrInterface: string, id: string): Resolved | null {
    for (const type of this.typesOf(typeOrInterface)) {
      const bytesId = this.schema.entities.get(type)?.fields.get("id")?.type === "Bytes";
      const data = this.table(type).get(bytesId ? id.toLowerCase() : id);
      if (data) return { __type: type, __data: data, __view: this };
    }
    return null;
  }

  all(typeOrInterface: string): Resolved[] {
    const out: Resolved[] = [];
    for (const type of this.typesOf(typeOrInterface)) {
      for (const data of this.table(type).values()) out.push({ __type: type, __data: data, __view: this });
    }
    return out;
  }

  /** Entities of `targetType` whose `field` refers to `id` (as `refId` gives it): a `@derivedFrom` field's rows. */
  derived(targetType: string, field: string, id: string): Resolved[] {
    const out: Resolved[] = [];
    for (const type of this.typesOf(targetType)) {
      const key = `${type}.${field}`;
      let index = this.indexes.get(key);
      if (!index) {
        index = new Map();
        for (const data of this.table(type).values()) {
          const v = data[field];
          const ids = v?.[0] === "Array" ? v[1].map(refId) : [refId(v)];
          for (const ref of ids) {
            if (ref === null) continue;
            let list = index.get(ref);
            if (!list) index.set(ref, (list = []));
            list.push(data);
          }
        }
        this.indexes.set(key, index);
      }
      for (const data of index.get(id) ?? []) {
        out.push({ __type: type, __data: data, __view: this });
      }
    }
    return out;
  }
}
