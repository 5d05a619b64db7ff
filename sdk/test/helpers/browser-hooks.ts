// Imported first by a child process: module resolution as a browser bundler does it (the `browser`
// export condition and package.json `browser` field, never `node`), failing any Node built-in import.
import { existsSync, readFileSync } from "node:fs";
import { registerHooks, isBuiltin } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The package.json `browser` field's replacement for a resolved file, if it has one. */
function browserField(url: string): string | undefined {
  if (!url.startsWith("file:")) return undefined;
  const file = fileURLToPath(url);
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const pkgFile = join(dir, "package.json");
    if (!existsSync(pkgFile)) continue;
    const pkg = JSON.parse(readFileSync(pkgFile, "utf8")) as {
      name?: string;
      browser?: unknown;
      main?: string;
    };
    if (!pkg.name) continue; // a nested {"type": "module"} marker, not the package root
    const rel = `./${relative(dir, file)}`;
    const norm = (p: string) => `./${join(p)}`.replace(/^\.\/\.\//, "./");
    if (typeof pkg.browser === "string")
      return norm(pkg.main ?? "index.js") === rel ? pathToFileURL(join(dir, pkg.browser)).href : undefined;
    if (pkg.browser && typeof pkg.browser === "object") {
      for (const [from, to] of Object.entries(pkg.browser as Record<string, string | false>))
        if (typeof to === "string" && norm(from) === rel) return pathToFileURL(join(dir, to)).href;
    }
    return undefined;
  }
  return undefined;
}

registerHooks({
  resolve(specifier, context, next) {
    if (isBuiltin(specifier)) throw new Error(`imports Node built-in ${specifier} from ${context.parentURL}`);
    const conditions = ["browser", ...context.conditions.filter((c) => !c.startsWith("node"))];
    const resolved = next(specifier, { ...context, conditions });
    const swapped = browserField(resolved.url);
    return swapped ? { ...resolved, url: swapped } : resolved;
  },
});
