// Shared body of the service runners: find the service's start function in the workspace package that
// provides it, start it with the stack's configuration, and stop it on SIGINT/SIGTERM or when the
// supervisor goes away (IPC channel closed). Exit code 78 means "this piece is not merged yet".
export const EXIT_UNAVAILABLE = 78;

export interface Handle {
  stop(): Promise<void> | void;
}

export interface Candidate {
  readonly specifier: string;
  readonly exportName: string;
}

/** Imports the first candidate module that exports the function, or exits with EXIT_UNAVAILABLE. */
export async function findExport<F>(service: string, candidates: readonly Candidate[]): Promise<F> {
  const tried: string[] = [];
  for (const { specifier, exportName } of candidates) {
    let mod: Record<string, unknown>;
    try {
      mod = (await import(specifier)) as Record<string, unknown>;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ERR_MODULE_NOT_FOUND" || code === "ERR_PACKAGE_PATH_NOT_EXPORTED") {
        tried.push(`${specifier} (not found)`);
        continue;
      }
      throw err;
    }
    if (typeof mod[exportName] === "function") return mod[exportName] as F;
    tried.push(`${specifier} (no ${exportName} export)`);
  }
  console.error(`UNAVAILABLE: ${service} is not in this checkout yet; tried ${tried.join(", ")}`);
  process.exit(EXIT_UNAVAILABLE);
}

export async function runUntilStopped(service: string, start: () => Promise<Handle>): Promise<void> {
  const handle = await start();
  console.log(`${service} started`);
  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${service} stopping (${why})`);
    try {
      await handle.stop();
      process.exit(0);
    } catch (err) {
      console.error(err);
      process.exit(1);
    }
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("disconnect", () => void stop("supervisor gone"));
}
