// Starts the real local stack (scripts/stack, as `npm start` does) for a browser test: its own temp home,
// deployments dir and free ports, so it runs beside a developer's stack. The stack's `web` step serves
// this app with Vite.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const repoRoot = path.resolve(import.meta.dirname, "..", "..", "..");
const PORTS = [
  "TRIBUTARY_CHAIN_PORT",
  "TRIBUTARY_IPFS_API_PORT",
  "TRIBUTARY_IPFS_GATEWAY_PORT",
  "TRIBUTARY_CUSTODIAN_PORT",
  "TRIBUTARY_INDEXER_PORT",
  "TRIBUTARY_TRAINER_PORT",
  "TRIBUTARY_WEB_PORT",
] as const;

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

export interface TestStack {
  env: Record<string, string>;
  output(): string;
  url(port: (typeof PORTS)[number]): string;
  /** Whether the stack skipped a step (its piece is not in this checkout). */
  skipped(step: string): boolean;
  stop(): Promise<void>;
}

export async function startTestStack(timeoutMs = 240_000): Promise<TestStack> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-web-test-"));
  const env: Record<string, string> = {
    TRIBUTARY_HOME: path.join(dir, "state"),
    TRIBUTARY_DEPLOYMENTS_DIR: path.join(dir, "deployments"),
    TRIBUTARY_CHAIN_ID: "31998",
    TRIBUTARY_READY_TIMEOUT_S: "120",
  };
  for (const name of PORTS) env[name] = String(await freePort());
  const child: ChildProcess = spawn(process.execPath, [path.join(repoRoot, "scripts", "stack", "index.ts")], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
  const stack: TestStack = {
    env,
    output: () => out,
    url: (port) => `http://127.0.0.1:${env[port]}`,
    skipped: (step) => new RegExp(`- ${step}: skipped`).test(out),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGINT");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + timeoutMs;
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  while (!out.includes("Tributary local stack is up")) {
    if (code !== undefined) {
      await stack.stop();
      throw new Error(`the stack exited (${code}) before it was up:\n${out}`);
    }
    if (Date.now() > deadline) {
      await stack.stop();
      throw new Error(`the stack was not up within ${timeoutMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return stack;
}

/** A JSON-RPC call to the stack's chain. */
export async function rpc<T>(stack: TestStack, method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(stack.url("TRIBUTARY_CHAIN_PORT"), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await res.json()) as { result: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}
