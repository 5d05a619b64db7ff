// GraphQL over HTTP at /subgraphs/name/<name> (POST JSON {query, variables, operationName}, or GET ?query=).
// Every failure is answered as GraphQL errors; a bad request never takes the server down. Web pages may
// query it only from `allowedOrigins` (the SDK's shared guard: Origin/Referer allow-list, DNS rebinding,
// body cap), as for the other local services.
import { createServer, type Server, type ServerResponse } from "node:http";
import { closeAfterResponse, createHttpGuard, DEFAULT_MAX_BODY_BYTES, HttpGuardError, readBody } from "@tributary/sdk/http";
import { graphql, type GraphQLSchema } from "graphql";
import type { QueryContext } from "./graphql-schema.ts";

export type GraphQLServerOptions = {
  schema: GraphQLSchema;
  context: QueryContext;
  host: string;
  port: number;
  subgraphName: string;
  /** Web origins (scheme://host:port) whose pages may query; default none. `*` allows any. */
  allowedOrigins?: readonly string[];
  /** Cap on a POST body in bytes (default 1 MiB); more is answered 413. */
  maxBodyBytes?: number;
};

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(body));
}

export async function serveGraphQL(opts: GraphQLServerOptions): Promise<{ server: Server; url: string }> {
  const path = `/subgraphs/name/${opts.subgraphName}`;
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const guard = createHttpGuard({ allowedOrigins: opts.allowedOrigins, listenHost: opts.host });
  const server = createServer((req, res) => {
    if (!guard.admit(req, res, (status, message) => send(res, status, { errors: [{ message }] }))) return;
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
          body = JSON.parse(await readBody(req, maxBody, "the indexer's maxBodyBytes")) as typeof body;
        } catch (e) {
          if (e instanceof HttpGuardError) {
            closeAfterResponse(res);
            return send(res, e.status, { errors: [{ message: e.message }] });
          }
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
