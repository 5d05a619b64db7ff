// GraphQL codegen for the web app: reads the subgraph's operations (subgraph/queries/*.graphql), validates
// each against the query schema the indexer serves for subgraph/schema.graphql, and writes
// src/generated/graphql.ts with, per operation, its text plus TypeScript types of its result and variables.
// A field renamed or dropped in the schema, or misspelt in a document, fails here, so the build fails
// instead of a page. Run by `npm run codegen` and before build, dev, typecheck and test (the output is
// git-ignored: never edit it by hand).
//   node scripts/codegen.ts [--check]   (--check: exit 1 if the generated file is out of date)
import fs from "node:fs";
import path from "node:path";
import {
  getNamedType,
  isAbstractType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  Kind,
  parse,
  print,
  typeFromAST,
  validate,
} from "graphql";
import type {
  FieldNode,
  GraphQLCompositeType,
  GraphQLObjectType,
  GraphQLInputType,
  GraphQLNamedType,
  GraphQLOutputType,
  GraphQLSchema,
  OperationDefinitionNode,
  SelectionSetNode,
} from "graphql";
import { buildGraphQLSchema } from "../../subgraph/runner/graphql-schema.ts";
import { parseSchema } from "../../subgraph/runner/schema.ts";

const subgraphDir = path.resolve(import.meta.dirname, "..", "..", "subgraph");
export const QUERIES_DIR = path.join(subgraphDir, "queries");
export const OUT_FILE = path.resolve(import.meta.dirname, "..", "src", "generated", "graphql.ts");

/** graph-node's scalars as JSON gives them: 64-bit and arbitrary-precision numbers come as strings. */
const SCALARS: Record<string, string> = {
  ID: "string",
  String: "string",
  Boolean: "boolean",
  Int: "number",
  Float: "number",
  BigInt: "string",
  BigDecimal: "string",
  Bytes: "string",
  Int8: "string",
  Timestamp: "string",
};

export class CodegenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CodegenError";
  }
}

export function loadSchema(): GraphQLSchema {
  return buildGraphQLSchema(parseSchema(fs.readFileSync(path.join(subgraphDir, "schema.graphql"), "utf8")));
}

function scalar(t: GraphQLNamedType, where: string): string {
  const ts = SCALARS[t.name];
  if (!ts) throw new CodegenError(`${where}: no TypeScript type for the scalar ${t.name}; add it to SCALARS`);
  return ts;
}

function enumUnion(t: GraphQLNamedType): string {
  if (!isEnumType(t)) throw new Error("not an enum");
  return t
    .getValues()
    .map((v) => JSON.stringify(v.name))
    .join(" | ");
}

const indent = (s: string, by: string) => s.replace(/\n/g, `\n${by}`);

/** The TypeScript type of `type` with `selection` applied (objects) or as JSON gives it (leaves). */
function outputType(
  type: GraphQLOutputType,
  selection: SelectionSetNode | undefined,
  where: string,
  schema: GraphQLSchema,
): string {
  if (isNonNullType(type)) return outputType(type.ofType, selection, where, schema).replace(/ \| null$/, "");
  if (isListType(type)) {
    const inner = outputType(type.ofType, selection, where, schema);
    return `Array<${inner}> | null`;
  }
  const named = getNamedType(type);
  if (isScalarType(named)) return `${scalar(named, where)} | null`;
  if (isEnumType(named)) return `${enumUnion(named)} | null`;
  if (!selection) throw new CodegenError(`${where}: ${named.name} needs a selection of fields`);
  return `${objectType(named as GraphQLCompositeType, selection, where, schema)} | null`;
}

/** The fields `selection` picks on the concrete type `t`: direct fields plus inline fragments that apply. */
function fieldsFor(
  t: GraphQLObjectType,
  selection: SelectionSetNode,
  where: string,
  schema: GraphQLSchema,
): FieldNode[] {
  const out: FieldNode[] = [];
  for (const sel of selection.selections) {
    if (sel.kind === Kind.FIELD) out.push(sel);
    else if (sel.kind === Kind.INLINE_FRAGMENT) {
      const cond = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : t;
      const applies =
        cond === t ||
        (cond !== undefined && cond !== null && isAbstractType(cond) && schema.isSubType(cond, t));
      if (applies) out.push(...fieldsFor(t, sel.selectionSet, where, schema));
    } else {
      throw new CodegenError(
        `${where}: named fragments are not supported by this codegen; use inline fragments`,
      );
    }
  }
  return out;
}

function objectType(
  parent: GraphQLCompositeType,
  selection: SelectionSetNode,
  where: string,
  schema: GraphQLSchema,
): string {
  if (isAbstractType(parent)) {
    // One member per concrete type, told apart by __typename when selected.
    const members = schema.getPossibleTypes(parent).map((t) => objectType(t, selection, where, schema));
    const unique = [...new Set(members)];
    return unique.length === 1 ? unique[0] : unique.map((m) => `(${m})`).join(" | ");
  }
  const lines: string[] = [];
  for (const sel of fieldsFor(parent as GraphQLObjectType, selection, where, schema)) {
    const key = sel.alias?.value ?? sel.name.value;
    if (sel.name.value === "__typename") {
      lines.push(`${key}: ${JSON.stringify(parent.name)};`);
      continue;
    }
    const field = (parent as GraphQLObjectType).getFields()[sel.name.value];
    if (!field) throw new CodegenError(`${where}: ${parent.name} has no field ${sel.name.value}`);
    const t = outputType(field.type, sel.selectionSet, `${where}.${key}`, schema);
    lines.push(`${key}: ${t};`);
  }
  return `{\n  ${[...new Set(lines)].map((l) => indent(l, "  ")).join("\n  ")}\n}`;
}

/** Input types (filters) the variables use, written once each. */
function inputType(type: GraphQLInputType, needed: Map<string, string>, where: string): string {
  if (isNonNullType(type)) return inputType(type.ofType, needed, where).replace(/ \| null$/, "");
  if (isListType(type)) return `Array<${inputType(type.ofType, needed, where)}> | null`;
  const named = getNamedType(type);
  if (isScalarType(named)) return `${scalar(named, where)} | null`;
  if (isEnumType(named)) return `${enumUnion(named)} | null`;
  if (isInputObjectType(named)) {
    if (!needed.has(named.name)) {
      needed.set(named.name, ""); // placeholder: input types refer to themselves (and/or)
      const fields = Object.values(named.getFields()).map((f) => {
        const t = inputType(f.type, needed, `${where}.${f.name}`);
        const optional = !isNonNullType(f.type);
        return `${f.name}${optional ? "?" : ""}: ${t};`;
      });
      needed.set(named.name, `export interface ${named.name} {\n  ${fields.join("\n  ")}\n}`);
    }
    return `${named.name} | null`;
  }
  throw new CodegenError(`${where}: unsupported input type ${String(named)}`);
}

export interface Document {
  file: string;
  source: string;
}

export function readDocuments(dir = QUERIES_DIR): Document[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".graphql"))
    .sort()
    .map((file) => ({ file, source: fs.readFileSync(path.join(dir, file), "utf8") }));
}

/** The generated module's text for `docs`; throws CodegenError naming the file for any invalid document. */
export function generate(schema: GraphQLSchema, docs: Document[]): string {
  const inputs = new Map<string, string>();
  const parts: string[] = [];
  const names = new Set<string>();
  for (const { file, source } of docs) {
    let doc;
    try {
      doc = parse(source);
    } catch (e) {
      throw new CodegenError(`${file}: ${(e as Error).message}`);
    }
    const errors = validate(schema, doc);
    if (errors.length) {
      throw new CodegenError(
        `${file} does not match the subgraph schema:\n  ${errors.map((e) => e.message).join("\n  ")}`,
      );
    }
    const ops = doc.definitions.filter(
      (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
    );
    if (ops.length !== 1 || doc.definitions.length !== 1 || !ops[0].name || ops[0].operation !== "query") {
      throw new CodegenError(`${file}: keep exactly one named query per file`);
    }
    const op = ops[0];
    const name = op.name!.value;
    if (names.has(name)) throw new CodegenError(`${file}: a second operation is named ${name}`);
    names.add(name);
    const result = objectType(schema.getQueryType()!, op.selectionSet, `${file} ${name}`, schema);
    const vars = (op.variableDefinitions ?? []).map((v) => {
      const t = typeFromAST(schema, v.type) as GraphQLInputType;
      const ts = inputType(t, inputs, `${file} $${v.variable.name.value}`);
      const optional = !isNonNullType(t) || v.defaultValue !== undefined;
      return `${v.variable.name.value}${optional ? "?" : ""}: ${ts};`;
    });
    parts.push(
      `/** ${file} */\nexport type ${name}Result = ${result};\n` +
        `export interface ${name}Variables {${vars.length ? `\n  ${vars.join("\n  ")}\n` : ""}}\n` +
        `export const ${name}Query: TypedQuery<${name}Result, ${name}Variables> = {\n` +
        `  name: ${JSON.stringify(name)},\n  source: ${JSON.stringify(print(op))},\n};`,
    );
  }
  return [
    "// GENERATED by frontend/scripts/codegen.ts from subgraph/queries/*.graphql and subgraph/schema.graphql.",
    "// Do not edit: run `npm run codegen -w frontend` (the build, dev server, typecheck and tests run it).",
    "/* eslint-disable */",
    "",
    "/** A GraphQL query with its result and variables types (the phantom field carries them). */",
    "export interface TypedQuery<TResult, TVariables> {",
    "  readonly name: string;",
    "  readonly source: string;",
    "  readonly __types?: [TResult, TVariables];",
    "}",
    "",
    ...[...inputs.values()].sort().map((s) => s + "\n"),
    parts.join("\n\n"),
    "",
  ].join("\n");
}

/** Writes OUT_FILE when its content changed; returns whether it did. */
export function writeGenerated(): boolean {
  const text = generate(loadSchema(), readDocuments());
  const old = fs.existsSync(OUT_FILE) ? fs.readFileSync(OUT_FILE, "utf8") : undefined;
  if (old === text) return false;
  fs.mkdirSync(path.dirname(OUT_FILE), { recursive: true });
  fs.writeFileSync(OUT_FILE, text);
  return true;
}

if (import.meta.main) {
  try {
    if (process.argv.includes("--check")) {
      const text = generate(loadSchema(), readDocuments());
      const old = fs.existsSync(OUT_FILE) ? fs.readFileSync(OUT_FILE, "utf8") : "";
      if (old !== text) {
        console.error(
          `${path.relative(process.cwd(), OUT_FILE)} is out of date: run \`npm run codegen -w frontend\``,
        );
        process.exit(1);
      }
    } else {
      const changed = writeGenerated();
      console.log(`${path.relative(process.cwd(), OUT_FILE)} ${changed ? "written" : "up to date"}`);
    }
  } catch (e) {
    console.error(e instanceof CodegenError ? e.message : e);
    process.exit(1);
  }
}
