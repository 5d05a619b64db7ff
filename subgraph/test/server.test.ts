// The GraphQL server as a web page meets it: only allowed origins (the SDK's shared guard), CORS for
// them, a capped body. A real HTTP server over a real (tiny) schema.
import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, before, describe, it } from "node:test";
import { GraphQLObjectType, GraphQLSchema, GraphQLString } from "graphql";
import type { QueryContext } from "../runner/graphql-schema.ts";
import { serveGraphQL } from "../runner/server.ts";

const WEB_APP = "http://127.0.0.1:5173";

describe("GraphQL server: web origins and body cap", () => {
  let server: Server;
  let url: string;
  const query = (headers: Record<string, string>, body = JSON.stringify({ query: "{ ping }" })) =>
    fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

  before(async () => {
    const schema = new GraphQLSchema({
      query: new GraphQLObjectType({ name: "Query", fields: { ping: { type: GraphQLString, resolve: () => "pong" } } }),
    });
    ({ server, url } = await serveGraphQL({
      schema,
      context: {} as QueryContext,
      host: "127.0.0.1",
      port: 0,
      subgraphName: "guarded",
      allowedOrigins: [WEB_APP],
      maxBodyBytes: 1024,
    }));
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it("refuses a page on another site with 403 as a GraphQL error, and gives it no CORS header", async () => {
    const res = await query({ origin: "https://evil.example" });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get("access-control-allow-origin"), null);
    const body = (await res.json()) as { errors: { message: string }[] };
    assert.match(body.errors[0].message, /web origin https:\/\/evil\.example are not allowed/);
  });

  it("answers the allowed web app with CORS (and its preflight), and programs without an Origin", async () => {
    const res = await query({ origin: WEB_APP });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), WEB_APP);
    assert.deepEqual(await res.json(), { data: { ping: "pong" } });
    const pre = await fetch(url, { method: "OPTIONS", headers: { origin: WEB_APP, "access-control-request-method": "POST" } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-origin"), WEB_APP);
    assert.equal((await query({})).status, 200);
  });

  it("answers 413 to a body over the cap", async () => {
    const res = await query({}, JSON.stringify({ query: `{ ping } # ${"x".repeat(2000)}` }));
    assert.equal(res.status, 413);
    const body = (await res.json()) as { errors: { message: string }[] };
    assert.match(body.errors[0].message, /larger than this service accepts \(1024 bytes\); raise it with the indexer's maxBodyBytes/);
  });
});
