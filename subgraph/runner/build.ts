// Runs graph-cli's `codegen` and `build` (offline) for a subgraph directory.
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const require = createRequire(import.meta.url);

export class GraphBuildError extends Error {
  constructor(step: string, output: string) {
    super(
      `graph ${step} failed:\n${output.trim().split("\n").slice(-30).join("\n")}\nfix the mapping or schema and rebuild`,
    );
    this.name = "GraphBuildError";
  }
}

function graphCli(): string {
  return join(require.resolve("@graphprotocol/graph-cli/package.json"), "..", "bin", "run.js");
}

async function graph(step: string, args: string[], cwd: string): Promise<void> {
  try {
    await run(process.execPath, [graphCli(), step, ...args], { cwd, maxBuffer: 16 << 20 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new GraphBuildError(step, `${err.stdout ?? ""}${err.stderr ?? ""}` || err.message);
  }
}

/** `graph codegen` then `graph build` of `manifest` (relative to `dir`); returns the built manifest's path. */
export async function buildSubgraph(
  dir: string,
  manifest = "subgraph.yaml",
  outDir = "build",
): Promise<string> {
  await graph("codegen", [manifest, "--output-dir", "generated", "--skip-migrations"], dir);
  await graph("build", [manifest, "--output-dir", outDir, "--skip-migrations"], dir);
  return join(dir, outDir, "subgraph.yaml");
}
