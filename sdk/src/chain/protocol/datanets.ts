// Datanets: create, contribute (normalise -> encrypt -> IPFS -> chain), review, withdraw, list, show.
import { bytesToHex } from "viem";
import type { Address, Hash, Hex } from "viem";
import { prepareContribution, uploadContribution } from "../../contribution/index.ts";
import { keyIdOf, publicKeyBytes } from "../../crypto/index.ts";
import type { NormaliseOptions } from "../../records/index.ts";
import { parseContributionManifest, parseDatanetMetadata } from "../../schemas/index.ts";
import type { ContributionManifest, DatanetMetadata } from "../../schemas/index.ts";
import type { ChainConnection } from "../client.ts";
import { NoWalletError, NotFoundError } from "../errors.ts";
import { readView, sendTx, eventsIn } from "../write.ts";
import { addJson, catJson } from "./content.ts";
import type { ProtocolContentStore } from "./content.ts";
import { scanEvents } from "../logs.ts";

/** The last path segment (either separator): browser-safe `path.basename`. */
function basename(p: string): string {
  return p.split(/[\\/]/).pop() ?? p;
}

export const ACCESS_POLICIES = ["open", "approval", "paid"] as const;
export type AccessPolicyName = (typeof ACCESS_POLICIES)[number];
export const CONTRIBUTION_STATUSES = ["none", "pending", "approved", "rejected", "withdrawn"] as const;
export type ContributionStatusName = (typeof CONTRIBUTION_STATUSES)[number];

/** Upper bound of one approve batch (the registry's MAX_BATCH is at least this). */
const APPROVE_BATCH = 50;

export interface CreateDatanetInput {
  name: string;
  description?: string;
  license?: string;
  tags?: string[];
  policy: AccessPolicyName;
  /** Price per access use in OPEN wei (paid only). */
  price?: bigint;
  curators?: Address[];
  /** The custodian that receives data keys (required unless the policy is open). */
  custodian?: { publicKey: string; url?: string };
}

export interface CreateDatanetResult {
  datanetId: bigint;
  metadataCid: string;
  hash: Hash;
  blockNumber: bigint;
}

/** Pins the metadata document and creates the Datanet on chain. */
export async function createDatanet(
  conn: ChainConnection,
  store: ProtocolContentStore,
  input: CreateDatanetInput,
): Promise<CreateDatanetResult> {
  if (!conn.account) throw new NoWalletError("datanet create");
  const custodian = input.custodian
    ? {
        publicKey: bytesToHex(publicKeyBytes(input.custodian.publicKey)).slice(2),
        keyId: keyIdOf(input.custodian.publicKey),
        url: input.custodian.url,
      }
    : undefined;
  if (!custodian && input.policy !== "open") {
    throw new NotFoundError(
      "A custodian public key",
      "Approval and Paid Datanets store encrypted data: pass --custodian-key <hex public key> (printed by the custodian on start).",
    );
  }
  const metadata = parseDatanetMetadata({
    name: input.name,
    description: input.description ?? "",
    license: input.license,
    tags: input.tags,
    custodian,
    owner: conn.account.address,
  });
  const metadataCid = await addJson(store, metadata);
  const policy = ACCESS_POLICIES.indexOf(input.policy);
  const reg = conn.contracts.DatanetRegistry;
  const tx = await sendTx(conn, reg, "createDatanet", [
    metadataCid,
    policy,
    input.price ?? 0n,
    input.curators ?? [],
  ]);
  const [created] = eventsIn(reg, tx.receipt, "DatanetCreated");
  return { datanetId: created.args.datanetId!, metadataCid, hash: tx.hash, blockNumber: tx.blockNumber };
}

/**
 * Edits a Datanet's description: reads its metadata, applies the changed fields (the custodian and owner
 * stay), validates, pins the new document and points the Datanet at it. The owner only (NotDatanetOwner).
 */
export async function updateDatanetMetadata(
  conn: ChainConnection,
  store: ProtocolContentStore,
  input: { datanetId: bigint } & Partial<Pick<DatanetMetadata, "name" | "description" | "license" | "tags">>,
): Promise<{ metadataCid: string; metadata: DatanetMetadata; hash: Hash; blockNumber: bigint }> {
  if (!conn.account) throw new NoWalletError("datanet update");
  const current = await getDatanet(conn, input.datanetId, store);
  const { datanetId, ...changes } = input;
  const metadata = parseDatanetMetadata({
    ...current.metadata,
    ...Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)),
  });
  const metadataCid = await addJson(store, metadata);
  const tx = await sendTx(conn, conn.contracts.DatanetRegistry, "setMetadata", [datanetId, metadataCid]);
  return { metadataCid, metadata, hash: tx.hash, blockNumber: tx.blockNumber };
}

export interface DatanetInfo {
  datanetId: bigint;
  owner: Address;
  policy: AccessPolicyName;
  price: bigint;
  contributionCount: number;
  version: number;
  metadataCid: string;
  metadata?: DatanetMetadata;
}

export async function getDatanet(
  conn: ChainConnection,
  datanetId: bigint,
  store?: ProtocolContentStore,
): Promise<DatanetInfo> {
  const reg = conn.contracts.DatanetRegistry;
  const d = await readView(reg, "getDatanet", () =>
    conn.publicClient.readContract({
      address: reg.address,
      abi: reg.abi,
      functionName: "getDatanet",
      args: [datanetId],
    }),
  );
  const info: DatanetInfo = {
    datanetId,
    owner: d.owner,
    policy: ACCESS_POLICIES[d.policy],
    price: d.price,
    contributionCount: d.contributionCount,
    version: d.version,
    metadataCid: d.metadataCID,
  };
  if (store) info.metadata = parseDatanetMetadata(await catJson(store, d.metadataCID, "Datanet metadata"));
  return info;
}

export async function listDatanets(
  conn: ChainConnection,
  store?: ProtocolContentStore,
): Promise<DatanetInfo[]> {
  const reg = conn.contracts.DatanetRegistry;
  const count = await conn.publicClient.readContract({
    address: reg.address,
    abi: reg.abi,
    functionName: "datanetCount",
  });
  const out: DatanetInfo[] = [];
  for (let id = 1n; id <= count; id++) out.push(await getDatanet(conn, id, store));
  return out;
}

export interface ContributionInfo {
  datanetId: bigint;
  contributionId: bigint;
  contributor: Address;
  cid: string;
  contentHash: Hex;
  records: number;
  byteSize: number;
  encrypted: boolean;
  status: ContributionStatusName;
  /** The Datanet version that first includes it (approved ones only). */
  approvedInVersion?: number;
}

/** Every contribution of a Datanet with its current status, from the registry's event logs and state. */
export async function listContributions(
  conn: ChainConnection,
  datanetId: bigint,
): Promise<ContributionInfo[]> {
  const reg = conn.contracts.DatanetRegistry;
  const [submitted, approved] = await Promise.all([
    scanEvents(conn, {
      address: reg.address,
      abi: reg.abi,
      eventName: "ContributionSubmitted",
      args: { datanetId },
    }),
    scanEvents(conn, {
      address: reg.address,
      abi: reg.abi,
      eventName: "ContributionApproved",
      args: { datanetId },
    }),
  ]);
  const versions = new Map(approved.map((e) => [e.args.contributionId!, e.args.version!]));
  const out: ContributionInfo[] = [];
  for (const e of submitted) {
    const a = e.args as Required<typeof e.args>;
    const c = await conn.publicClient.readContract({
      address: reg.address,
      abi: reg.abi,
      functionName: "getContribution",
      args: [datanetId, a.contributionId],
    });
    const status = CONTRIBUTION_STATUSES[c.status];
    out.push({
      datanetId,
      contributionId: a.contributionId,
      contributor: a.contributor,
      cid: a.cid,
      contentHash: a.contentHash,
      records: a.records,
      byteSize: Number(a.byteSize),
      encrypted: a.encrypted,
      status,
      approvedInVersion:
        status === "approved" || status === "withdrawn" ? versions.get(a.contributionId) : undefined,
    });
  }
  return out;
}

export interface ContributeInput {
  datanetId: bigint;
  fileName: string;
  content: Uint8Array | string;
  normalise?: NormaliseOptions;
  /** Bytes sent to the content store so far (for progress bars). */
  onProgress?: (sent: number, total: number) => void;
}

export interface ContributeResult {
  datanetId: bigint;
  contributionId: bigint;
  /** CID of the contribution manifest (what is registered on chain). */
  cid: string;
  contentCid: string;
  contentHash: Hex;
  records: number;
  bytes: number;
  encrypted: boolean;
  hash: Hash;
  blockNumber: bigint;
}

/**
 * Normalises a file into records, encrypts them for the Datanet's custodian (unless the Datanet is open
 * and has none), pins content and manifest, and submits the contribution on chain.
 */
export async function contribute(
  conn: ChainConnection,
  store: ProtocolContentStore,
  input: ContributeInput,
): Promise<ContributeResult> {
  if (!conn.account) throw new NoWalletError("datanet contribute");
  const datanet = await getDatanet(conn, input.datanetId, store);
  const custodianKey = datanet.metadata?.custodian?.publicKey;
  const encrypt = datanet.policy !== "open" || custodianKey !== undefined;
  if (encrypt && !custodianKey) {
    throw new NotFoundError(
      `A custodian key in Datanet ${input.datanetId}'s metadata`,
      "The Datanet cannot receive encrypted data; ask its owner to set a custodian.",
    );
  }
  // The manifest keeps the file's base name only: local paths stay local.
  const prepared = await prepareContribution(basename(input.fileName), input.content, {
    recipients: encrypt ? [custodianKey!] : [],
    normalise: input.normalise,
  });
  const total = prepared.payload.length;
  const { manifestCid: cid, contentCid } = await uploadContribution(store, prepared, {
    datanetId: input.datanetId,
    contributor: conn.account.address,
    onProgress: (n) => input.onProgress?.(n, total),
  });
  const contentHash = prepared.contentHash;
  const records = prepared.records.length;
  const reg = conn.contracts.DatanetRegistry;
  const tx = await sendTx(conn, reg, "submitContribution", [
    input.datanetId,
    cid,
    contentHash,
    records,
    total,
    encrypt,
  ]);
  const [ev] = eventsIn(reg, tx.receipt, "ContributionSubmitted");
  return {
    datanetId: input.datanetId,
    contributionId: ev.args.contributionId!,
    cid,
    contentCid,
    contentHash,
    records,
    bytes: prepared.bytes,
    encrypted: encrypt,
    hash: tx.hash,
    blockNumber: tx.blockNumber,
  };
}

/** Reads and validates a contribution's manifest from the content store. */
export async function getContributionManifest(
  store: ProtocolContentStore,
  cid: string,
): Promise<ContributionManifest> {
  return parseContributionManifest(await catJson(store, cid, "contribution manifest"));
}

export interface ReviewResult {
  datanetId: bigint;
  approved: bigint[];
  rejected: bigint[];
  /** Datanet version after the approvals. */
  version: number;
  hashes: Hash[];
}

/** Approves (in batches, in the given order) and rejects pending contributions. Curators only. */
export async function review(
  conn: ChainConnection,
  input: { datanetId: bigint; approve?: bigint[]; reject?: bigint[] },
): Promise<ReviewResult> {
  const reg = conn.contracts.DatanetRegistry;
  const approve = input.approve ?? [];
  const reject = input.reject ?? [];
  const hashes: Hash[] = [];
  for (let i = 0; i < approve.length; i += APPROVE_BATCH) {
    const batch = approve.slice(i, i + APPROVE_BATCH);
    const tx =
      batch.length === 1
        ? await sendTx(conn, reg, "approveContribution", [input.datanetId, batch[0]])
        : await sendTx(conn, reg, "approveContributions", [input.datanetId, batch]);
    hashes.push(tx.hash);
  }
  for (const id of reject)
    hashes.push((await sendTx(conn, reg, "rejectContribution", [input.datanetId, id])).hash);
  const version = await conn.publicClient.readContract({
    address: reg.address,
    abi: reg.abi,
    functionName: "versionOf",
    args: [input.datanetId],
  });
  return { datanetId: input.datanetId, approved: approve, rejected: reject, version, hashes };
}

/** Withdraws consent for one's own contribution. */
export async function withdrawContribution(
  conn: ChainConnection,
  datanetId: bigint,
  contributionId: bigint,
): Promise<{ hash: Hash; blockNumber: bigint }> {
  const tx = await sendTx(conn, conn.contracts.DatanetRegistry, "withdrawContribution", [
    datanetId,
    contributionId,
  ]);
  return { hash: tx.hash, blockNumber: tx.blockNumber };
}

export function parsePolicy(s: string): AccessPolicyName {
  const p = s.toLowerCase() as AccessPolicyName;
  if (!ACCESS_POLICIES.includes(p))
    throw new RangeError(`Unknown access policy "${s}": use one of ${ACCESS_POLICIES.join(", ")}.`);
  return p;
}

/** Adds (or removes) a curator of a datanet (its owner only). */
export async function setCurator(
  conn: ChainConnection,
  input: { datanetId: bigint; curator: Address; remove?: boolean },
): Promise<{ hash: Hash; blockNumber: bigint; curator: Address; isCurator: boolean }> {
  const dr = conn.contracts.DatanetRegistry;
  const tx = await sendTx(conn, dr, input.remove ? "removeCurator" : "addCurator", [
    input.datanetId,
    input.curator,
  ]);
  const isCurator = await conn.publicClient.readContract({
    address: dr.address,
    abi: dr.abi,
    functionName: "isCurator",
    args: [input.datanetId, input.curator],
  });
  return { hash: tx.hash, blockNumber: tx.blockNumber, curator: input.curator, isCurator };
}
