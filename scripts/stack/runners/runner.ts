// Shared body of the service runners: start the service with the stack's configuration, and stop it on
// SIGINT/SIGTERM or when the supervisor goes away (IPC channel closed). The runners import their service
// normally: a package that is missing or broken fails the runner, and with it `npm start`, loudly.
export interface Handle {
  stop(): Promise<void> | void;
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
