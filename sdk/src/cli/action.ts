// Wraps a command body: builds the context from the command's options (globals included).
import type { Command } from "commander";
import { CliContext } from "./context.ts";
import type { GlobalOptions } from "./context.ts";

type Body<O> = (ctx: CliContext, opts: O, args: string[]) => Promise<void>;

/** A commander action that hands the body the context, its own options and its positional arguments. */
export function action<O>(env: NodeJS.ProcessEnv, body: Body<O>) {
  return async (...params: unknown[]): Promise<void> => {
    const cmd = params[params.length - 1] as Command;
    const ctx = new CliContext(cmd.optsWithGlobals() as GlobalOptions, env);
    const args = params
      .slice(0, -2)
      .flatMap((a) => (Array.isArray(a) ? a : [a]))
      .filter((a): a is string => typeof a === "string");
    await body(ctx, cmd.opts() as O, args);
  };
}
