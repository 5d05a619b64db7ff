// The `tributary` command line: every protocol action, for scripts (--json) and people.
import { Command, CommanderError } from "commander";
import { bigintReplacer } from "../chain/protocol/content.ts";
import { decodeRevert } from "../chain/revert.ts";
import { accessCommand } from "./access.ts";
import { addGlobalOptions, example, hasExample } from "./context.ts";
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
  const walk = (cmd: Command, path: string) => {
    if (cmd.commands.length === 0 && !hasExample(cmd) && EXAMPLES[path]) example(cmd, EXAMPLES[path]);
    for (const sub of cmd.commands) walk(sub, path ? `${path} ${sub.name()}` : sub.name());
  };
  walk(program, "");
  return program;
}

/** Examples for the commands that do not set their own with `example()`. */
const EXAMPLES: Record<string, string> = {
  "datanet create":
    'tributary datanet create --name "Support chats" --policy open --license CC-BY-4.0 --tag support',
  "datanet list": "tributary datanet list --json",
  "datanet show": "tributary datanet show 1",
  "datanet contribute": "tributary datanet contribute 1 chats.jsonl faq.md",
  "datanet review": "tributary datanet review 1 --approve 1,2 --reject 3",
  "datanet withdraw": "tributary datanet withdraw 1 2",
  "access request": 'tributary access request 1 --purpose "fine-tune a support bot"',
  "access grant": "tributary access grant 1 0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
  "access revoke": "tributary access revoke 1 0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
  "access buy": "tributary access buy 1",
  "access list": "tributary access list 1",
  "job post": "tributary job post --base-model tributary-austen-4m --data 1 --budget 20",
  "job status": "tributary job status 3 --json",
  "job accept": "tributary job accept 3",
  "job dispute": 'tributary job dispute 3 --reason "eval loss is worse than the base model"',
  "job cancel": "tributary job cancel 3",
  "model list": "tributary model list",
  "model show": "tributary model show 1",
  "rewards show": "tributary rewards show 1",
  "rewards claim": "tributary rewards claim 1",
  "trainer register": "tributary trainer register --endpoint http://127.0.0.1:8787 --stake 150",
  "trainer stake": "tributary trainer stake 50",
  "trainer unstake": "tributary trainer unstake 50   # later: tributary trainer unstake --withdraw",
  "trainer show": "tributary trainer show 0x90F79bf6EB2c4f870365E785982E1f101E93b906",
  "channel open": "tributary channel open 0x90F79bf6EB2c4f870365E785982E1f101E93b906 1 10",
  "channel topup": "tributary channel topup 0x…channelId 5",
  "channel withdraw": "tributary channel withdraw 0x…channelId",
  "custodian start": "tributary custodian start --port 8788",
  "wallet address": "TRIBUTARY_PRIVATE_KEY=0x… tributary wallet address",
  "wallet keystore": "tributary wallet keystore key.json --new --password-file pw.txt",
};

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
