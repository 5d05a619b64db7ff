// Contributors' attribution rewards: for each model trained on their data, their share (from the model's
// attribution report on IPFS, checked against the on-chain root), what they may claim now, and a claim.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { catJson, claimPoolReward, claimReward, rewardPosition } from "@tributary/sdk/chain/browser";
import type { RewardPosition } from "@tributary/sdk/chain/browser";
import type { Address } from "viem";
import { useWallet } from "../wallet.tsx";
import { ConnectFirst } from "../components/Layout.tsx";
import { TxStatus } from "../components/TxStatus.tsx";
import { Empty, ErrorBox, Loading } from "../components/states.tsx";
import { formatOpen } from "../lib/format.ts";
import { gql, ModelsQuery, PoolDistributionsQuery } from "../lib/subgraph.ts";
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
