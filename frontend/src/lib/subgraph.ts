// Reading from the subgraph (GraphQL): a tiny client for the typed queries that scripts/codegen.ts generates
// from subgraph/queries/*.graphql, plus names for the rows the pages pass around (derived from the generated
// result types, so a schema change that breaks a page breaks the typecheck).
import type {
  AccessRequestsResult,
  BaseModelsResult,
  DatanetsResult,
  JobsResult,
  ModelsResult,
  MyGrantsResult,
  PendingContributionsResult,
  TypedQuery,
} from "../generated/graphql.ts";

export * from "../generated/graphql.ts";

export class SubgraphError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SubgraphError";
  }
}

/** POSTs a GraphQL query; throws SubgraphError with the indexer's message on errors. */
export async function gql<T, V>(url: string, query: TypedQuery<T, V>, variables: V): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: query.source, operationName: query.name, variables }),
    });
  } catch {
    throw new SubgraphError(
      "The subgraph (indexer) cannot be reached. Is the local stack running (npm start)?",
    );
  }
  let body: { data?: T; errors?: Array<{ message: string }> };
  try {
    body = (await res.json()) as typeof body;
  } catch {
    throw new SubgraphError(`The subgraph answered ${res.status} without JSON. Is the indexer running?`);
  }
  if (body.errors?.length)
    throw new SubgraphError(
      `Subgraph query ${query.name} failed: ${body.errors.map((e) => e.message).join("; ")}`,
    );
  if (!body.data) throw new SubgraphError(`The subgraph answered ${res.status} with no data.`);
  return body.data;
}

type Row<T extends readonly unknown[]> = T[number];

export type DatanetRow = Row<DatanetsResult["datanets"]>;
export type PolicyName = DatanetRow["policy"];
export type AccessRequestRow = Row<AccessRequestsResult["accessGrants"]>;
export type PendingContributionRow = Row<PendingContributionsResult["contributions"]>;
export type GrantRow = Row<MyGrantsResult["accessGrants"]>;
export type BaseModelRow = Row<BaseModelsResult["baseModels"]>;
export type JobRow = Row<JobsResult["jobs"]>;
export type JobStatusName = JobRow["status"];
export type ModelRow = Row<ModelsResult["modelVersions"]>;
