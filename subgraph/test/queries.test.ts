// The app's queries (queries/*.graphql) against the schema the runner serves for schema.graphql.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Kind, parse, validate } from "graphql";
import { buildGraphQLSchema, collectionName } from "../runner/graphql-schema.ts";
import { parseSchema } from "../runner/schema.ts";

const dir = join(import.meta.dirname, "..");
const schema = buildGraphQLSchema(parseSchema(readFileSync(join(dir, "schema.graphql"), "utf8")));
const files = readdirSync(join(dir, "queries")).filter((f) => f.endsWith(".graphql"));

describe("app queries", () => {
  it("are there", () => {
    assert.ok(files.length >= 8, `found ${files.join(", ")}`);
  });

  for (const file of files) {
    it(`${file} is one named operation that validates against the schema`, () => {
      const doc = parse(readFileSync(join(dir, "queries", file), "utf8"));
      const ops = doc.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
      assert.equal(ops.length, 1);
      assert.ok(ops[0].kind === Kind.OPERATION_DEFINITION && ops[0].name, "the operation is named");
      assert.deepEqual(
        validate(schema, doc).map((e) => e.message),
        [],
      );
    });
  }

  it("catches a misspelt field, filter or argument", () => {
    const bad = [
      `{ datanets { metadataCid } }`,
      `{ datanets(where: { policy_contains: "Open" }) { id } }`,
      `{ datanets(orderBy: nope) { id } }`,
      `{ datanet(id: "1") { contributions(where: { nope: 1 }) { id } } }`,
    ];
    for (const q of bad) assert.ok(validate(schema, parse(q)).length > 0, q);
  });
});

describe("collection names follow graph-node", () => {
  it("pluralises like graph-node and suffixes _collection where singular and plural collide", () => {
    assert.equal(collectionName("Datanet"), "datanets");
    assert.equal(collectionName("AccessGrant"), "accessGrants");
    assert.equal(collectionName("ModelRewards"), "modelRewards_collection");
    assert.equal(collectionName("ProtocolStats"), "protocolStats_collection");
    assert.equal(collectionName("Entry"), "entries");
    assert.equal(collectionName("Status"), "statuses");
    assert.equal(collectionName("Box"), "boxes");
  });
});
