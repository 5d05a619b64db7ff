// The serving benchmark's load generator (bench/serving.ts --part load), run in a worker thread: the
// streamed HTTP clients, their SSE parsing and the arrival clock must not share the node's event loop, or
// 64 clients' parsing is charged to the server under test (a load generator runs beside the server, never
// inside it). Both arms of every A/B pair use it, so the comparison stays like for like.
import { parentPort, workerData } from "node:worker_threads";

export interface ClientConfig {
  prompts: string[];
  tokens: number;
  /** logit_bias banning EOS, so every request generates exactly `tokens`. */
  bias: Record<number, number>;
}

export type ClientTask =
  | { kind: "concurrent"; url: string; models: string[] }
  | { kind: "single"; url: string; model: string; count: number }
  | { kind: "poisson"; url: string; models: string[]; arrivals: number; ratePerSec: number; seed: number };

export interface StreamResult {
  ttftMs: number;
  tokens: number;
}

export interface ClientResult {
  seconds: number;
  tokens: number;
  results: StreamResult[];
}

const cfg = workerData as ClientConfig;

/** One streamed request; its time to first token and tokens, both measured by the client. */
async function stream(url: string, model: string, k: number): Promise<StreamResult> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, prompt: cfg.prompts[k % cfg.prompts.length], max_tokens: cfg.tokens, temperature: 0, logit_bias: cfg.bias, stream: true, stream_options: { include_usage: true } }),
  });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let ttft = -1;
  let tokens = 0;
  let buf = "";
  const decoder = new TextDecoder();
  for await (const chunk of res.body!) {
    buf += decoder.decode(chunk as Uint8Array, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const line = buf.slice(0, i).replace(/^data: /, "");
      buf = buf.slice(i + 2);
      if (line === "[DONE]") continue;
      const j = JSON.parse(line) as { choices: { text: string }[]; usage?: { completion_tokens: number } | null; error?: unknown };
      if (j.error) throw new Error(line);
      if (ttft < 0 && j.choices[0]?.text) ttft = performance.now() - t0;
      if (j.usage) tokens = j.usage.completion_tokens;
    }
  }
  return { ttftMs: ttft, tokens };
}

async function run(task: ClientTask): Promise<ClientResult> {
  const t0 = performance.now();
  let results: StreamResult[];
  if (task.kind === "concurrent") {
    results = await Promise.all(task.models.map((m, k) => stream(task.url, m, k)));
  } else if (task.kind === "single") {
    results = [];
    for (let k = 0; k < task.count; k++) results.push(await stream(task.url, task.model, k));
  } else {
    // exponential gaps at `ratePerSec`, from a seeded generator (the same arrivals every run)
    let seed = task.seed;
    const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const pending: Promise<StreamResult>[] = [];
    let at = 0;
    for (let k = 0; k < task.arrivals; k++) {
      at += (-Math.log(1 - rand()) / task.ratePerSec) * 1000;
      const wait = at - (performance.now() - t0);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      pending.push(stream(task.url, task.models[k % task.models.length], k));
    }
    results = await Promise.all(pending);
  }
  return { seconds: (performance.now() - t0) / 1000, tokens: results.reduce((s, r) => s + r.tokens, 0), results };
}

parentPort?.on("message", (msg: { id: number; task: ClientTask }) => {
  run(msg.task).then(
    (r) => parentPort!.postMessage({ id: msg.id, result: r }),
    (e: unknown) => parentPort!.postMessage({ id: msg.id, error: (e as Error).stack ?? String(e) }),
  );
});
