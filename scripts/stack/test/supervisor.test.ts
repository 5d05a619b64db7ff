// The supervisor's handling of services that are absent, slow, or broken, with real child processes:
// each case is a tiny Node program standing in for a service that behaves that way.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { loadConfig, type StackConfig } from "../config.ts";
import { ServiceNotReadyError, StackError } from "../errors.ts";
import type { Step } from "../services.ts";
import { Supervisor } from "../supervisor.ts";
import { testEnv } from "./helpers.ts";

function program(name: string, source: string, ready?: Step["ready"]): Step {
  return {
    name,
    title: name,
    kind: ready ? "service" : "task",
    spawn: () => ({ command: process.execPath, args: ["-e", source] }),
    ...(ready ? { ready } : {}),
  };
}

describe("supervisor", { timeout: 60_000 }, () => {
  let config: StackConfig;
  let lines: string[];
  const make = (steps: Step[]) => new Supervisor(config, { steps, out: (l) => lines.push(l) });

  before(async () => {
    config = { ...loadConfig({ ...process.env, ...(await testEnv()) }), readyTimeoutS: 2 };
  });
  after(() => fs.rmSync(path.dirname(config.home), { recursive: true, force: true }));

  it("runs a task to completion with its output in its log", async () => {
    lines = [];
    const sup = make([program("task", "console.log('did it')")]);
    await sup.start(false);
    await sup.stop();
    assert.ok(lines.some((l) => /✓ task: done/.test(l)));
    assert.match(fs.readFileSync(path.join(config.home, "logs", "task.log"), "utf8"), /did it/);
  });

  it("names the service and its log when it never becomes ready, and stops what had started", async () => {
    lines = [];
    const marker = path.join(config.home, "first-stopped");
    const sup = make([
      program(
        "first",
        `process.on("SIGINT", () => { require("fs").writeFileSync(${JSON.stringify(marker)}, "x"); process.exit(0); }); setInterval(() => {}, 1000);`,
        async () => true,
      ),
      program("sleepy", "console.log('warming up'); setInterval(() => {}, 1000);", async () => false),
    ]);
    await assert.rejects(sup.start(false), (err: unknown) => {
      assert.ok(err instanceof ServiceNotReadyError);
      assert.match(err.message, /^sleepy did not become ready: no ready answer within 2 s/);
      assert.match(err.describe(), /sleepy\.log/);
      assert.match(err.describe(), /warming up/);
      return true;
    });
    assert.ok(fs.existsSync(marker), "the service that was up got SIGINT");
  });

  it("reports a service that exits during start-up with the tail of its log", async () => {
    lines = [];
    const sup = make([
      program("crashy", "console.error('Error: cannot open the store'); process.exit(2)", async () => false),
    ]);
    await assert.rejects(sup.start(false), (err: unknown) => {
      assert.ok(err instanceof ServiceNotReadyError);
      assert.match(err.message, /crashy did not become ready: it exited \(exit code 2\)/);
      assert.match(err.describe(), /cannot open the store/);
      return true;
    });
  });

  it("fails a task that exits non-zero, naming its log", async () => {
    lines = [];
    const sup = make([program("deployish", "console.error('HHE100: something broke'); process.exit(1)")]);
    await assert.rejects(sup.start(false), (err: unknown) => {
      assert.ok(err instanceof StackError);
      assert.match(err.message, /deployish failed \(exit code 1\)/);
      assert.match(err.describe(), /HHE100: something broke/);
      return true;
    });
  });

  it("rejects a bad port setting with the variable's name", () => {
    assert.throws(
      () => loadConfig({ TRIBUTARY_CHAIN_PORT: "85x45" }),
      /TRIBUTARY_CHAIN_PORT=85x45 is not a valid value/,
    );
    assert.throws(() => loadConfig({ TRIBUTARY_WEB_PORT: "70000" }), /TRIBUTARY_WEB_PORT=70000/);
    assert.equal(loadConfig({ TRIBUTARY_INDEXER_PORT: "18000" }).ports.indexer.port, 18000);
  });
});
