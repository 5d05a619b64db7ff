// Budget of the web app, from its production build (vite build with a manifest, into a temp folder):
//   - initial_js_gzip_kb: the JavaScript a first visit downloads before anything renders: the entry chunk
//     and every chunk it imports statically (what index.html loads or modulepreloads), gzip level 9.
//   - landing_js_gzip_kb: that plus the default route's chunks (the Datanets list), i.e. the first screen.
//   - per route: what opening that page adds on top (its lazy chunk and the static imports it brings).
//   - the wallet chunk (wagmi + RainbowKit), loaded on "Connect Wallet" or to reconnect.
//   - a11y_serious_violations: axe-core's serious + critical violations summed over every page, as the
//     browser test (frontend/test/e2e.test.ts, journey test/journeys/a11y.ts) last measured them on the real
//     stack (bench/results/frontend-a11y.json); null until it ran.
//   npm run bench:frontend   ->   bench/results/frontend.json
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const GOAL_INITIAL_KB = 250;
const repo = resolve(import.meta.dirname, "..");
const frontend = join(repo, "frontend");
const resultsDir = join(repo, "bench", "results");
const outFile = join(resultsDir, "frontend.json");
const a11yFile = join(resultsDir, "frontend-a11y.json");

interface ManifestChunk {
  file: string;
  src?: string;
  isEntry?: boolean;
  isDynamicEntry?: boolean;
  imports?: string[];
  dynamicImports?: string[];
  css?: string[];
}
type Manifest = Record<string, ManifestChunk>;

const out = mkdtempSync(join(tmpdir(), "frontend-bench-"));
try {
  const vite = join(fileURLToPath(new URL(".", import.meta.resolve("vite/package.json"))), "bin", "vite.js");
  const started = performance.now();
  execFileSync(
    process.execPath,
    [vite, "build", "--outDir", out, "--emptyOutDir", "--manifest", "--logLevel", "warn"],
    {
      cwd: frontend,
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  const buildSeconds = (performance.now() - started) / 1000;
  const manifest = JSON.parse(readFileSync(join(out, ".vite", "manifest.json"), "utf8")) as Manifest;
  const gz = new Map<string, number>();
  const gzipKb = (file: string) => {
    if (!gz.has(file)) gz.set(file, gzipSync(readFileSync(join(out, file)), { level: 9 }).length / 1024);
    return gz.get(file)!;
  };
  /** The manifest keys `key` pulls in statically (itself included). */
  const closure = (key: string, seen = new Set<string>()): Set<string> => {
    if (seen.has(key)) return seen;
    seen.add(key);
    for (const i of manifest[key].imports ?? []) closure(i, seen);
    return seen;
  };
  const sum = (keys: Iterable<string>, pick: (c: ManifestChunk) => string[]) =>
    [...keys].flatMap((k) => pick(manifest[k])).reduce((a, f) => a + gzipKb(f), 0);
  const js = (c: ManifestChunk) => [c.file];
  const css = (c: ManifestChunk) => c.css ?? [];
  const round = (x: number) => Math.round(x * 10) / 10;

  const entry = Object.keys(manifest).find((k) => manifest[k].isEntry);
  if (!entry) throw new Error("the build's manifest has no entry chunk");
  const initial = closure(entry);
  const routes: Record<string, { js_gzip_kb: number; css_gzip_kb: number }> = {};
  let wallet: number | undefined;
  for (const [key, c] of Object.entries(manifest)) {
    if (!c.isDynamicEntry) continue;
    const added = [...closure(key)].filter((k) => !initial.has(k));
    const size = { js_gzip_kb: round(sum(added, js)), css_gzip_kb: round(sum(added, css)) };
    if (key.includes("src/pages/")) routes[key.replace(/^.*src\/pages\//, "").replace(/\.tsx$/, "")] = size;
    if (key.endsWith("src/wallet-impl.tsx")) wallet = size.js_gzip_kb;
  }
  const allJs = Object.values(manifest).reduce((a, c) => a + gzipKb(c.file), 0);
  const initialKb = round(sum(initial, js));
  const a11y = existsSync(a11yFile)
    ? (JSON.parse(readFileSync(a11yFile, "utf8")) as {
        serious_or_critical: number;
        pages: Record<string, number>;
        date: string;
      })
    : undefined;
  const result = {
    benchmark: "frontend",
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model.split(" ").slice(0, 2).join(" "),
      node: process.version,
    },
    command: "npm run bench:frontend",
    gzip_level: 9,
    build_seconds: round(buildSeconds),
    initial_js_gzip_kb: initialKb,
    initial_js_goal_kb: GOAL_INITIAL_KB,
    initial_js_meets_goal: initialKb <= GOAL_INITIAL_KB,
    initial_css_gzip_kb: round(sum(initial, css)),
    // the first screen with content: the shell plus the default route (Datanets) it then loads
    landing_js_gzip_kb: round(initialKb + (routes.Datanets?.js_gzip_kb ?? 0)),
    initial_chunks: [...initial].map((k) => manifest[k].file.replace(/^assets\//, "")),
    route_js_gzip_kb: Object.fromEntries(Object.entries(routes).map(([k, v]) => [k, v.js_gzip_kb])),
    wallet_js_gzip_kb: wallet ?? null,
    total_js_gzip_kb: round(allJs),
    a11y_serious_violations: a11y ? a11y.serious_or_critical : null,
    a11y_pages: a11y ? a11y.pages : null,
    a11y_measured: a11y
      ? `${a11y.date} by frontend/test/e2e.test.ts (journeys/a11y.ts: axe-core on the real stack)`
      : "not yet: run the browser test",
  };
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(outFile, JSON.stringify(result, null, 2) + "\n");
  console.log(JSON.stringify(result, null, 2));
  if (!result.initial_js_meets_goal) {
    console.error(`initial JS ${initialKb} KB gzip is over the ${GOAL_INITIAL_KB} KB budget`);
    process.exitCode = 1;
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
