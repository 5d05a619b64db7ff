// A job's disputes, from the subgraph (DisputeGame): where each stands in words, the bisection's progress over
// the trainer's checkpoint tree, the committee's seats and votes, and how it ended. Polls while one is open.
import { useQuery } from "@tanstack/react-query";
import { getDispute } from "@tributary/sdk/chain/browser";
import { formatOpen, formatTime, shortAddress } from "../lib/format.ts";
import { disputeView } from "../lib/disputes.ts";
import { gql, JobDisputesQuery } from "../lib/subgraph.ts";
import { useProtocol } from "../protocol.tsx";

export function DisputePanel({ jobId }: { jobId: string }) {
  const { config } = useProtocol();
  const q = useQuery({
    queryKey: ["job-disputes", jobId],
    queryFn: () => gql(config.proxied.subgraph, JobDisputesQuery, { job: jobId }),
    refetchInterval: (s) => (s.state.data?.disputes.every((d) => d.status === "Settled") ? 15_000 : 2000),
  });
  if (!q.data || q.data.disputes.length === 0) return null;
  const count = q.data.job?.checkpointCount ?? null;
  return (
    <div className="panel" data-testid="dispute-panel">
      <h2>{q.data.disputes.length === 1 ? "Dispute" : "Disputes"}</h2>
      {q.data.disputes.map((d) => {
        const v = disputeView(d, count);
        const seats = d.votes.filter((s) => s.round === d.round);
        return (
          <div key={d.id} className="dispute-state" data-testid={`dispute-${d.disputeId}`}>
            <h3>
              Dispute #{d.disputeId}{" "}
              <span className={`badge dispute-${d.status}`} data-testid="dispute-status" data-status={d.status}>
                {v.badge}
              </span>
            </h3>
            <p data-testid="dispute-stage">{v.stage}</p>
            {!v.settled && <DisputeClock disputeId={d.disputeId} />}
            <p className="muted">
              {d.eval ? "Eval dispute" : "Replay dispute"}, opened by {shortAddress(d.challenger.id)} with a bond
              of {formatOpen(BigInt(d.bond))}.
            </p>
            {v.bisection && (
              <div className="stats" data-testid="bisection">
                <div>
                  <span className="stat">
                    {Math.min(v.bisection.moves, v.bisection.total)} / {v.bisection.total}
                  </span>
                  bisection moves
                </div>
                <div>
                  <span className="stat">{v.bisection.range}</span>
                  disputed
                </div>
                <progress max={v.bisection.total} value={Math.min(v.bisection.moves, v.bisection.total)} />
              </div>
            )}
            {seats.length > 0 && (
              <table className="seats" data-testid="committee">
                <caption>Committee, round {d.round}</caption>
                <thead>
                  <tr>
                    <th scope="col">Verifier</th>
                    <th scope="col">Committed</th>
                    <th scope="col">Revealed</th>
                    <th scope="col">Paid / penalised</th>
                  </tr>
                </thead>
                <tbody>
                  {seats.map((s) => (
                    <tr key={s.id}>
                      <td title={s.verifier.id}>{shortAddress(s.verifier.id)}</td>
                      <td>{s.committed ? "yes" : "not yet"}</td>
                      <td>{s.revealed ? "yes" : "not yet"}</td>
                      <td>
                        {BigInt(s.paid) > 0n ? `paid ${formatOpen(BigInt(s.paid))}` : ""}
                        {BigInt(s.penalised) > 0n ? `penalised ${formatOpen(BigInt(s.penalised))}` : ""}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </div>
        );
      })}
    </div>
  );
}

/**
 * The clock of the step under way, from the chain (the events do not carry it): a bisection move's deadline (who
 * misses it loses), or the committee's commit and reveal windows.
 */
function DisputeClock({ disputeId }: { disputeId: string }) {
  const { conn } = useProtocol();
  const q = useQuery({
    queryKey: ["dispute-clock", disputeId],
    queryFn: () => getDispute(conn, BigInt(disputeId)),
    refetchInterval: 5000,
  });
  const d = q.data;
  if (!d || d.deadline === 0) return null;
  if (d.phaseName === "trainerMove" || d.phaseName === "challengerMove")
    return (
      <p className="muted" data-testid="dispute-clock">
        {d.phaseName === "trainerMove" ? "The trainer's" : "The challenger's"} move is due by{" "}
        {formatTime(d.deadline)}; a party that misses its move loses the dispute.
      </p>
    );
  if (d.phaseName === "voting")
    return (
      <p className="muted" data-testid="dispute-clock">
        Votes are committed until {formatTime(d.revealStartsAt)} and revealed until {formatTime(d.deadline)}.
      </p>
    );
  return null;
}
