// `tributary model|rewards|trainer|channel ...`
import { Command } from "commander";
import type { Hex } from "viem";
import {
  claimReward,
  getModel,
  getTrainer,
  listBaseModels,
  listModels,
  openChannel,
  registerTrainer,
  requestUnstake,
  rewardPosition,
  stake,
  topUpChannel,
  withdrawChannel,
  withdrawStake,
} from "../chain/protocol/index.ts";
import { action } from "./action.ts";
import {
  keyValues,
  open,
  parseAddress,
  parseDuration,
  parseId,
  parseOpen,
  table,
  UsageError,
} from "./context.ts";

export function modelCommand(env: NodeJS.ProcessEnv): Command {
  const cmd = new Command("model").description("model versions and base models");
  cmd
    .command("list")
    .description("list model versions (or base models with --base)")
    .option("--base", "list the registered base models")
    .action(
      action<{ base?: boolean }>(env, async (ctx, o) => {
        const conn = await ctx.conn();
        if (o.base) {
          const rows = await listBaseModels(conn);
          return ctx.print(rows, (x: typeof rows) => table(x, ["baseModelId", "name", "active", "cid"]));
        }
        const rows = await listModels(conn);
        ctx.print(rows, (x: typeof rows) =>
          table(x, ["modelId", "baseModelId", "jobId", "owner", "trainer", "adapterCid"]),
        );
      }),
    );
  cmd
    .command("show <modelId>")
    .description("a model version")
    .action(
      action(env, async (ctx, _o, [id]) => {
        const m = await getModel(await ctx.conn(), parseId(id, "modelId"));
        ctx.print(m, () => keyValues({ ...m, inferencePrice: open(m.inferencePrice) }));
      }),
    );
  return cmd;
}

export function rewardsCommand(env: NodeJS.ProcessEnv): Command {
  const cmd = new Command("rewards").description("contributor rewards from a model's revenue");
  cmd
    .command("show <modelId>")
    .description("your weight in the model's attribution and what you can claim")
    .option("--account <address>", "whose rewards (default: your wallet)")
    .action(
      action<{ account?: string }>(env, async (ctx, o, [id]) => {
        const conn = await ctx.conn();
        const account = o.account ? parseAddress(o.account, "--account") : conn.account?.address;
        if (!account)
          throw new UsageError("No account given", "Pass --account <address> or configure a wallet.");
        const p = await rewardPosition(conn, ctx.store(), parseId(id, "modelId"), account);
        ctx.print(p, () =>
          keyValues({
            modelId: p.modelId,
            account: p.account,
            weight: `${p.weight} / ${p.totalWeight}`,
            claimable: open(p.claimable),
            claimed: open(p.claimed),
          }),
        );
      }),
    );
  cmd
    .command("claim <modelId>")
    .description("claim contributor rewards (proof from the attribution report on IPFS)")
    .option("--account <address>", "claim for this account (default: your wallet)")
    .action(
      action<{ account?: string }>(env, async (ctx, o, [id]) => {
        const r = await claimReward(
          await ctx.conn(),
          ctx.store(),
          parseId(id, "modelId"),
          o.account ? parseAddress(o.account, "--account") : undefined,
        );
        ctx.print(r, () => `Claimed ${open(r.amount)} (tx ${r.hash})`);
      }),
    );
  return cmd;
}

export function trainerCommand(env: NodeJS.ProcessEnv): Command {
  const cmd = new Command("trainer").description("trainer operators: profile and stake");
  cmd
    .command("register")
    .description("publish your trainer profile (and stake)")
    .requiredOption("--endpoint <url>", "your trainer node's API URL")
    .option("--base-models <names...>", "base models you can train")
    .option("--hardware <text>", "e.g. 1x H100")
    .option("--stake <OPEN>", "stake this much too")
    .action(
      action<{ endpoint: string; baseModels?: string[]; hardware?: string; stake?: string }>(
        env,
        async (ctx, o) => {
          const r = await registerTrainer(await ctx.conn(), ctx.store(), {
            endpoint: o.endpoint,
            baseModels: o.baseModels,
            hardware: o.hardware,
            stake: o.stake ? parseOpen(o.stake, "--stake") : undefined,
          });
          ctx.print(
            r,
            () =>
              `Published profile ${r.profileCid}${r.staked !== undefined ? `; staked ${open(r.staked)}` : ""} (tx ${r.hash})`,
          );
        },
      ),
    );
  cmd
    .command("stake <OPEN>")
    .description("add stake")
    .action(
      action(env, async (ctx, _o, [amount]) => {
        const r = await stake(await ctx.conn(), parseOpen(amount));
        ctx.print(r, () => `Staked; active stake ${open(r.staked)} (tx ${r.hash})`);
      }),
    );
  cmd
    .command("unstake [OPEN]")
    .description("move stake into cooldown; with --withdraw, take out cooled-down stake")
    .option("--withdraw", "withdraw stake whose cooldown is over")
    .action(
      action<{ withdraw?: boolean }>(env, async (ctx, o, [amount]) => {
        const conn = await ctx.conn();
        if (o.withdraw) {
          const r = await withdrawStake(conn);
          return ctx.print(r, () => `Withdrew cooled-down stake (tx ${r.hash})`);
        }
        if (!amount) throw new UsageError("No amount given", "Pass the OPEN to unstake, or --withdraw.");
        const r = await requestUnstake(conn, parseOpen(amount));
        ctx.print(
          r,
          () =>
            `Unstaking; withdrawable from ${new Date(Number(r.availableAt) * 1000).toISOString()} with \`tributary trainer unstake --withdraw\` (tx ${r.hash})`,
        );
      }),
    );
  cmd
    .command("show [address]")
    .description("a trainer's stake and profile")
    .action(
      action(env, async (ctx, _o, [address]) => {
        const conn = await ctx.conn();
        const who = address ? parseAddress(address) : conn.account?.address;
        if (!who) throw new UsageError("No trainer given", "Pass an address or configure a wallet.");
        const t = await getTrainer(conn, who);
        ctx.print(t, () => keyValues({ ...t, staked: open(t.staked), unstaking: open(t.unstaking) }));
      }),
    );
  return cmd;
}

export function channelCommand(env: NodeJS.ProcessEnv): Command {
  const cmd = new Command("channel").description("payment channels for inference");
  cmd
    .command("open <provider> <modelId> <OPEN>")
    .description("open a channel to a provider for a model, depositing OPEN")
    .option("--session-key <address>", "key allowed to sign vouchers")
    .option("--session-ttl <time>", "session key lifetime", "1d")
    .action(
      action<{ sessionKey?: string; sessionTtl: string }>(
        env,
        async (ctx, o, [provider, modelId, amount]) => {
          const conn = await ctx.conn();
          const expires = o.sessionKey
            ? (await conn.publicClient.getBlock()).timestamp +
              BigInt(parseDuration(o.sessionTtl, "--session-ttl"))
            : undefined;
          const r = await openChannel(conn, {
            provider: parseAddress(provider, "provider"),
            modelId: parseId(modelId, "modelId"),
            amount: parseOpen(amount),
            sessionKey: o.sessionKey ? parseAddress(o.sessionKey, "--session-key") : undefined,
            sessionKeyExpiresAt: expires,
          });
          ctx.print(r, () => `Opened channel ${r.channelId} (tx ${r.hash})`);
        },
      ),
    );
  cmd
    .command("topup <channelId> <OPEN>")
    .description("add OPEN to a channel")
    .action(
      action(env, async (ctx, _o, [channelId, amount]) => {
        const r = await topUpChannel(await ctx.conn(), {
          channelId: channelId as Hex,
          amount: parseOpen(amount),
        });
        ctx.print(r, () => `Channel deposit is now ${open(r.deposit)} (tx ${r.hash})`);
      }),
    );
  cmd
    .command("withdraw <channelId>")
    .description("request a withdrawal, or withdraw once the timeout passed")
    .action(
      action(env, async (ctx, _o, [channelId]) => {
        const r = await withdrawChannel(await ctx.conn(), channelId as Hex);
        ctx.print(r, () =>
          r.step === "requested"
            ? `Withdrawal requested; run this again after ${new Date(Number(r.withdrawableAt) * 1000).toISOString()} (tx ${r.hash})`
            : `Withdrew ${open(r.amount!)} (tx ${r.hash})`,
        );
      }),
    );
  return cmd;
}
