// One job: its status on chain, the trainer's live progress (loss chart, step, tokens/s, ETA) while it
// trains, and what the poster can do next (accept early, cancel, chat with the model).
import { useQuery, useQueryClient } from "@tanstack/react-query";
import {
  acceptJob,
  cancelJob,
  disputeJob,
  disputeTerms,
  getJob,
  REPLAY_CHALLENGER_HINT,
} from "@tributary/sdk/chain/browser";
import type { JobInfo } from "@tributary/sdk/chain/browser";
import { useEffect, useState } from "react";
import { useWallet } from "../wallet.tsx";
import { DisputePanel } from "../components/DisputePanel.tsx";
import { Field } from "../components/Field.tsx";
import { LossChart } from "../components/LossChart.tsx";
import { TxStatus } from "../components/TxStatus.tsx";
import { ErrorBox, Loading } from "../components/states.tsx";
import { formatDuration, formatNumber, formatOpen, formatTime, shortAddress } from "../lib/format.ts";
import { applyJobEvent, EMPTY_LIVE } from "../lib/job-events.ts";
import type { JobEvent, LiveJob } from "../lib/job-events.ts";
import { useProtocol, useTx } from "../protocol.tsx";
import { Link } from "../router.tsx";

const STATUS_TEXT: Record<JobInfo["status"], string> = {
  none: "Unknown job.",
  open: "Waiting for a trainer to take the job.",
  claimed: "A trainer took the job and is working on it.",
  submitted:
    "The trainer delivered the model. It becomes final after the challenge window, or when you accept it.",
  disputed: "The result is challenged; the dispute game decides (bisection, then a verifier committee).",
  finalized: "Done: the trainer was paid and your model was minted.",
  cancelled: "Cancelled; the budget was refunded.",
  refunded: "Refunded.",
};

const STAGE_TEXT: Record<string, string> = {
  seen: "the trainer noticed the job",
  claimed: "claimed, preparing",
  fetching: "fetching and decrypting the data",
  training: "training",
  attributing: "measuring each contribution's influence",
  pinning: "uploading the adapter to IPFS",
  submitted: "result submitted",
  finalized: "finalized",
  failed: "failed",
  skipped: "skipped by this trainer",
};

const TERMINAL = new Set(["finalized", "failed", "skipped"]);

/**
 * Follows the trainer node's SSE for the job. The node answers 404 until it has seen the job, and ends the
 * stream at a terminal stage, so this reconnects every few seconds until then.
 */
function useLiveJob(jobId: string): { live: LiveJob; connected: boolean; waiting: boolean } {
  const { config } = useProtocol();
  const [live, setLive] = useState<LiveJob>(EMPTY_LIVE);
  const [connected, setConnected] = useState(false);
  const [waiting, setWaiting] = useState(false);
  useEffect(() => {
    setLive(EMPTY_LIVE);
    let es: EventSource | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let finished = false;
    const open = () => {
      es = new EventSource(`${config.proxied.trainer}/jobs/${jobId}/events`);
      const onData = (ev: MessageEvent<string>) => {
        try {
          const e = JSON.parse(ev.data) as JobEvent;
          if (e.type === "stage" && TERMINAL.has(e.job.stage)) finished = true;
          setLive((l) => applyJobEvent(l, e, jobId));
        } catch {
          // not a JobEvent: ignore
        }
      };
      es.onmessage = onData;
      es.addEventListener("stage", onData);
      es.addEventListener("progress", onData);
      es.onopen = () => {
        setConnected(true);
        setWaiting(false);
      };
      es.onerror = () => {
        es?.close();
        setConnected(false);
        if (!finished) {
          setWaiting(true);
          timer = setTimeout(open, 3000);
        }
      };
    };
    open();
    return () => {
      finished = true;
      clearTimeout(timer);
      es?.close();
    };
  }, [config.proxied.trainer, jobId]);
  return { live, connected, waiting };
}

export function JobPage({ id }: { id: string }) {
  const { conn } = useProtocol();
  const valid = /^\d+$/.test(id);
  const job = useQuery({
    queryKey: ["job", id],
    enabled: valid,
    queryFn: () => getJob(conn, BigInt(id)),
    refetchInterval: (q) =>
      ["finalized", "cancelled", "refunded"].includes(q.state.data?.status ?? "") ? false : 2000,
  });
  const { live, connected, waiting } = useLiveJob(id);
  if (!valid) return <ErrorBox error={`"${id}" is not a job number.`} />;
  if (job.isPending) return <Loading what={`job #${id}`} />;
  if (job.isError) return <ErrorBox error={job.error} retry={() => void job.refetch()} />;
  const j = job.data;
  const p = live.progress;
  const showTraining = ["claimed", "submitted", "finalized"].includes(j.status) || live.loss.length > 0;
  return (
    <section>
      <h1>
        Job #{id}{" "}
        <span className={`badge status-${j.status}`} data-testid="job-status">
          {j.status}
        </span>
      </h1>
      <p className="lead">{STATUS_TEXT[j.status]}</p>
      <dl className="facts">
        <dt>Budget</dt>
        <dd>
          {formatOpen(j.budget)} (data fees {formatOpen(j.dataFee)})
        </dd>
        <dt>Data</dt>
        <dd>{j.datanets.map((d) => `Datanet #${d.datanetId} v${d.version}`).join(", ")}</dd>
        <dt>Poster</dt>
        <dd title={j.poster}>{shortAddress(j.poster)}</dd>
        {j.trainer && (
          <>
            <dt>Trainer</dt>
            <dd title={j.trainer}>{shortAddress(j.trainer)}</dd>
          </>
        )}
        {j.dueAt && j.status === "claimed" && (
          <>
            <dt>Due</dt>
            <dd>{formatTime(j.dueAt)}</dd>
          </>
        )}
        {j.challengeEndsAt && j.status === "submitted" && (
          <>
            <dt>Challenge window ends</dt>
            <dd>{formatTime(j.challengeEndsAt)}</dd>
          </>
        )}
        <dt>Spec</dt>
        <dd>
          <code>{j.specCid}</code>
        </dd>
      </dl>

      {showTraining && (
        <div className="panel" data-testid="training-panel">
          <h2>Training</h2>
          {live.stage && (
            <p data-testid="trainer-stage">
              Trainer: <strong>{STAGE_TEXT[live.stage] ?? live.stage}</strong>
              {live.error && <span className="field-error"> {live.error}</span>}
              {live.reason && <span className="muted"> ({live.reason})</span>}
            </p>
          )}
          {p && (
            <div className="stats" data-testid="progress">
              <div>
                <span className="stat">
                  {p.step} / {p.totalSteps}
                </span>
                steps
              </div>
              <div>
                <span className="stat">{formatNumber(p.loss)}</span>loss
              </div>
              <div>
                <span className="stat">{formatNumber(p.tokensPerSec, 3)}</span>tokens/s
              </div>
              <div>
                <span className="stat">{p.step >= p.totalSteps ? "done" : formatDuration(p.etaSec)}</span>
                {p.step >= p.totalSteps ? "training" : "left (ETA)"}
              </div>
              <progress max={p.totalSteps} value={p.step} />
            </div>
          )}
          {live.loss.length > 0 ? (
            <LossChart loss={live.loss} evalLoss={live.evalLoss} totalSteps={p?.totalSteps} />
          ) : waiting ? (
            <p className="muted">
              No live progress yet: the trainer node has not reported on this job (or cannot be reached).
              Retrying…
            </p>
          ) : (
            <p className="muted">
              {connected ? "Waiting for the first training steps…" : "Connecting to the trainer node…"}
            </p>
          )}
        </div>
      )}
      {["submitted", "disputed", "refunded", "finalized"].includes(j.status) && <DisputePanel jobId={id} />}
      <JobActions job={j} onChange={() => void job.refetch()} />
    </section>
  );
}

function JobActions({ job: j, onChange }: { job: JobInfo; onChange: () => void }) {
  const { address } = useWallet();
  const tx = useTx();
  const qc = useQueryClient();
  const { store, conn } = useProtocol();
  const [reason, setReason] = useState("");
  // what a dispute of this result costs and who plays it: an eval claim goes straight to a committee; a replay
  // dispute is bisected, and the challenger's moves are its node's
  const terms = useQuery({
    queryKey: ["dispute-terms", j.jobId.toString()],
    enabled: j.status === "submitted",
    queryFn: () => disputeTerms(conn, j),
  });
  const [reasonError, setReasonError] = useState<string>();
  const mine = address?.toLowerCase() === j.poster.toLowerCase();
  const after = () => {
    onChange();
    void qc.invalidateQueries();
  };
  return (
    <div className="actions-panel">
      {j.status === "finalized" && j.modelId !== undefined && (
        <p className="done">
          Your model is <strong>model-{j.modelId.toString()}</strong>.{" "}
          <Link to={`/chat/model-${j.modelId}`} className="button primary">
            Chat with it
          </Link>
        </p>
      )}
      {mine && j.status === "submitted" && (
        <>
          <p className="muted">
            Accepting now pays the trainer and mints your model right away. Otherwise it happens by itself
            when the challenge window ends; until then you may dispute a bad result (with a bond), and a committee of
            staked verifiers, drawn at random, recomputes it and decides.
          </p>
          <button
            type="button"
            disabled={tx.state.phase === "running"}
            onClick={() => void tx.run("Accepting the result…", (s) => acceptJob(s, j.jobId)).then(after)}
          >
            Accept the result now
          </button>
          <details className="dispute" data-testid="dispute">
            <summary>Dispute the result</summary>
            <form
              onSubmit={(e) => {
                e.preventDefault();
                if (reason.trim().length < 10) {
                  setReasonError(
                    "Say what is wrong with the result in a sentence or two (at least 10 characters).",
                  );
                  return;
                }
                void tx
                  .run(
                    "Pinning your reason and disputing…",
                    (s) => disputeJob(s, store, j.jobId, reason.trim()),
                    (r) =>
                      !r.replay
                        ? `Disputed (dispute #${r.disputeId}): a committee of staked verifiers recomputes the result; the trainer is paid only if it is upheld.`
                        : `Disputed (dispute #${r.disputeId}). ${REPLAY_CHALLENGER_HINT}`,
                  )
                  .then(after);
              }}
            >
              <Field
                name="dispute-reason"
                label="What is wrong with the result"
                hint="Pinned to IPFS with the dispute, for the verifiers. Be specific: which answers, which data."
                error={reasonError}
              >
                <textarea
                  rows={3}
                  value={reason}
                  onChange={(e) => {
                    setReason(e.target.value);
                    setReasonError(undefined);
                  }}
                />
              </Field>
              {terms.data && (
                <div className="muted" data-testid="dispute-terms">
                  <p>
                    Disputing posts a bond of {formatOpen(terms.data.bond)}: you get it back with a reward if the
                    result is wrong, and lose it to the trainer and the verifiers if it is right.
                  </p>
                  {terms.data.replay ? (
                    <p data-testid="dispute-replay-hint">{REPLAY_CHALLENGER_HINT}</p>
                  ) : (
                    <p>This is an eval job: a committee of staked verifiers recomputes the result; nothing more to do.</p>
                  )}
                </div>
              )}
              <button type="submit" className="secondary" disabled={tx.state.phase === "running"}>
                Dispute
              </button>
            </form>
          </details>
        </>
      )}
      {mine && j.status === "open" && (
        <button
          type="button"
          className="secondary"
          disabled={tx.state.phase === "running"}
          onClick={() =>
            void tx
              .run(
                "Cancelling the job…",
                (s) => cancelJob(s, j.jobId),
                (r) => `Cancelled; ${formatOpen(r.refund)} refunded.`,
              )
              .then(after)
          }
        >
          Cancel job
        </button>
      )}
      <TxStatus state={tx.state} />
    </div>
  );
}
