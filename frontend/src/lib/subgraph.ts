// Reading lists from the subgraph (GraphQL): a tiny client and the app's queries with their result types.

export class SubgraphError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SubgraphError";
  }
}

/** POSTs a GraphQL query; throws SubgraphError with the indexer's message on errors. */
export async function gql<T>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query, variables }),
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
    throw new SubgraphError(`Subgraph query failed: ${body.errors.map((e) => e.message).join("; ")}`);
  if (!body.data) throw new SubgraphError(`The subgraph answered ${res.status} with no data.`);
  return body.data;
}

export type PolicyName = "Open" | "Approval" | "Paid";

export interface DatanetRow {
  id: string;
  datanetId: string;
  owner: { id: string };
  metadataCID: string;
  policy: PolicyName;
  price: string;
  version: number;
  contributionCount: number;
  approvedCount: number;
  totalRecords: string;
  accessRequestCount: number;
  curators: Array<{ id: string }>;
}

export const DATANETS = `{
  datanets(first: 200, orderBy: datanetId) {
    id datanetId owner { id } metadataCID policy price version contributionCount approvedCount totalRecords accessRequestCount
    curators { id }
  }
}`;

export interface AccessRequestRow {
  account: { id: string };
  requestCID: string | null;
  active: boolean;
  updatedAt: string;
}

/** Requests to a Datanet that no grant answers yet. */
export const PENDING_REQUESTS = `query($datanet: ID!) {
  accessGrants(first: 200, where: { datanet: $datanet, requested: true, active: false }, orderBy: updatedAt) {
    account { id } requestCID active updatedAt
  }
}`;

export interface PendingContributionRow {
  contributionId: string;
  contributor: { id: string };
  records: number;
  byteSize: string;
  encrypted: boolean;
  submittedAt: string;
}

/** Contributions of a Datanet waiting for a curator. */
export const PENDING_CONTRIBUTIONS = `query($datanet: ID!) {
  contributions(first: 200, where: { datanet: $datanet, status: Pending }, orderBy: contributionId) {
    contributionId contributor { id } records byteSize encrypted submittedAt
  }
}`;

export interface GrantRow {
  datanet: { id: string };
  requested: boolean;
  active: boolean;
  expiresAt: string | null;
  usesLeft: number;
}

export const MY_GRANTS = `query($account: Bytes!) {
  accessGrants(first: 500, where: { account: $account }) { datanet { id } requested active expiresAt usesLeft }
}`;

export interface BaseModelRow {
  baseModelId: number;
  name: string;
  cid: string;
}

export const BASE_MODELS = `{
  baseModels(first: 100, where: { active: true }, orderBy: baseModelId) { baseModelId name cid }
}`;

export type JobStatusName =
  "Open" | "Claimed" | "Submitted" | "Disputed" | "Finalized" | "Cancelled" | "Refunded";

export interface JobRow {
  id: string;
  jobId: string;
  status: JobStatusName;
  budget: string;
  postedAt: string;
  baseModel: { name: string };
  datanets: Array<{ id: string }>;
  model: { tokenId: string } | null;
}

export const MY_JOBS = `query($poster: Bytes!) {
  jobs(first: 100, where: { poster: $poster }, orderBy: postedAt, orderDirection: desc) {
    id jobId status budget postedAt baseModel { name } datanets { id } model { tokenId }
  }
}`;

export interface ModelRow {
  tokenId: string;
  owner: { id: string };
  baseModel: { name: string };
  job: { jobId: string } | null;
  mintedAt: string;
}

export const MODELS = `{
  modelVersions(first: 200, orderBy: tokenId, orderDirection: desc) {
    tokenId owner { id } baseModel { name } job { jobId } mintedAt
  }
}`;

export interface RewardModelRow {
  tokenId: string;
  baseModel: { name: string };
  reportCID: string;
  datanets: Array<{ id: string }>;
  rewards: Array<{ revenue: string; contributorsClaimed: string }>;
}

/** Model versions with an attribution report (only those can pay contributors). */
export const REWARD_MODELS = `{
  modelVersions(first: 200, orderBy: tokenId, orderDirection: desc, where: { reportCID_not: "" }) {
    tokenId baseModel { name } reportCID datanets { id } rewards { revenue contributorsClaimed }
  }
}`;
