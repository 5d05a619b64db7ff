/**
 * A claimed job's training data: for each Datanet version the job names, the approved contributions up
 * to that version; their data keys from the custodian (encrypted Datanets; the request is signed by the
 * trainer and wrapped for a key pair made for this job only); each contribution read back verified
 * (content CID, decryption, content hash) and parsed into records.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { bytesToHex, hexToBytes } from "viem";
import type { Hex } from "viem";
import { listContributions } from "@tributary/sdk/chain";
import type { ChainConnection } from "@tributary/sdk/chain";
import type { ContentStore } from "@tributary/sdk/content";
import { readContribution } from "@tributary/sdk/contribution";
import { generateKeyPair, unwrapDataKey } from "@tributary/sdk/crypto";
import { KeyReleaseDeniedError, MAX_CONTRIBUTIONS_PER_REQUEST, requestDataKeys } from "@tributary/sdk/custody";
import type { TrainingRecord } from "@tributary/engine";

/** One contribution the job trains on, with its records. */
export interface JobContribution {
  datanetId: string;
  contributionId: string;
  contributor: string;
  manifestCid: string;
  contentCid: string;
  contentHash: string;
  records: TrainingRecord[];
}

/** The job's own key pair for the custodian's key wrapping; kept in the job folder for resumes. */
async function jobKeyPair(jobDir: string): Promise<{ privateKey: Uint8Array; publicKey: Hex }> {
  const file = join(jobDir, "job-key.json");
  if (existsSync(file)) {
    const k = JSON.parse(await readFile(file, "utf8")) as { privateKey: Hex; publicKey: Hex };
    return { privateKey: hexToBytes(k.privateKey), publicKey: k.publicKey };
  }
  const kp = generateKeyPair();
  const k = { privateKey: bytesToHex(kp.privateKey), publicKey: bytesToHex(kp.publicKey) };
  await mkdir(jobDir, { recursive: true });
  await writeFile(file, JSON.stringify(k), { mode: 0o600 });
  return { privateKey: kp.privateKey, publicKey: k.publicKey };
}

/**
 * Fetches and verifies every contribution of the job's Datanet versions, in (Datanet, contribution id)
 * order: the order the records are trained in.
 */
export async function fetchJobData(opts: {
  conn: ChainConnection;
  store: ContentStore;
  custodianUrl: string;
  jobId: bigint;
  datanets: Array<{ datanetId: bigint; version: number }>;
  jobDir: string;
  signal?: AbortSignal;
}): Promise<JobContribution[]> {
  const { conn, store } = opts;
  if (!conn.account) throw new Error("fetchJobData needs a connection with the trainer's account");
  const key = await jobKeyPair(opts.jobDir);
  const out: JobContribution[] = [];
  for (const ref of opts.datanets) {
    const all = await listContributions(conn, ref.datanetId);
    const chosen = all
      .filter((c) => c.status === "approved" && c.approvedInVersion !== undefined && c.approvedInVersion <= ref.version)
      .sort((a, b) => (a.contributionId < b.contributionId ? -1 : 1));
    if (chosen.length < ref.version) {
      throw new Error(
        `Datanet ${ref.datanetId} version ${ref.version} needs ${ref.version} approved contributions, ${chosen.length} are still approved (some were withdrawn); the job cannot be trained as posted`,
      );
    }
    const keys = new Map<string, Uint8Array>();
    const encrypted = chosen.filter((c) => c.encrypted);
    for (let i = 0; i < encrypted.length; i += MAX_CONTRIBUTIONS_PER_REQUEST) {
      opts.signal?.throwIfAborted();
      const part = encrypted.slice(i, i + MAX_CONTRIBUTIONS_PER_REQUEST);
      const res = await requestDataKeys({
        url: opts.custodianUrl,
        account: conn.account,
        chainId: conn.chainId,
        jobMarket: conn.contracts.JobMarket.address,
        jobId: opts.jobId,
        datanetId: ref.datanetId,
        contributionIds: part.map((c) => c.contributionId),
        trainerPubKey: key.publicKey,
      }).catch((err: unknown) => {
        if (err instanceof KeyReleaseDeniedError) throw err; // the custodian answered: its status says what it means
        throw new Error(`the custodian at ${opts.custodianUrl} did not answer the key release: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      });
      for (const k of res.keys) {
        if (!k.wrappedKey) continue;
        keys.set(k.contributionId, await unwrapDataKey(k.wrappedKey, key.privateKey));
      }
    }
    for (const c of chosen) {
      opts.signal?.throwIfAborted();
      const dataKey = keys.get(c.contributionId.toString());
      if (c.encrypted && !dataKey) throw new Error(`the custodian released no key for contribution ${c.contributionId} of Datanet ${ref.datanetId}`);
      const { manifest, records } = await readContribution(store, c.cid, dataKey ? { dataKey } : undefined);
      if (manifest.contentHash.toLowerCase() !== c.contentHash.toLowerCase()) {
        throw new Error(`contribution ${c.contributionId}: its manifest's content hash ${manifest.contentHash} differs from the one registered on chain ${c.contentHash}; refusing to train on it`);
      }
      out.push({
        datanetId: ref.datanetId.toString(),
        contributionId: c.contributionId.toString(),
        contributor: c.contributor,
        manifestCid: c.cid,
        contentCid: manifest.contentCid,
        contentHash: manifest.contentHash,
        records: records as TrainingRecord[],
      });
    }
  }
  return out;
}
