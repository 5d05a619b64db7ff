// `tributary job post|status|claim|submit|accept|dispute|finalize|reclaim|cancel`
import { readFileSync } from "node:fs";
import { Command } from "commander";
import {
  acceptJob,
  cancelJob,
  claimJob,
  disputeJob,
  evalClaimOf,
  finalizeJob,
  getDatanet,
  getJob,
  postJob,
  REPLAY_CHALLENGER_HINT,
  reclaimJob,
  releaseJob,
  submitResult,
} from "../chain/protocol/index.ts";
import { catJson } from "../chain/protocol/content.ts";
import { ContributionTree } from "../merkle/index.ts";
import { describeVerification, parseAttributionReport, parseJobSpec, verificationOf } from "../schemas/index.ts";
import type { JobSpec } from "../schemas/index.ts";
import type { JobSpecInput } from "../schemas/index.ts";
import { action } from "./action.ts";
import {
  example,
  keyValues,
  open,
  parseBytes32,
  parseDuration,
  parseId,
  parseOpen,
  UsageError,
} from "./context.ts";

const ZERO_ROOT = `0x${"00".repeat(32)}` as const;
const iso = (t: bigint) => new Date(Number(t) * 1000).toISOString();

interface PostOptions {
  baseModel?: string;
  method?: string;
  lr?: string;
  epochs?: string;
  batchSize?: string;
  gradAccum?: string;
  maxSeqLength?: string;
  rank?: string;
  alpha?: string;
  dropout?: string;
  targetModules?: string[];
  seed?: string;
  evalSplit?: string;
  data?: string[];
  budget: string;
  duration: string;
  parent?: string;
}

function num(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`${flag} ${v} is not a number`, `Pass a number to ${flag}.`);
  return n;
}

/** The spec file (if any) with the flags laid over it; validation happens in postJob. */
function specFrom(file: string | undefined, o: PostOptions): Record<string, unknown> {
  let spec: Record<string, unknown> = {};
  if (file) {
    try {
      spec = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      throw new UsageError(
        `Cannot read job spec ${file}: ${(e as Error).message}`,
        "Pass a JSON job spec (tributary/job-spec@1).",
      );
    }
  }
  const lora = {
    ...(spec.lora as object),
    ...defined({
      r: num(o.rank, "--rank"),
      alpha: num(o.alpha, "--alpha"),
      dropout: num(o.dropout, "--dropout"),
      targetModules: o.targetModules,
    }),
  };
  const training = {
    ...(spec.training as object),
    ...defined({
      learningRate: num(o.lr, "--lr"),
      epochs: num(o.epochs, "--epochs"),
      batchSize: num(o.batchSize, "--batch-size"),
      gradientAccumulation: num(o.gradAccum, "--grad-accum"),
      maxSeqLength: num(o.maxSeqLength, "--max-seq-length"),
      seed: num(o.seed, "--seed"),
    }),
  };
  return {
    ...spec,
    ...defined({ baseModel: o.baseModel, method: o.method, evalSplit: num(o.evalSplit, "--eval-split") }),
    lora,
    training,
  };
}

function defined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

export function jobCommand(env: NodeJS.ProcessEnv): Command {
  const cmd = new Command("job").description("fine-tuning jobs");

  cmd
    .command("post [specFile]")
    .description("post a job: a job spec file and/or flags; the budget is escrowed")
    .option("--base-model <name>", "base model name or id as registered on chain")
    .option("--method <method>", "lora | qlora")
    .option("--lr <rate>", "learning rate")
    .option("--epochs <n>", "epochs")
    .option("--batch-size <n>", "batch size")
    .option("--grad-accum <n>", "gradient accumulation steps")
    .option("--max-seq-length <n>", "maximum sequence length")
    .option("--rank <r>", "LoRA rank")
    .option("--alpha <a>", "LoRA alpha")
    .option("--dropout <p>", "LoRA dropout")
    .option("--target-modules <names...>", "LoRA target modules")
    .option("--seed <n>", "random seed")
    .option("--eval-split <f>", "held-out fraction")
    .option(
      "--data <refs...>",
      "Datanets to train on as <datanetId>[:<version>] (version defaults to the current one)",
    )
    .requiredOption("--budget <OPEN>", "budget escrowed for the trainer and data fees")
    .option("--duration <time>", "time the trainer has after claiming", "1d")
    .option("--parent <modelId>", "continue from this model version")
    .action(
      action<PostOptions>(env, async (ctx, o, [file]) => {
        const spec = specFrom(file, o);
        const conn = await ctx.conn();
        if (o.data?.length) {
          spec.data = await Promise.all(
            o.data
              .flatMap((d) => d.split(","))
              .map(async (d) => {
                const [id, v] = d.split(":");
                const datanetId = parseId(id, "--data datanet");
                const version = v !== undefined ? Number(v) : (await getDatanet(conn, datanetId)).version;
                return { datanetId: datanetId.toString(), version };
              }),
          );
        }
        const r = await postJob(conn, ctx.store(), {
          spec: spec as JobSpecInput,
          budget: parseOpen(o.budget, "--budget"),
          duration: parseDuration(o.duration, "--duration"),
          parentModelId: o.parent ? parseId(o.parent, "--parent") : undefined,
        });
        const t = r.spec.training;
        ctx.print(r, () =>
          [
            `Posted job ${r.jobId} (spec ${r.specCid}, data fee ${open(r.dataFee)}, tx ${r.hash})`,
            `  ${r.spec.method} r=${r.spec.lora.r} alpha=${r.spec.lora.alpha} on ${r.spec.lora.targetModules.join(",")}; lr ${t.learningRate}, ${t.epochs} epochs, batch ${t.batchSize}, max length ${t.maxSeqLength}` +
              (r.card ? ` (unset values from ${r.card.name}'s recommended settings: \`tributary model card ${r.card.name}\`)` : ""),
            `  verification: ${verificationText(r.spec)}`,
            ...r.adjusted.map((a) => `  note: ${a}`),
          ].join("\n"),
        );
      }),
    );

  cmd
    .command("status <jobId>")
    .description("a job's state, trainer, datanets and result")
    .action(
      action(env, async (ctx, _o, [id]) => {
        const conn = await ctx.conn();
        const j = await getJob(conn, parseId(id, "jobId"));
        // an eval job's trainer commits the held-out eval loss a challenge is settled on
        const claim = j.trainer ? await evalClaimOf(conn, j.jobId) : null;
        const evalClaim = claim && claim.trainer.toLowerCase() === j.trainer!.toLowerCase() ? { loss: claim.loss, tolerance: claim.tolerance } : null;
        let verification: { class: "replay" | "eval" | null; tolerance: number | null; text: string };
        try {
          const spec = parseJobSpec(await catJson(ctx.store(), j.specCid, "job spec"));
          const v = spec.verification ? verificationOf(spec, spec.verification === "replay") : null;
          verification = { class: v?.class ?? null, tolerance: v?.tolerance ?? null, text: verificationText(spec) };
        } catch (err) {
          verification = { class: null, tolerance: null, text: `unknown: the job spec ${j.specCid} could not be read (${(err as Error).message})` };
        }
        ctx.print({ ...j, verification, evalClaim }, () =>
          keyValues({
            ...j,
            verification: verification.text,
            ...(evalClaim ? { evalClaim: `held-out eval loss ${evalClaim.loss} (a challenge is upheld above ${+(evalClaim.loss * (1 + evalClaim.tolerance)).toPrecision(6)})` } : {}),
            budget: open(j.budget),
            dataFee: open(j.dataFee),
            datanets: j.datanets.map((d) => `${d.datanetId}@v${d.version}`),
          }),
        );
      }),
    );

  cmd
    .command("accept <jobId>")
    .description("accept a submitted result early (poster)")
    .action(
      action(env, async (ctx, _o, [id]) => {
        const r = await acceptJob(await ctx.conn(), parseId(id, "jobId"));
        ctx.print({ jobId: id, ...r }, () => `Accepted job ${id}; model ${r.modelId} minted (tx ${r.hash})`);
      }),
    );

  cmd
    .command("dispute <jobId>")
    .description("challenge a submitted result within the challenge window (anyone but its trainer; posts the dispute game's bond)")
    .requiredOption("--reason <text>", "why the result is wrong")
    .action(
      action<{ reason: string }>(env, async (ctx, o, [id]) => {
        const r = await disputeJob(await ctx.conn(), ctx.store(), parseId(id, "jobId"), o.reason);
        // a replay dispute is bisected: the challenger must answer each move before its clock ends
        const next = r.replay ? REPLAY_CHALLENGER_HINT : "A committee of staked verifiers recomputes the result; nothing more to do.";
        ctx.print({ jobId: id, ...r }, () => `Challenged job ${id}: dispute ${r.disputeId}, bond ${r.bond} wei (reason ${r.reasonCid}, tx ${r.hash}).\n${next}`);
      }),
    );

  cmd
    .command("cancel <jobId>")
    .description("cancel an unclaimed job and get the budget back (poster)")
    .action(
      action(env, async (ctx, _o, [id]) => {
        const r = await cancelJob(await ctx.conn(), parseId(id, "jobId"));
        ctx.print(
          { jobId: id, ...r },
          () => `Cancelled job ${id}; refunded ${open(r.refund)} (tx ${r.hash})`,
        );
      }),
    );
  example(
    cmd
      .command("claim <jobId>")
      .description("claim an open job as a trainer (needs the minimum stake)")
      .action(
        action(env, async (ctx, _o, [id]) => {
          const r = await claimJob(await ctx.conn(), parseId(id, "jobId"));
          ctx.print({ jobId: id, ...r }, () => `Claimed job ${id}; submit by ${iso(r.dueAt)} (tx ${r.hash})`);
        }),
      ),
    "tributary job claim 3",
  );

  example(
    cmd
      .command("submit <jobId>")
      .description("submit a trained result for your claimed job (trainer); starts the challenge window")
      .requiredOption("--adapter <cid>", "IPFS CID of the adapter directory")
      .requiredOption("--adapter-hash <bytes32>", "SHA-256 of adapter_model.safetensors")
      .requiredOption("--metrics <cid>", "IPFS CID of metrics.json")
      .option("--report <cid>", "IPFS CID of the attribution report (root and total weight are read from it)")
      .option("--attribution-root <bytes32>", "attribution root (default: from --report)")
      .option("--total-weight <n>", "attribution total weight (default: from --report)")
      .action(
        action<{
          adapter: string;
          adapterHash: string;
          metrics: string;
          report?: string;
          attributionRoot?: string;
          totalWeight?: string;
        }>(env, async (ctx, o, [id]) => {
          let root = o.attributionRoot ? parseBytes32(o.attributionRoot, "--attribution-root") : undefined;
          let total =
            o.totalWeight !== undefined ? BigInt(parseId(o.totalWeight, "--total-weight")) : undefined;
          if (o.report && (root === undefined || total === undefined)) {
            const report = parseAttributionReport(await catJson(ctx.store(), o.report, "attribution report"));
            root ??= ContributionTree.build(
              report.contributions
                .filter((c) => BigInt(c.weight) > 0n)
                .map((c) => ({ datanetId: BigInt(c.datanetId), contributionId: BigInt(c.contributionId), weight: BigInt(c.weight) })),
            ).root;
            total ??= BigInt(report.totalWeight);
          }
          if ((root === undefined) !== (total === undefined) || (root && !o.report))
            throw new UsageError(
              "An attribution root needs its total weight and report",
              "Pass --report <cid> (and optionally --attribution-root and --total-weight), or none of them.",
            );
          const r = await submitResult(await ctx.conn(), parseId(id, "jobId"), {
            adapterCid: o.adapter,
            adapterHash: parseBytes32(o.adapterHash, "--adapter-hash"),
            metricsCid: o.metrics,
            attributionRoot: root ?? ZERO_ROOT,
            attributionTotalWeight: total ?? 0n,
            reportCid: o.report ?? "",
          });
          ctx.print(
            { jobId: id, ...r },
            () => `Submitted job ${id}; challenge window ends ${iso(r.challengeEndsAt)} (tx ${r.hash})`,
          );
        }),
      ),
    "tributary job submit 3 --adapter bafy… --adapter-hash 0x… --metrics bafk… --report bafk…",
  );

  example(
    cmd
      .command("finalize <jobId>")
      .description("finalize a submitted job after its challenge window (anyone); mints the model")
      .action(
        action(env, async (ctx, _o, [id]) => {
          const r = await finalizeJob(await ctx.conn(), parseId(id, "jobId"));
          ctx.print(
            { jobId: id, ...r },
            () =>
              `Finalized job ${id}; model ${r.modelId} minted, trainer paid ${open(r.trainerPayment)} (tx ${r.hash})`,
          );
        }),
      ),
    "tributary job finalize 3",
  );

  example(
    cmd
      .command("reclaim <jobId>")
      .description("reopen a claimed job whose deadline passed (anyone); slashes the trainer")
      .action(
        action(env, async (ctx, _o, [id]) => {
          const r = await reclaimJob(await ctx.conn(), parseId(id, "jobId"));
          ctx.print(
            { jobId: id, ...r },
            () => `Reopened job ${id}; trainer ${r.trainer} slashed ${open(r.slashed)} (tx ${r.hash})`,
          );
        }),
      ),
    "tributary job reclaim 3",
  );

  example(
    cmd
      .command("release <jobId>")
      .description(
        "give back a job you claimed and cannot finish, before its deadline: it reopens at once; you pay the release fee (a share of the missed-deadline slash) to its Datanets",
      )
      .action(
        action(env, async (ctx, _o, [id]) => {
          const r = await releaseJob(await ctx.conn(), parseId(id, "jobId"));
          ctx.print(
            { jobId: id, ...r },
            () => `Released job ${id}; it is open again. Release fee ${open(r.fee)} went to its Datanets (tx ${r.hash})`,
          );
        }),
      ),
    "tributary job release 3",
  );
  return cmd;
}

/**
 * The verification class a job gets, for people: the spec's, or the rule that decides it from the base model
 * (replay on Llama bases, which the engine loads; eval on others).
 */
function verificationText(spec: Pick<JobSpec, "verification" | "evalTolerance">): string {
  return describeVerification(spec.verification ? verificationOf(spec, spec.verification === "replay") : null, spec);
}
