/**
 * Runs before the engine's and the trainer node's tests: makes the project's Python env (torch,
 * transformers, peft, accelerate; python-requirements.txt) within a time limit. It does not fail the run
 * itself: where pip cannot reach the packages, the engine's parity tests and the trainer node's torch
 * tests fail, saying how to build the env.
 * Set TRIBUTARY_SKIP_PYTHON=1 to skip this step.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const LIMIT_S = Number(process.env.TRIBUTARY_PYTHON_SETUP_TIMEOUT ?? 900);

if (process.env.TRIBUTARY_SKIP_PYTHON) {
  console.error("[engine] TRIBUTARY_SKIP_PYTHON is set: not preparing the Python env (the parity tests will fail and say how to build it)");
} else {
  const script = fileURLToPath(new URL("./python-venv.sh", import.meta.url));
  const started = Date.now();
  const r = spawnSync("sh", [script], { encoding: "utf8", timeout: LIMIT_S * 1000, stdio: ["ignore", "pipe", "pipe"] });
  const took = ((Date.now() - started) / 1000).toFixed(0);
  if (r.status === 0) {
    console.error(`[engine] Python env ready (${r.stdout.trim()}, ${took} s)`);
  } else {
    const why = r.error ? r.error.message : (r.stderr || "").trim().split("\n").slice(-3).join(" | ");
    console.error(`[engine] Python env unavailable after ${took} s (${why}); the PyTorch parity tests and the trainer node's torch tests will fail; build it with sh engine/scripts/python-venv.sh.`);
  }
}
