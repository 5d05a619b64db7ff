// One Datanet: its description (Markdown, rendered and sanitized), facts, versions (what each approval added),
// its reward pool's distributions, and for the owner a form to edit the description.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { updateDatanetMetadata } from "@tributary/sdk/chain/browser";
import { useState } from "react";
import { Field } from "../components/Field.tsx";
import { TxStatus } from "../components/TxStatus.tsx";
import { Empty, ErrorBox, Loading } from "../components/states.tsx";
import { useDatanetMeta } from "../hooks.ts";
import type { DatanetMeta } from "../hooks.ts";
import { summaryOf } from "../lib/description.ts";
import { renderMarkdown } from "../lib/markdown.ts";
import { formatOpen, formatTime, shortAddress } from "../lib/format.ts";
import { DatanetQuery, gql } from "../lib/subgraph.ts";
import type { DatanetResult } from "../lib/subgraph.ts";
import { useProtocol, useTx } from "../protocol.tsx";
import { Link } from "../router.tsx";
import { useWallet } from "../wallet.tsx";

type Contribution = NonNullable<DatanetResult["datanet"]>["contributions"][number];

export interface VersionRow {
  version: number;
  records: number;
  bytes: bigint;
  contributions: Contribution[];
}

/** Approved contributions grouped by the version they joined, newest first. */
export function versionsOf(contributions: readonly Contribution[]): VersionRow[] {
  const by = new Map<number, VersionRow>();
  for (const c of contributions) {
    if (c.status !== "Approved" || c.version === null) continue;
    const v = by.get(c.version) ?? { version: c.version, records: 0, bytes: 0n, contributions: [] };
    v.records += c.records;
    v.bytes += BigInt(c.byteSize);
    v.contributions.push(c);
    by.set(c.version, v);
  }
  return [...by.values()].sort((a, b) => b.version - a.version);
}

export function DatanetPage({ id }: { id: string }) {
  const { config } = useProtocol();
  const { address } = useWallet();
  const q = useQuery({
    queryKey: ["datanet", id, address],
    queryFn: async () =>
      (
        await gql(config.proxied.subgraph, DatanetQuery, {
          id,
          account: address?.toLowerCase() ?? null,
          contributions: 200,
        })
      ).datanet,
  });
  const meta = useDatanetMeta(q.data?.metadataCID);
  if (!/^\d+$/.test(id)) return <ErrorBox error={new Error(`"${id}" is not a Datanet number.`)} />;
  if (q.isPending) return <Loading what={`Datanet #${id}`} />;
  if (q.isError) return <ErrorBox error={q.error} retry={() => void q.refetch()} />;
  const d = q.data;
  if (!d)
    return (
      <Empty>
        <p>
          There is no Datanet #{id} (yet: a new one shows once the indexer has seen it).{" "}
          <Link to="/datanets">All Datanets</Link>
        </p>
      </Empty>
    );
  const versions = versionsOf(d.contributions);
  const isOwner = Boolean(address && address.toLowerCase() === d.owner.id.toLowerCase());
  const summary = summaryOf(meta.data?.description);
  const body = (meta.data?.description ?? "").trim().slice(summary.length).trim();
  return (
    <section className="datanet" data-testid={`datanet-page-${d.datanetId}`}>
      <p>
        <Link to="/datanets">← All Datanets</Link>
      </p>
      <h1>{meta.data?.name ?? `Datanet #${d.datanetId}`}</h1>
      {summary && <p className="lead">{summary}</p>}
      {body && renderMarkdown(body)}
      <dl className="facts">
        <dt>Access</dt>
        <dd>
          {d.policy}
          {d.policy === "Paid" && ` (${formatOpen(d.price)} per job)`}
        </dd>
        <dt>Owner</dt>
        <dd title={d.owner.id}>{shortAddress(d.owner.id)}</dd>
        <dt>Curators</dt>
        <dd>{d.curators.length ? d.curators.map((c) => shortAddress(c.id)).join(", ") : "the owner only"}</dd>
        {meta.data?.license && (
          <>
            <dt>Licence</dt>
            <dd>{meta.data.license}</dd>
          </>
        )}
        {meta.data?.tags && meta.data.tags.length > 0 && (
          <>
            <dt>Tags</dt>
            <dd>{meta.data.tags.join(", ")}</dd>
          </>
        )}
        <dt>Contributions</dt>
        <dd>
          {d.approvedCount} approved, {d.pending.length} waiting, {d.rejectedCount} rejected,{" "}
          {d.withdrawnCount} withdrawn
        </dd>
        <dt>Data fees earned</dt>
        <dd>{formatOpen(d.dataFeesEarned)}</dd>
      </dl>

      <h2>Versions</h2>
      {versions.length === 0 ? (
        <Empty>
          <p>No approved data yet: version 0. Each approved contribution makes a new version.</p>
        </Empty>
      ) : (
        <div className="table-wrap">
          <table data-testid="versions">
            <caption>
              Each version adds the contributions approved into it; jobs train on a fixed version.
            </caption>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Added</th>
                <th scope="col">Contributions</th>
              </tr>
            </thead>
            <tbody>
              {versions.map((v) => (
                <tr key={v.version}>
                  <td>v{v.version}</td>
                  <td>
                    {v.records} record{v.records === 1 ? "" : "s"}, {(Number(v.bytes) / 1024).toFixed(1)} KB
                  </td>
                  <td>
                    {v.contributions.map((c) => (
                      <div key={c.id}>
                        #{c.contributionId} by {shortAddress(c.contributor.id)}, {formatTime(c.submittedAt)}
                        {c.encrypted ? " (encrypted)" : ""}
                      </div>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h2>Reward pool</h2>
      {d.rewardPool ? (
        <>
          <p>
            Balance {formatOpen(d.rewardPool.balance)}; funded {formatOpen(d.rewardPool.totalFunded)},
            distributed {formatOpen(d.rewardPool.totalDistributed)}.
          </p>
          {d.rewardPool.distributions.length > 0 && (
            <ul>
              {d.rewardPool.distributions.map((x) => (
                <li key={x.id}>
                  Distribution {x.id}: {formatOpen(x.amount)}, {formatOpen(x.claimed)} claimed
                </li>
              ))}
            </ul>
          )}
        </>
      ) : (
        <p className="muted">No reward pool yet: it opens with the first fee paid to this Datanet.</p>
      )}
      {isOwner && meta.data && <EditMetadata datanetId={BigInt(d.datanetId)} meta={meta.data} />}
    </section>
  );
}

function EditMetadata({ datanetId, meta }: { datanetId: bigint; meta: DatanetMeta }) {
  const { store } = useProtocol();
  const tx = useTx();
  const qc = useQueryClient();
  const [description, setDescription] = useState(meta.description ?? "");
  const [tags, setTags] = useState((meta.tags ?? []).join(", "));
  return (
    <details className="edit-metadata">
      <summary>Edit the description</summary>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void (async () => {
            const r = await tx.run(
              "Pinning the new description…",
              (s) =>
                updateDatanetMetadata(s, store, {
                  datanetId,
                  description,
                  tags: tags
                    .split(",")
                    .map((t) => t.trim().toLowerCase())
                    .filter(Boolean),
                }),
              () => "The description is updated.",
            );
            if (r) await qc.invalidateQueries({ queryKey: ["datanet"] });
          })();
        }}
      >
        <Field name="edit-description" label="Description (Markdown; the first paragraph is the summary)">
          <textarea rows={6} value={description} onChange={(e) => setDescription(e.target.value)} />
        </Field>
        <Field name="edit-tags" label="Tags" hint="Separated by commas.">
          <input value={tags} onChange={(e) => setTags(e.target.value)} />
        </Field>
        <button type="submit" disabled={tx.state.phase === "running"}>
          Save
        </button>
        <TxStatus state={tx.state} />
      </form>
    </details>
  );
}
