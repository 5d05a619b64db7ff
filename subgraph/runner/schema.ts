// The subgraph's schema.graphql read into a small model: entity types, interfaces, enums and fields.
import { Kind, parse, type FieldDefinitionNode, type TypeNode } from "graphql";

export type FieldDef = {
  name: string;
  /** The named type: a scalar (ID, String, Int, Int8, BigInt, BigDecimal, Bytes, Boolean, Timestamp), enum,
   * entity or interface. */
  type: string;
  list: boolean;
  nonNull: boolean;
  /** The field on the other entity that points back here (`@derivedFrom(field: ...)`). */
  derivedFrom: string | null;
  kind: "scalar" | "enum" | "entity" | "interface";
};

export type EntityDef = {
  name: string;
  immutable: boolean;
  interfaces: string[];
  fields: Map<string, FieldDef>;
};

export type InterfaceDef = {
  name: string;
  fields: Map<string, FieldDef>;
  implementations: string[];
};

export type SubgraphSchema = {
  entities: Map<string, EntityDef>;
  interfaces: Map<string, InterfaceDef>;
  enums: Map<string, string[]>;
  source: string;
};

export const SCALARS = new Set([
  "ID",
  "String",
  "Int",
  "Int8",
  "BigInt",
  "BigDecimal",
  "Bytes",
  "Boolean",
  "Timestamp",
]);

export class SchemaError extends Error {
  constructor(message: string) {
    super(`schema.graphql: ${message}`);
    this.name = "SchemaError";
  }
}

function unwrap(t: TypeNode): { type: string; list: boolean; nonNull: boolean } {
  let nonNull = false;
  let list = false;
  let node = t;
  if (node.kind === Kind.NON_NULL_TYPE) {
    nonNull = true;
    node = node.type;
  }
  if (node.kind === Kind.LIST_TYPE) {
    list = true;
    node = node.type;
    if (node.kind === Kind.NON_NULL_TYPE) node = node.type;
  }
  if (node.kind !== Kind.NAMED_TYPE) throw new SchemaError("nested lists are not supported");
  return { type: node.name.value, list, nonNull };
}

function readFields(fields: readonly FieldDefinitionNode[] | undefined): Map<string, Omit<FieldDef, "kind">> {
  const out = new Map<string, Omit<FieldDef, "kind">>();
  for (const f of fields ?? []) {
    const derived = f.directives?.find((d) => d.name.value === "derivedFrom");
    const arg = derived?.arguments?.find((a) => a.name.value === "field");
    out.set(f.name.value, {
      name: f.name.value,
      ...unwrap(f.type),
      derivedFrom: arg && arg.value.kind === Kind.STRING ? arg.value.value : null,
    });
  }
  return out;
}

export function parseSchema(source: string): SubgraphSchema {
  const doc = parse(source);
  const entities = new Map<string, EntityDef>();
  const interfaces = new Map<string, InterfaceDef>();
  const enums = new Map<string, string[]>();
  const raw: { name: string; fields: Map<string, Omit<FieldDef, "kind">> }[] = [];
  for (const def of doc.definitions) {
    if (def.kind === Kind.ENUM_TYPE_DEFINITION) {
      enums.set(
        def.name.value,
        (def.values ?? []).map((v) => v.name.value),
      );
    } else if (def.kind === Kind.INTERFACE_TYPE_DEFINITION) {
      const fields = readFields(def.fields);
      raw.push({ name: def.name.value, fields });
      interfaces.set(def.name.value, { name: def.name.value, fields: new Map(), implementations: [] });
    } else if (def.kind === Kind.OBJECT_TYPE_DEFINITION) {
      const entity = def.directives?.find((d) => d.name.value === "entity");
      if (!entity) continue; // e.g. aggregations or plain types: not entities
      const imm = entity.arguments?.find((a) => a.name.value === "immutable");
      const fields = readFields(def.fields);
      if (!fields.has("id")) throw new SchemaError(`entity ${def.name.value} has no id field`);
      raw.push({ name: def.name.value, fields });
      entities.set(def.name.value, {
        name: def.name.value,
        immutable: imm?.value.kind === Kind.BOOLEAN ? imm.value.value : false,
        interfaces: (def.interfaces ?? []).map((i) => i.name.value),
        fields: new Map(),
      });
    }
  }
  const kindOf = (type: string, where: string): FieldDef["kind"] => {
    if (SCALARS.has(type)) return "scalar";
    if (enums.has(type)) return "enum";
    if (entities.has(type)) return "entity";
    if (interfaces.has(type)) return "interface";
    throw new SchemaError(`${where} has unknown type ${type}`);
  };
  for (const r of raw) {
    const target = entities.get(r.name)?.fields ?? interfaces.get(r.name)!.fields;
    for (const [name, f] of r.fields) target.set(name, { ...f, kind: kindOf(f.type, `${r.name}.${name}`) });
  }
  for (const e of entities.values()) {
    for (const i of e.interfaces) {
      const iface = interfaces.get(i);
      if (!iface) throw new SchemaError(`${e.name} implements unknown interface ${i}`);
      iface.implementations.push(e.name);
    }
  }
  return { entities, interfaces, enums, source };
}

/** The type's id field type: `ID`/`String` ids are strings, `Bytes` ids are hex, `Int8` ids are decimal. */
export function idType(schema: SubgraphSchema, entityOrInterface: string): string {
  const def = schema.entities.get(entityOrInterface) ?? schema.interfaces.get(entityOrInterface);
  return def?.fields.get("id")?.type ?? "ID";
}
