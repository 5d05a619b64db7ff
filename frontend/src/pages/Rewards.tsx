// Contributors' attribution rewards: for each model trained on their data, their share (from the model's
// attribution report on IPFS, checked against the on-chain root), what they may claim now, and a claim.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import {
  catJson,
  claimAll,
  claimPoolReward,
  claimReward,
  contributorOverview,
  rewardPosition,
} from "@tributary/sdk/chain/browser";
import type { RewardPosition } from "@tributary/sdk/chain/browser";
import { EarningsChart } from "../components/EarningsChart.tsx";
import { earningsSeries } from "../lib/earnings.ts";
import type { Address } from "viem";
import { useWallet } from "../wallet.tsx";
import { ConnectFirst } from "../components/Layout.tsx";
import { TxStatus } from "../components/TxStatus.tsx";
import { Empty, ErrorBox, Loading } from "../components/states.tsx";
import { formatOpen } from "../lib/format.ts";
import { ClaimsQuery, gql, ModelsQuery, PoolDistributionsQuery } from "../lib/subgraph.ts";
import type { ModelRow } from "../lib/subgraph.ts";
import { useProtocol, useTx } from "../protocol.tsx";
import { Link } from "../router.tsx";

interface Row {
  model: ModelRow;
  position?: RewardPosition;
  error?: string;
}

export function RewardsPage() {
  const { config, conn, store } = useProtocol();
  const { address } = useWallet();
  const rows = useQuery({
    queryKey: ["rewards", address],
    enabled: Boolean(address),
    queryFn: async (): Promise<Row[]> => {
      // Only models with an attribution report can pay contributors.
      const { modelVersions } = await gql(config.proxied.subgraph, ModelsQuery, {
        first: 200,
        where: { reportCID_not: "" },
      });
      return Promise.all(
        modelVersions.map(async (model) => {
          try {
            return {
              model,
              position: await rewardPosition(conn, store, BigInt(model.tokenId), address as Address),
            };
          } catch (e) {
            return { model, error: e instanceof Error ? e.message : String(e) };
          }
        }),
      );
    },
  });
  if (!address) return <ConnectFirst what="see your rewards" />;
  if (rows.isPending) return <Loading what="your rewards" />;
  if (rows.isError) return <ErrorBox error={rows.error} retry={() => void rows.refetch()} />;
  const mine = rows.data.filter((r) => r.position && r.position.weight > 0n);
  const unreadable = rows.data.filter((r) => r.error);
  return (
    <section>
      <h1>Rewards</h1>
      <p className="lead">
        When a model trained on your contributions earns revenue, part of it is yours, in proportion to how
        much your data influenced the model (its attribution).
      </p>
      {mine.length === 0 ? (
        <Empty>
          <p>No model has been trained on your contributions yet.</p>
        </Empty>
      ) : (
        <div className="table-wrap">
          <table className="list" data-testid="rewards">
            <caption>Your influence on each model trained on your data, and its revenue owed to you</caption>
            <thead>
              <tr>
                <th scope="col">Model</th>
                <th scope="col">Your share (influence)</th>
                <th scope="col">Claimed</th>
                <th scope="col">Claimable now</th>
                <th scope="col">
                  <span className="visually-hidden">Action</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {mine.map((r) => (
                <RewardRow key={r.model.tokenId} row={r} onClaimed={() => void rows.refetch()} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {unreadable.length > 0 && (
        <p className="muted">
          {unreadable.length} model(s) could not be checked: {unreadable[0].error}
        </p>
      )}
      <ContributionsOverview onClaimed={() => void rows.refetch()} />
      <PoolRewards />
    </section>
  );
}

function RewardRow({ row, onClaimed }: { row: Row; onClaimed: () => void }) {
  const { store } = useProtocol();
  const tx = useTx();
  const qc = useQueryClient();
  const p = row.position!;
  const share = p.totalWeight > 0n ? Number((p.weight * 10_000n) / p.totalWeight) / 100 : 0;
  return (
    <tr data-testid={`reward-model-${row.model.tokenId}`}>
      <td>
        <code>model-{row.model.tokenId}</code> <span className="muted">({row.model.baseModel.name})</span>
      </td>
      <td>{share}%</td>
      <td>{formatOpen(p.claimed)}</td>
      <td data-testid="claimable">{formatOpen(p.claimable)}</td>
      <td>
        <button
          type="button"
          disabled={p.claimable === 0n || tx.state.phase === "running"}
          onClick={() =>
            void tx
              .run(
                "Claiming…",
                (s) => claimReward(s, store, p.modelId),
                (r) => `Claimed ${formatOpen(r.amount)}.`,
              )
              .then(() => {
                onClaimed();
                void qc.invalidateQueries({ queryKey: ["open-balance"] });
              })
          }
        >
          Claim
        </button>
        <TxStatus state={tx.state} />
      </td>
    </tr>
  );
}

interface PoolRow {
  id: string;
  datanetId: string;
  amount: bigint;
  share: bigint;
  weight: bigint;
  totalWeight: bigint;
  claimed: boolean;
}

/**
 * Datanet reward pools: a Datanet's owner freezes its pool into a distribution (weights per contributor,
 * pinned to IPFS); each contributor claims their share with a proof from that report.
 */
function PoolRewards() {
  const { config, conn, store } = useProtocol();
  const { address } = useWallet();
  const rows = useQuery({
    queryKey: ["pool-rewards", address],
    enabled: Boolean(address),
    queryFn: async (): Promise<PoolRow[]> => {
      const { poolDistributions } = await gql(config.proxied.subgraph, PoolDistributionsQuery, {});
      const rd = conn.contracts.RewardDistributor;
      const out = await Promise.all(
        poolDistributions.map(async (d) => {
          const report = (await catJson(store, d.reportCID, "pool distribution report")) as {
            contributors?: Array<{ account: string; weight: string }>;
          };
          const mine = report.contributors?.find((c) => c.account.toLowerCase() === address!.toLowerCase());
          if (!mine) return undefined;
          const weight = BigInt(mine.weight);
          const totalWeight = BigInt(d.totalWeight);
          const claimed = await conn.publicClient.readContract({
            address: rd.address,
            abi: rd.abi,
            functionName: "isPoolRewardClaimed",
            args: [BigInt(d.id), address as Address],
          });
          const amount = BigInt(d.amount);
          return {
            id: d.id,
            datanetId: d.datanet.datanetId,
            amount,
            weight,
            totalWeight,
            share: totalWeight > 0n ? (amount * weight) / totalWeight : 0n,
            claimed,
          };
        }),
      );
      return out.filter((r): r is PoolRow => r !== undefined);
    },
  });
  if (!address) return null;
  return (
    <>
      <h2>Datanet pool distributions</h2>
      <p className="muted">
        Paid Datanets collect fees into a pool; its owner distributes it to the contributors by their data's
        weight.
      </p>
      {rows.isPending && <Loading what="pool distributions" />}
      {rows.isError && <ErrorBox error={rows.error} retry={() => void rows.refetch()} />}
      {rows.data &&
        (rows.data.length === 0 ? (
          <Empty>
            <p>No pool distribution includes you yet.</p>
          </Empty>
        ) : (
          <div className="table-wrap">
            <table className="list" data-testid="pool-rewards">
              <caption>Distributions that include you</caption>
              <thead>
                <tr>
                  <th scope="col">Distribution</th>
                  <th scope="col">Datanet</th>
                  <th scope="col">Your share</th>
                  <th scope="col">
                    <span className="visually-hidden">Action</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.data.map((r) => (
                  <PoolRewardRow key={r.id} row={r} onClaimed={() => void rows.refetch()} />
                ))}
              </tbody>
            </table>
          </div>
        ))}
    </>
  );
}

function PoolRewardRow({ row: r, onClaimed }: { row: PoolRow; onClaimed: () => void }) {
  const { store } = useProtocol();
  const tx = useTx();
  return (
    <tr data-testid={`pool-distribution-${r.id}`}>
      <td>#{r.id}</td>
      <td>
        <Link to={`/datanets/${r.datanetId}`}>Datanet #{r.datanetId}</Link>
      </td>
      <td>
        {formatOpen(r.share)} of {formatOpen(r.amount)}
      </td>
      <td>
        {r.claimed ? (
          "claimed"
        ) : (
          <button
            type="button"
            disabled={tx.state.phase === "running"}
            onClick={() =>
              void tx
                .run(
                  "Claiming your pool share…",
                  (s) => claimPoolReward(s, store, BigInt(r.id)),
                  (x) => `Claimed ${formatOpen(x.amount)}.`,
                )
                .then(onClaimed)
            }
          >
            Claim
          </button>
        )}
        <TxStatus state={tx.state} />
      </td>
    </tr>
  );
}

/**
 * Everything attribution says about the wallet's contributions: influence in each model, citations in paid
 * answers and what use earned them (usage epochs), earnings over time, and one claim for all of it.
 */
function ContributionsOverview({ onClaimed }: { onClaimed: () => void }) {
  const { config, conn, store } = useProtocol();
  const { address } = useWallet();
  const tx = useTx();
  const qc = useQueryClient();
  const overview = useQuery({
    queryKey: ["contributor-overview", address],
    enabled: Boolean(address),
    queryFn: () => contributorOverview(conn, store, address as Address),
  });
  const claims = useQuery({
    queryKey: ["claims", address],
    enabled: Boolean(address),
    // a claim shows up once the subgraph has indexed its block
    refetchInterval: 10_000,
    queryFn: () => gql(config.proxied.subgraph, ClaimsQuery, { account: (address as string).toLowerCase() }),
  });
  if (overview.isPending) return <Loading what="your contributions' influence and citations" />;
  if (overview.isError) return <ErrorBox error={overview.error} retry={() => void overview.refetch()} />;
  const o = overview.data;
  const claimable = o.usageClaimable + o.influenceClaimable;
  const series = earningsSeries(
    [...(claims.data?.rewardClaimeds ?? []), ...(claims.data?.usageClaimeds ?? [])].map((c) => ({
      timestamp: Number(c.timestamp),
      amount: BigInt(c.amount),
    })),
    o.epochs.map((ep) => ({ timestamp: ep.committedAt, amount: ep.amount })),
  );
  return (
    <>
      <h2>Your contributions</h2>
      <p className="muted">
        Influence is measured when a model is trained on your data; citations are counted in each paid answer,
        and the contributors&apos; part of that answer&apos;s price goes to the contributions it cited.
      </p>
      {o.contributions.length === 0 ? (
        <Empty>
          <p>None of your contributions is in a trained model yet.</p>
        </Empty>
      ) : (
        <div className="table-wrap">
          <table className="list" data-testid="contributions-overview">
            <caption>Influence of each contribution in each model, and its citations in paid answers</caption>
            <thead>
              <tr>
                <th scope="col">Contribution</th>
                <th scope="col">Influence by model</th>
                <th scope="col">Cited</th>
                <th scope="col">Earned from use</th>
              </tr>
            </thead>
            <tbody>
              {o.contributions.map((c) => (
                <tr
                  key={`${c.datanetId}/${c.contributionId}`}
                  data-testid={`contribution-${c.datanetId}-${c.contributionId}`}
                >
                  <td>
                    <Link to={`#/datanets/${c.datanetId}`}>Datanet {c.datanetId}</Link>, #{c.contributionId}
                  </td>
                  <td>
                    {c.models.map((m) => (
                      <span
                        key={String(m.modelId)}
                        className="badge"
                        data-testid={`influence-model-${m.modelId}`}
                      >
                        model-{String(m.modelId)}:{" "}
                        {m.duplicateOf
                          ? `duplicate of ${m.duplicateOf}, no credit`
                          : m.influence.toPrecision(3)}
                      </span>
                    ))}
                  </td>
                  <td>
                    {c.citations} {c.citations === 1 ? "time" : "times"} ({c.citedTokens} tokens)
                  </td>
                  <td>{formatOpen(c.usageEarned)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>Earnings over time</h2>
      {series.claimed.length + series.earnedFromUse.length === 0 ? (
        <p className="muted" data-testid="earnings-empty">
          Nothing earned or claimed yet.
        </p>
      ) : (
        <EarningsChart series={series} />
      )}
      <p data-testid="claim-all">
        Claimable now: <strong>{formatOpen(claimable)}</strong> ({formatOpen(o.influenceClaimable)} from model
        rewards, {formatOpen(o.usageClaimable)} from usage epochs){" "}
        <button
          type="button"
          disabled={claimable === 0n || tx.state.phase === "running"}
          onClick={() =>
            void tx
              .run(
                "Claiming everything due…",
                (s) => claimAll(s, store),
                (r) => `Claimed ${formatOpen((r.usage?.amount ?? 0n) + (r.influence?.amount ?? 0n))}.`,
              )
              .then(() => {
                onClaimed();
                void overview.refetch();
                void qc.invalidateQueries({ queryKey: ["claims"] });
                void qc.invalidateQueries({ queryKey: ["open-balance"] });
              })
          }
        >
          Claim all
        </button>
        <TxStatus state={tx.state} />
      </p>
    </>
  );
}
