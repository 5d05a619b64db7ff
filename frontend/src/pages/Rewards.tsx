// Contributors' attribution rewards: for each model trained on their data, their share (from the model's
// attribution report on IPFS, checked against the on-chain root), what they may claim now, and a claim.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { claimReward, rewardPosition } from "@tributary/sdk/chain/browser";
import type { RewardPosition } from "@tributary/sdk/chain/browser";
import type { Address } from "viem";
import { useWallet } from "../wallet.tsx";
import { ConnectFirst } from "../components/Layout.tsx";
import { TxStatus } from "../components/TxStatus.tsx";
import { Empty, ErrorBox, Loading } from "../components/states.tsx";
import { formatOpen } from "../lib/format.ts";
import { gql, ModelsQuery } from "../lib/subgraph.ts";
import type { ModelRow } from "../lib/subgraph.ts";
import { useProtocol, useTx } from "../protocol.tsx";

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
        <table className="list" data-testid="rewards">
          <thead>
            <tr>
              <th>Model</th>
              <th>Your share</th>
              <th>Claimed</th>
              <th>Claimable now</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {mine.map((r) => (
              <RewardRow key={r.model.tokenId} row={r} onClaimed={() => void rows.refetch()} />
            ))}
          </tbody>
        </table>
      )}
      {unreadable.length > 0 && (
        <p className="muted">
          {unreadable.length} model(s) could not be checked: {unreadable[0].error}
        </p>
      )}
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
