/**
 * The node's side of the torch worker (trainer-node/torch/worker.py, protocol 2 in PROTOCOL.md): starts the
 * Python process — or `torchrun` with N processes — reads its JSON lines, validates each one, and turns them
 * into promises and progress callbacks. A worker that dies (kill -9, out of host memory) rejects whatever
 * was waiting with a transient TorchWorkerError carrying the end of its stderr.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { AttributeRequest, EvaluateRequest, GenerateRequest, Hello, TORCH_PROTOCOL, TrainRequest, WorkerMessage } from "./torch-protocol.ts";
import type { Attributed, Done, Evaluated, Generated, Inspected, Progress, Started } from "./torch-protocol.ts";

export const WORKER_SCRIPT = fileURLToPath(new URL("../../torch/worker.py", import.meta.url));
const VENV_SCRIPT = fileURLToPath(new URL("../../../engine/scripts/python-venv.sh", import.meta.url));

/** What the worker or its start reported; `transient`: a retry may succeed. */
export class TorchWorkerError extends Error {
  readonly transient: boolean;
  constructor(message: string, transient: boolean) {
    super(message);
    this.name = "TorchWorkerError";
    this.transient = transient;
  }
}

/** The Python with the worker's packages: TRIBUTARY_PYTHON, else the project's env (engine/.venv). */
export function torchPython(): string {
  return process.env.TRIBUTARY_PYTHON ?? fileURLToPath(new URL("../../../engine/.venv/bin/python", import.meta.url));
}

const HOW = `build it with \`sh ${VENV_SCRIPT}\` (pip installs torch, transformers, peft, accelerate; several minutes), or set TRIBUTARY_PYTHON to a python that has trainer-node/torch/requirements.txt installed`;

/** Null when there is a Python for the worker (whether it has the packages, its hello says), else how to get one. */
export function torchUnavailable(python = torchPython()): string | null {
  return existsSync(python) ? null : `no Python env for the torch backend at ${python}: ${HOW}`;
}

export interface TorchWorkerOptions {
  python?: string;
  /** Processes (torchrun --nproc_per_node); more than 1 needs `jobFile`: torchrun gives its processes no stdin. */
  nproc?: number;
  /** A train message for every process to read (`worker.py --job FILE`). */
  jobFile?: string;
  /** stderr lines of the worker (library warnings, tracebacks). */
  onStderr?: (line: string) => void;
}

type Waiter = { resolve: (m: WorkerMessage) => void; reject: (e: Error) => void };

export class TorchWorker {
  readonly hello: Hello;
  private readonly child: ChildProcess;
  private readonly queue: WorkerMessage[] = [];
  private waiter: Waiter | null = null;
  private failure: TorchWorkerError | null = null;

  private constructor(child: ChildProcess, hello: Hello, queue: WorkerMessage[]) {
    this.child = child;
    this.hello = hello;
    this.queue = queue; // the messages that came right after hello, and later ones until next() asks
  }

  /** Starts the worker and waits for its hello; refuses a worker of another protocol version. */
  static async start(o: TorchWorkerOptions = {}): Promise<TorchWorker> {
    const python = o.python ?? torchPython();
    const missing = torchUnavailable(python);
    if (missing) throw new TorchWorkerError(missing, false);
    const nproc = o.nproc ?? 1;
    if (nproc > 1 && !o.jobFile) throw new TorchWorkerError("a worker of several processes needs its train message in a job file", false);
    const args = nproc > 1
      ? ["-m", "torch.distributed.run", "--standalone", `--nproc_per_node=${nproc}`, WORKER_SCRIPT, "--job", o.jobFile!]
      : o.jobFile ? [WORKER_SCRIPT, "--job", o.jobFile] : [WORKER_SCRIPT];
    const child = spawn(python, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, TRIBUTARY_WORKER_PARENT: String(process.pid), PYTHONUNBUFFERED: "1" },
    });
    const stderrTail: string[] = [];
    createInterface({ input: child.stderr! }).on("line", (l) => {
      stderrTail.push(l);
      if (stderrTail.length > 40) stderrTail.shift();
      o.onStderr?.(l);
    });
    const early: WorkerMessage[] = [];
    let self: TorchWorker | null = null;
    let settle: Waiter | null = null;
    const deliver = (m: WorkerMessage) => {
      if (self) self.push(m);
      else if (m.type === "hello") settle?.resolve(m);
      else if (m.type === "error") settle?.reject(new TorchWorkerError(`${m.message}; ${HOW}`, m.transient));
      else early.push(m);
    };
    const fail = (e: TorchWorkerError) => {
      if (self) self.fail(e);
      else settle?.reject(e);
    };
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.trim()) return;
      let m: WorkerMessage;
      try {
        m = WorkerMessage.parse(JSON.parse(line));
      } catch (err) {
        fail(new TorchWorkerError(`the torch worker wrote a line that is not a protocol ${TORCH_PROTOCOL} message (${(err as Error).message.slice(0, 200)}): ${line.slice(0, 200)}`, false));
        child.kill("SIGKILL");
        return;
      }
      deliver(m);
    });
    child.on("error", (err) => fail(new TorchWorkerError(`the torch worker did not start (${python}): ${err.message}`, false)));
    child.on("exit", (code, signal) => {
      const why = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      fail(new TorchWorkerError(`the torch worker ${why}${stderrTail.length ? `: ${stderrTail.slice(-8).join(" | ")}` : ""}`, true));
    });
    const hello = await new Promise<WorkerMessage>((resolve, reject) => (settle = { resolve, reject }));
    const h = Hello.parse(hello);
    if (h.protocol !== TORCH_PROTOCOL) {
      child.kill("SIGKILL");
      throw new TorchWorkerError(`the torch worker speaks protocol ${h.protocol}, this node ${TORCH_PROTOCOL}: use the worker of this node's release (trainer-node/torch)`, false);
    }
    self = new TorchWorker(child, h, early);
    return self;
  }

  private push(m: WorkerMessage): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve(m);
    } else this.queue.push(m);
  }

  private fail(e: TorchWorkerError): void {
    this.failure ??= e;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(e);
    }
  }

  /** The next message; rejects when the worker is gone. */
  next(): Promise<WorkerMessage> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  send(msg: object): void {
    this.child.stdin!.write(`${JSON.stringify(msg)}\n`);
  }

  /** Asks for a stop after the current optimizer step (the worker checkpoints and answers done, stopped). */
  stop(): void {
    if (this.child.exitCode === null) this.child.kill("SIGTERM");
  }

  /**
   * Runs a training (sends the train message unless the worker was started with a job file) until done.
   * Progress and the other events go to the callbacks; an error message rejects with TorchWorkerError.
   */
  async train(req: TrainRequest | null, cb: { onStarted?: (s: Started) => void; onProgress?: (p: Progress) => void; onCheckpoint?: (step: number, path: string) => void; signal?: AbortSignal } = {}): Promise<Done> {
    if (req) this.send(TrainRequest.parse(req));
    const onAbort = () => this.stop();
    cb.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for (;;) {
        const m = await this.next();
        if (m.type === "started") cb.onStarted?.(m);
        else if (m.type === "progress") cb.onProgress?.(m);
        else if (m.type === "checkpoint") cb.onCheckpoint?.(m.step, m.path);
        else if (m.type === "done") return m;
        else if (m.type === "error") throw new TorchWorkerError(m.message, m.transient);
      }
    } finally {
      cb.signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * The node's attribution scores with torch autograd (influence.ts's definitions). Progress counts
   * gradients (checkpoints x (contributions + queries)); an abort stops it (a transient error).
   */
  async attribute(req: AttributeRequest, cb: { onProgress?: (done: number, total: number) => void; signal?: AbortSignal } = {}): Promise<Attributed> {
    this.send(AttributeRequest.parse(req));
    const onAbort = () => this.send({ type: "stop" });
    cb.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for (;;) {
        const m = await this.next();
        if (m.type === "attribution_progress") cb.onProgress?.(m.done, m.total);
        else if (m.type === "attributed") return m;
        else if (m.type === "error") throw new TorchWorkerError(m.message, m.transient);
        else throw new TorchWorkerError(`expected attribution messages, got ${m.type}`, false);
      }
    } finally {
      cb.signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Streamed generation (base + optional PEFT adapter; models stay loaded in the worker between calls).
   * `onToken` gets each token id (null for held-back text flushed at the end) with the text it completes;
   * the deltas concatenate to the result's `text`. An abort sends a cancel: the promise then resolves
   * with `finish_reason: "cancelled"` and what was generated so far. One command runs at a time in a
   * worker: calls made while another runs wait their turn.
   */
  generate(req: GenerateRequest, cb: { onToken?: (tokenId: number | null, text: string) => void; signal?: AbortSignal } = {}): Promise<Generated> {
    const parsed = GenerateRequest.parse(req);
    return this.exclusive(async () => {
      if (cb.signal?.aborted) throw new TorchWorkerError("the generation was cancelled before it started", true);
      this.send(parsed);
      const onAbort = () => this.send({ type: "cancel" });
      cb.signal?.addEventListener("abort", onAbort, { once: true });
      try {
        for (;;) {
          const m = await this.next();
          if (m.type === "token") cb.onToken?.(m.token_id, m.text);
          else if (m.type === "generated") return m;
          else if (m.type === "error") throw new TorchWorkerError(m.message, m.transient);
          else throw new TorchWorkerError(`expected generation messages, got ${m.type}`, false);
        }
      } finally {
        cb.signal?.removeEventListener("abort", onAbort);
      }
    });
  }

  private turn: Promise<unknown> = Promise.resolve();

  /** Runs `fn` after every command started before it (the worker answers one command at a time). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.turn.then(fn, fn);
    this.turn = run.catch(() => undefined);
    return run;
  }

  /**
   * The held-out eval loss of an adapter over a JSONL file of records, and over one shard of them, as its training
   * run measured it after the last step (a verifier's recomputation of an eval job's claim).
   */
  evaluate(req: EvaluateRequest): Promise<Evaluated> {
    const parsed = EvaluateRequest.parse(req);
    if (this.hello.commands && !this.hello.commands.includes("evaluate")) {
      return Promise.reject(new TorchWorkerError(`this torch worker does not answer evaluate (it answers ${this.hello.commands.join(", ")}): use the worker of this node's release`, false));
    }
    return this.exclusive(async () => {
      this.send(parsed);
      const m = await this.next();
      if (m.type === "error") throw new TorchWorkerError(m.message, m.transient);
      if (m.type !== "evaluated") throw new TorchWorkerError(`expected an evaluated message, got ${m.type}`, false);
      return m;
    });
  }

  /** Token ids and loss mask of every record of `dataFile`, as the worker trains on them. */
  async encode(modelDir: string, dataFile: string): Promise<Array<{ ids: number[]; train: boolean[] }>> {
    this.send({ type: "encode", model_dir: modelDir, data_file: dataFile });
    const m = await this.next();
    if (m.type === "error") throw new TorchWorkerError(m.message, m.transient);
    if (m.type !== "encoded") throw new TorchWorkerError(`expected an encoded message, got ${m.type}`, false);
    return m.examples;
  }

  /** The model's architecture, parameter count and Linear layer names, without loading its weights. */
  async inspect(modelDir: string): Promise<Inspected> {
    this.send({ type: "inspect", model_dir: modelDir });
    const m = await this.next();
    if (m.type === "error") throw new TorchWorkerError(m.message, m.transient);
    if (m.type !== "inspected") throw new TorchWorkerError(`expected an inspected message, got ${m.type}`, false);
    return m;
  }

  /** Closes stdin and waits for the process to end (kills it after `graceMs`). */
  async close(graceMs = 10_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.stdin!.end();
    const t = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(t);
  }
}

/**
 * One training run on the torch backend: a single stdio worker, or `nproc` processes under torchrun
 * (the train message is written to `<out_dir>/torch-job.json` for them).
 */
export async function runTorchTraining(req: TrainRequest, o: { nproc?: number; python?: string; onStarted?: (s: Started) => void; onProgress?: (p: Progress) => void; signal?: AbortSignal; onStderr?: (l: string) => void; onHello?: (h: Hello) => void } = {}): Promise<Done> {
  const nproc = o.nproc ?? 1;
  let jobFile: string | undefined;
  if (nproc > 1) {
    jobFile = join(req.out_dir, "torch-job.json");
    await mkdir(dirname(jobFile), { recursive: true });
    await writeFile(jobFile, JSON.stringify(TrainRequest.parse(req)));
  }
  const w = await TorchWorker.start({ python: o.python, nproc, jobFile, onStderr: o.onStderr });
  try {
    o.onHello?.(w.hello);
    return await w.train(jobFile ? null : req, o);
  } finally {
    await w.close();
  }
}
