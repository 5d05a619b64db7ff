// `tributary datanet create|list|show|contribute|review|withdraw|curators add|remove`
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import cliProgress from "cli-progress";
import { Command } from "commander";
import {
  contribute,
  createDatanet,
  getDatanet,
  listContributions,
  listDatanets,
  parsePolicy,
  review,
  setCurator,
  withdrawContribution,
} from "../chain/protocol/index.ts";
import type { ContributeResult, ContributionInfo } from "../chain/protocol/index.ts";
import type { ContentStore } from "../content/index.ts";
import { readContribution } from "../contribution/index.ts";
import { duplicateGroups } from "../dedup/index.ts";
import { action } from "./action.ts";
import {
  example,
  keyValues,
  open,
  parseAddress,
  parseId,
  parseIds,
  parseOpen,
  table,
  UsageError,
} from "./context.ts";

/**
 * The contributions with a `duplicate` column: "of #<id> (exact|near, Jaccard j)" for a copy of an
 * earlier contribution (it shares that one's credit: the trainer neither trains nor attributes it),
 * "review: like #<id> (j)" for a close call for the curator, "unread (encrypted)" without the key.
 * Withdrawn and rejected contributions are not compared.
 */
async function flagDuplicates(store: ContentStore, listed: ContributionInfo[], keyFile?: string) {
  let privateKey: string | undefined;
  if (keyFile) {
    try {
      privateKey = (JSON.parse(readFileSync(keyFile, "utf8")) as { privateKey?: string }).privateKey;
    } catch {
      throw new UsageError(`Cannot read the custodian key file ${keyFile}`, "Pass the custodian's custodian-key.json (in its state folder).");
    }
    if (!privateKey) throw new UsageError(`${keyFile} holds no privateKey`, "Pass the custodian's custodian-key.json (in its state folder).");
  }
  const readable: { id: string; records: unknown[] }[] = [];
  const unread = new Set<string>();
  for (const c of listed) {
    if (c.status === "withdrawn" || c.status === "rejected") continue;
    if (c.encrypted && !privateKey) {
      unread.add(String(c.contributionId));
      continue;
    }
    const { records } = await readContribution(store, c.cid, privateKey ? { privateKey } : undefined);
    readable.push({ id: String(c.contributionId), records });
  }
  const found = duplicateGroups(readable);
  const dup = new Map(found.duplicates.map((d) => [d.id, `of #${d.of} (${d.kind}, ${d.similarity})`]));
  const rev = new Map(found.review.map((d) => [d.id, `review: like #${d.of} (${d.similarity})`]));
  return listed.map((c) => {
    const k = String(c.contributionId);
    const match = found.duplicates.find((d) => d.id === k) ?? found.review.find((d) => d.id === k);
    return {
      ...c,
      duplicate: dup.get(k) ?? rev.get(k) ?? (unread.has(k) ? "unread (encrypted)" : ""),
      ...(match ? { duplicateOf: { contributionId: match.of, kind: found.duplicates.includes(match) ? match.kind : "review", similarity: match.similarity } } : {}),
    };
  });
}

export function datanetCommand(env: NodeJS.ProcessEnv): Command {
  const cmd = new Command("datanet").description("Datanets: community data pools");

  cmd
    .command("create")
    .description("create a Datanet (metadata pinned to IPFS)")
    .requiredOption("--name <name>", "display name")
    .option("--description <text>", "what the data is", "")
    .option("--license <spdx>", "licence of the data")
    .option("--tag <tag...>", "tags")
    .option("--policy <policy>", "open | approval | paid", "approval")
    .option("--price <OPEN>", "price per access use (paid only)")
    .option("--curator <address...>", "curators besides you")
    .option("--custodian-key <hex>", "custodian's secp256k1 public key (needed unless open)")
    .option(
      "--custodian-url <url>",
      "custodian service URL; its key is fetched from /v1/info when --custodian-key is absent",
    )
    .action(
      action<{
        name: string;
        description: string;
        license?: string;
        tag?: string[];
        policy: string;
        price?: string;
        curator?: string[];
        custodianKey?: string;
        custodianUrl?: string;
      }>(env, async (ctx, o) => {
        const policy = parsePolicy(o.policy);
        if (policy === "paid" && !o.price)
          throw new UsageError("A paid Datanet needs a price", "Pass --price <OPEN per use>.");
        let publicKey = o.custodianKey;
        if (!publicKey && o.custodianUrl) {
          const url = new URL("/v1/info", o.custodianUrl);
          const info = (await fetch(url)
            .then((r) => r.json())
            .catch(() => undefined)) as { publicKey?: string } | undefined;
          if (!info?.publicKey) {
            throw new UsageError(
              `Cannot get the custodian's key from ${url}`,
              "Start it with `tributary custodian start`, or pass --custodian-key <hex>.",
            );
          }
          publicKey = info.publicKey;
        }
        const conn = await ctx.conn();
        const r = await createDatanet(conn, ctx.store(), {
          name: o.name,
          description: o.description,
          license: o.license,
          tags: o.tag,
          policy,
          price: o.price ? parseOpen(o.price, "--price") : 0n,
          curators: (o.curator ?? []).map((c) => parseAddress(c, "--curator")),
          custodian: publicKey ? { publicKey, url: o.custodianUrl } : undefined,
        });
        ctx.print(
          r,
          (x: typeof r) => `Created Datanet ${x.datanetId} (metadata ${x.metadataCid}, tx ${x.hash})`,
        );
      }),
    );

  cmd
    .command("list")
    .description("list Datanets")
    .option("--metadata", "also read each Datanet's name from IPFS")
    .action(
      action<{ metadata?: boolean }>(env, async (ctx, o) => {
        const conn = await ctx.conn();
        const all = await listDatanets(conn, o.metadata ? ctx.store() : undefined);
        ctx.print(all, (rows: typeof all) =>
          table(
            rows.map((d) => ({
              ...d,
              name: d.metadata?.name,
              price: d.policy === "paid" ? open(d.price) : "",
            })),
            ["datanetId", "name", "policy", "price", "version", "contributionCount", "owner"],
          ),
        );
      }),
    );

  cmd
    .command("show <datanetId>")
    .description("show a Datanet and its contributions")
    .option("--duplicates", "read the contributions and flag exact and near duplicates of earlier ones (they earn no attribution credit)")
    .option("--custodian-key <file>", "with --duplicates: the custodian's key file (custodian-key.json) to read encrypted contributions")
    .action(
      action(env, async (ctx, o: { duplicates?: boolean; custodianKey?: string }, [id]) => {
        const conn = await ctx.conn();
        const datanet = await getDatanet(conn, parseId(id, "datanetId"), ctx.store());
        const listed = await listContributions(conn, datanet.datanetId);
        if (o.custodianKey && !o.duplicates) throw new UsageError("--custodian-key is only used with --duplicates", "Add --duplicates, or drop --custodian-key.");
        const contributions = o.duplicates ? await flagDuplicates(ctx.store(), listed, o.custodianKey) : listed;
        const r = { ...datanet, contributions };
        const columns = ["contributionId", "status", "approvedInVersion", "records", "byteSize", "encrypted", "contributor", "cid"];
        if (o.duplicates) columns.push("duplicate");
        ctx.print(
          r,
          (x: typeof r) =>
            `${keyValues({ datanetId: x.datanetId, name: x.metadata?.name, owner: x.owner, policy: x.policy, price: x.policy === "paid" ? open(x.price) : undefined, version: x.version, metadataCid: x.metadataCid, custodian: x.metadata?.custodian?.url })}\n\n${table(x.contributions as never[], columns)}`,
        );
      }),
    );

  cmd
    .command("contribute <datanetId> <files...>")
    .description("normalise, encrypt, pin and register files (.jsonl, .txt, .md, .csv)")
    .action(
      action(env, async (ctx, _o, [id, ...files]) => {
        const datanetId = parseId(id, "datanetId");
        const conn = await ctx.conn();
        const results: ContributeResult[] = [];
        for (const file of files) {
          let content: Buffer;
          try {
            content = readFileSync(file);
          } catch (e) {
            throw new UsageError(
              `Cannot read ${file} (${(e as NodeJS.ErrnoException).code})`,
              "Check the path.",
            );
          }
          const bar = ctx.interactive
            ? new cliProgress.SingleBar(
                { format: `${basename(file)} [{bar}] {percentage}% {value}/{total} bytes`, hideCursor: true },
                cliProgress.Presets.shades_classic,
              )
            : undefined;
          try {
            results.push(
              await contribute(conn, ctx.store(), {
                datanetId,
                fileName: file,
                content,
                onProgress: (sent, total) => {
                  if (!bar) return;
                  if (bar.getTotal() !== total) bar.start(total, 0);
                  bar.update(Math.min(sent, total));
                },
              }),
            );
          } finally {
            bar?.stop();
          }
        }
        ctx.print(results, (rows: ContributeResult[]) =>
          table(rows, ["contributionId", "records", "bytes", "encrypted", "cid", "hash"]),
        );
      }),
    );

  cmd
    .command("review <datanetId>")
    .description("approve and/or reject pending contributions (curators)")
    .option("--approve <ids...>", "contribution ids to approve (space or comma separated)")
    .option("--reject <ids...>", "contribution ids to reject")
    .action(
      action<{ approve?: string[]; reject?: string[] }>(env, async (ctx, o, [id]) => {
        const approve = parseIds(o.approve, "--approve");
        const reject = parseIds(o.reject, "--reject");
        if (!approve.length && !reject.length)
          throw new UsageError("Nothing to review", "Pass --approve <ids> and/or --reject <ids>.");
        const r = await review(await ctx.conn(), { datanetId: parseId(id, "datanetId"), approve, reject });
        ctx.print(
          r,
          (x: typeof r) =>
            `Approved ${x.approved.length}, rejected ${x.rejected.length}; Datanet ${x.datanetId} is at version ${x.version}`,
        );
      }),
    );

  cmd
    .command("withdraw <datanetId> <contributionId>")
    .description("withdraw consent for your contribution (excluded from later jobs)")
    .action(
      action(env, async (ctx, _o, [id, cid]) => {
        const r = await withdrawContribution(
          await ctx.conn(),
          parseId(id, "datanetId"),
          parseId(cid, "contributionId"),
        );
        ctx.print(
          { datanetId: id, contributionId: cid, ...r },
          () => `Withdrew contribution ${cid} of Datanet ${id} (tx ${r.hash})`,
        );
      }),
    );
  const curators = cmd.command("curators").description("who may review contributions (owner only)");
  for (const verb of ["add", "remove"] as const) {
    example(
      curators
        .command(`${verb} <datanetId> <account>`)
        .description(
          verb === "add" ? "make an account a curator of your Datanet" : "remove a curator of your Datanet",
        )
        .action(
          action(env, async (ctx, _o, [id, account]) => {
            const r = await setCurator(await ctx.conn(), {
              datanetId: parseId(id, "datanetId"),
              curator: parseAddress(account),
              remove: verb === "remove",
            });
            ctx.print(
              { datanetId: id, ...r },
              () =>
                `${r.curator} is ${r.isCurator ? "now" : "no longer"} a curator of Datanet ${id} (tx ${r.hash})`,
            );
          }),
        ),
      `tributary datanet curators ${verb} 1 0x70997970C51812dc3A010C7d01b50e0d17dc79C8`,
    );
  }
  return cmd;
}
