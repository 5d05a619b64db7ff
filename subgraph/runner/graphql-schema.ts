// The Graph's query dialect, generated from schema.graphql: `entity(id, block)`, `entities(first, skip,
// orderBy, orderDirection, where, block)`, `<Type>_filter` inputs with the filter suffixes, nested `field_`
// filters, `and`/`or`, `<Type>_orderBy` enums (with `relation__field`), derived and list fields with the
// same arguments, interfaces, `_meta`, and the BigInt/BigDecimal/Bytes/Int8/Timestamp scalars.
import {
  GraphQLBoolean,
  GraphQLEnumType,
  GraphQLError,
  GraphQLID,
  GraphQLInputObjectType,
  GraphQLInt,
  GraphQLInterfaceType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLScalarType,
  GraphQLSchema,
  GraphQLString,
  Kind,
  type GraphQLFieldConfig,
  type GraphQLFieldConfigArgumentMap,
  type GraphQLInputFieldConfigMap,
  type GraphQLInputType,
  type GraphQLOutputType,
  type ValueNode,
} from "graphql";
import { compare as compareDecimal, parseDecimal } from "./decimal.ts";
import { QueryView, refId, type Resolved } from "./query-view.ts";
import type { FieldDef, SubgraphSchema } from "./schema.ts";
import type { EntityStore } from "./store.ts";
import type { StoreValue } from "./values.ts";

/** What the resolvers need from the running indexer. */
export type QueryContext = {
  store: EntityStore;
  schema: SubgraphSchema;
  deployment: string;
  hasIndexingErrors: () => boolean;
  /**
   * The number of the canonical block with this hash, asked of the chain (null: no such canonical block).
   * The store knows only the blocks it wrote (those with events and range ends); this answers for the rest.
   */
  blockNumberOfHash?: (hash: string) => Promise<number | null>;
};

export class QueryError extends GraphQLError {
  constructor(message: string) {
    super(message);
    this.name = "QueryError";
  }
}

const MAX_FIRST = 1000;
const MAX_SKIP = 5000;
const DEFAULT_FIRST = 100;

function scalar(name: string, description: string, check: (s: string) => string): GraphQLScalarType {
  const parse = (v: unknown): string => {
    if (typeof v === "number" && Number.isInteger(v) && name !== "Bytes") return check(String(v));
    if (typeof v !== "string") throw new TypeError(`${name} must be a string`);
    return check(v);
  };
  return new GraphQLScalarType({
    name,
    description,
    serialize: (v) => String(v),
    parseValue: parse,
    parseLiteral: (ast: ValueNode) => {
      if (ast.kind === Kind.STRING || ast.kind === Kind.INT)
        return parse(ast.kind === Kind.INT ? Number(ast.value) : ast.value);
      throw new TypeError(`${name} must be a string`);
    },
  });
}

const integer = (what: string) => (s: string) => {
  if (!/^-?\d+$/.test(s)) throw new TypeError(`"${s}" is not a valid ${what} (decimal digits expected)`);
  return s;
};

export const BigIntScalar = scalar(
  "BigInt",
  "Arbitrary-size integer, as a decimal string",
  integer("BigInt"),
);
export const Int8Scalar = scalar("Int8", "64-bit integer, as a decimal string", integer("Int8"));
export const TimestampScalar = scalar("Timestamp", "Microseconds since the Unix epoch", integer("Timestamp"));
export const BigDecimalScalar = scalar("BigDecimal", "Arbitrary-precision decimal, as a string", (s) => {
  parseDecimal(s);
  return s;
});
export const BytesScalar = scalar("Bytes", "Bytes, as 0x-prefixed hex", (s) => {
  if (!/^0x([0-9a-fA-F]{2})*$/.test(s)) throw new TypeError(`"${s}" is not 0x-prefixed hex bytes`);
  return s.toLowerCase();
});

const scalarTypes: Record<string, GraphQLScalarType> = {
  ID: GraphQLID,
  String: GraphQLString,
  Int: GraphQLInt,
  Boolean: GraphQLBoolean,
  BigInt: BigIntScalar,
  BigDecimal: BigDecimalScalar,
  Bytes: BytesScalar,
  Int8: Int8Scalar,
  Timestamp: TimestampScalar,
};

/** graph-node's collection names: `Datanet` -> `datanets`, `ProtocolStats` -> `protocolStats_collection`. */
export function collectionName(type: string): string {
  const singular = type[0].toLowerCase() + type.slice(1);
  let plural: string;
  if (/(ss|sh|ch|x|z|us)$/.test(singular)) plural = singular + "es";
  else if (/s$/.test(singular)) plural = singular;
  else if (/[^aeiou]y$/.test(singular)) plural = singular.slice(0, -1) + "ies";
  else plural = singular + "s";
  return plural === singular ? singular + "_collection" : plural;
}

export function singleName(type: string): string {
  return type[0].toLowerCase() + type.slice(1);
}

// ---------------------------------------------------------------------------------------------------
// Values: stored -> output, and comparison for filters and ordering

function outputValue(v: StoreValue | undefined): unknown {
  if (!v) return null;
  if (v[0] === "Array") return v[1].map(outputValue);
  return v[1];
}

type Comparable = string | number | bigint | boolean | { dec: string } | null;

function comparableOf(v: StoreValue | undefined): Comparable {
  if (!v) return null;
  switch (v[0]) {
    case "BigInt":
    case "Int8":
    case "Timestamp":
      return BigInt(v[1]);
    case "BigDecimal":
      return { dec: v[1] };
    case "Bytes":
      return v[1].toLowerCase();
    case "Null":
      return null;
    case "Array":
      return null;
    default:
      return v[1];
  }
}

/** Parses a filter argument into the comparable form of a field of scalar/enum/id type `type`. */
function comparableInput(type: string, v: unknown): Comparable {
  if (v === null || v === undefined) return null;
  switch (type) {
    case "BigInt":
    case "Int8":
    case "Timestamp":
      return BigInt(v as string);
    case "BigDecimal":
      return { dec: v as string };
    case "Bytes":
      return (v as string).toLowerCase();
    default:
      return v as string | number | boolean;
  }
}

function cmp(a: Comparable, b: Comparable): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1; // nulls last
  if (typeof a === "object" && typeof b === "object")
    return compareDecimal(parseDecimal(a.dec), parseDecimal(b.dec));
  if (typeof a === "bigint" || typeof b === "bigint") {
    const x = BigInt(a as bigint);
    const y = BigInt(b as bigint);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

const eq = (a: Comparable, b: Comparable) => a !== null && b !== null && cmp(a, b) === 0;

// ---------------------------------------------------------------------------------------------------
// Filters

const SUFFIXES = [
  "_not_contains_nocase",
  "_not_starts_with_nocase",
  "_not_ends_with_nocase",
  "_contains_nocase",
  "_starts_with_nocase",
  "_ends_with_nocase",
  "_not_starts_with",
  "_not_ends_with",
  "_not_contains",
  "_starts_with",
  "_ends_with",
  "_contains",
  "_not_in",
  "_not",
  "_gte",
  "_lte",
  "_gt",
  "_lt",
  "_in",
  "_",
];

type Predicate = (e: Resolved) => boolean;

/** The stored value type a field compares as: entity references compare as their target's id type. */
function compareType(schema: SubgraphSchema, f: FieldDef): string {
  if (f.kind === "entity" || f.kind === "interface") {
    const def = schema.entities.get(f.type) ?? schema.interfaces.get(f.type);
    return def?.fields.get("id")?.type ?? "ID";
  }
  return f.type;
}

function related(e: Resolved, f: FieldDef): Resolved[] {
  const view = e.__view;
  if (f.derivedFrom) {
    const id = refId(e.__data.id);
    return id === null ? [] : view.derived(f.type, f.derivedFrom, id);
  }
  const v = e.__data[f.name];
  const ids = v?.[0] === "Array" ? v[1].map(refId) : [refId(v)];
  return ids.flatMap((id) => (id === null ? [] : (view.get(f.type, id) ?? [])));
}

function stringOp(op: string, value: string, needle: string): boolean {
  const nocase = op.endsWith("_nocase");
  const a = nocase ? value.toLowerCase() : value;
  const b = nocase ? needle.toLowerCase() : needle;
  const base = op.replace(/_nocase$/, "").replace(/^_not/, "");
  const hit =
    base === "_contains" ? a.includes(b) : base === "_starts_with" ? a.startsWith(b) : a.endsWith(b);
  return op.startsWith("_not") ? !hit : hit;
}

export function compileFilter(
  schema: SubgraphSchema,
  type: string,
  where: Record<string, unknown>,
): Predicate {
  const def = schema.entities.get(type) ?? schema.interfaces.get(type);
  if (!def) throw new QueryError(`unknown type ${type}`);
  const preds: Predicate[] = [];
  const columns = Object.keys(where).filter((k) => k !== "and" && k !== "or" && where[k] !== undefined);
  if (where.or !== undefined && columns.length > 0) {
    // graph-node refuses this too (it used to AND them silently here); say how to write it
    const list = columns.map((c) => `'${c}'`).join(", ");
    throw new QueryError(
      `Cannot mix column filters with 'or' operator at the same level. Found column filter(s) ${list} alongside 'or' operator. ` +
        `Repeat them inside each 'or' branch (where: { or: [{ ${columns[0]}: ..., ... }, { ${columns[0]}: ..., ... }] }) or combine with 'and' (where: { and: [{ ${columns[0]}: ... }, { or: [...] }] }).`,
    );
  }
  for (const [key, arg] of Object.entries(where)) {
    if (arg === undefined) continue;
    if (key === "and" || key === "or") {
      const subs = (arg as Record<string, unknown>[]).map((w) => compileFilter(schema, type, w));
      preds.push(key === "and" ? (e) => subs.every((p) => p(e)) : (e) => subs.some((p) => p(e)));
      continue;
    }
    let field = def.fields.get(key);
    let op = "";
    if (!field) {
      for (const s of SUFFIXES) {
        if (key.endsWith(s) && def.fields.has(key.slice(0, -s.length))) {
          field = def.fields.get(key.slice(0, -s.length));
          op = s;
          break;
        }
      }
    }
    if (!field) throw new QueryError(`Type \`${type}_filter\` has no field \`${key}\``);
    const f = field;
    if (op === "_") {
      const sub = compileFilter(schema, f.type, arg as Record<string, unknown>);
      preds.push((e) => related(e, f).some(sub));
      continue;
    }
    const ct = compareType(schema, f);
    if (f.list) {
      const wanted = (arg as unknown[] | null)?.map((x) => comparableInput(ct, x)) ?? null;
      const items = (e: Resolved) => {
        const v = e.__data[f.name];
        return v?.[0] === "Array" ? v[1].map(comparableOf) : null;
      };
      const containsAll = (list: Comparable[], needles: Comparable[], nocase: boolean) =>
        needles.every((n) =>
          list.some((x) =>
            nocase && typeof x === "string" && typeof n === "string"
              ? x.toLowerCase() === n.toLowerCase()
              : eq(x, n),
          ),
        );
      const sameList = (list: Comparable[] | null) =>
        list !== null &&
        wanted !== null &&
        list.length === wanted.length &&
        list.every((x, i) => eq(x, wanted[i]));
      switch (op) {
        case "":
          preds.push((e) => (wanted === null ? items(e) === null : sameList(items(e))));
          break;
        case "_not":
          preds.push((e) => (wanted === null ? items(e) !== null : !sameList(items(e))));
          break;
        case "_contains":
        case "_contains_nocase":
          preds.push((e) => containsAll(items(e) ?? [], wanted ?? [], op.endsWith("nocase")));
          break;
        case "_not_contains":
        case "_not_contains_nocase":
          preds.push((e) => !containsAll(items(e) ?? [], wanted ?? [], op.endsWith("nocase")));
          break;
        default:
          throw new QueryError(`filter ${key} is not supported on list field ${f.name}`);
      }
      continue;
    }
    const get = (e: Resolved) => comparableOf(e.__data[f.name]);
    if (op === "_in" || op === "_not_in") {
      const list = (arg as unknown[]).map((x) => comparableInput(ct, x));
      const inList = (e: Resolved) => {
        const v = get(e);
        return list.some((x) => eq(v, x));
      };
      preds.push(op === "_in" ? inList : (e) => get(e) !== null && !inList(e));
      continue;
    }
    const want = comparableInput(ct, arg);
    switch (op) {
      case "":
        preds.push((e) => (want === null ? get(e) === null : eq(get(e), want)));
        break;
      case "_not":
        preds.push((e) => (want === null ? get(e) !== null : !eq(get(e), want)));
        break;
      case "_gt":
        preds.push((e) => get(e) !== null && cmp(get(e), want) > 0);
        break;
      case "_gte":
        preds.push((e) => get(e) !== null && cmp(get(e), want) >= 0);
        break;
      case "_lt":
        preds.push((e) => get(e) !== null && cmp(get(e), want) < 0);
        break;
      case "_lte":
        preds.push((e) => get(e) !== null && cmp(get(e), want) <= 0);
        break;
      default: {
        // string-like operators: String/ID values, and Bytes as hex (contains only)
        preds.push((e) => {
          const v = get(e);
          if (typeof v !== "string" || typeof want !== "string") return false;
          const needle = ct === "Bytes" ? want.replace(/^0x/, "") : want;
          return stringOp(op, v, needle);
        });
      }
    }
  }
  return (e) => preds.every((p) => p(e));
}

// ---------------------------------------------------------------------------------------------------
// Collections: where, orderBy, pagination

type CollectionArgs = {
  first?: number;
  skip?: number;
  orderBy?: string;
  orderDirection?: "asc" | "desc";
  where?: Record<string, unknown>;
};

function sortKey(schema: SubgraphSchema, type: string, orderBy: string): (e: Resolved) => Comparable {
  const def = schema.entities.get(type) ?? schema.interfaces.get(type)!;
  const [first, nested] = orderBy.split("__");
  const f = def.fields.get(first);
  if (!f) throw new QueryError(`cannot order ${type} by ${orderBy}`);
  if (nested) {
    return (e) => {
      const r = related(e, f)[0];
      return r ? comparableOf(r.__data[nested]) : null;
    };
  }
  return (e) => comparableOf(e.__data[f.name]);
}

export function collect(
  schema: SubgraphSchema,
  type: string,
  rows: Resolved[],
  args: CollectionArgs,
): Resolved[] {
  const first = args.first ?? DEFAULT_FIRST;
  const skip = args.skip ?? 0;
  if (first < 0 || first > MAX_FIRST)
    throw new QueryError(`first must be between 0 and ${MAX_FIRST}, got ${first}`);
  if (skip < 0 || skip > MAX_SKIP)
    throw new QueryError(`skip must be between 0 and ${MAX_SKIP}, got ${skip}`);
  let out = args.where ? rows.filter(compileFilter(schema, type, args.where)) : rows.slice();
  const key = sortKey(schema, type, args.orderBy ?? "id");
  const idKey = (e: Resolved) => comparableOf(e.__data.id);
  const dir = args.orderDirection === "desc" ? -1 : 1;
  const decorated = out.map((e) => ({ e, k: key(e), id: idKey(e) }));
  decorated.sort((a, b) => {
    // nulls sort last in both directions, like Postgres' default for ASC and graph-node's for DESC
    if (a.k === null || b.k === null) {
      if (a.k !== b.k) return a.k === null ? 1 : -1;
    } else {
      const c = cmp(a.k, b.k);
      if (c !== 0) return c * dir;
    }
    return cmp(a.id, b.id) * dir;
  });
  out = decorated.map((d) => d.e);
  return out.slice(skip, skip + first);
}

// ---------------------------------------------------------------------------------------------------
// Schema generation

type BlockArg = { number?: number; hash?: string; number_gte?: number };

async function viewFor(ctx: QueryContext, block: BlockArg | undefined): Promise<QueryView> {
  const head = ctx.store.head();
  const headNumber = head?.number ?? -1;
  if (!block) return new QueryView(ctx.store, ctx.schema, null);
  if (block.hash !== undefined) {
    const n = ctx.store.blockByHash(block.hash)?.number ?? (await ctx.blockNumberOfHash?.(block.hash)) ?? null;
    if (n === null || n > headNumber)
      throw new QueryError(`no block with hash ${block.hash} has been indexed (head: block ${headNumber})`);
    return new QueryView(ctx.store, ctx.schema, n === headNumber ? null : n);
  }
  if (block.number_gte !== undefined) {
    if (block.number_gte > headNumber) {
      throw new QueryError(
        `the subgraph has only indexed up to block number ${headNumber}; block.number_gte is ${block.number_gte}`,
      );
    }
    return new QueryView(ctx.store, ctx.schema, null);
  }
  if (block.number !== undefined) {
    if (block.number > headNumber) {
      throw new QueryError(
        `the subgraph has only indexed up to block number ${headNumber}; block.number is ${block.number}`,
      );
    }
    return new QueryView(ctx.store, ctx.schema, block.number === headNumber ? null : block.number);
  }
  return new QueryView(ctx.store, ctx.schema, null);
}

export function buildGraphQLSchema(schema: SubgraphSchema): GraphQLSchema {
  const OrderDirection = new GraphQLEnumType({
    name: "OrderDirection",
    values: { asc: { value: "asc" }, desc: { value: "desc" } },
  });
  const BlockHeight = new GraphQLInputObjectType({
    name: "Block_height",
    fields: { hash: { type: BytesScalar }, number: { type: GraphQLInt }, number_gte: { type: GraphQLInt } },
  });
  const ErrorPolicy = new GraphQLEnumType({
    name: "_SubgraphErrorPolicy_",
    values: { allow: { value: "allow" }, deny: { value: "deny" } },
  });
  const enums = new Map<string, GraphQLEnumType>();
  for (const [name, values] of schema.enums) {
    enums.set(
      name,
      new GraphQLEnumType({ name, values: Object.fromEntries(values.map((v) => [v, { value: v }])) }),
    );
  }
  const outputs = new Map<string, GraphQLObjectType | GraphQLInterfaceType>();
  const filters = new Map<string, GraphQLInputObjectType>();
  const orderBys = new Map<string, GraphQLEnumType>();

  const defOf = (name: string) => schema.entities.get(name) ?? schema.interfaces.get(name)!;

  const namedInput = (type: string): GraphQLInputType => {
    if (scalarTypes[type]) return scalarTypes[type];
    if (enums.has(type)) return enums.get(type)!;
    // entity references are filtered by id
    return type === "ID" ? GraphQLID : (scalarTypes[defOf(type).fields.get("id")!.type] ?? GraphQLID);
  };

  const filterOf = (name: string): GraphQLInputObjectType => {
    let t = filters.get(name);
    if (t) return t;
    t = new GraphQLInputObjectType({
      name: `${name}_filter`,
      fields: (): GraphQLInputFieldConfigMap => {
        const fields: GraphQLInputFieldConfigMap = {};
        for (const f of defOf(name).fields.values()) {
          const isRef = f.kind === "entity" || f.kind === "interface";
          if (f.derivedFrom) {
            fields[`${f.name}_`] = { type: filterOf(f.type) };
            continue;
          }
          const base = namedInput(isRef ? f.type : f.type);
          const valueType = isRef ? namedInput(f.type) : base;
          if (f.list) {
            const listT = new GraphQLList(new GraphQLNonNull(valueType));
            for (const s of [
              "",
              "_not",
              "_contains",
              "_contains_nocase",
              "_not_contains",
              "_not_contains_nocase",
            ]) {
              fields[f.name + s] = { type: listT };
            }
          } else {
            const ops = ["", "_not", "_in", "_not_in"];
            const ct = compareType(schema, f);
            if (ct !== "Boolean" && f.kind !== "enum") ops.push("_gt", "_lt", "_gte", "_lte");
            if (ct === "String" || ct === "ID") {
              for (const s of ["_contains", "_starts_with", "_ends_with"]) {
                ops.push(s, `${s}_nocase`, `_not${s}`, `_not${s}_nocase`);
              }
            }
            if (ct === "Bytes") ops.push("_contains", "_not_contains");
            for (const s of ops) {
              fields[f.name + s] = {
                type: s.endsWith("in") ? new GraphQLList(new GraphQLNonNull(valueType)) : valueType,
              };
            }
          }
          if (isRef) fields[`${f.name}_`] = { type: filterOf(f.type) };
        }
        fields.and = { type: new GraphQLList(filterOf(name)) };
        fields.or = { type: new GraphQLList(filterOf(name)) };
        return fields;
      },
    });
    filters.set(name, t);
    return t;
  };

  const orderByOf = (name: string): GraphQLEnumType => {
    let t = orderBys.get(name);
    if (t) return t;
    const values: Record<string, { value: string }> = {};
    for (const f of defOf(name).fields.values()) {
      values[f.name] = { value: f.name };
      if ((f.kind === "entity" || f.kind === "interface") && !f.list && !f.derivedFrom) {
        for (const sub of defOf(f.type).fields.values()) {
          if (sub.kind === "scalar" || sub.kind === "enum") {
            if (!sub.list) values[`${f.name}__${sub.name}`] = { value: `${f.name}__${sub.name}` };
          }
        }
      }
    }
    t = new GraphQLEnumType({ name: `${name}_orderBy`, values });
    orderBys.set(name, t);
    return t;
  };

  const collectionArgs = (name: string): GraphQLFieldConfigArgumentMap => ({
    skip: { type: GraphQLInt, defaultValue: 0 },
    first: { type: GraphQLInt, defaultValue: DEFAULT_FIRST },
    orderBy: { type: orderByOf(name) },
    orderDirection: { type: OrderDirection },
    where: { type: filterOf(name) },
  });

  const fieldConfig = (f: FieldDef): GraphQLFieldConfig<Resolved, QueryContext> => {
    const isRef = f.kind === "entity" || f.kind === "interface";
    let named: GraphQLOutputType;
    if (isRef) named = outputOf(f.type);
    else if (f.kind === "enum") named = enums.get(f.type)!;
    else named = scalarTypes[f.type];
    let type: GraphQLOutputType = f.list ? new GraphQLList(new GraphQLNonNull(named)) : named;
    if (f.nonNull) type = new GraphQLNonNull(type);
    if (!isRef) {
      return { type, resolve: (e) => outputValue(e.__data[f.name]) };
    }
    if (!f.list) {
      return {
        type,
        resolve: (e) => {
          const r = related(e, f)[0] ?? null;
          if (!r && !f.derivedFrom && e.__data[f.name] && f.nonNull) {
            throw new QueryError(
              `${e.__type}.${f.name} refers to a missing ${f.type} ${refId(e.__data[f.name])}`,
            );
          }
          return r;
        },
      };
    }
    return {
      type,
      args: collectionArgs(f.type),
      resolve: (e, args: CollectionArgs) => collect(schema, f.type, related(e, f), args),
    };
  };

  const outputOf = (name: string): GraphQLObjectType | GraphQLInterfaceType => {
    let t = outputs.get(name);
    if (t) return t;
    const def = defOf(name);
    const fields = () => Object.fromEntries([...def.fields.values()].map((f) => [f.name, fieldConfig(f)]));
    if (schema.interfaces.has(name)) {
      t = new GraphQLInterfaceType({ name, fields, resolveType: (e: Resolved) => e.__type });
    } else {
      const entity = schema.entities.get(name)!;
      t = new GraphQLObjectType({
        name,
        fields,
        interfaces: () => entity.interfaces.map((i) => outputOf(i) as GraphQLInterfaceType),
      });
    }
    outputs.set(name, t);
    return t;
  };

  const MetaBlock = new GraphQLObjectType({
    name: "_Block_",
    fields: {
      hash: { type: BytesScalar },
      number: { type: new GraphQLNonNull(GraphQLInt) },
      timestamp: { type: GraphQLInt },
      parentHash: { type: BytesScalar },
    },
  });
  const Meta = new GraphQLObjectType({
    name: "_Meta_",
    fields: {
      block: { type: new GraphQLNonNull(MetaBlock) },
      deployment: { type: new GraphQLNonNull(GraphQLString) },
      hasIndexingErrors: { type: new GraphQLNonNull(GraphQLBoolean) },
    },
  });

  const queryFields: Record<string, GraphQLFieldConfig<unknown, QueryContext>> = {};
  for (const name of [...schema.entities.keys(), ...schema.interfaces.keys()]) {
    const type = outputOf(name);
    queryFields[singleName(name)] = {
      type,
      args: {
        id: { type: new GraphQLNonNull(GraphQLID) },
        block: { type: BlockHeight },
        subgraphError: { type: ErrorPolicy, defaultValue: "deny" },
      },
      resolve: async (_root, args: { id: string; block?: BlockArg }, ctx) =>
        (await viewFor(ctx, args.block)).get(name, args.id),
    };
    queryFields[collectionName(name)] = {
      type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(type))),
      args: {
        ...collectionArgs(name),
        block: { type: BlockHeight },
        subgraphError: { type: ErrorPolicy, defaultValue: "deny" },
      },
      resolve: async (_root, args: CollectionArgs & { block?: BlockArg }, ctx) => {
        const view = await viewFor(ctx, args.block);
        return collect(schema, name, view.all(name), args);
      },
    };
  }
  queryFields._meta = {
    type: Meta,
    args: { block: { type: BlockHeight } },
    resolve: async (_root, args: { block?: BlockArg }, ctx) => {
      const view = await viewFor(ctx, args.block);
      const head = ctx.store.head();
      const b = view.block === null ? head : ctx.store.block(view.block);
      return {
        block: {
          number: b?.number ?? view.block ?? 0,
          hash: b?.hash ?? null,
          timestamp: b?.timestamp ?? null,
          parentHash: b?.parentHash ?? null,
        },
        deployment: ctx.deployment,
        hasIndexingErrors: ctx.hasIndexingErrors(),
      };
    },
  };

  return new GraphQLSchema({
    query: new GraphQLObjectType({ name: "Query", fields: queryFields }),
    types: [...outputs.values()],
  });
}
