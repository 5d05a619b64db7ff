// `tributary access request|grant|revoke|buy|list`
import { Command } from "commander";
import { buyAccess, grantAccess, listAccess, requestAccess, revokeAccess } from "../chain/protocol/index.ts";
import { action } from "./action.ts";
import { open, parseAddress, parseDuration, parseId, table, UsageError } from "./context.ts";

export function accessCommand(env: NodeJS.ProcessEnv): Command {
  const cmd = new Command("access").description("access to Datanets");

  cmd
    .command("request <datanetId>")
    .description("ask a Datanet's curators for access")
    .requiredOption("--purpose <text>", "what you will train")
    .option("--contact <text>", "how to reach you")
    .action(
      action<{ purpose: string; contact?: string }>(env, async (ctx, o, [id]) => {
        const r = await requestAccess(await ctx.conn(), ctx.store(), {
          datanetId: parseId(id, "datanetId"),
          purpose: o.purpose,
          contact: o.contact,
        });
        ctx.print(r, () => `Requested access to Datanet ${id} (request ${r.requestCid}, tx ${r.hash})`);
      }),
    );

  cmd
    .command("grant <datanetId> <account>")
    .description("grant an account access (curators)")
    .option("--duration <time>", "how long the grant lasts (e.g. 30d)", "30d")
    .option("--uses <n>", "jobs it may post", "1")
    .action(
      action<{ duration: string; uses: string }>(env, async (ctx, o, [id, account]) => {
        const uses = Number(o.uses);
        if (!Number.isInteger(uses) || uses < 1)
          throw new UsageError(`--uses ${o.uses} is not a positive integer`, "Pass --uses 1 or more.");
        const conn = await ctx.conn();
        const now = (await conn.publicClient.getBlock()).timestamp;
        const expiresAt = now + BigInt(parseDuration(o.duration, "--duration"));
        const r = await grantAccess(conn, {
          datanetId: parseId(id, "datanetId"),
          account: parseAddress(account),
          expiresAt,
          uses,
        });
        ctx.print(
          { datanetId: id, account, expiresAt, uses, ...r },
          () =>
            `Granted ${account} ${uses} uses of Datanet ${id} until ${new Date(Number(expiresAt) * 1000).toISOString()} (tx ${r.hash})`,
        );
      }),
    );

  cmd
    .command("revoke <datanetId> <account>")
    .description("revoke an account's access (curators)")
    .action(
      action(env, async (ctx, _o, [id, account]) => {
        const r = await revokeAccess(await ctx.conn(), {
          datanetId: parseId(id, "datanetId"),
          account: parseAddress(account),
        });
        ctx.print(
          { datanetId: id, account, ...r },
          () => `Revoked ${account}'s access to Datanet ${id} (tx ${r.hash})`,
        );
      }),
    );

  cmd
    .command("buy <datanetId>")
    .description("buy access uses of a Paid Datanet")
    .option("--uses <n>", "uses to buy", "1")
    .action(
      action<{ uses: string }>(env, async (ctx, o, [id]) => {
        const r = await buyAccess(await ctx.conn(), {
          datanetId: parseId(id, "datanetId"),
          uses: Number(o.uses),
        });
        ctx.print(
          r,
          () =>
            `Bought ${o.uses} uses of Datanet ${id} for ${open(r.paid)}; ${r.usesLeft} uses until ${new Date(Number(r.expiresAt) * 1000).toISOString()}`,
        );
      }),
    );

  cmd
    .command("list <datanetId>")
    .description("requests and grants of a Datanet")
    .action(
      action(env, async (ctx, _o, [id]) => {
        const rows = await listAccess(await ctx.conn(), parseId(id, "datanetId"));
        ctx.print(rows, (x: typeof rows) =>
          table(
            x.map((r) => ({
              ...r,
              expiresAt: r.expiresAt ? new Date(Number(r.expiresAt) * 1000).toISOString() : "",
            })),
            ["account", "hasAccess", "usesLeft", "expiresAt", "requestCid"],
          ),
        );
      }),
    );
  return cmd;
}
