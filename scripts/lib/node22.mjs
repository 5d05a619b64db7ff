// The project needs Node >= 22 (TypeScript type stripping, Hardhat 3, Helia). Machines it is developed on
// ship Node 20, so this finds or installs a suitable Node once: the running one when it is new enough,
// else the official Node 22 binary from the npm registry (package node-<os>-<arch>) in .tools/ of the
// repository. Nothing system-wide changes. Used by scripts/bootstrap.mjs (npm start / npm test) and by
// the command shims in each package's bin/ (npx tributary, tributary-engine, tributary-trainer, ...).
// It must itself run on old Node, so it uses only long-stable APIs.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const NODE_VERSION = "22.23.3";
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Whether this Node runs the project's .ts files itself (type stripping on by default: 22.18+, 23.6+). */
export function runsTypeScript(version = process.versions.node) {
  const [major, minor] = version.split(".").map(Number);
  return major > 23 || (major === 23 && minor >= 6) || (major === 22 && minor >= 18);
}

/** The folder holding the project's own Node binary (whether or not it is installed yet). */
export function toolBinDir() {
  const os = { linux: "linux", darwin: "darwin", win32: "win" }[process.platform];
  const pkg = `node-${os}-${process.arch}`;
  return { pkg, dir: path.join(repoRoot, ".tools", `node-${NODE_VERSION}`, "node_modules", pkg, "bin") };
}

/**
 * Path of a Node binary that runs the project: this one when it is new enough, else the project's Node
 * 22 (installed into .tools/ on first use). Exits with a clear message when it cannot be installed.
 */
export function projectNode({ quiet = false } = {}) {
  if (runsTypeScript()) return process.execPath;
  const { pkg, dir } = toolBinDir();
  const bin = path.join(dir, process.platform === "win32" ? "node.exe" : "node");
  if (!existsSync(bin)) {
    if (!quiet) {
      console.error(`[tributary] Node ${process.versions.node} found; this project needs Node >= 22.18.`);
      console.error(`[tributary] Installing Node ${NODE_VERSION} (npm package ${pkg}) into .tools/ ...`);
    }
    const npm = process.platform === "win32" ? "npm.cmd" : "npm";
    const r = spawnSync(npm, ["install", "--prefix", path.join(repoRoot, ".tools", `node-${NODE_VERSION}`), "--no-save",
      "--no-package-lock", "--no-audit", "--no-fund", `${pkg}@${NODE_VERSION}`], { stdio: quiet ? "ignore" : ["ignore", 2, 2], cwd: repoRoot });
    if (r.status !== 0 || !existsSync(bin)) {
      console.error(`[tributary] Could not install ${pkg}@${NODE_VERSION}. Install Node >= 22.18 yourself ` +
        "(https://nodejs.org or nvm) and run the command again.");
      process.exit(1);
    }
  }
  return bin;
}

/**
 * Runs the TypeScript entry point `entry` (a file URL) with this process's arguments: in this process
 * when Node can, otherwise in the project's Node 22 with stdio inherited and signals passed on, exiting
 * with its status.
 */
export async function runTs(entry) {
  if (runsTypeScript()) {
    await import(entry.href ?? entry);
    return;
  }
  const node = projectNode();
  const child = spawn(node, [fileURLToPath(entry), ...process.argv.slice(2)], { stdio: "inherit" });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, () => child.kill(sig));
  child.on("exit", (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    process.exit(code ?? 1);
  });
}
