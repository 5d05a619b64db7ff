// The custodian service: re-wraps a contribution's data key for a trainer only when the chain says the
// trainer holds the job that trains on that contribution. Everything else gets 400/401/403 with a reason
// about public chain state only; key material never leaves except wrapped for the trainer's key.
// Failures that are not refusals: 503 + Retry-After when the chain or the content store cannot be reached
// (transient: the trainer retries), 502 when the content store served bad data, 500 for a bug here.
import { createServer } from "node:http";
import path from "node:path";
import type { IncomingMessage, ServerResponse } from "node:http";
import { bytesToHex } from "@noble/hashes/utils.js";
import { BaseError, ContractFunctionRevertedError, isAddress, isHex } from "viem";
import { z } from "zod";
import type { Address, Hex } from "viem";
import { publicKeyBytes, rewrapDataKey, wrappedKeyFor } from "../crypto/index.ts";
import type { KeyPair } from "../crypto/index.ts";
import type { ChainConnection } from "../chain/client.ts";
import { getContributionManifest } from "../chain/protocol/datanets.ts";
import type { ProtocolContentStore } from "../chain/protocol/content.ts";
import { closeAfterResponse, createHttpGuard, HttpGuardError, readBody as readCappedBody } from "../http/guard.ts";
import { loadOrCreateCustodianKey } from "./key.ts";
import { keyReleaseDomain, recoverKeyReleaseSigner } from "./request.ts";
import type { KeyRelease, KeyReleaseResponse, ReleasedKey } from "./request.ts";
import { scanEvents, type LogScanOptions } from "../chain/logs.ts";
import { fileLogStore } from "../chain/log-store.ts";
import { ContentStoreError, ContentTamperedError, UnsupportedContentError } from "../content/errors.ts";

export const DEFAULT_CUSTODIAN_PORT = 8788;
/** A request may be valid for at most this long (so a leaked signature expires soon). */
export const MAX_REQUEST_TTL_S = 3600;
export const MAX_CONTRIBUTIONS_PER_REQUEST = 1000;
/** Default cap on a key-release request body (1000 contribution ids fit in well under this). */
export const DEFAULT_CUSTODIAN_MAX_BODY_BYTES = 256 * 1024;
const JOB_CLAIMED = 2;
const JOB_DISPUTED = 4;
const CONTRIBUTION_APPROVED = 2;

export interface CustodianOptions {
  conn: ChainConnection;
  store: ProtocolContentStore;
  /** Where the generated key is kept (default `.tributary/custodian`). */
  stateDir?: string;
  /** The key, hex (overrides the state folder), e.g. from TRIBUTARY_CUSTODIAN_KEY. */
  privateKey?: string;
  host?: string;
  /** 0 picks a free port. Default 8788. */
  port?: number;
  /** Serve only these Datanets (default: any whose envelopes carry this custodian's key). */
  datanetIds?: bigint[];
  /** Called once per request with its outcome (no key material). */
  log?: (line: string) => void;
  /**
   * Web origins (scheme://host:port) whose pages may call the custodian, e.g. the web app's; default none
   * (a request with another Origin/Referer gets 403). Non-browser clients are unaffected.
   */
  allowedOrigins?: readonly string[];
  /** Cap on a request body in bytes (default 256 KiB); more is answered 413. */
  maxBodyBytes?: number;
}

export interface RunningCustodian {
  url: string;
  publicKey: string;
  keyId: string;
  keyCreated: boolean;
  stop(): Promise<void>;
}

class Refusal extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}
const badRequest = (m: string) => new Refusal(400, "bad_request", m);
const unauthorized = (m: string) => new Refusal(401, "unauthorized", m);
const forbidden = (m: string) => new Refusal(403, "forbidden", m);

const decimal = z.string().regex(/^(0|[1-9]\d{0,76})$/, "must be a decimal integer string").transform(BigInt);
const hex = z.string().refine((v) => isHex(v), "must be 0x hex");
const ReleaseBody = z.object(
  {
    request: z.object(
      {
        trainer: z.string().refine((v) => isAddress(v), "must be an address"),
        jobId: decimal,
        datanetId: decimal,
        contributionIds: z
          .array(decimal)
          .min(1, "must be a non-empty array")
          .max(MAX_CONTRIBUTIONS_PER_REQUEST, `at most ${MAX_CONTRIBUTIONS_PER_REQUEST} contributions per request`),
        trainerPubKey: hex.refine((v) => {
          try {
            publicKeyBytes(v);
            return true;
          } catch {
            return false;
          }
        }, "is not a secp256k1 public key"),
        expiry: decimal,
      },
      { error: "must be an object" },
    ),
    signature: hex,
  },
  { error: "body must be {request, signature}" },
);

function parseRelease(body: unknown): { message: KeyRelease; signature: Hex } {
  const r = ReleaseBody.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").slice(1);
    throw badRequest(where ? `${where} ${issue.message}` : issue.message);
  }
  const q = r.data.request;
  return {
    message: { ...q, trainer: q.trainer as Address, trainerPubKey: q.trainerPubKey as Hex },
    signature: r.data.signature as Hex,
  };
}

/** The chain or the content store could not be reached: the request may succeed later. */
class Unavailable extends Error {}

/**
 * A contract read: undefined when the contract reverted (no such job or contribution: an answer about
 * chain state), Unavailable when the chain could not be asked. Never turns an outage into a refusal.
 */
async function readOrUndefined<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (e) {
    if (e instanceof BaseError && e.walk((x) => x instanceof ContractFunctionRevertedError)) return undefined;
    throw new Unavailable(`the chain could not be read: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
  }
}

/** Chain transport failures (viem) and content store outages are transient; everything else is not. */
function isUnavailable(e: unknown): boolean {
  if (e instanceof Unavailable) return true;
  if (e instanceof ContentStoreError) return e.status === undefined || e.status >= 500 || e.status === 429;
  if (e instanceof BaseError)
    return !!e.walk((x) => ["HttpRequestError", "TimeoutError", "WebSocketRequestError", "RpcRequestError"].includes((x as Error).name));
  return /fetch failed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|socket hang up/.test(String((e as Error)?.message));
}

async function readBody(req: IncomingMessage, limit: number): Promise<unknown> {
  let text: string;
  try {
    text = await readCappedBody(req, limit, "the custodian's maxBodyBytes");
  } catch (e) {
    if (e instanceof HttpGuardError) throw new Refusal(e.status, "body_too_large", e.message);
    throw e;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest("body is not JSON");
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

/** Verifies a key-release request against signature, expiry and chain state, then re-wraps the keys. */
async function release(
  opts: CustodianOptions,
  key: KeyPair,
  message: KeyRelease,
  signature: Hex,
  scans: LogScanOptions,
): Promise<KeyReleaseResponse> {
  const { conn, store } = opts;
  const now = BigInt(Math.floor(Date.now() / 1000));
  if (message.expiry <= now) throw unauthorized("the request has expired; sign a new one");
  if (message.expiry > now + BigInt(MAX_REQUEST_TTL_S))
    throw unauthorized(
      `the request expiry is more than ${MAX_REQUEST_TTL_S} s ahead; sign one that expires sooner`,
    );
  let signer: Address;
  try {
    signer = await recoverKeyReleaseSigner(
      keyReleaseDomain(conn.chainId, conn.contracts.JobMarket.address),
      message,
      signature,
    );
  } catch {
    throw unauthorized("the signature is malformed");
  }
  if (signer.toLowerCase() !== message.trainer.toLowerCase())
    throw unauthorized("the signature is not the trainer's");
  if (opts.datanetIds && !opts.datanetIds.includes(message.datanetId))
    throw forbidden(`this custodian does not serve Datanet ${message.datanetId}`);

  const pc = conn.publicClient;
  const jm = conn.contracts.JobMarket;
  const reg = conn.contracts.DatanetRegistry;
  const job = await readOrUndefined(() =>
    pc.readContract({ address: jm.address, abi: jm.abi, functionName: "getJob", args: [message.jobId] }),
  );
  // The requester (the request's `trainer` field) is the job's trainer while its claim runs, or a verifier the
  // DisputeGame drew for a dispute of the job while the job is disputed (it must replay the disputed segment).
  const isTrainer = !!job && job.status === JOB_CLAIMED && job.trainer.toLowerCase() === message.trainer.toLowerCase();
  let isDrawn = false;
  if (!isTrainer && job && job.status === JOB_DISPUTED) {
    const g = conn.contracts.DisputeGame;
    isDrawn = await pc.readContract({ address: g.address, abi: g.abi, functionName: "isDrawnVerifier", args: [message.jobId, message.trainer as Address] });
  }
  if (!isTrainer && !isDrawn) {
    throw forbidden(
      `job ${message.jobId} is not claimed by ${message.trainer}, and ${message.trainer} is not a verifier drawn for a dispute of it`,
    );
  }
  const [datanetIds, versions] = await pc.readContract({
    address: jm.address,
    abi: jm.abi,
    functionName: "getJobDatanets",
    args: [message.jobId],
  });
  const at = datanetIds.indexOf(message.datanetId);
  if (at < 0) throw forbidden(`job ${message.jobId} does not train on Datanet ${message.datanetId}`);
  const version = versions[at];

  // The CIDs and approval versions are only in the registry's events: read from the chain itself (never
  // an index), in bounded pages, resuming from the state folder's scan cursors.
  const datanetId = message.datanetId;
  const [submitted, approved] = await Promise.all([
    scanEvents(conn, { address: reg.address, abi: reg.abi, eventName: "ContributionSubmitted", args: { datanetId } }, scans),
    scanEvents(conn, { address: reg.address, abi: reg.abi, eventName: "ContributionApproved", args: { datanetId } }, scans),
  ]);
  const cids = new Map(submitted.map((e) => [e.args.contributionId!, e.args.cid!]));
  const approvedIn = new Map(approved.map((e) => [e.args.contributionId!, e.args.version!]));
  const keys: ReleasedKey[] = [];
  for (const id of message.contributionIds) {
    const c = await readOrUndefined(() =>
      pc.readContract({
        address: reg.address,
        abi: reg.abi,
        functionName: "getContribution",
        args: [message.datanetId, id],
      }),
    );
    if (!c || c.status !== CONTRIBUTION_APPROVED)
      throw forbidden(
        `contribution ${id} of Datanet ${message.datanetId} is not approved (or was withdrawn)`,
      );
    const v = approvedIn.get(id);
    if (v === undefined || v > version)
      throw forbidden(`contribution ${id} is not part of Datanet ${message.datanetId} version ${version}`);
    const cid = cids.get(id)!;
    const manifest = await getContributionManifest(store, cid);
    const released: ReleasedKey = {
      contributionId: id.toString(),
      cid,
      contentCid: manifest.contentCid,
      contentHash: manifest.contentHash as Hex,
    };
    if (c.encrypted) {
      if (!manifest.encryption) throw forbidden(`contribution ${id} has no encryption manifest`);
      let wrapped;
      try {
        wrapped = wrappedKeyFor(manifest.encryption, key.privateKey);
      } catch {
        throw forbidden(`contribution ${id} is not encrypted for this custodian`);
      }
      released.wrappedKey = await rewrapDataKey(wrapped, key.privateKey, message.trainerPubKey.slice(2));
      released.iv = manifest.encryption.iv;
    }
    keys.push(released);
  }
  return { jobId: message.jobId.toString(), datanetId: message.datanetId.toString(), version, keys };
}

/** Starts the custodian; resolves once it listens. `stop()` closes it. */
export async function startCustodian(opts: CustodianOptions): Promise<RunningCustodian> {
  const stateDir = opts.stateDir ?? ".tributary/custodian";
  const key = loadOrCreateCustodianKey({ privateKey: opts.privateKey, stateDir });
  // log scans resume from <stateDir>/log-scans (pages of the connection's logBlockRange, final blocks only)
  const scans: LogScanOptions = { store: fileLogStore(path.join(stateDir, "log-scans")) };
  const publicKey = bytesToHex(key.publicKey);
  const log = opts.log ?? (() => {});
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_CUSTODIAN_MAX_BODY_BYTES;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes <= 0)
    throw new RangeError(`maxBodyBytes must be a positive whole number of bytes, got ${maxBodyBytes}`);
  const host = opts.host ?? "127.0.0.1";
  const guard = createHttpGuard({ allowedOrigins: opts.allowedOrigins, listenHost: host });
  const server = createServer((req, res) => {
    if (!guard.admit(req, res)) return;
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (req.method === "GET" && (path === "/v1/info" || path === "/health")) {
      return send(res, 200, {
        publicKey,
        keyId: key.keyId,
        chainId: opts.conn.chainId,
        jobMarket: opts.conn.contracts.JobMarket.address,
      });
    }
    if (path !== "/v1/key-release")
      return send(res, 404, { error: "not_found", message: "POST /v1/key-release or GET /v1/info" });
    if (req.method !== "POST") return send(res, 405, { error: "method_not_allowed", message: "use POST" });
    (async () => {
      const { message, signature } = parseRelease(await readBody(req, maxBodyBytes));
      const out = await release(opts, key, message, signature, scans);
      log(
        `key-release job ${message.jobId} datanet ${message.datanetId} trainer ${message.trainer}: ${out.keys.length} keys`,
      );
      send(res, 200, out);
    })().catch((e: unknown) => {
      if (e instanceof Refusal) {
        log(`key-release refused ${e.status}: ${e.message}`);
        if (e.status === 413) closeAfterResponse(res);
        return send(res, e.status, { error: e.code, message: e.message });
      }
      const what = e instanceof Error ? `${e.name}: ${e.message.split("\n")[0]}` : String(e);
      if (isUnavailable(e)) {
        log(`key-release unavailable: ${what}`);
        res.setHeader("retry-after", "5");
        return send(res, 503, {
          error: "unavailable",
          message: "the custodian could not reach the chain or the content store; try again shortly",
        });
      }
      if (e instanceof ContentTamperedError || e instanceof UnsupportedContentError || e instanceof ContentStoreError) {
        log(`key-release bad upstream data: ${what}`);
        return send(res, 502, { error: "bad_upstream", message: `the content store served bad data: ${(e as Error).message}` });
      }
      // a bug here: say so (not "try again"), log what happened for the operator
      log(`key-release failed (internal error): ${what}`);
      send(res, 500, { error: "internal", message: "the custodian failed on this request; its log says why" });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? DEFAULT_CUSTODIAN_PORT, host, () => resolve());
  });
  const addr = server.address() as { port: number; address: string };
  const urlHost = addr.address.includes(":") ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${urlHost}:${addr.port}`,
    publicKey,
    keyId: key.keyId,
    keyCreated: key.created,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
