// The embedded IPFS node: Helia with no networking (no libp2p, routers or block brokers), blocks and
// pins on disk, serving the Kubo RPC subset, a trustless gateway and a Pinning Service API on loopback.
// The API port refuses web pages from origins not on `allowedOrigins` (as Kubo's API.HTTPHeaders do), caps
// request bodies, and its Pinning Service API needs a token unless the node listens on loopback only.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { unixfs } from "@helia/unixfs";
import type { UnixFS } from "@helia/unixfs";
import { generateKeyPairFromSeed, publicKeyToProtobuf } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { FsBlockstore } from "blockstore-fs";
import { FsDatastore } from "datastore-fs";
import { createHeliaLight } from "helia";
import type { Helia } from "helia";
import { createHttpGuard, DEFAULT_MAX_BODY_BYTES, isLoopback } from "../http/guard.ts";
import { handleGateway } from "./gateway.ts";
import { handlePinningService } from "./pinning-service.ts";
import { handleRpc } from "./rpc.ts";
import type { NodeIdentity } from "./rpc.ts";

export const NODE_VERSION = "0.1.0";
export const DEFAULT_REPO = ".tributary/ipfs";
export const PINNING_SERVICE_PATH = "/psa";
/** Default cap on one `add` request (all its files): 4 GiB. */
export const DEFAULT_MAX_ADD_BYTES = 4 * 1024 ** 3;

export interface IpfsNodeOptions {
  /** Repository directory (blocks, datastore, identity); default `.tributary/ipfs`. */
  repo?: string;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** RPC API port; default 5001, 0 picks a free one. */
  apiPort?: number;
  /** Gateway port; default 8080, 0 picks a free one. */
  gatewayPort?: number;
  /**
   * Bearer token for the Pinning Service API. Required when `host` is not a loopback address; on loopback,
   * unset leaves it open to local processes (web pages are still refused by origin).
   */
  pinningToken?: string;
  /**
   * Web origins (scheme://host:port) whose pages may call the RPC and Pinning Service APIs, e.g. the web
   * app's `http://127.0.0.1:5173`. Default none: requests with any other Origin/Referer get 403.
   */
  allowedOrigins?: readonly string[];
  /** Cap on one `add` request's body in bytes (default 4 GiB); more is answered 413. */
  maxAddBytes?: number;
  /** Cap on a Pinning Service API request's JSON body (default 1 MiB). */
  maxBodyBytes?: number;
}

/** The node was asked to listen beyond loopback with an open Pinning Service API. */
export class PinningTokenRequiredError extends Error {
  constructor(host: string) {
    super(
      `the IPFS node would listen on ${host}, beyond loopback, with no Pinning Service API token: anyone who can ` +
        "reach it could pin and unpin. Set pinningToken (tributary-ipfs --pinning-token, or TRIBUTARY_IPFS_PINNING_TOKEN), " +
        "or listen on 127.0.0.1.",
    );
    this.name = "PinningTokenRequiredError";
  }
}

function positiveBytes(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive whole number of bytes, got ${v}`);
  return v;
}

export interface IpfsNode {
  /** e.g. http://127.0.0.1:5001 (kubo-rpc-client's `url`). */
  apiUrl: string;
  /** e.g. http://127.0.0.1:8080 (`/ipfs/<cid>`). */
  gatewayUrl: string;
  /** Pinning Service API endpoint (requests go to `${pinningServiceUrl}/pins`). */
  pinningServiceUrl: string;
  peerId: string;
  repo: string;
  helia: Helia;
  stop(): Promise<void>;
}

/** Another process holds the repository. */
export class RepoLockedError extends Error {
  constructor(repo: string, pid: number) {
    super(`IPFS repository ${repo} is in use by process ${pid}. Stop that node first, or use another --repo.`);
    this.name = "RepoLockedError";
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function lockRepo(repo: string): () => void {
  const lock = path.join(repo, "repo.lock");
  if (existsSync(lock)) {
    const pid = Number(readFileSync(lock, "utf8").trim());
    if (Number.isInteger(pid) && pid !== process.pid && alive(pid)) throw new RepoLockedError(repo, pid);
    if (pid === process.pid) throw new RepoLockedError(repo, pid);
  }
  writeFileSync(lock, String(process.pid));
  return () => rmSync(lock, { force: true });
}

async function loadIdentity(repo: string): Promise<NodeIdentity> {
  const file = path.join(repo, "identity.seed");
  let seed: Uint8Array;
  if (existsSync(file)) seed = new Uint8Array(readFileSync(file));
  else {
    seed = crypto.getRandomValues(new Uint8Array(32));
    writeFileSync(file, seed, { mode: 0o600 });
  }
  const key = await generateKeyPairFromSeed("Ed25519", seed);
  return {
    id: peerIdFromPrivateKey(key).toString(),
    publicKey: Buffer.from(publicKeyToProtobuf(key.publicKey)).toString("base64"),
    agentVersion: `tributary-ipfs/${NODE_VERSION} (helia, offline)`,
  };
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      reject(e.code === "EADDRINUSE" ? new Error(`Port ${port} on ${host} is already in use. Stop what uses it or choose another port.`) : e);
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Creates the offline Helia node over a filesystem repo (no libp2p, no routers, no block brokers). */
export async function createOfflineHelia(repo: string): Promise<{ helia: Helia; fs: UnixFS }> {
  const blockstore = new FsBlockstore(path.join(repo, "blocks"));
  const datastore = new FsDatastore(path.join(repo, "datastore"));
  await blockstore.open();
  await datastore.open();
  const helia = createHeliaLight({ blockstore, datastore, blockBrokers: [], routers: [] });
  await helia.start();
  return { helia, fs: unixfs(helia) };
}

/** Starts the embedded node; pins and blocks persist in `repo` across restarts. */
export async function startIpfsNode(opts: IpfsNodeOptions = {}): Promise<IpfsNode> {
  const repo = path.resolve(opts.repo ?? DEFAULT_REPO);
  const host = opts.host ?? "127.0.0.1";
  if (!isLoopback(host) && !opts.pinningToken) throw new PinningTokenRequiredError(host);
  const maxAddBytes = positiveBytes("maxAddBytes", opts.maxAddBytes, DEFAULT_MAX_ADD_BYTES);
  const maxBodyBytes = positiveBytes("maxBodyBytes", opts.maxBodyBytes, DEFAULT_MAX_BODY_BYTES);
  const guard = createHttpGuard({
    allowedOrigins: opts.allowedOrigins,
    listenHost: host,
    methods: ["GET", "POST", "DELETE"],
  });
  mkdirSync(repo, { recursive: true });
  const unlock = lockRepo(repo);
  let helia: Helia | undefined;
  const servers: Server[] = [];
  try {
    const identity = await loadIdentity(repo);
    const created = await createOfflineHelia(repo);
    helia = created.helia;
    const ctx = { helia, fs: created.fs, identity, version: NODE_VERSION, maxAddBytes };
    const psa = { helia, accessToken: opts.pinningToken, delegates: [`/ip4/127.0.0.1/tcp/0/p2p/${identity.id}`], maxBodyBytes };

    const api = createServer((req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? "/", "http://api");
      const refuse = (status: number, message: string) => {
        const text = url.pathname.startsWith(PINNING_SERVICE_PATH)
          ? JSON.stringify({ error: { reason: "FORBIDDEN", details: message } })
          : JSON.stringify({ Message: message, Code: 0, Type: "error" }); // Kubo's error shape
        res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), connection: "close" });
        res.end(text);
      };
      if (!guard.admit(req, res, refuse)) return;
      if (url.pathname.startsWith("/api/v0/")) void handleRpc(ctx, req, res, url);
      else if (url.pathname.startsWith(`${PINNING_SERVICE_PATH}/`)) void handlePinningService(psa, req, res, url, PINNING_SERVICE_PATH);
      else {
        res.writeHead(404, { "content-type": "text/plain" });
        res.end("not found: this is the IPFS RPC API (/api/v0/...) and Pinning Service API (/psa/pins)\n");
      }
    });
    const gateway = createServer((req, res) => void handleGateway(ctx, req, res));
    servers.push(api, gateway);
    for (const s of servers) {
      // Outlive clients' idle keep-alive (undici: 4 s) so a reused connection is never closed under a request.
      s.keepAliveTimeout = 65_000;
      s.headersTimeout = 66_000;
    }
    const apiPort = await listen(api, host, opts.apiPort ?? 5001);
    const gatewayPort = await listen(gateway, host, opts.gatewayPort ?? 8080);
    const urlHost = host.includes(":") ? `[${host}]` : host;
    let stopped = false;
    const node: IpfsNode = {
      apiUrl: `http://${urlHost}:${apiPort}`,
      gatewayUrl: `http://${urlHost}:${gatewayPort}`,
      pinningServiceUrl: `http://${urlHost}:${apiPort}${PINNING_SERVICE_PATH}`,
      peerId: identity.id,
      repo,
      helia,
      async stop() {
        if (stopped) return;
        stopped = true;
        await Promise.all(servers.map(close));
        await created.helia.stop();
        unlock();
      },
    };
    return node;
  } catch (e) {
    await Promise.all(servers.filter((s) => s.listening).map(close));
    await helia?.stop();
    unlock();
    throw e;
  }
}
