// Starts and stops real stacks (the `npm start` entry point as a child process) for the tests.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const entry = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "index.ts");

const PORT_VARS = [
  "TRIBUTARY_CHAIN_PORT",
  "TRIBUTARY_IPFS_API_PORT",
  "TRIBUTARY_IPFS_GATEWAY_PORT",
  "TRIBUTARY_CUSTODIAN_PORT",
  "TRIBUTARY_INDEXER_PORT",
  "TRIBUTARY_TRAINER_PORT",
  "TRIBUTARY_WEB_PORT",
];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Env for a stack in a new temp home on free, non-default ports, with its own chain id and deployments dir. */
export async function testEnv(): Promise<Record<string, string>> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-stack-test-"));
  const env: Record<string, string> = {
    TRIBUTARY_HOME: path.join(home, "state"),
    TRIBUTARY_DEPLOYMENTS_DIR: path.join(home, "deployments"),
    TRIBUTARY_CHAIN_ID: "31999",
    TRIBUTARY_READY_TIMEOUT_S: "90",
  };
  for (const name of PORT_VARS) env[name] = String(await freePort());
  return env;
}

export interface RunningStack {
  readonly child: ChildProcess;
  output: string;
  readonly exited: Promise<number | null>;
}

const spawned: RunningStack[] = [];

/** Stops (SIGINT) every stack a test started that still runs, e.g. after a failed assertion. */
export async function stopAll(): Promise<void> {
  for (const s of spawned) if (s.child.exitCode === null && s.child.signalCode === null) await interrupt(s);
}

/** Spawns `node scripts/stack/index.ts ...args` and collects its output. */
export function spawnStack(env: Record<string, string>, args: string[] = []): RunningStack {
  const child = spawn(process.execPath, [entry, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stack: RunningStack = {
    child,
    output: "",
    exited: new Promise((resolve) => child.once("exit", (code) => resolve(code))),
  };
  spawned.push(stack);
  child.stdout!.on("data", (d: Buffer) => (stack.output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stack.output += d.toString()));
  return stack;
}

/** Waits until the stack prints its summary; throws with its output if it exits or times out first. */
export async function waitUp(stack: RunningStack, timeoutMs = 200_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let code: number | null | undefined;
  void stack.exited.then((c) => (code = c));
  while (!stack.output.includes("Tributary local stack is up")) {
    if (code !== undefined) throw new Error(`stack exited (${code}) before it was up:\n${stack.output}`);
    if (Date.now() > deadline) throw new Error(`stack not up within ${timeoutMs} ms:\n${stack.output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts a stack and waits until it is up. */
export async function startStack(env: Record<string, string>, args: string[] = []): Promise<RunningStack> {
  const stack = spawnStack(env, args);
  await waitUp(stack);
  return stack;
}

/** Ctrl-C: SIGINT to the supervisor; resolves to its exit code. */
export async function interrupt(stack: RunningStack): Promise<number | null> {
  stack.child.kill("SIGINT");
  return stack.exited;
}

export async function rpc<T>(
  env: Record<string, string>,
  method: string,
  params: unknown[] = [],
): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${env.TRIBUTARY_CHAIN_PORT}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await res.json()) as { result: T; error?: { message: string } };
  if (body.error) throw new Error(body.error.message);
  return body.result;
}

export function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, "utf8")) as T;
}

