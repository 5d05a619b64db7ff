// A Datanet card's panels for a connected account, loaded with the wallet rather than with the list:
// contribute records (normalised and encrypted in the browser), and for curators the contributions and
// access requests waiting for them.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { catJson, contribute, grantAccess, review } from "@tributary/sdk/chain/browser";
import type { Address } from "viem";
import { useState } from "react";
import { TxStatus } from "../components/TxStatus.tsx";
import { ErrorBox } from "../components/states.tsx";
import { formatTime, shortAddress } from "../lib/format.ts";
import { AccessRequestsQuery, gql, PendingContributionsQuery } from "../lib/subgraph.ts";
import type { AccessRequestRow, DatanetRow, PendingContributionRow } from "../lib/subgraph.ts";
import { useProtocol, useTx } from "../protocol.tsx";
import { useWallet } from "../wallet.tsx";

/**
 * For anyone connected: add records to the Datanet. The file (.jsonl chat or prompt/completion records,
 * .csv, .txt or .md) is split into records in the browser, encrypted for the Datanet's custodian unless
 * the Datanet is open, pinned to IPFS and registered on chain; a curator then approves it.
 */
export function ContributePanel({ datanet: d }: { datanet: DatanetRow }) {
  const { store } = useProtocol();
  const { isConnected } = useWallet();
  const tx = useTx();
  const qc = useQueryClient();
  const [file, setFile] = useState<File | null>(null);
  if (!isConnected) return null;
  return (
    <details className="contribute" data-testid="contribute">
      <summary>Contribute data</summary>
      <p className="muted">
        A .jsonl file of chat or prompt/completion records, or .csv, .txt or .md text. It is split into
        records here,{" "}
        {d.policy === "Open"
          ? "stored as is (this Datanet is open)"
          : "encrypted so that only trainers of approved jobs can read it"}
        , and registered under your address; you are paid from jobs and model use once a curator approves it.
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!file) return;
          void (async () => {
            const content = new Uint8Array(await file.arrayBuffer());
            await tx.run(
              "Preparing, encrypting and uploading your records…",
              (s) => contribute(s, store, { datanetId: BigInt(d.datanetId), fileName: file.name, content }),
              (r) =>
                `Contribution #${r.contributionId}: ${r.records} record${r.records === 1 ? "" : "s"}${r.encrypted ? ", encrypted" : ""}. It waits for a curator's approval.`,
            );
            await qc.invalidateQueries({ queryKey: ["datanets"] });
            await qc.invalidateQueries({ queryKey: ["pending-contributions", d.id] });
          })();
        }}
      >
        <input
          type="file"
          accept=".jsonl,.json,.csv,.txt,.md"
          aria-label="Records file"
          onChange={(e) => {
            setFile(e.target.files?.[0] ?? null);
            tx.reset();
          }}
        />
        <button type="submit" disabled={!file || tx.state.phase === "running"}>
          Contribute
        </button>
      </form>
      <TxStatus state={tx.state} />
    </details>
  );
}

/** For the Datanet's owner and curators: contributions waiting for review, each approved or rejected. */
export function CuratorContributions({ datanet: d }: { datanet: DatanetRow }) {
  const { config } = useProtocol();
  const { address } = useWallet();
  const me = address?.toLowerCase();
  const isCurator = Boolean(me && (d.owner.id === me || d.curators.some((c) => c.id === me)));
  const pending = useQuery({
    queryKey: ["pending-contributions", d.id],
    enabled: isCurator,
    queryFn: async () =>
      (await gql(config.proxied.subgraph, PendingContributionsQuery, { datanet: d.id })).contributions,
  });
  if (!isCurator) return null;
  return (
    <div className="curator" data-testid="pending-contributions">
      <h3>Contributions to review</h3>
      {pending.isPending && <p className="muted">Loading contributions…</p>}
      {pending.isError && <ErrorBox error={pending.error} retry={() => void pending.refetch()} />}
      {pending.data?.length === 0 && <p className="muted">Nothing waits for review.</p>}
      {pending.data?.map((c) => (
        <PendingContribution key={c.contributionId} datanet={d} contribution={c} />
      ))}
    </div>
  );
}

function PendingContribution({
  datanet: d,
  contribution: c,
}: {
  datanet: DatanetRow;
  contribution: PendingContributionRow;
}) {
  const tx = useTx();
  const qc = useQueryClient();
  const decide = (approve: boolean) =>
    void tx
      .run(
        approve ? "Approving…" : "Rejecting…",
        (s) =>
          review(s, {
            datanetId: BigInt(d.datanetId),
            ...(approve ? { approve: [BigInt(c.contributionId)] } : { reject: [BigInt(c.contributionId)] }),
          }),
        () =>
          approve
            ? `Approved: the Datanet's next version includes contribution #${c.contributionId}.`
            : `Rejected contribution #${c.contributionId}.`,
      )
      .then(() => qc.invalidateQueries({ queryKey: ["datanets"] }));
  const busy = tx.state.phase === "running" || tx.state.phase === "done";
  return (
    <div className="request" data-testid={`contribution-${c.contributionId}`}>
      <p>
        #{c.contributionId} from <strong title={c.contributor.id}>{shortAddress(c.contributor.id)}</strong>:{" "}
        {c.records} records, {Number(c.byteSize).toLocaleString()} bytes{c.encrypted ? ", encrypted" : ""},{" "}
        {formatTime(Number(c.submittedAt))}
      </p>
      <button type="button" disabled={busy} onClick={() => decide(true)}>
        Approve
      </button>{" "}
      <button type="button" className="secondary" disabled={busy} onClick={() => decide(false)}>
        Reject
      </button>
      <TxStatus state={tx.state} />
    </div>
  );
}

/** For the Datanet's owner and curators: pending access requests, each with its purpose and a grant. */
export function CuratorRequests({ datanet: d }: { datanet: DatanetRow }) {
  const { config } = useProtocol();
  const { address } = useWallet();
  const me = address?.toLowerCase();
  const isCurator = Boolean(me && (d.owner.id === me || d.curators.some((c) => c.id === me)));
  const requests = useQuery({
    queryKey: ["access-requests", d.id],
    enabled: isCurator && d.policy !== "Open",
    queryFn: async () =>
      (
        await gql(config.proxied.subgraph, AccessRequestsQuery, {
          datanet: d.id,
        })
      ).accessGrants,
  });
  if (!isCurator || d.policy === "Open") return null;
  return (
    <div className="curator" data-testid="access-requests">
      <h3>Access requests (you curate this Datanet)</h3>
      {requests.isPending && <p className="muted">Loading requests…</p>}
      {requests.isError && <ErrorBox error={requests.error} retry={() => void requests.refetch()} />}
      {requests.data?.length === 0 && <p className="muted">No pending requests.</p>}
      {requests.data?.map((r) => (
        <AccessRequest key={r.account.id} datanet={d} request={r} />
      ))}
    </div>
  );
}

function AccessRequest({ datanet: d, request: r }: { datanet: DatanetRow; request: AccessRequestRow }) {
  const { store } = useProtocol();
  const tx = useTx();
  const qc = useQueryClient();
  const [days, setDays] = useState("30");
  const [uses, setUses] = useState("1");
  const purpose = useQuery({
    queryKey: ["access-request-doc", r.requestCID],
    enabled: Boolean(r.requestCID),
    staleTime: Infinity,
    queryFn: async () => (await catJson(store, r.requestCID!, "access request")) as { purpose?: string },
  });
  const valid = Number(days) > 0 && Number.isInteger(Number(uses)) && Number(uses) > 0;
  return (
    <form
      className="request"
      data-testid={`request-${r.account.id}`}
      onSubmit={(e) => {
        e.preventDefault();
        if (!valid) return;
        const expiresAt = BigInt(Math.floor(Date.now() / 1000 + Number(days) * 86_400));
        void tx
          .run(
            "Granting access…",
            (s) =>
              grantAccess(s, {
                datanetId: BigInt(d.datanetId),
                account: r.account.id as Address,
                expiresAt,
                uses: Number(uses),
              }),
            () => `Granted ${shortAddress(r.account.id)} ${uses} job(s) for ${days} days.`,
          )
          // The list refreshes on the next visit: removing the request now would hide this outcome.
          .then(() => qc.invalidateQueries({ queryKey: ["my-access"] }));
      }}
    >
      <p>
        <strong title={r.account.id}>{shortAddress(r.account.id)}</strong>:{" "}
        {purpose.data?.purpose ? `“${purpose.data.purpose}”` : purpose.isPending ? "…" : "(no purpose given)"}
      </p>
      <label className="inline">
        jobs <input value={uses} onChange={(e) => setUses(e.target.value)} size={3} aria-label="Jobs" />
      </label>
      <label className="inline">
        days <input value={days} onChange={(e) => setDays(e.target.value)} size={4} aria-label="Days" />
      </label>
      <button type="submit" disabled={!valid || tx.state.phase === "running" || tx.state.phase === "done"}>
        Grant
      </button>
      <TxStatus state={tx.state} />
    </form>
  );
}
