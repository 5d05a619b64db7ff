// `tributary model|rewards|trainer|channel ...`
const iso = (t: bigint) => new Date(Number(t) * 1000).toISOString();
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { Command } from "commander";
import type { Hex } from "viem";
import { addFileSet } from "../files/index.ts";
import { BASE_MODEL_CARD_FILE, cardFromConfig, parseBaseModelCard } from "../schemas/index.ts";
import type { HfModelConfig } from "../schemas/index.ts";
import {
  baseModelCard,
  findBaseModel,
  registerBaseModel,
  challengeUsageEpoch,
  claimAll,
  claimPoolReward,
  claimReward,
  contributorOverview,
  createPoolDistribution,
  getModel,
  getTrainer,
  listBaseModels,
  listModels,
  openChannel,
  parseWeights,
  payShares,
  redeemVoucher,
  registerTrainer,
  revokeSessionKey,
  setInferencePrice,
  setSessionKey,
  signVoucher,
  requestUnstake,
  rewardPosition,
  stake,
  topUpChannel,
  withdrawChannel,
  withdrawStake,
} from "../chain/protocol/index.ts";
import { action } from "./action.ts";
import type { Voucher } from "../chain/protocol/index.ts";
import {
  example,
  keyValues,
  open,
  parseAddress,
  parseDuration,
  parseId,
  parseBytes32,
  parseOpen,
  readJsonFile,
  table,
  UsageError,
} from "./context.ts";

function readdirSafetensors(dir: string): boolean {
  return readdirSync(dir).some((f) => f.endsWith(".safetensors"));
}

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
  example(
    cmd
      .command("base-models")
      .description("list the base models governance registered for fine-tuning")
      .action(
        action(env, async (ctx) => {
          const rows = await listBaseModels(await ctx.conn());
          ctx.print(rows, (x: typeof rows) => table(x, ["baseModelId", "name", "active", "cid"]));
        }),
      ),
    "tributary model base-models --json",
  );
  example(
    cmd
      .command("card <baseModel>")
      .description("a base model's card: architecture, size, context and the fine-tuning settings recommended for it, with why")
      .action(
        action(env, async (ctx, _o, [name]) => {
          const base = await findBaseModel(await ctx.conn(), name);
          const card = await baseModelCard(ctx.store(), base);
          ctx.print(card, () =>
            [
              `${card.name}: ${card.architecture} (${card.modelType}), ${card.parameters.toLocaleString("en-US")} parameters, context ${card.contextLength}, vocabulary ${card.vocabSize}`,
              "recommended settings (what `tributary job post` and the web app start from):",
              keyValues({ method: card.recommended.method, ...card.recommended.lora, ...card.recommended.training, evalSplit: card.recommended.evalSplit }),
              ...Object.entries(card.notes).map(([k, v]) => `  ${k}: ${v}`),
            ].join("\n"),
          );
        }),
      ),
    "tributary model card tributary-austen-4m",
  );
  example(
    cmd
      .command("register-base")
      .description(
        `pin a Hugging Face model folder to IPFS as a file set and register it as a base model (governance role). Its card (${BASE_MODEL_CARD_FILE}: size, context, recommended settings) is the folder's own or is made from config.json`,
      )
      .requiredOption("--dir <folder>", "the model folder: config.json, model.safetensors, tokenizer.json, ...")
      .option("--name <name>", "registered name (default: the card's name, else the folder's name)")
      .option("--license <id>", "licence of the weights, recorded in a generated card")
      .action(
        action<{ dir: string; name?: string; license?: string }>(env, async (ctx, o) => {
          const dir = resolve(o.dir);
          for (const f of ["config.json", "tokenizer.json"]) {
            if (!existsSync(join(dir, f))) {
              throw new UsageError(`${dir} has no ${f}`, "Pass a Hugging Face model folder (config.json, tokenizer.json, *.safetensors).");
            }
          }
          if (!readdirSafetensors(dir)) {
            throw new UsageError(`${dir} has no .safetensors weights`, "Save the model with save_pretrained(safe_serialization=True).");
          }
          const own = join(dir, BASE_MODEL_CARD_FILE);
          let card = existsSync(own) ? parseBaseModelCard(JSON.parse(readFileSync(own, "utf8"))) : undefined;
          const name = o.name ?? card?.name ?? basename(dir);
          card = card
            ? { ...card, name }
            : cardFromConfig(name, JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as HfModelConfig, o.license ? { license: o.license } : {});
          const { cid } = await addFileSet(ctx.store(), dir, { extra: { [BASE_MODEL_CARD_FILE]: `${JSON.stringify(card, null, 2)}\n` } });
          const r = await registerBaseModel(await ctx.conn(), name, cid);
          ctx.print({ ...r, name, cid, card }, () =>
            `Registered base model ${r.baseModelId} "${name}" (${card.parameters.toLocaleString("en-US")} parameters, context ${card.contextLength}) as file set ${cid} (tx ${r.hash})`,
          );
        }),
      ),
    "tributary model register-base --dir ./my-model --name my-model",
  );
  example(
    cmd
      .command("set-price <modelId> <OPEN>")
      .description("set your model's inference price, in OPEN per 1,000 tokens (owner)")
      .action(
        action(env, async (ctx, _o, [id, price]) => {
          const r = await setInferencePrice(
            await ctx.conn(),
            parseId(id, "modelId"),
            parseOpen(price, "price"),
          );
          ctx.print(
            { modelId: id, ...r },
            () => `Model ${id} now costs ${open(r.price)} per 1,000 tokens (tx ${r.hash})`,
          );
        }),
      ),
    "tributary model set-price 1 0.002",
  );
  return cmd;
}

export function rewardsCommand(env: NodeJS.ProcessEnv): Command {
  const cmd = new Command("rewards").description("contributor rewards from a model's revenue");
  cmd
    .command("show <modelId>")
    .description("your weight in the model's attribution, your contributions' influence, and what you can claim")
    .option("--account <address>", "whose rewards (default: your wallet)")
    .action(
      action<{ account?: string }>(env, async (ctx, o, [id]) => {
        const conn = await ctx.conn();
        const account = o.account ? parseAddress(o.account, "--account") : conn.account?.address;
        if (!account)
          throw new UsageError("No account given", "Pass --account <address> or configure a wallet.");
        const p = await rewardPosition(conn, ctx.store(), parseId(id, "modelId"), account);
        ctx.print(
          p,
          () =>
            `${keyValues({
              modelId: p.modelId,
              account: p.account,
              weight: `${p.weight} / ${p.totalWeight}`,
              claimable: open(p.claimable),
              claimed: open(p.claimed),
              method: p.method,
            })}\n\n${table(
              p.contributions.map((c) => ({
                datanet: c.datanetId,
                contribution: c.contributionId,
                influence: c.score.toPrecision(4),
                weight: c.weight,
                duplicate: c.duplicateOf ? `of ${c.duplicateOf.datanetId}/${c.duplicateOf.contributionId} (${c.duplicateOf.kind}): no credit` : "",
              })),
              ["datanet", "contribution", "influence", "weight", "duplicate"],
            )}`,
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
  example(
    cmd
      .command("overview")
      .description("per contribution: its influence in each model, how often paid answers cited it, what use earned it; earnings per usage epoch")
      .option("--account <address>", "whose rewards (default: your wallet)")
      .action(
        action<{ account?: string }>(env, async (ctx, o) => {
          const conn = await ctx.conn();
          const account = o.account ? parseAddress(o.account, "--account") : conn.account?.address;
          if (!account) throw new UsageError("No account given", "Pass --account <address> or configure a wallet.");
          const v = await contributorOverview(conn, ctx.store(), account);
          const statusName = ["none", "committed", "challenged", "finalized", "voided"];
          ctx.print(
            v,
            () =>
              `${keyValues({ account: v.account, "claimable from use": open(v.usageClaimable), "claimable from influence": open(v.influenceClaimable) })}\n\nContributions\n${table(
                v.contributions.map((c) => ({
                  contribution: `${c.datanetId}/${c.contributionId}`,
                  influence: c.models.map((m) => `model ${m.modelId}: ${m.influence.toPrecision(3)}${m.duplicateOf ? ` (duplicate of ${m.duplicateOf}: no credit)` : ""}`).join("; ") || "-",
                  cited: `${c.citations}x (${c.citedTokens} tokens)`,
                  "earned from use": open(c.usageEarned),
                })),
                ["contribution", "influence", "cited", "earned from use"],
              )}\n\nEarnings per usage epoch\n${table(
                v.epochs.map((e) => ({
                  epoch: e.epochId,
                  model: e.modelId,
                  committed: new Date(e.committedAt * 1000).toISOString(),
                  status: statusName[e.status],
                  amount: open(e.amount),
                  state: e.claimed ? "claimed" : e.claimable ? "claimable" : `from ${new Date(e.claimableAt * 1000).toISOString()}`,
                })),
                ["epoch", "model", "committed", "status", "amount", "state"],
              )}`,
          );
        }),
      ),
    "tributary rewards overview",
  );
  example(
    cmd
      .command("claim-all")
      .description("claim every claimable usage epoch of every model (one transaction) and the training-time rewards of every model (one more)")
      .option("--account <address>", "claim for this account (default: your wallet)")
      .action(
        action<{ account?: string }>(env, async (ctx, o) => {
          const r = await claimAll(await ctx.conn(), ctx.store(), o.account ? parseAddress(o.account, "--account") : undefined);
          ctx.print(r, () =>
            [
              r.usage ? `Claimed ${open(r.usage.amount)} from use over epochs ${r.usage.epochs.join(", ")} (tx ${r.usage.hash})` : "Nothing claimable from use",
              r.influence ? `Claimed ${open(r.influence.amount)} from influence in models ${r.influence.models.join(", ")} (tx ${r.influence.hash})` : "Nothing claimable from influence",
            ].join("\n"),
          );
        }),
      ),
    "tributary rewards claim-all",
  );
  example(
    cmd
      .command("challenge-epoch <epochId>")
      .description(
        "challenge a usage epoch within its window (anyone but its provider; posts the usage game's bond): verifiers drawn from the pool recompute it from the provider's records; voided, its revenue goes by training-time influence",
      )
      .requiredOption("--reason <text>", "why the epoch's claims are wrong (pinned to IPFS)")
      .action(
        action<{ reason: string }>(env, async (ctx, o, [id]) => {
          const r = await challengeUsageEpoch(await ctx.conn(), ctx.store(), parseId(id, "epochId"), o.reason);
          ctx.print({ epochId: id, ...r }, () => `Challenged usage epoch ${id}: dispute ${r.disputeId}, bond ${open(r.bond)}, committee drawn after block ${r.drawBlock} (reason ${r.reasonCid}, tx ${r.hash})`);
        }),
      ),
    'tributary rewards challenge-epoch 3 --reason "my record was cited in paid answers; this epoch pays someone else"',
  );
  example(
    cmd
      .command("pay-shares <modelId>")
      .description("pay a model's accrued owner, trainer and protocol shares (anyone)")
      .action(
        action(env, async (ctx, _o, [id]) => {
          const r = await payShares(await ctx.conn(), parseId(id, "modelId"));
          ctx.print(
            { modelId: id, ...r },
            () =>
              `Paid owner ${open(r.ownerAmount)}, trainer ${open(r.trainerAmount)}, protocol ${open(r.protocolAmount)} (tx ${r.hash})`,
          );
        }),
      ),
    "tributary rewards pay-shares 1",
  );
  example(
    cmd
      .command("pool-distribute <datanetId> <weightsFile>")
      .description(
        "freeze a Datanet's reward pool into a Merkle distribution (the Datanet owner); weightsFile is JSON [{account, weight}] or {contributors: [...]}",
      )
      .action(
        action(env, async (ctx, _o, [id, file]) => {
          const r = await createPoolDistribution(await ctx.conn(), ctx.store(), {
            datanetId: parseId(id, "datanetId"),
            leaves: parseWeights(readJsonFile(file, "weights")),
          });
          ctx.print(
            { datanetId: id, ...r },
            () =>
              `Distribution ${r.distributionId}: ${open(r.amount)} over weight ${r.totalWeight} (report ${r.reportCid}, tx ${r.hash})`,
          );
        }),
      ),
    `tributary rewards pool-distribute 1 weights.json   # weights.json: [{"account":"0x…","weight":"3"}]`,
  );
  example(
    cmd
      .command("pool-claim <distributionId>")
      .description("claim your share of a Datanet pool distribution (proof from its report on IPFS)")
      .option("--account <address>", "claim for this account (default: your wallet)")
      .action(
        action<{ account?: string }>(env, async (ctx, o, [id]) => {
          const r = await claimPoolReward(
            await ctx.conn(),
            ctx.store(),
            parseId(id, "distributionId"),
            o.account ? parseAddress(o.account, "--account") : undefined,
          );
          ctx.print({ distributionId: id, ...r }, () => `Claimed ${open(r.amount)} (tx ${r.hash})`);
        }),
      ),
    "tributary rewards pool-claim 1",
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
        ctx.print(t, () => keyValues({ ...t, staked: open(t.staked), unstaking: open(t.unstaking), locked: open(t.locked) }));
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
  example(
    cmd
      .command("voucher <channelId> <cumulativeOPEN>")
      .description("sign a voucher for the cumulative amount owed (payer or session key, EIP-712)")
      .option("--out <file>", "write the voucher JSON to this file")
      .action(
        action<{ out?: string }>(env, async (ctx, o, [channelId, amount]) => {
          const v = await signVoucher(await ctx.conn(), {
            channelId: parseBytes32(channelId, "channelId"),
            cumulativeAmount: parseOpen(amount, "cumulative amount"),
          });
          if (o.out) writeFileSync(o.out, JSON.stringify(v, null, 2) + "\n");
          ctx.print(o.out ? { ...v, file: o.out } : v, () =>
            o.out
              ? `Wrote voucher for ${open(BigInt(v.cumulativeAmount))} to ${o.out}`
              : JSON.stringify(v, null, 2),
          );
        }),
      ),
    "tributary channel voucher 0x…channelId 2.5 --out voucher.json",
  );
  example(
    cmd
      .command("redeem <voucherFile>")
      .description("redeem a signed voucher (provider); the new amount becomes the model's revenue")
      .action(
        action(env, async (ctx, _o, [file]) => {
          const v = readJsonFile(file, "voucher") as Partial<Voucher>;
          if (
            typeof v.channelId !== "string" ||
            typeof v.signature !== "string" ||
            v.cumulativeAmount === undefined
          )
            throw new UsageError(
              `${file} is not a voucher`,
              "Pass a file written by `tributary channel voucher --out` (channelId, cumulativeAmount, signature).",
            );
          const r = await redeemVoucher(await ctx.conn(), {
            channelId: parseBytes32(v.channelId, "channelId"),
            cumulativeAmount: String(v.cumulativeAmount),
            signature: v.signature as Hex,
            chainId: v.chainId,
            contract: v.contract,
          });
          ctx.print(
            { channelId: v.channelId, ...r },
            () => `Redeemed ${open(r.amount)} signed by ${r.signer} (tx ${r.hash})`,
          );
        }),
      ),
    "tributary channel redeem voucher.json",
  );
  const sk = cmd.command("session-key").description("delegate voucher signing to an app's hot key (payer)");
  example(
    sk
      .command("set <channelId> <address>")
      .description("set (or replace) the session key")
      .option("--ttl <time>", "how long the key may sign", "1d")
      .action(
        action<{ ttl: string }>(env, async (ctx, o, [channelId, key]) => {
          const conn = await ctx.conn();
          const r = await setSessionKey(conn, {
            channelId: parseBytes32(channelId, "channelId"),
            sessionKey: parseAddress(key, "session key"),
            expiresAt: (await conn.publicClient.getBlock()).timestamp + BigInt(parseDuration(o.ttl, "--ttl")),
          });
          ctx.print(
            { channelId, ...r },
            () => `Session key ${r.sessionKey} may sign until ${iso(r.expiresAt)} (tx ${r.hash})`,
          );
        }),
      ),
    "tributary channel session-key set 0x…channelId 0x…key --ttl 12h",
  );
  example(
    sk
      .command("revoke <channelId>")
      .description("revoke the session key (its vouchers stay redeemable for the close timeout)")
      .action(
        action(env, async (ctx, _o, [channelId]) => {
          const r = await revokeSessionKey(await ctx.conn(), parseBytes32(channelId, "channelId"));
          ctx.print(
            { channelId, ...r },
            () => `Revoked ${r.sessionKey}; its vouchers are valid until ${iso(r.validUntil)} (tx ${r.hash})`,
          );
        }),
      ),
    "tributary channel session-key revoke 0x…channelId",
  );
  return cmd;
}
