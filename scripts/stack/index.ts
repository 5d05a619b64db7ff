#!/usr/bin/env node
// `npm start` (via scripts/bootstrap.mjs): the whole local stack in one command. See docs/local-stack.md.
//   npm start                 start (or resume) the stack in .tributary/
//   npm start -- --fresh      wipe .tributary/ first
import { loadConfig } from "./config.ts";
import { StackError } from "./errors.ts";
import { Supervisor } from "./supervisor.ts";

const HELP = `usage: npm start -- [--fresh]

  --fresh   delete the stack's state folder (TRIBUTARY_HOME, default .tributary/) before starting
  --help    this text

Environment: TRIBUTARY_HOME, TRIBUTARY_HOST, TRIBUTARY_CHAIN_ID, TRIBUTARY_CHAIN_PORT, TRIBUTARY_IPFS_API_PORT,
TRIBUTARY_IPFS_GATEWAY_PORT, TRIBUTARY_CUSTODIAN_PORT, TRIBUTARY_INDEXER_PORT, TRIBUTARY_TRAINER_PORT,
TRIBUTARY_WEB_PORT, TRIBUTARY_DEPLOYMENTS_DIR, TRIBUTARY_READY_TIMEOUT_S (see docs/local-stack.md).`;

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => !["--fresh", "--help", "-h"].includes(a));
  if (args.includes("--help") || args.includes("-h")) {
    console.log(HELP);
    return 0;
  }
  if (unknown.length)
    throw new StackError(`unknown option ${unknown.join(" ")}`, { hint: "see `npm start -- --help`" });

  const supervisor = new Supervisor(loadConfig(), {});
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      console.log(`[stack] ${signal} again: exiting now`);
      process.exit(130);
    }
    console.log(`\n[stack] ${signal}: stopping (the chain saves its state last) …`);
    void supervisor.stop().then(() => {
      supervisor.release();
      console.log("[stack] all stopped");
      process.exit(0);
    });
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    await supervisor.start(args.includes("--fresh"));
  } catch (err) {
    supervisor.release();
    throw err;
  }
  if (signals > 0) return new Promise(() => {}); // a signal arrived at the very end; its handler exits
  console.log(supervisor.summary());
  return new Promise(() => {}); // runs until a signal
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof StackError) console.error(`\n[stack] error: ${err.describe()}`);
    else console.error(err);
    process.exit(1);
  },
);
