/**
 * Use pays, per request: the serving node's side of UsageEpochs.
 *
 * - `record` (called by the API once a paid request is settled) appends one record per paid request to
 *   `<dataDir>/usage/pending-<modelId>.jsonl`: the voucher reference (channel and the cumulative range
 *   `(from, to]` the request's cost occupies on it), its revenue, the keccak256 of the completions' token
 *   ids, and the citations with their contribution ids and contributors. Completions are not stored.
 * - `buildUsageEpoch` (pure) turns a model's records and what the chain shows (each channel's redeemed and
 *   already-accounted amounts) into an epoch: the records whose range is redeemed, the channel ranges, the
 *   cited revenue (revenue of requests that cited something), and the claims. Each cited request's
 *   contributors' share (`revenue * contributorsBps / 10_000`) is split between the contributions it cited,
 *   by cited tokens: a payer citing their own record is paid only out of their own request. The rest of the
 *   revenue (uncited requests, revenue no record covers) goes by training-time influence on chain.
 * - `commit` (periodically, after vouchers are redeemed) pins the epoch's report to IPFS, commits the roots
 *   on chain (with the provider bond), and moves the committed records to `<dataDir>/usage/epoch-<epochId>.json`.
 * - `recordsFor` reads them back for `GET /v1/usage/epochs/:id/records`: the verifiers drawn for a challenge of
 *   the epoch (a request signed by one of them) get them and recompute the epoch (jobs/usage-verify.ts).
 */
import { existsSync } from "node:fs";
import { appendFile, mkdir, readFile, readdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { encodeAbiParameters, getAddress, keccak256 } from "viem";
import type { Address, Hex } from "viem";
import { addJson, checkUsageRecordsAuth, commitUsageEpoch, contributorsBpsOf, getChannel, usageAccounted, usageClaimsTree, usageEpochsEnabled, usageRecordsRoot, USAGE_EPOCH_SCHEMA } from "@tributary/sdk/chain";
import type { ChainConnection, ProtocolContentStore, UsageEpochReport } from "@tributary/sdk/chain";

const BPS = 10_000n;

export interface UsageCitation {
  datanetId: string;
  contributionId: string;
  contributor: Address;
  tokens: number;
}

/** One paid request as the node keeps it. */
export interface UsageRecord {
  at: string;
  modelId: string;
  channelId: Hex;
  /** The request's cost occupies `(from, to]` of the channel's cumulative vouchers. */
  from: string;
  to: string;
  revenue: string;
  /** keccak256 of abi.encode(uint32[][] completions' token ids). */
  completionHash: Hex;
  citations: UsageCitation[];
}

/** What a paid request hands the recorder (api.ts). */
export interface PaidUse {
  modelId: string;
  channelId: Hex;
  cost: bigint;
  /** The channel's cumulative owed after this request. */
  owed: bigint;
  completions: number[][];
  citations: unknown[] | null;
}

export function completionHash(completions: number[][]): Hex {
  return keccak256(encodeAbiParameters([{ type: "uint32[][]" }], [completions]));
}

export function citationsHash(c: UsageCitation[]): Hex {
  return keccak256(encodeAbiParameters([{ type: "tuple[]", components: [{ type: "uint256" }, { type: "uint256" }, { type: "address" }, { type: "uint32" }] }], [c.map((x) => [BigInt(x.datanetId), BigInt(x.contributionId), x.contributor, x.tokens] as const)]));
}

/** A record's leaf values in the records tree (channel, from, to, completion hash, citations hash). */
export function recordLeaf(r: UsageRecord): [Hex, bigint, bigint, Hex, Hex] {
  return [r.channelId, BigInt(r.from), BigInt(r.to), r.completionHash, citationsHash(r.citations)];
}

/** The chain's view of a model's channels: redeemed (PaymentChannels) and accounted (UsageEpochs). */
export type ChannelChainState = Map<string, { redeemed: bigint; accounted: bigint }>;

export interface UsageEpochPlan {
  modelId: bigint;
  contributorsBps: number;
  /** Records in the epoch, and those left for a later one (not redeemed yet). */
  records: UsageRecord[];
  later: UsageRecord[];
  ranges: Array<{ channelId: Hex; fromCumulative: bigint; toCumulative: bigint }>;
  revenue: bigint;
  citedRevenue: bigint;
  claims: Array<{ account: Address; amount: bigint }>;
  contributions: UsageEpochReport["contributions"];
  recordsRoot: Hex;
  claimsRoot: Hex;
}

/**
 * Plans the epoch of one model from its pending records and the chain's view; null when nothing is due.
 * Records already accounted on chain are dropped; records not fully redeemed wait.
 */
export function buildUsageEpoch(modelId: bigint, pending: UsageRecord[], chain: ChannelChainState, contributorsBps: number): UsageEpochPlan | null {
  const records: UsageRecord[] = [];
  const later: UsageRecord[] = [];
  const ranges = new Map<string, { channelId: Hex; fromCumulative: bigint; toCumulative: bigint }>();
  for (const r of [...pending].sort((a, b) => (BigInt(a.to) < BigInt(b.to) ? -1 : BigInt(a.to) > BigInt(b.to) ? 1 : 0))) {
    const c = chain.get(r.channelId.toLowerCase());
    if (!c) continue;
    const to = BigInt(r.to);
    if (to <= c.accounted) continue; // accounted by an earlier epoch
    if (to > c.redeemed) {
      later.push(r);
      continue;
    }
    records.push(r);
    const k = r.channelId.toLowerCase();
    const range = ranges.get(k) ?? { channelId: r.channelId, fromCumulative: c.accounted, toCumulative: c.accounted };
    if (to > range.toCumulative) range.toCumulative = to;
    ranges.set(k, range);
  }
  if (records.length === 0) return null;
  let revenue = 0n;
  for (const g of ranges.values()) revenue += g.toCumulative - g.fromCumulative;
  let citedRevenue = 0n;
  const perAccount = new Map<string, bigint>();
  const perContribution = new Map<string, UsageEpochReport["contributions"][number] & { wei: bigint }>();
  for (const r of records) {
    const cited = r.citations.filter((c) => c.tokens > 0);
    if (cited.length === 0) continue;
    // only the part of the request the chain shows redeemed and not yet accounted
    const c = chain.get(r.channelId.toLowerCase())!;
    const from = BigInt(r.from) > c.accounted ? BigInt(r.from) : c.accounted;
    const rev = BigInt(r.to) - from;
    citedRevenue += rev;
    const share = (rev * BigInt(contributorsBps)) / BPS;
    const total = BigInt(cited.reduce((s, x) => s + x.tokens, 0));
    for (const x of cited) {
      const amount = (share * BigInt(x.tokens)) / total;
      const acct = getAddress(x.contributor);
      perAccount.set(acct, (perAccount.get(acct) ?? 0n) + amount);
      const key = `${x.datanetId}/${x.contributionId}`;
      const e = perContribution.get(key) ?? { datanetId: x.datanetId, contributionId: x.contributionId, contributor: acct, citations: 0, tokens: 0, amount: "0", wei: 0n };
      e.citations += 1;
      e.tokens += x.tokens;
      e.wei += amount;
      perContribution.set(key, e);
    }
  }
  const claims = [...perAccount].filter(([, a]) => a > 0n).map(([account, amount]) => ({ account: account as Address, amount }));
  return {
    modelId,
    contributorsBps,
    records,
    later,
    ranges: [...ranges.values()],
    revenue,
    citedRevenue: claims.length ? citedRevenue : 0n,
    claims,
    contributions: [...perContribution.values()].map(({ wei, ...e }) => ({ ...e, amount: wei.toString() })),
    recordsRoot: usageRecordsRoot(records.map(recordLeaf)),
    claimsRoot: claims.length ? usageClaimsTree(claims).root : (`0x${"0".repeat(64)}` as Hex),
  };
}

export interface UsageRecorderOptions {
  conn: ChainConnection;
  store: ProtocolContentStore;
  dataDir: string;
  /** Commit every this many ms (default 0: only on commit() and close()). Redeem vouchers first. */
  commitEveryMs?: number;
  /** Redeems vouchers before a commit (the node's Billing.redeemAll). */
  redeem?: () => Promise<void>;
  /**
   * Tests only: rewrites a plan before it is committed (a dishonest provider: claims that are not what its
   * records give). The records kept for verifiers stay the real ones.
   */
  tamper?: (plan: UsageEpochPlan) => UsageEpochPlan;
  log?: (line: string) => void;
}

export class UsageRecorder {
  private readonly o: UsageRecorderOptions;
  private readonly dir: string;
  private writes: Promise<void> = Promise.resolve();
  private committing: Promise<Array<{ epochId: bigint; modelId: bigint }>> | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(o: UsageRecorderOptions) {
    this.o = o;
    this.dir = join(o.dataDir, "usage");
    if (o.commitEveryMs) {
      this.timer = setInterval(() => void this.commit().catch((e: unknown) => this.log(`committing usage epochs: ${(e as Error).message} (will retry)`)), o.commitEveryMs);
      this.timer.unref();
    }
  }

  private log(line: string): void {
    this.o.log?.(line);
  }

  /** Records one paid request (only what the commitment needs: no prompt, no completion text). */
  record(u: PaidUse): Promise<void> {
    const citations: UsageCitation[] = (u.citations ?? []).map((x) => {
      const c = x as { datanet_id: string; contribution_id: string; contributor: string; tokens: number };
      return { datanetId: String(c.datanet_id), contributionId: String(c.contribution_id), contributor: getAddress(c.contributor), tokens: Number(c.tokens) };
    });
    const r: UsageRecord = { at: new Date().toISOString(), modelId: u.modelId, channelId: u.channelId.toLowerCase() as Hex, from: (u.owed - u.cost).toString(), to: u.owed.toString(), revenue: u.cost.toString(), completionHash: completionHash(u.completions), citations };
    if (u.cost === 0n) return Promise.resolve();
    this.writes = this.writes.then(async () => {
      await mkdir(this.dir, { recursive: true });
      await appendFile(join(this.dir, `pending-${u.modelId}.jsonl`), `${JSON.stringify(r)}\n`, { mode: 0o600 });
    });
    return this.writes;
  }

  async pending(modelId: string): Promise<UsageRecord[]> {
    await this.writes;
    const file = join(this.dir, `pending-${modelId}.jsonl`);
    if (!existsSync(file)) return [];
    return (await readFile(file, "utf8")).split("\n").filter(Boolean).map((l) => JSON.parse(l) as UsageRecord);
  }

  /** Plans a model's next epoch from the chain's current view (null: nothing due). */
  async plan(modelId: string): Promise<UsageEpochPlan | null> {
    const records = await this.pending(modelId);
    if (records.length === 0) return null;
    const conn = this.o.conn;
    const chain: ChannelChainState = new Map();
    for (const id of new Set(records.map((r) => r.channelId.toLowerCase()))) {
      const [ch, accounted] = await Promise.all([getChannel(conn, id as Hex), usageAccounted(conn, id as Hex)]);
      chain.set(id, { redeemed: ch.redeemed, accounted });
    }
    return buildUsageEpoch(BigInt(modelId), records, chain, await contributorsBpsOf(conn, BigInt(modelId)));
  }

  /** Commits one epoch per model with redeemed, unaccounted records (models with usage epochs enabled). */
  commit(): Promise<Array<{ epochId: bigint; modelId: bigint }>> {
    this.committing ??= (async () => {
      try {
        if (this.o.redeem) await this.o.redeem();
        const done: Array<{ epochId: bigint; modelId: bigint }> = [];
        if (!existsSync(this.dir)) return done;
        for (const f of await readdir(this.dir)) {
          const m = /^pending-(\d+)\.jsonl$/.exec(f);
          if (!m) continue;
          const modelId = m[1];
          if (!(await usageEpochsEnabled(this.o.conn, BigInt(modelId)))) continue; // revenue goes by influence anyway
          const real = await this.plan(modelId);
          if (!real) continue;
          const plan = this.o.tamper ? this.o.tamper(real) : real;
          const provider = this.o.conn.account!.address;
          const report: UsageEpochReport = {
            schema: USAGE_EPOCH_SCHEMA,
            modelId,
            provider,
            channels: plan.ranges.map((r) => ({ channelId: r.channelId, fromCumulative: r.fromCumulative.toString(), toCumulative: r.toCumulative.toString() })),
            revenue: plan.revenue.toString(),
            citedRevenue: plan.citedRevenue.toString(),
            requests: plan.records.length,
            recordsRoot: plan.recordsRoot,
            contributorsBps: plan.contributorsBps,
            claims: plan.claims.map((c) => ({ account: c.account, amount: c.amount.toString() })),
            contributions: plan.contributions,
            createdAt: new Date().toISOString(),
          };
          const reportCid = await addJson(this.o.store, report);
          const tx = await commitUsageEpoch(this.o.conn, { modelId: plan.modelId, ranges: plan.ranges.map((r) => ({ channelId: r.channelId, toCumulative: r.toCumulative })), citedRevenue: plan.citedRevenue, requests: plan.records.length, recordsRoot: plan.recordsRoot, claimsRoot: plan.claimsRoot, reportCid });
          // the committed records are kept for verifiers; the rest stay pending
          await writeFile(join(this.dir, `epoch-${tx.epochId}.json`), `${JSON.stringify({ epochId: tx.epochId.toString(), reportCid, records: plan.records }, null, 1)}\n`, { mode: 0o600 });
          const file = join(this.dir, `pending-${modelId}.jsonl`);
          await (this.writes = this.writes.then(async () => {
            const now = existsSync(file) ? (await readFile(file, "utf8")).split("\n").filter(Boolean) : [];
            const done = new Set(plan.records.map((r) => JSON.stringify(r)));
            await writeFile(`${file}.tmp`, now.filter((l) => !done.has(l)).map((l) => `${l}\n`).join(""), { mode: 0o600 });
            await rename(`${file}.tmp`, file);
          }));
          this.log(`usage epoch ${tx.epochId} of model ${modelId}: ${plan.records.length} requests, revenue ${tx.revenue}, cited ${plan.citedRevenue}`);
          done.push({ epochId: tx.epochId, modelId: plan.modelId });
        }
        return done;
      } finally {
        this.committing = null;
      }
    })();
    return this.committing;
  }

  /**
   * What `GET /v1/usage/epochs/:id/records` answers: the epoch's records, to a verifier drawn for a challenge of it
   * (a fresh signature by an address on the current committee); otherwise why not.
   */
  async recordsFor(epochId: bigint, auth: { verifier?: string; at?: string; signature?: string }): Promise<{ ok: true; verifier: Address; records: UsageRecord[] } | { ok: false; status: 401 | 403 | 404; reason: string }> {
    const check = await checkUsageRecordsAuth(this.o.conn, epochId, auth);
    if (!check.ok) return { ok: false, status: auth.signature ? 403 : 401, reason: check.reason };
    const file = join(this.dir, `epoch-${epochId}.json`);
    if (!existsSync(file)) return { ok: false, status: 404, reason: `this node keeps no records of epoch ${epochId}` };
    const { records } = JSON.parse(await readFile(file, "utf8")) as { records: UsageRecord[] };
    this.log(`usage epoch ${epochId}: served its ${records.length} records to drawn verifier ${check.verifier}`);
    return { ok: true, verifier: check.verifier, records };
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.commit().catch((e: unknown) => this.log(`committing usage epochs at shutdown: ${(e as Error).message}; the records stay in ${this.dir}`));
    await this.writes;
  }
}
