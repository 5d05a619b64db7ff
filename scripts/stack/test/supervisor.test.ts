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

describe("supervisor: crashed services", { timeout: 60_000 }, () => {
  let config: StackConfig;
  let lines: string[];
  let dir: string;
  const restart = { baseMs: 100, capMs: 400, fastMs: 5000, maxFastCrashes: 3 };
  const make = (steps: Step[]) => new Supervisor(config, { steps, out: (l) => lines.push(l), restart });
  /** A service that exits with code 3 after `ms` on its first `crashes` runs, then keeps running. */
  const flaky = (name: string, crashes: number, ms = 300): Step => {
    const count = path.join(dir, `${name}.runs`);
    return program(
      name,
      `const fs = require("fs"); const n = fs.existsSync(${JSON.stringify(count)}) ? Number(fs.readFileSync(${JSON.stringify(count)}, "utf8")) : 0;
       fs.writeFileSync(${JSON.stringify(count)}, String(n + 1)); console.log("run " + (n + 1));
       if (n < ${crashes}) setTimeout(() => process.exit(3), ${ms}); else setInterval(() => {}, 1000);`,
      async () => true,
    );
  };
  const waitFor = async (what: string, ok: () => boolean) => {
    const end = Date.now() + 20_000;
    while (!ok()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${lines.join("\n")}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  before(async () => {
    config = { ...loadConfig({ ...process.env, ...(await testEnv()) }), readyTimeoutS: 5 };
    dir = config.home;
    fs.mkdirSync(dir, { recursive: true });
  });
  after(() => fs.rmSync(path.dirname(config.home), { recursive: true, force: true }));

  it("restarts a crashed service with a doubling pause, printing so, until it stays up", async () => {
    lines = [];
    const sup = make([flaky("worker", 2)]);
    await sup.start(false);
    try {
      await waitFor(
        "the second restart",
        () =>
          lines.some((l) => l.includes("✓ worker: restarted")) &&
          lines.filter((l) => l.includes("✓ worker: restarted")).length === 2,
      );
      assert.ok(lines.some((l) => /! worker stopped unexpectedly \(exit code 3\) after \d+\.\d s/.test(l)));
      assert.deepEqual(
        lines.filter((l) => l.includes("↻ worker")),
        [
          "[stack] ↻ worker: restarting in 0.1 s (crash 1 in a row)",
          "[stack] ↻ worker: restarting in 0.2 s (crash 2 in a row)",
        ],
      );
      assert.ok(sup.isRunning("worker"));
      await waitFor("the third run", () => fs.readFileSync(path.join(dir, "worker.runs"), "utf8") === "3");
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(fs.readFileSync(path.join(dir, "worker.runs"), "utf8"), "3", "it stays up");
    } finally {
      await sup.stop();
    }
  });

  it("gives up on a service after repeated crashes right after its start, and keeps the rest running", async () => {
    lines = [];
    const sup = make([flaky("steady", 0), flaky("broken", 1000, 100)]);
    await sup.start(false);
    try {
      await waitFor("giving up", () => lines.some((l) => l.includes("giving up on it")));
      assert.match(
        lines.find((l) => l.includes("giving up on it"))!,
        /! broken crashed 3 times in a row within 5 s of starting; giving up on it \(read .*broken\.log/,
      );
      assert.equal(lines.filter((l) => l.includes("↻ broken")).length, 2);
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(fs.readFileSync(path.join(dir, "broken.runs"), "utf8"), "3", "no restart after giving up");
      assert.ok(sup.isRunning("steady") && !sup.isRunning("broken"));
    } finally {
      await sup.stop();
    }
  });

  it("keeps a crashed service that needs the chain waiting while the chain is down", async () => {
    lines = [];
    const up = path.join(dir, "chain-up");
    fs.writeFileSync(up, "");
    const chain: Step = {
      ...program("fakechain", "setInterval(() => {}, 1000)", async () => fs.existsSync(up)),
      chain: true,
    };
    const sup = make([chain, { ...flaky("indexerish", 1, 600), needsChain: true }]);
    await sup.start(false);
    try {
      fs.rmSync(up); // the chain stops answering before the dependent service crashes
      await waitFor("waiting", () =>
        lines.some((l) => l.includes("indexerish: waiting for the chain before restarting")),
      );
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(
        fs.readFileSync(path.join(dir, "indexerish.runs"), "utf8"),
        "1",
        "not restarted while the chain is down",
      );
      fs.writeFileSync(up, "");
      await waitFor("the restart", () => lines.some((l) => l.includes("✓ indexerish: restarted")));
      assert.ok(sup.isRunning("fakechain") && sup.isRunning("indexerish"));
    } finally {
      await sup.stop();
    }
  });
});
