// Child processes of the stack: each writes to its own log file, runs in its own process group (so a
// terminal's Ctrl-C reaches only the supervisor, which then stops services in reverse order), and
// leaves a pid file so that a later start can clean up after a supervisor that was killed hard.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export interface SpawnSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  /** Open an IPC channel: Node runners exit when it closes (the supervisor died). */
  readonly ipc?: boolean;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface Managed {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  readonly exited: Promise<Exit>;
  /** Set once the process has exited. */
  exit: Exit | undefined;
}

export function describeExit(exit: Exit): string {
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}

export function startProcess(name: string, spec: SpawnSpec, logFile: string, runDir: string): Managed {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  fs.mkdirSync(runDir, { recursive: true });
  const fd = fs.openSync(logFile, "a");
  fs.writeSync(fd, `\n--- ${new Date().toISOString()} ${spec.command} ${spec.args.join(" ")}\n`);
  const child = spawn(spec.command, [...spec.args], {
    cwd: spec.cwd,
    env: { ...process.env, ...spec.env },
    stdio: spec.ipc ? ["ignore", fd, fd, "ipc"] : ["ignore", fd, fd],
    detached: true,
  });
  fs.closeSync(fd);
  const pidFile = path.join(runDir, `${name}.pid`);
  if (child.pid) fs.writeFileSync(pidFile, `${child.pid}\n${spec.command}\n${spec.args[0] ?? ""}\n`);
  const managed: Managed = {
    name,
    child,
    logFile,
    exit: undefined,
    exited: new Promise<Exit>((resolve) => {
      child.once("exit", (code, signal) => {
        managed.exit = { code, signal };
        fs.rmSync(pidFile, { force: true });
        resolve(managed.exit);
      });
      child.once("error", (err) => {
        fs.appendFileSync(logFile, `spawn failed: ${err.message}\n`);
        managed.exit = { code: 127, signal: null };
        fs.rmSync(pidFile, { force: true });
        resolve(managed.exit);
      });
    }),
  };
  return managed;
}

/** Asks a process to stop (SIGINT, then SIGTERM), and kills it after `graceMs`. */
export async function stopProcess(managed: Managed, graceMs = 15_000): Promise<Exit> {
  if (managed.exit) return managed.exit;
  const send = (signal: NodeJS.Signals) => {
    try {
      process.kill(managed.child.pid!, signal);
    } catch {
      /* already gone */
    }
  };
  send("SIGINT");
  const timer = (ms: number) => new Promise<"timeout">((r) => setTimeout(() => r("timeout"), ms).unref());
  if ((await Promise.race([managed.exited, timer(graceMs)])) === "timeout") {
    send("SIGKILL");
  }
  return managed.exited;
}

/** Last `n` lines of a log file (for error messages). */
export function tailLog(file: string, n = 15): string {
  try {
    const text = fs.readFileSync(file, "utf8");
    return text.trimEnd().split("\n").slice(-n).join("\n");
  } catch {
    return "";
  }
}

/**
 * Stops processes left running by an earlier supervisor that was killed hard (their pid files remain).
 * Only a process whose command line still names the recorded command is signalled.
 */
export async function reapStale(runDir: string, log: (line: string) => void): Promise<void> {
  let files: string[];
  try {
    files = fs.readdirSync(runDir).filter((f) => f.endsWith(".pid") && f !== "supervisor.pid");
  } catch {
    return;
  }
  for (const file of files) {
    const full = path.join(runDir, file);
    let text: string;
    try {
      text = fs.readFileSync(full, "utf8");
    } catch {
      continue; // removed meanwhile: that process just exited
    }
    const [pidText, command, firstArg] = text.split("\n");
    const pid = Number(pidText);
    fs.rmSync(full, { force: true });
    if (!Number.isInteger(pid) || pid <= 1) continue;
    let cmdline = "";
    try {
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      continue; // not running (or no /proc: leave it alone)
    }
    const argv = cmdline.split("\0");
    if (!command || !argv[0]?.includes(path.basename(command))) continue;
    if (firstArg && !argv.includes(firstArg)) continue;
    log(`stopping ${file.replace(/\.pid$/, "")} (pid ${pid}) left running by an earlier stack`);
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      continue;
    }
    for (let i = 0; i < 100 && isLive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  }
}

/** True while `pid` runs (a zombie, exited but not yet reaped by its new parent, counts as gone). */
function isLive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}
