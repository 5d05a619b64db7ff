// Trainer operators: this deployment's trainer node (its jobs and the stage each is in), and the connected
// account as a trainer on chain: stake, unstake (a cooldown, then withdraw), earnings, slashes and jobs.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { requestUnstake, stake, withdrawStake } from "@tributary/sdk/chain/browser";
import type { JobRecord } from "@tributary/trainer-node/types";
import { useState } from "react";
import { Field } from "../components/Field.tsx";
import { ConnectFirst } from "../components/Layout.tsx";
import { TxStatus } from "../components/TxStatus.tsx";
import { Empty, ErrorBox, Loading } from "../components/states.tsx";
import { useOpenBalance } from "../hooks.ts";
import { parseOpen } from "../lib/amount.ts";
import { formatOpen, formatTime, shortAddress } from "../lib/format.ts";
import { gql, TrainerQuery } from "../lib/subgraph.ts";
import { useProtocol, useTx } from "../protocol.tsx";
import { Link } from "../router.tsx";
import { useWallet } from "../wallet.tsx";

const STAGE_TEXT: Record<string, string> = {
  seen: "seen (open job)",
  claimed: "claimed",
  fetching: "fetching the data",
  training: "training",
  attributing: "measuring attribution",
  pinning: "pinning the result",
  submitted: "submitted",
  finalized: "finalized (paid)",
  failed: "failed",
  skipped: "skipped",
};

export function TrainerPage() {
  return (
    <section>
      <h1>Trainers</h1>
      <p className="lead">
        Trainer nodes stake OPEN, take fine-tuning jobs, and are paid from each job's budget when its result
        is final. A missed deadline or a result a verifier committee rejects is slashed from the stake.
      </p>
      <NodeJobs />
      <MyTrainer />
    </section>
  );
}

/** The deployment's own trainer node (the stack's), read from its API. */
function NodeJobs() {
  const { config } = useProtocol();
  const jobs = useQuery({
    queryKey: ["node-jobs"],
    refetchInterval: 5000,
    queryFn: async () => {
      let res: Response;
      try {
        res = await fetch(`${config.proxied.trainer}/jobs`);
      } catch {
        throw new Error("The trainer node does not answer. Is it running (npm start starts one)?");
      }
      if (!res.ok) throw new Error(`The trainer node answered ${res.status}.`);
      return ((await res.json()) as { data: JobRecord[] }).data;
    },
  });
  return (
    <>
      <h2>This deployment's trainer node</h2>
      <p className="muted">
        At <code>{config.trainerApiUrl}</code>
      </p>
      {jobs.isPending && <Loading what="the node's jobs" />}
      {jobs.isError && <ErrorBox error={jobs.error} retry={() => void jobs.refetch()} />}
      {jobs.data &&
        (jobs.data.length === 0 ? (
          <Empty>
            <p>The node has not seen a job yet.</p>
          </Empty>
        ) : (
          <div className="table-wrap">
            <table data-testid="node-jobs">
              <caption>Jobs the node has seen, with the stage each is in now</caption>
              <thead>
                <tr>
                  <th scope="col">Job</th>
                  <th scope="col">Stage</th>
                  <th scope="col">Base model</th>
                  <th scope="col">Data</th>
                  <th scope="col">Paid</th>
                  <th scope="col">Updated</th>
                </tr>
              </thead>
              <tbody>
                {jobs.data
                  .slice()
                  .reverse()
                  .map((j) => (
                    <tr key={j.jobId} data-testid={`node-job-${j.jobId}`}>
                      <td>
                        <Link to={`/jobs/${j.jobId}`}>#{j.jobId}</Link>
                      </td>
                      <td>
                        {STAGE_TEXT[j.stage] ?? j.stage}
                        {j.stage === "training" &&
                          j.progress &&
                          ` (${j.progress.step}/${j.progress.totalSteps})`}
                        {(j.error || j.reason) && <div className="muted">{j.error ?? j.reason}</div>}
                      </td>
                      <td>{j.baseModel ?? "—"}</td>
                      <td>{j.records !== undefined ? `${j.records} records` : "—"}</td>
                      <td>{j.trainerPayment ? formatOpen(j.trainerPayment) : "—"}</td>
                      <td>{new Date(j.updatedAt).toLocaleString()}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
          </div>
        ))}
    </>
  );
}

function MyTrainer() {
  const { config } = useProtocol();
  const { address } = useWallet();
  const balance = useOpenBalance();
  const qc = useQueryClient();
  const tx = useTx();
  const [amount, setAmount] = useState("");
  const [error, setError] = useState<string>();
  const q = useQuery({
    queryKey: ["trainer", address],
    enabled: Boolean(address),
    refetchInterval: 5000,
    queryFn: () =>
      gql(config.proxied.subgraph, TrainerQuery, {
        id: address!.toLowerCase(),
        trainer: address!.toLowerCase(),
      }),
  });
  if (!address) return <ConnectFirst what="stake as a trainer and see your earnings" />;
  if (q.isPending) return <Loading what="your trainer account" />;
  if (q.isError) return <ErrorBox error={q.error} retry={() => void q.refetch()} />;
  const t = q.data.trainer;
  const refresh = async () => {
    await qc.invalidateQueries({ queryKey: ["trainer"] });
    await qc.invalidateQueries({ queryKey: ["open-balance"] });
  };
  const send = (kind: "stake" | "unstake") => {
    const { value, error: err } = parseOpen(amount, kind === "stake" ? "the stake" : "the amount to unstake");
    setError(err);
    if (value === undefined) return;
    if (kind === "unstake" && t && value > BigInt(t.staked) - BigInt(t.locked)) {
      setError(
        `You can unstake at most ${formatOpen(BigInt(t.staked) - BigInt(t.locked))}: the rest is locked as collateral of your active jobs.`,
      );
      return;
    }
    void tx
      .run(
        kind === "stake" ? "Staking…" : "Starting the unstake cooldown…",
        (s): Promise<unknown> => (kind === "stake" ? stake(s, value) : requestUnstake(s, value)),
        () => (kind === "stake" ? `Staked ${formatOpen(value)}.` : `${formatOpen(value)} is cooling down.`),
      )
      .then(refresh);
  };
  const now = BigInt(Math.floor(Date.now() / 1000));
  const canWithdraw = Boolean(
    t && BigInt(t.unstaking) > 0n && t.unstakeAvailableAt && BigInt(t.unstakeAvailableAt) <= now,
  );
  return (
    <>
      <h2>Your trainer account</h2>
      {t ? (
        <dl className="facts" data-testid="my-trainer">
          <dt>Staked</dt>
          <dd>{formatOpen(t.staked)}</dd>
          <dt>Locked in jobs</dt>
          <dd>{formatOpen(t.locked)}</dd>
          <dt>Unstaking</dt>
          <dd>
            {formatOpen(t.unstaking)}
            {t.unstakeAvailableAt &&
              BigInt(t.unstaking) > 0n &&
              ` (available ${formatTime(t.unstakeAvailableAt)})`}
          </dd>
          <dt>Earnings</dt>
          <dd data-testid="trainer-earnings">{formatOpen(t.earnings)}</dd>
          <dt>Slashed</dt>
          <dd>{formatOpen(t.slashed)}</dd>
          <dt>Jobs</dt>
          <dd>
            {t.jobsCompleted} completed, {t.activeJobs} active
          </dd>
        </dl>
      ) : (
        <p>This account has not staked yet. Stake at least the minimum to take jobs.</p>
      )}
      <form
        className="actions-panel"
        onSubmit={(e) => {
          e.preventDefault();
          send("stake");
        }}
      >
        <Field
          name="stake-amount"
          label="Amount (OPEN)"
          hint={`Your balance: ${balance.data !== undefined ? formatOpen(balance.data) : "…"}. Unstaking starts a cooldown; withdraw when it ends.`}
          error={error}
        >
          <input inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} />
        </Field>
        <div className="actions">
          <button type="submit" disabled={tx.state.phase === "running"}>
            Stake
          </button>
          <button
            type="button"
            className="secondary"
            disabled={tx.state.phase === "running" || !t || BigInt(t.staked) === 0n}
            onClick={() => send("unstake")}
          >
            Unstake
          </button>
          <button
            type="button"
            className="secondary"
            disabled={tx.state.phase === "running" || !canWithdraw}
            onClick={() =>
              void tx
                .run(
                  "Withdrawing…",
                  (s) => withdrawStake(s),
                  () => "Withdrawn.",
                )
                .then(refresh)
            }
          >
            Withdraw cooled-down stake
          </button>
        </div>
        <TxStatus state={tx.state} />
      </form>
      {t && t.jobs.length > 0 && (
        <div className="table-wrap">
          <table data-testid="trainer-jobs">
            <caption>Jobs you took</caption>
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Status</th>
                <th scope="col">Base model</th>
                <th scope="col">Budget</th>
                <th scope="col">Paid to you</th>
                <th scope="col">Slashed</th>
              </tr>
            </thead>
            <tbody>
              {t.jobs.map((j) => (
                <tr key={j.id}>
                  <td>
                    <Link to={`/jobs/${j.jobId}`}>#{j.jobId}</Link>
                  </td>
                  <td>{j.status}</td>
                  <td>{j.baseModel.name}</td>
                  <td>{formatOpen(j.budget)}</td>
                  <td>{j.trainerPayment ? formatOpen(j.trainerPayment) : "—"}</td>
                  <td>{BigInt(j.slashed) > 0n ? formatOpen(j.slashed) : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {q.data.slasheds.length > 0 && (
        <>
          <h3>Slashes</h3>
          <ul data-testid="slashes">
            {q.data.slasheds.map((s) => (
              <li key={s.id}>
                {formatOpen(s.amount)} on {formatTime(s.timestamp)} by {shortAddress(s.slasher)}
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}
