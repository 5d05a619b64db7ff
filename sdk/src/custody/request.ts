// The key-release request a trainer signs (EIP-712), and the client that sends it.
import { hashTypedData, recoverTypedDataAddress } from "viem";
import type { Account, Address, Hex, TypedDataDomain } from "viem";
import { z } from "zod";
import { WrappedKey } from "../schemas/index.ts";

export const KEY_RELEASE_TYPES = {
  KeyRelease: [
    { name: "trainer", type: "address" },
    { name: "jobId", type: "uint256" },
    { name: "datanetId", type: "uint256" },
    { name: "contributionIds", type: "uint256[]" },
    { name: "trainerPubKey", type: "bytes" },
    { name: "expiry", type: "uint64" },
  ],
} as const;

export interface KeyRelease {
  trainer: Address;
  jobId: bigint;
  datanetId: bigint;
  contributionIds: bigint[];
  /** Compressed secp256k1 public key the data keys are wrapped for. */
  trainerPubKey: Hex;
  /** Unix seconds after which the request is void. */
  expiry: bigint;
}

/** The domain binds a request to one chain and one JobMarket. */
export function keyReleaseDomain(chainId: number, jobMarket: Address): TypedDataDomain {
  return { name: "Tributary Custodian", version: "1", chainId, verifyingContract: jobMarket };
}

export async function signKeyRelease(
  account: Account,
  domain: TypedDataDomain,
  message: KeyRelease,
): Promise<Hex> {
  // a trainer signs with its own key (a node process); a JSON-RPC account has no signer here
  if (account.type !== "local" || !account.signTypedData)
    throw new TypeError("signing a key release needs a local account (the trainer's key), not a JSON-RPC account");
  return account.signTypedData({ domain, types: KEY_RELEASE_TYPES, primaryType: "KeyRelease", message });
}

export async function recoverKeyReleaseSigner(
  domain: TypedDataDomain,
  message: KeyRelease,
  signature: Hex,
): Promise<Address> {
  return recoverTypedDataAddress({
    domain,
    types: KEY_RELEASE_TYPES,
    primaryType: "KeyRelease",
    message,
    signature,
  });
}

export function keyReleaseHash(domain: TypedDataDomain, message: KeyRelease): Hex {
  return hashTypedData({ domain, types: KEY_RELEASE_TYPES, primaryType: "KeyRelease", message });
}

/** The wire form: uint256s as decimal strings. */
export function keyReleaseToJson(m: KeyRelease) {
  return {
    trainer: m.trainer,
    jobId: m.jobId.toString(),
    datanetId: m.datanetId.toString(),
    contributionIds: m.contributionIds.map(String),
    trainerPubKey: m.trainerPubKey,
    expiry: m.expiry.toString(),
  };
}

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "must be a 32-byte 0x hash") as unknown as z.ZodType<Hex>;
const ReleasedKey = z.object({
  contributionId: z.string().regex(/^\d+$/),
  /** Contribution manifest CID (as registered on chain). */
  cid: z.string().min(1),
  contentCid: z.string().min(1),
  contentHash: hex32,
  /** The data key wrapped for `trainerPubKey`; absent for plaintext contributions. */
  wrappedKey: WrappedKey.optional(),
  iv: z.string().optional(),
});
/** The custodian's answer, validated before a trainer uses it. */
export const KeyReleaseResponse = z.object({
  jobId: z.string().regex(/^\d+$/),
  datanetId: z.string().regex(/^\d+$/),
  version: z.number().int().nonnegative(),
  keys: z.array(ReleasedKey),
});
export type ReleasedKey = z.infer<typeof ReleasedKey>;
export type KeyReleaseResponse = z.infer<typeof KeyReleaseResponse>;

/** The custodian said no (4xx), or could not answer (5xx: `retryAfterS` says when to try again, if it knows). */
export class KeyReleaseDeniedError extends Error {
  readonly status: number;
  readonly code: string;
  readonly retryAfterS?: number;
  constructor(status: number, code: string, message: string, retryAfterS?: number) {
    super(
      status >= 500
        ? `The custodian could not answer the key release (${status} ${code}): ${message}`
        : `The custodian refused the key release (${status} ${code}): ${message}`,
    );
    this.name = "KeyReleaseDeniedError";
    this.status = status;
    this.code = code;
    this.retryAfterS = retryAfterS;
  }
}

/** Signs a key-release request as `account` and sends it to the custodian at `url`. */
export async function requestDataKeys(opts: {
  url: string;
  account: Account;
  chainId: number;
  jobMarket: Address;
  jobId: bigint;
  datanetId: bigint;
  contributionIds: bigint[];
  trainerPubKey: Hex;
  /** Seconds the request stays valid (default 300). */
  ttl?: number;
}): Promise<KeyReleaseResponse> {
  const message: KeyRelease = {
    trainer: opts.account.address,
    jobId: opts.jobId,
    datanetId: opts.datanetId,
    contributionIds: opts.contributionIds,
    trainerPubKey: opts.trainerPubKey,
    expiry: BigInt(Math.floor(Date.now() / 1000) + (opts.ttl ?? 300)),
  };
  const signature = await signKeyRelease(
    opts.account,
    keyReleaseDomain(opts.chainId, opts.jobMarket),
    message,
  );
  return postKeyRelease(opts.url, message, signature);
}

/** Sends an already signed request. */
export async function postKeyRelease(
  url: string,
  message: KeyRelease,
  signature: Hex,
): Promise<KeyReleaseResponse> {
  const res = await fetch(new URL("/v1/key-release", url), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ request: keyReleaseToJson(message), signature }),
  });
  const body = (await res.json().catch(() => ({}))) as { error?: string; message?: string };
  if (!res.ok) {
    const retry = Number(res.headers.get("retry-after"));
    throw new KeyReleaseDeniedError(
      res.status,
      body.error ?? "error",
      body.message ?? res.statusText,
      Number.isFinite(retry) && retry > 0 ? retry : undefined,
    );
  }
  const parsed = KeyReleaseResponse.safeParse(body);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new KeyReleaseDeniedError(502, "bad_response", `the custodian's answer is malformed at ${i.path.join(".") || "(root)"}: ${i.message}`);
  }
  if (parsed.data.jobId !== message.jobId.toString() || parsed.data.datanetId !== message.datanetId.toString())
    throw new KeyReleaseDeniedError(502, "bad_response", `the custodian answered for job ${parsed.data.jobId} Datanet ${parsed.data.datanetId}, not the one asked`);
  return parsed.data;
}
