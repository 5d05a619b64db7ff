// Models the trainer node serves (base models and fine-tuned versions), a streaming chat with one, and
// the API panel with the exact calls for its model id.
import { useQuery } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { Empty, ErrorBox, Loading } from "../components/states.tsx";
import { errorMessage } from "../lib/errors.ts";
import { formatTime, shortAddress } from "../lib/format.ts";
import { curlSnippet, openAiJsSnippet, openAiPythonSnippet } from "../lib/snippets.ts";
import { streamChat } from "../lib/sse.ts";
import type { ChatMessage } from "../lib/sse.ts";
import { useProtocol } from "../protocol.tsx";
import { Link } from "../router.tsx";

interface ServedModel {
  id: string;
  created?: number;
  owned_by?: string;
  tributary?: { kind?: string; base_model?: string; model_id?: string | null };
}

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
      )}
    </section>
  );
}

interface Turn extends ChatMessage {
  error?: boolean;
}

export function ChatPage({ modelId }: { modelId: string }) {
  const { config } = useProtocol();
  const [turns, setTurns] = useState<Turn[]>([]);
  const [input, setInput] = useState("");
  const [busy, setBusy] = useState(false);
  const abort = useRef<AbortController | null>(null);

  const send = async () => {
    const text = input.trim();
    if (!text || busy) return;
    const history: ChatMessage[] = [
      ...turns.filter((t) => !t.error),
      { role: "user" as const, content: text },
    ].map(({ role, content }) => ({ role, content }));
    setTurns((t) => [...t, { role: "user", content: text }, { role: "assistant", content: "" }]);
    setInput("");
    setBusy(true);
    abort.current = new AbortController();
    const appendToLast = (f: (t: Turn) => Turn) =>
      setTurns((ts) => [...ts.slice(0, -1), f(ts[ts.length - 1])]);
    try {
      await streamChat(
        config.proxied.trainer,
        { model: modelId, messages: history, max_tokens: 200 },
        (piece) => appendToLast((t) => ({ ...t, content: t.content + piece })),
        abort.current.signal,
      );
    } catch (e) {
      if ((e as Error).name !== "AbortError")
        appendToLast((t) => ({ ...t, content: errorMessage(e), error: true }));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="chat-page">
      <h1>
        Chat with <code>{modelId}</code>
      </h1>
      <div className="chat-layout">
        <div className="chat">
          <div className="messages" data-testid="messages">
            {turns.length === 0 && (
              <p className="muted">Ask something. Answers stream in as the model writes them.</p>
            )}
            {turns.map((t, i) => (
              <div
                key={i}
                className={`msg ${t.role}${t.error ? " error" : ""}`}
                data-testid={`msg-${t.role}`}
              >
                {t.content || (busy && i === turns.length - 1 ? "…" : "")}
              </div>
            ))}
          </div>
          <form
            className="composer"
            onSubmit={(e) => {
              e.preventDefault();
              void send();
            }}
          >
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
              <button type="submit" disabled={!input.trim()}>
                Send
              </button>
            )}
          </form>
        </div>
        <ApiPanel apiUrl={config.trainerApiUrl} modelId={modelId} />
      </div>
    </section>
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
