#!/usr/bin/env node
// Runs an npm script of this repository on Node >= 22 with dependencies installed.
//
// `npm start` / `npm test` call this first. It must itself run on old Node (the machines this project
// is developed on ship Node 20), so it uses only long-stable Node APIs.
//  - Node < 22: installs the official Node 22 binary from the npm registry (package node-<os>-<arch>)
//    into .tools/ once and puts it first on PATH. Node >= 22 (22, 24, macOS, ...) is used as it is.
//  - node_modules missing or installed from another lockfile: runs `npm ci` (or `npm install` on an
//    existing tree) under that Node, so packages whose engines need Node 22 install too.
// Usage: node scripts/bootstrap.mjs <npm-script> [args...]
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const NODE_VERSION = "22.23.3";
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const [script, ...args] = process.argv.slice(2);
if (!script) {
  console.error("usage: node scripts/bootstrap.mjs <npm-script> [args...]");
  process.exit(2);
}

const env = { ...process.env };
const npmCli = process.platform === "win32" ? "npm.cmd" : "npm";

function run(cmd, cmdArgs, opts = {}) {
  const r = spawnSync(cmd, cmdArgs, { stdio: "inherit", cwd: root, env, ...opts });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  const os = { linux: "linux", darwin: "darwin", win32: "win" }[process.platform];
  const pkg = `node-${os}-${process.arch}`;
  const toolDir = path.join(root, ".tools", `node-${NODE_VERSION}`);
  const binDir = process.platform === "win32"
    ? path.join(toolDir, "node_modules", pkg, "bin")
    : path.join(toolDir, "node_modules", pkg, "bin");
  const nodeBin = path.join(binDir, process.platform === "win32" ? "node.exe" : "node");
  if (!existsSync(nodeBin)) {
    console.error(`[bootstrap] Node ${process.versions.node} found; this project needs Node >= 22.`);
    console.error(`[bootstrap] Installing Node ${NODE_VERSION} (npm package ${pkg}) into .tools/ ...`);
    const status = run(npmCli, ["install", "--prefix", toolDir, "--no-save", "--no-package-lock",
      "--no-audit", "--no-fund", `${pkg}@${NODE_VERSION}`]);
    if (status !== 0 || !existsSync(nodeBin)) {
      console.error(`[bootstrap] Could not install ${pkg}@${NODE_VERSION}. Install Node >= 22 yourself ` +
        "(https://nodejs.org or nvm) and run the command again.");
      process.exit(1);
    }
  }
  env.PATH = binDir + path.delimiter + env.PATH;
}

// Install when node_modules is missing or was installed from a different lockfile. The lockfile's
// content hash is recorded after each install (mtimes are useless: git rewrites files on checkout).
const lock = path.join(root, "package-lock.json");
const modules = path.join(root, "node_modules");
const marker = path.join(modules, ".tributary-lock-sha256");
const lockHash = existsSync(lock) ? createHash("sha256").update(readFileSync(lock)).digest("hex") : "none";
const installedHash = existsSync(marker) ? readFileSync(marker, "utf8").trim() : "";
if (installedHash !== lockHash || env.TRIBUTARY_FORCE_INSTALL) {
  const fresh = !existsSync(path.join(modules, ".package-lock.json"));
  // A fresh tree gets the exact lockfile (npm ci); an existing one is updated in place, which is faster.
  const cmd = fresh && existsSync(lock) ? "ci" : "install";
  console.error(`[bootstrap] Installing dependencies (npm ${cmd}) ...`);
  const status = run(npmCli, [cmd, "--no-audit", "--no-fund"]);
  if (status !== 0) {
    console.error("[bootstrap] Dependency install failed (see above). Check the npm registry is reachable.");
    process.exit(status);
  }
  const newHash = existsSync(lock) ? createHash("sha256").update(readFileSync(lock)).digest("hex") : "none";
  writeFileSync(marker, newHash + "\n");
}

process.exit(run(npmCli, ["run", "--silent", script, "--", ...args]));
