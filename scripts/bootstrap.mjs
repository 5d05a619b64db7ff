#!/usr/bin/env node
// Runs an npm script of this repository on Node >= 22 with dependencies installed.
// (Finding or installing that Node: scripts/lib/node22.mjs, shared with the packages' command shims.)
//
// `npm start` / `npm test` call this first. It must itself run on old Node (the machines this project
// is developed on ship Node 20), so it uses only long-stable Node APIs.
//  - Node < 22.18: installs the official Node 22 binary from the npm registry (package node-<os>-<arch>)
//    into .tools/ once and puts it first on PATH. Node >= 22.18 (22, 24, macOS, ...) is used as it is.
//  - node_modules missing or installed from another lockfile: runs `npm ci` (or `npm install` on an
//    existing tree) under that Node, so packages whose engines need Node 22 install too.
// Usage: node scripts/bootstrap.mjs <npm-script> [args...]
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { projectNode } from "./lib/node22.mjs";

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

// Node < 22.18: the project's own Node 22 goes first on PATH (installed into .tools/ once).
const node = projectNode();
if (node !== process.execPath) env.PATH = path.dirname(node) + path.delimiter + env.PATH;

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
