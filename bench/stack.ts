// Idle cost of the local stack: starts `npm start`'s entry point (scripts/stack/index.ts) in a temp home
// on free ports, waits until it is up and has settled, then samples the CPU time (/proc, utime+stime) of
// every process in the stack's tree over a window, per service. Writes bench/results/stack.json.
// `idle_cpu_percent_of_one_core`: the whole stack's CPU over the window as a percentage of one core (goal < 3).
// Linux only (/proc). Env: BENCH_SETTLE_S (default 30), BENCH_WINDOW_S (default 60).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { interrupt, startStack, testEnv } from "../scripts/stack/test/helpers.ts";

const root = path.resolve(import.meta.dirname, "..");
const SETTLE_S = Number(process.env.BENCH_SETTLE_S ?? 30);
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 60);
const TICK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

interface Proc {
  pid: number;
  ppid: number;
  ticks: number;
  cmd: string;
}

function procs(): Map<number, Proc> {
  const out = new Map<number, Proc>();
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const f = stat.slice(close + 2).split(" ");
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, "utf8").replace(/\0/g, " ").trim();
      out.set(Number(d), { pid: Number(d), ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), cmd });
    } catch {
      /* exited */
    }
  }
  return out;
}

function tree(all: Map<number, Proc>, rootPid: number): Proc[] {
  const kids = new Map<number, Proc[]>();
  for (const p of all.values()) kids.set(p.ppid, [...(kids.get(p.ppid) ?? []), p]);
  const res: Proc[] = [];
  const walk = (pid: number) => {
    const p = all.get(pid);
    if (p) res.push(p);
    for (const k of kids.get(pid) ?? []) walk(k.pid);
  };
  walk(rootPid);
  return res;
}

/** The service a process belongs to, from its command line. */
function service(cmd: string): string {
  if (/anvil/.test(cmd)) return "chain";
  const m = /runners\/(\w+)\.ts/.exec(cmd);
  if (m) return m[1];
  if (/scripts\/stack\/index\.ts/.test(cmd)) return "supervisor";
  if (/vite/.test(cmd)) return "web";
  return cmd.split(" ").slice(0, 2).join(" ").slice(0, 60);
}

const env = await testEnv();
console.error(`[stack bench] starting a stack in ${env.TRIBUTARY_HOME}`);
const stack = await startStack(env);
try {
  await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
  const before = tree(procs(), stack.child.pid!);
  const t0 = performance.now();
  const load0 = os.loadavg()[0];
  await new Promise((r) => setTimeout(r, WINDOW_S * 1000));
  const seconds = (performance.now() - t0) / 1000;
  const after = tree(procs(), stack.child.pid!);
  const start = new Map(before.map((p) => [p.pid, p.ticks]));
  const perService: Record<string, number> = {};
  for (const p of after) {
    const ticks = p.ticks - (start.get(p.pid) ?? 0);
    const name = service(p.cmd);
    perService[name] = (perService[name] ?? 0) + ticks;
  }
  const pct = (ticks: number) => Math.round((ticks / TICK / seconds) * 1000) / 10;
  const total = Object.values(perService).reduce((a, b) => a + b, 0);
  const restarted = after.filter((p) => !start.has(p.pid)).map((p) => service(p.cmd));
  const result = {
    idle_cpu_percent_of_one_core: pct(total),
    idle_cpu_goal: "the whole idle stack under 3% of one core",
    idle_cpu_goal_met: pct(total) < 3,
    idle_cpu_percent_by_service: Object.fromEntries(Object.entries(perService).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, pct(v)])),
    processes_started_during_window: restarted,
    window_s: Math.round(seconds),
    settle_s: SETTLE_S,
    clock_ticks_per_s: TICK,
    load_average_1m_at_start: Math.round(load0 * 100) / 100,
    load_average_1m_at_end: Math.round(os.loadavg()[0] * 100) / 100,
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
    rerun: "npm run bench:stack",
  };
  const file = path.join(root, "bench/results/stack.json");
  const previous = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {};
  fs.writeFileSync(file, JSON.stringify({ ...previous, ...result }, null, 2) + "\n");
  console.log(JSON.stringify(result, null, 2));
} finally {
  await interrupt(stack);
}
