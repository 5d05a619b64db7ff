// GraphQL over HTTP at /subgraphs/name/<name> (POST JSON {query, variables, operationName}, or GET ?query=).
// Every failure is answered as GraphQL errors; a bad request never takes the server down. Web pages may
// query it only from `allowedOrigins` (the SDK's shared guard: Origin/Referer allow-list, DNS rebinding,
// body cap), as for the other local services.
import { createServer, type Server, type ServerResponse } from "node:http";
import { closeAfterResponse, createHttpGuard, DEFAULT_MAX_BODY_BYTES, HttpGuardError, readBody } from "@tributary/sdk/http";
import type {
  GraphQLError} from "graphql";
import {
  execute,
  getNamedType,
  getNullableType,
  GraphQLList,
  isCompositeType,
  Kind,
  parse,
  validate,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValueNode,
} from "graphql";
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
  /** Deepest selection nesting accepted (default 255, graph-node's GRAPH_GRAPHQL_MAX_DEPTH). */
  maxDepth?: number;
  /**
   * Largest query cost accepted (default 1,000,000): each field costs 1 plus its selections, times `first`
   * (default 100) where it returns a list, as graph-node's GRAPH_GRAPHQL_MAX_COMPLEXITY counts it.
   */
  maxComplexity?: number;
};

export const DEFAULT_MAX_DEPTH = 255;
export const DEFAULT_MAX_COMPLEXITY = 1_000_000;

/** Depth and cost of an operation (fragments expanded), for the limits above. */
export function queryCost(
  schema: GraphQLSchema,
  doc: DocumentNode,
  variables: Record<string, unknown> = {},
  operationName?: string,
): { depth: number; complexity: number } {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of doc.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const ops = doc.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  const op = ops.find((o) => !operationName || o.name?.value === operationName) ?? ops[0];
  const firstOf = (v: ValueNode | undefined): number => {
    if (!v) return 100;
    if (v.kind === Kind.INT) return Number(v.value);
    if (v.kind === Kind.VARIABLE) {
      const x = variables[v.name.value];
      return typeof x === "number" ? x : 100;
    }
    return 100;
  };
  let depth = 0;
  const walk = (set: SelectionSetNode, type: GraphQLCompositeType, level: number, seen: Set<string>): number => {
    depth = Math.max(depth, level);
    let cost = 0;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FRAGMENT_SPREAD) {
        const f = fragments.get(sel.name.value);
        if (!f || seen.has(f.name.value)) continue;
        const on = schema.getType(f.typeCondition.name.value);
        if (isCompositeType(on)) cost += walk(f.selectionSet, on, level, new Set([...seen, f.name.value]));
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const on = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : type;
        if (isCompositeType(on)) cost += walk(sel.selectionSet, on, level, seen);
      } else {
        const def = "getFields" in type ? type.getFields()[sel.name.value] : undefined;
        if (!def || !sel.selectionSet) {
          cost += 1;
          continue;
        }
        const named = getNamedType(def.type);
        const inner = isCompositeType(named) ? walk(sel.selectionSet, named, level + 1, seen) : 0;
        const many = getNullableType(def.type) instanceof GraphQLList;
        const first = many ? firstOf(sel.arguments?.find((a) => a.name.value === "first")?.value) : 1;
        cost += (1 + inner) * Math.max(1, first);
      }
    }
    return cost;
  };
  const root = schema.getQueryType();
  return op && root ? { complexity: walk(op.selectionSet, root, 0, new Set()), depth } : { complexity: 0, depth: 0 };
}

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
      let doc: DocumentNode;
      try {
        doc = parse(body.query);
      } catch (e) {
        return send(res, 200, { errors: [(e as GraphQLError).toJSON()] });
      }
      const invalid = validate(opts.schema, doc);
      if (invalid.length > 0) return send(res, 200, { errors: invalid.map((e) => e.toJSON()) });
      const variables = (body.variables ?? undefined) as Record<string, unknown> | undefined;
      const operationName = typeof body.operationName === "string" ? body.operationName : undefined;
      const { depth, complexity } = queryCost(opts.schema, doc, variables, operationName);
      const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
      const maxComplexity = opts.maxComplexity ?? DEFAULT_MAX_COMPLEXITY;
      if (depth > maxDepth)
        return send(res, 200, { errors: [{ message: `query is nested ${depth} levels deep, more than the ${maxDepth} this indexer accepts; split it` }] });
      if (complexity > maxComplexity)
        return send(res, 200, {
          errors: [{ message: `query complexity ${complexity} is more than the ${maxComplexity} this indexer accepts; ask for fewer items (smaller \`first\`) per level or split the query` }],
        });
      const result = await execute({
        schema: opts.schema,
        document: doc,
        variableValues: variables,
        operationName,
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
