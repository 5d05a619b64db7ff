// GraphQL over HTTP at /subgraphs/name/<name> (POST JSON {query, variables, operationName}, or GET ?query=).
// Every failure is answered as GraphQL errors; a bad request never takes the server down.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { graphql, type GraphQLSchema } from "graphql";
import type { QueryContext } from "./graphql-schema.ts";

export type GraphQLServerOptions = {
  schema: GraphQLSchema;
  context: QueryContext;
  host: string;
  port: number;
  subgraphName: string;
};

const MAX_BODY = 1 << 20;

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "access-control-allow-origin": "*",
    "access-control-allow-headers": "content-type",
    "access-control-allow-methods": "GET, POST, OPTIONS",
  });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new Error(`request body larger than ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export async function serveGraphQL(opts: GraphQLServerOptions): Promise<{ server: Server; url: string }> {
  const path = `/subgraphs/name/${opts.subgraphName}`;
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://localhost");
      if (req.method === "OPTIONS") return send(res, 204, null);
      if (url.pathname !== path && url.pathname !== `${path}/graphql`) {
        return send(res, 404, { errors: [{ message: `no subgraph at ${url.pathname}; query ${path}` }] });
      }
      let body: { query?: unknown; variables?: unknown; operationName?: unknown };
      if (req.method === "GET") {
        const vars = url.searchParams.get("variables");
        body = { query: url.searchParams.get("query"), variables: vars ? JSON.parse(vars) : undefined };
      } else if (req.method === "POST") {
        try {
          body = JSON.parse(await readBody(req)) as typeof body;
        } catch (e) {
          return send(res, 400, {
            errors: [{ message: `request body is not JSON: ${(e as Error).message}` }],
          });
        }
      } else {
        return send(res, 405, { errors: [{ message: "use GET or POST" }] });
      }
      if (typeof body?.query !== "string" || body.query.trim() === "") {
        return send(res, 400, { errors: [{ message: "the request has no `query` string" }] });
      }
      const result = await graphql({
        schema: opts.schema,
        source: body.query,
        variableValues: (body.variables ?? undefined) as Record<string, unknown> | undefined,
        operationName: typeof body.operationName === "string" ? body.operationName : undefined,
        contextValue: opts.context,
      });
      send(res, 200, result);
    })().catch((e: Error) => {
      if (!res.headersSent) send(res, 500, { errors: [{ message: `internal error: ${e.message}` }] });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : opts.port;
  return { server, url: `http://${opts.host}:${port}${path}` };
}
