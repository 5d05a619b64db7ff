// Starts the real local stack (scripts/stack, as `npm start` does) for a browser test: its own temp home,
// deployments dir and free ports, so it runs beside a developer's stack. The stack's `web` step serves
// this app with Vite.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { testEnv } from "../../../scripts/stack/test/helpers.ts";

const repoRoot = path.resolve(import.meta.dirname, "..", "..", "..");
export interface TestStack {
  env: Record<string, string>;
  output(): string;
  url(port: string): string;
  stop(): Promise<void>;
}

export async function startTestStack(timeoutMs = 600_000): Promise<TestStack> {
  // the stack tests' environment (temp home and deployments, free ports), with this suite's own chain id
  const env: Record<string, string> = {
    ...(await testEnv()),
    TRIBUTARY_CHAIN_ID: "31998",
    TRIBUTARY_READY_TIMEOUT_S: "300",
    // the e2e trains 30 epochs (the demo card) of a job verified by replay (the card's Llama base): on wasm, the
    // stack's default kernel, as an ort node refuses replay jobs
    TRIBUTARY_TRAINER_KERNEL: "wasm",
  };
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
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGINT");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      fs.rmSync(path.dirname(env.TRIBUTARY_HOME), { recursive: true, force: true });
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
