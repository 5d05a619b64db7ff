// The `tributary` command line: every protocol action, for scripts (--json) and people.
import { Command, CommanderError } from "commander";
import { bigintReplacer } from "../chain/protocol/content.ts";
import { decodeRevert } from "../chain/revert.ts";
import { accessCommand } from "./access.ts";
import { addGlobalOptions } from "./context.ts";
import { datanetCommand } from "./datanet.ts";
import { jobCommand } from "./job.ts";
import { channelCommand, modelCommand, rewardsCommand, trainerCommand } from "./misc.ts";
import { custodianCommand, walletCommand } from "./service.ts";

export function buildProgram(env: NodeJS.ProcessEnv = process.env): Command {
  const program = new Command("tributary")
    .description("Tributary: fine-tune language models on community data, with rewards for contributors")
    .showHelpAfterError("(run with --help for usage)");
  addGlobalOptions(program, env);
  for (const sub of [
    datanetCommand(env),
    accessCommand(env),
    jobCommand(env),
    modelCommand(env),
    rewardsCommand(env),
    trainerCommand(env),
    channelCommand(env),
    custodianCommand(env),
    walletCommand(env),
  ]) {
    program.addCommand(sub);
  }
  return program;
}

/** Runs the CLI; returns the exit code. Errors print their message (with --json: a JSON object). */
export async function run(
  argv: string[] = process.argv,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const program = buildProgram(env).exitOverride();
  const json = argv.includes("--json");
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode; // commander already printed usage or help
    // Any revert a command did not decode itself still gets its custom error named.
    const err = decodeRevert(e, {
      contract: "contract",
      functionName: String((e as { functionName?: unknown }).functionName ?? "call"),
    }) as Error & Record<string, unknown>;
    if (json) {
      const { name, message, errorName, args } = err;
      process.stdout.write(
        JSON.stringify(
          { error: { name, message, errorName, args, line: (err as { line?: number }).line } },
          bigintReplacer,
        ) + "\n",
      );
    } else {
      process.stderr.write(`error: ${err.message ?? String(e)}\n`);
    }
    return 1;
  }
}
