// The GraphQL codegen (scripts/codegen.ts): the subgraph's documents become typed queries, and a document
// that no longer matches the schema fails the generation (so the build), naming the file and the field.
import assert from "node:assert/strict";
import fs from "node:fs";
import { describe, it } from "node:test";
import { buildSchema } from "graphql";
import { CodegenError, generate, loadSchema, OUT_FILE, readDocuments } from "../scripts/codegen.ts";

const schema = loadSchema();

describe("GraphQL codegen", () => {
  it("generates every document of subgraph/queries, and the generated file is up to date", () => {
    const docs = readDocuments();
    assert.ok(docs.length >= 12, `found ${docs.map((d) => d.file).join(", ")}`);
    const text = generate(schema, docs);
    for (const name of ["Datanets", "Jobs", "Models", "BaseModels", "MyGrants", "AccessRequests"])
      assert.match(
        text,
        new RegExp(`export const ${name}Query: TypedQuery<${name}Result, ${name}Variables>`),
      );
    assert.equal(fs.readFileSync(OUT_FILE, "utf8"), text, "run `npm run codegen -w frontend`");
  });

  it("types fields from the schema: BigInt as string, Int as number, enums as unions, nullability kept", () => {
    const text = generate(schema, [
      {
        file: "t.graphql",
        source: `query T($id: ID!, $first: Int = 5) {
          datanet(id: $id) { datanetId version policy owner { id } curators { id } }
          jobs(first: $first) { status model { tokenId } }
        }`,
      },
    ]);
    const result = text.slice(
      text.indexOf("export type TResult"),
      text.indexOf("export interface TVariables"),
    );
    assert.match(result, /datanet: \{[\s\S]*datanetId: string;[\s\S]*version: number;/);
    assert.match(result, /policy: "Open" \| "Approval" \| "Paid";/);
    assert.match(result, /curators: Array<\{\s*id: string;\s*\}>;/);
    assert.match(result, /model: \{\s*tokenId: string;\s*\} \| null;/);
    assert.match(result, /\} \| null;\n {2}jobs:/, "a single entity by id may be missing");
    assert.match(text, /export interface TVariables \{\n {2}id: string;\n {2}first\?: number \| null;\n\}/);
  });

  it("types inline fragments on an interface as a union told apart by __typename", () => {
    const text = generate(schema, [
      {
        file: "e.graphql",
        source: `query E { events(first: 5) { __typename id ... on JobPosted { budget } } }`,
      },
    ]);
    assert.match(text, /__typename: "JobPosted";\s*id: string;\s*budget: string;/);
    assert.match(text, /__typename: "DatanetCreated";\s*id: string;\s*\}/);
  });

  it("fails on a misspelt field, naming the file and the field", () => {
    assert.throws(
      () => generate(schema, [{ file: "bad.graphql", source: "query Bad { datanets { metadataCid } }" }]),
      (e: unknown) =>
        e instanceof CodegenError && /bad\.graphql/.test(e.message) && /metadataCid/.test(e.message),
    );
  });

  it("fails when the schema drops a field a document selects (a schema change breaks the build)", () => {
    const smaller = buildSchema(`
      type Datanet { id: ID! owner: String! }
      type Query { datanets: [Datanet!]! }
    `);
    assert.throws(
      () =>
        generate(smaller, [{ file: "datanets.graphql", source: "query D { datanets { id metadataCID } }" }]),
      /datanets\.graphql does not match the subgraph schema:[\s\S]*metadataCID/,
    );
  });

  it("refuses a file with two operations or an unnamed one", () => {
    assert.throws(
      () =>
        generate(schema, [
          { file: "two.graphql", source: "query A { datanets { id } } query B { jobs { id } }" },
        ]),
      /two\.graphql: keep exactly one named query per file/,
    );
    assert.throws(
      () => generate(schema, [{ file: "anon.graphql", source: "{ datanets { id } }" }]),
      /anon\.graphql: keep exactly one named query per file/,
    );
  });
});
