// Models the trainer node serves (base models and fine-tuned versions), a side-by-side streaming chat
// comparing two of the same base (a fine-tune against its base by default), and the API panel with the
// exact calls for a model id.
import { useQuery } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { Empty, ErrorBox, Loading } from "../components/states.tsx";
import { comparableWith, defaultPair, describe, pairRoute } from "../lib/compare.ts";
import type { ServedModel } from "../lib/compare.ts";
import { errorMessage } from "../lib/errors.ts";
import { formatTime, shortAddress } from "../lib/format.ts";
import { curlSnippet, openAiJsSnippet, openAiPythonSnippet } from "../lib/snippets.ts";
import { ChatStreamError, streamChat } from "../lib/sse.ts";
import type { ChatMessage, Citation } from "../lib/sse.ts";
import { useProtocol } from "../protocol.tsx";
import { Link, navigate } from "../router.tsx";
import { PaymentPanel, usePayment } from "./ChatPayment.tsx";

class TrainerApiError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TrainerApiError";
  }
}

function useServedModels() {
  const { config } = useProtocol();
  return useQuery({
    queryKey: ["served-models"],
    refetchInterval: 10_000,
    queryFn: async () => {
      let res: Response;
      try {
        res = await fetch(`${config.proxied.trainer}/models`);
      } catch {
        throw new TrainerApiError("The trainer node's API cannot be reached.");
      }
      if (!res.ok) {
        throw new TrainerApiError(
          `The trainer node's API answered ${res.status}. Is the trainer node running (npm start starts one on port 8787)?`,
        );
      }
      return ((await res.json()) as { data: ServedModel[] }).data;
    },
  });
}

export function ModelsPage() {
  const models = useServedModels();
  if (models.isPending) return <Loading what="models" />;
  if (models.isError) return <ErrorBox error={models.error} retry={() => void models.refetch()} />;
  return (
    <section>
      <h1>Models</h1>
      <p className="lead">
        Every model here answers right away through an OpenAI-compatible API. Pick one to chat with it.
      </p>
      {models.data.length === 0 ? (
        <Empty>No models are served yet.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="list">
            <thead>
              <tr>
                <th>Model id</th>
                <th>Kind</th>
                <th>Owner</th>
                <th>Created</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {models.data.map((m) => (
                <tr key={m.id}>
                  <td>
                    <code>{m.id}</code>
                  </td>
                  <td>
                    {m.tributary?.kind === "model-version"
                      ? `fine-tune of ${m.tributary.base_model}`
                      : "base model"}
                  </td>
                  <td>{m.owned_by?.startsWith("0x") ? shortAddress(m.owned_by) : (m.owned_by ?? "—")}</td>
                  <td>{m.created ? formatTime(m.created) : "—"}</td>
                  <td>
                    <Link to={`/chat/${m.id}`} className="button">
                      Chat
                    </Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

interface Turn extends ChatMessage {
  error?: boolean;
  citations?: Citation[];
}

/** A chat with one or two models of the same base: each prompt goes to both, both answers stream at once. */
export function ChatPage({ first, second }: { first: string; second?: string }) {
  const { config } = useProtocol();
  const models = useServedModels();
  const [left, right] = models.data ? defaultPair(models.data, first, second) : [first, second];
  const ids = right ? [left, right] : [left];
  const [turns, setTurns] = useState<Record<string, Turn[]>>({});
  const [input, setInput] = useState("");
  const [system, setSystem] = useState("");
  const [temperature, setTemperature] = useState("0");
  const [busy, setBusy] = useState(false);
  const abort = useRef<AbortController | null>(null);
  const served = (id: string) => models.data?.find((m) => m.id === id);
  // a priced model is paid per answer with vouchers on a channel (a free one needs nothing)
  const payments = [usePayment(served(left)), usePayment(right ? served(right) : undefined)];
  const blocked = payments.slice(0, ids.length).find((p) => p.blocked)?.blocked ?? null;

  const send = async () => {
    const text = input.trim();
    if (!text || busy || blocked) return;
    const temp = Number(temperature);
    setInput("");
    setBusy(true);
    abort.current = new AbortController();
    const signal = abort.current.signal;
    const history = (id: string): ChatMessage[] => [
      ...(system.trim() ? [{ role: "system" as const, content: system.trim() }] : []),
      ...(turns[id] ?? []).filter((t) => !t.error).map(({ role, content }) => ({ role, content })),
      { role: "user", content: text },
    ];
    const asked = Object.fromEntries(ids.map((id) => [id, history(id)]));
    setTurns((all) => {
      const next = { ...all };
      for (const id of ids)
        next[id] = [...(all[id] ?? []), { role: "user", content: text }, { role: "assistant", content: "" }];
      return next;
    });
    const updateLast = (id: string, f: (t: Turn) => Turn) =>
      setTurns((all) => {
        const ts = all[id] ?? [];
        return { ...all, [id]: [...ts.slice(0, -1), f(ts[ts.length - 1])] };
      });
    // both requests go out at once; each column fills as its model writes
    await Promise.all(
      ids.map(async (id, column) => {
        const pay = payments[column];
        try {
          const ask = (headers: Record<string, string>) =>
            streamChat(
              config.proxied.trainer,
              {
                model: id,
                messages: asked[id],
                max_tokens: 200,
                temperature: Number.isFinite(temp) ? temp : 0,
              },
              (piece) => updateLast(id, (t) => ({ ...t, content: t.content + piece })),
              signal,
              headers,
            );
          let r: Awaited<ReturnType<typeof ask>>;
          try {
            r = await ask(await pay.headers());
          } catch (e) {
            // the node wants a different voucher (e.g. this browser forgot what it owes): sign it and retry once
            if (!(e instanceof ChatStreamError && e.status === 402)) throw e;
            // priced since this page read the price: read it again (the payment panel then shows)
            if (!pay.priced) {
              pay.repriced();
              throw e;
            }
            const again = await pay.afterRefusal(e.body);
            if (again instanceof Error) throw again;
            r = await ask(again);
          }
          if (r.billing) pay.billed(r.billing);
          updateLast(id, (t) => ({ ...t, citations: r.citations }));
        } catch (e) {
          if ((e as Error).name !== "AbortError")
            updateLast(id, (t) => ({ ...t, content: errorMessage(e), error: true }));
        }
      }),
    );
    setBusy(false);
  };

  const choose = (column: 0 | 1, id: string) => {
    const pair = column === 0 ? [id, right] : [left, id || undefined];
    navigate(pairRoute(pair[0]!, pair[1]));
  };

  return (
    <section className="chat-page">
      <h1>
        {right ? (
          <>
            Compare <code>{left}</code> and <code>{right}</code>
          </>
        ) : (
          <>
            Chat with <code>{left}</code>
          </>
        )}
      </h1>
      <p className="lead">
        Each message goes to {right ? "both models" : "the model"}; answers stream in side by side as they are
        written. Temperature 0 answers greedily, so a difference is the model's, not chance.
      </p>
      {models.isError && <ErrorBox error={models.error} retry={() => void models.refetch()} />}
      <div className={`compare${right ? " two" : ""}`} data-testid="compare">
        {ids.map((id, column) => {
          const m = served(id);
          const other = column === 0 ? right : left;
          const choices = models.data ? comparableWith(models.data, id).filter((c) => c.id !== other) : [];
          return (
            <div key={id} className="chat column" data-testid={`column-${column}`} data-model={id}>
              <div className="column-head">
                <label>
                  <span className="muted">{column === 0 ? "Left" : "Right"}:</span>{" "}
                  <select
                    aria-label={column === 0 ? "Left model" : "Right model"}
                    value={id}
                    onChange={(e) => choose(column as 0 | 1, e.target.value)}
                    disabled={busy}
                  >
                    <option value={id}>{id}</option>
                    {choices.map((c) => (
                      <option key={c.id} value={c.id}>
                        {c.id}
                      </option>
                    ))}
                  </select>
                </label>
                <span className="muted"> {describe(m, id)}</span>
              </div>
              <Messages turns={turns[id] ?? []} busy={busy} />
            </div>
          );
        })}
        {!right && models.data && comparableWith(models.data, left).length > 0 && (
          <div className="chat column add">
            <label>
              Compare with{" "}
              <select aria-label="Right model" value="" onChange={(e) => choose(1, e.target.value)}>
                <option value="">choose a model</option>
                {comparableWith(models.data, left).map((c) => (
                  <option key={c.id} value={c.id}>
                    {c.id}
                  </option>
                ))}
              </select>
            </label>
          </div>
        )}
      </div>
      {payments.slice(0, ids.length).map((p, i) => (
        <PaymentPanel key={`${i}-${p.model?.id ?? ""}`} pay={p} />
      ))}
      <form
        className="composer chat"
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        <div className="composer-row">
          <input
            value={input}
            onChange={(e) => setInput(e.target.value)}
            placeholder="Type a message"
            aria-label="Message"
          />
          {busy ? (
            <button type="button" className="secondary" onClick={() => abort.current?.abort()}>
              Stop
            </button>
          ) : (
            <button type="submit" disabled={!input.trim() || !models.data || Boolean(blocked)}>
              Send
            </button>
          )}
        </div>
        {blocked && (
          <p className="muted" data-testid="send-blocked">
            {blocked}
          </p>
        )}
        <details>
          <summary>Settings</summary>
          <div className="grid2">
            <label className="field">
              <span className="label">System prompt (sent to both)</span>
              <input
                value={system}
                onChange={(e) => setSystem(e.target.value)}
                aria-label="System prompt"
                placeholder="e.g. the one the Datanet's records use"
              />
            </label>
            <label className="field">
              <span className="label">Temperature</span>
              <input
                value={temperature}
                onChange={(e) => setTemperature(e.target.value)}
                aria-label="Temperature"
                inputMode="decimal"
              />
            </label>
          </div>
        </details>
      </form>
      <ApiPanel apiUrl={config.trainerApiUrl} modelId={right ?? left} />
    </section>
  );
}

function Messages({ turns, busy }: { turns: Turn[]; busy: boolean }) {
  return (
    <div className="messages" data-testid="messages">
      {turns.length === 0 && <p className="muted">Answers appear here as the model writes them.</p>}
      {turns.map((t, i) => (
        <div key={i} className={`msg ${t.role}${t.error ? " error" : ""}`} data-testid={`msg-${t.role}`}>
          <span className="text" data-testid="msg-text">
            {t.content || (busy && i === turns.length - 1 ? "…" : "")}
          </span>
          {t.citations && t.citations.length > 0 && <Citations citations={t.citations} />}
        </div>
      ))}
    </div>
  );
}

function Citations({ citations }: { citations: Citation[] }) {
  return (
    <div className="citations" data-testid="citations">
      <p className="muted">From the training data:</p>
      <ul>
        {citations.map((c, i) => (
          <li key={i}>
            “{c.text.trim()}” — Datanet #{c.datanet_id}, contribution #{c.contribution_id} by{" "}
            {shortAddress(c.contributor)}
          </li>
        ))}
      </ul>
    </div>
  );
}

function ApiPanel({ apiUrl, modelId }: { apiUrl: string; modelId: string }) {
  const [tab, setTab] = useState<"curl" | "js" | "python">("curl");
  const code =
    tab === "curl"
      ? curlSnippet(apiUrl, modelId)
      : tab === "js"
        ? openAiJsSnippet(apiUrl, modelId)
        : openAiPythonSnippet(apiUrl, modelId);
  return (
    <aside className="panel api" data-testid="api-panel">
      <h2>API</h2>
      <p className="muted">
        OpenAI-compatible, at <code>{apiUrl}</code>, model id <code>{modelId}</code>.
      </p>
      <div className="tabs">
        {(["curl", "js", "python"] as const).map((t) => (
          <button
            key={t}
            type="button"
            className={tab === t ? "active" : "secondary"}
            onClick={() => setTab(t)}
          >
            {t === "curl" ? "curl" : t === "js" ? "OpenAI SDK (JS)" : "OpenAI SDK (Python)"}
          </button>
        ))}
      </div>
      <pre data-testid="api-snippet">{code}</pre>
      <button type="button" className="secondary" onClick={() => void navigator.clipboard?.writeText(code)}>
        Copy
      </button>
    </aside>
  );
}
