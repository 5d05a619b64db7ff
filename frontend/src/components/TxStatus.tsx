// Shows a running transaction flow: each wallet prompt, its hash while pending, confirmations, the outcome.
import type { TxState } from "../protocol.tsx";

const STATE_TEXT = {
  sign: "confirm in your wallet…",
  pending: "waiting for confirmation…",
  confirmed: "confirmed",
  failed: "not sent",
} as const;

export function TxStatus({ state }: { state: TxState }) {
  if (state.phase === "idle") return null;
  return (
    <div className={`tx tx-phase-${state.phase}`} data-testid="tx-status" aria-live="polite">
      {state.phase !== "error" && <p className="tx-note">{state.note}</p>}
      {state.steps.length > 0 && (
        <ol className="tx-steps">
          {state.steps.map((s, i) => (
            <li key={i} className={`tx-step ${s.state}`}>
              <strong>{s.label}</strong>: {STATE_TEXT[s.state]}
              {s.hash && (
                <code className="hash" title={s.hash}>
                  {" "}
                  {s.hash.slice(0, 10)}…
                </code>
              )}
            </li>
          ))}
        </ol>
      )}
      {state.phase === "error" && (
        <p className="tx-error" role="alert">
          {state.error}
        </p>
      )}
    </div>
  );
}
