// Browse Datanets: what each holds, its access policy, and whether the connected account may train on it.
import { useQueryClient } from "@tanstack/react-query";
import { buyAccess, requestAccess } from "@tributary/sdk/chain/browser";
import { lazy, Suspense, useState } from "react";
import { useWallet } from "../wallet.tsx";
import { TxStatus } from "../components/TxStatus.tsx";
import { Empty, ErrorBox, Loading } from "../components/states.tsx";
import { useDatanetMeta, useDatanets, useMyAccess } from "../hooks.ts";
import type { AccessInfo } from "../hooks.ts";
import { summaryOf } from "../lib/description.ts";
import { formatOpen, formatTime, shortAddress } from "../lib/format.ts";
import type { DatanetRow } from "../lib/subgraph.ts";
import { useProtocol, useTx } from "../protocol.tsx";
import { Link } from "../router.tsx";

// Panels for a connected account (contribute, curate): their SDK code loads only when they show.
const ContributePanel = lazy(() =>
  import("./DatanetPanels.tsx").then((m) => ({ default: m.ContributePanel })),
);
const CuratorRequests = lazy(() =>
  import("./DatanetPanels.tsx").then((m) => ({ default: m.CuratorRequests })),
);
const CuratorContributions = lazy(() =>
  import("./DatanetPanels.tsx").then((m) => ({ default: m.CuratorContributions })),
);

const POLICY_TEXT = {
  Open: "Open: anyone may train on it",
  Approval: "Approval: the owner approves each builder",
  Paid: "Paid: buy access per job",
} as const;

export function DatanetsPage() {
  const datanets = useDatanets();
  const access = useMyAccess(datanets.data);
  const { isConnected } = useWallet();
  if (datanets.isPending) return <Loading what="Datanets" />;
  if (datanets.isError) return <ErrorBox error={datanets.error} retry={() => void datanets.refetch()} />;
  return (
    <section>
      <div className="page-head">
        <h1>Datanets</h1>
        <Link to="/datanets/new" className="button">
          Create a Datanet
        </Link>
      </div>
      <p className="lead">
        Community data sets you can fine-tune on. Contributors are paid from every job and every use of the
        models trained on their data.
      </p>
      <ol className="howto">
        <li>Pick Datanets you may use (or request access).</li>
        <li>
          <Link to="/new">Fine-tune</Link> a base model on them: a trainer node does the work for the budget
          you set.
        </li>
        <li>Watch it train, then chat with your model or call it through its API.</li>
      </ol>
      {!isConnected && <p className="note">Connect your wallet to see which Datanets you may use.</p>}
      {access.isError && <ErrorBox error={access.error} retry={() => void access.refetch()} />}
      {datanets.data.length === 0 ? (
        <Empty>
          <p>
            No Datanets yet. <Link to="/datanets/new">Create the first one</Link> (or with the CLI:{" "}
            <code>npx tributary datanet create</code>).
          </p>
        </Empty>
      ) : (
        <div className="cards">
          {datanets.data.map((d) => (
            <DatanetCard
              key={d.id}
              datanet={d}
              access={access.data?.[d.id]}
              accessLoading={isConnected && access.isPending}
            />
          ))}
        </div>
      )}
    </section>
  );
}

function DatanetCard({
  datanet: d,
  access,
  accessLoading,
}: {
  datanet: DatanetRow;
  access?: AccessInfo;
  accessLoading: boolean;
}) {
  const meta = useDatanetMeta(d.metadataCID);
  const { isConnected } = useWallet();
  return (
    <article className="card" data-testid={`datanet-${d.datanetId}`}>
      <header>
        <h2>{meta.data?.name ?? `Datanet #${d.datanetId}`}</h2>
        <span className={`badge policy-${d.policy.toLowerCase()}`}>{d.policy}</span>
      </header>
      {meta.isPending && <p className="muted">Loading description…</p>}
      {meta.isError && (
        <p className="muted">
          Description unavailable (metadata {d.metadataCID.slice(0, 12)}… could not be read from IPFS).
        </p>
      )}
      {meta.data?.description && <p>{summaryOf(meta.data.description)}</p>}
      <dl className="facts">
        <dt>Version</dt>
        <dd>{d.version} (approved contributions)</dd>
        <dt>Contributions</dt>
        <dd>
          {d.approvedCount} approved of {d.contributionCount}, {d.totalRecords} records
        </dd>
        <dt>Owner</dt>
        <dd title={d.owner.id}>{shortAddress(d.owner.id)}</dd>
        <dt>Access</dt>
        <dd>
          {POLICY_TEXT[d.policy]}
          {d.policy === "Paid" && ` (${formatOpen(d.price)} per job)`}
        </dd>
        {meta.data?.license && (
          <>
            <dt>Licence</dt>
            <dd>{meta.data.license}</dd>
          </>
        )}
      </dl>
      <p>
        <Link to={`/datanets/${d.datanetId}`}>Versions and details</Link>
      </p>
      {accessLoading ? (
        <p className="muted">Checking your access…</p>
      ) : (
        access && <AccessPanel datanet={d} access={access} />
      )}
      {isConnected && (
        <Suspense fallback={null}>
          <ContributePanel datanet={d} />
          <CuratorRequests datanet={d} />
          <CuratorContributions datanet={d} />
        </Suspense>
      )}
    </article>
  );
}

function AccessPanel({ datanet: d, access }: { datanet: DatanetRow; access: AccessInfo }) {
  const { store } = useProtocol();
  const tx = useTx();
  const qc = useQueryClient();
  const [purpose, setPurpose] = useState("");
  const { address } = useWallet();
  const me = address?.toLowerCase();
  const refresh = () => qc.invalidateQueries({ queryKey: ["my-access"] });

  if (access.hasAccess) {
    return (
      <p className="access yes" data-testid="access-yes">
        ✓ You may use this Datanet
        {d.policy !== "Open" &&
          ` (${access.usesLeft} job${access.usesLeft === 1 ? "" : "s"} left${access.expiresAt ? `, until ${formatTime(access.expiresAt)}` : ""})`}
      </p>
    );
  }
  if (me && (d.owner.id === me || d.curators.some((c) => c.id === me))) {
    return (
      <p className="access pending" data-testid="access-curator">
        You curate this Datanet. To train on it yourself, grant your own account access (CLI:{" "}
        <code>
          tributary access grant {d.datanetId} {address}
        </code>
        ).
      </p>
    );
  }
  if (d.policy === "Approval") {
    if (access.requested || tx.state.phase === "done") {
      return (
        <p className="access pending" data-testid="access-requested">
          Access requested: waiting for the owner's approval.
        </p>
      );
    }
    return (
      <form
        className="access-form"
        onSubmit={(e) => {
          e.preventDefault();
          void tx
            .run("Requesting access…", (signer) =>
              requestAccess(signer, store, {
                datanetId: BigInt(d.datanetId),
                purpose: purpose.trim() || "Fine-tuning",
              }),
            )
            .then(refresh);
        }}
      >
        <label>
          What will you train? <span className="muted">(the owner reads this)</span>
          <input
            value={purpose}
            onChange={(e) => setPurpose(e.target.value)}
            placeholder="e.g. a recipe assistant"
          />
        </label>
        <button type="submit" disabled={tx.state.phase === "running"}>
          Request access
        </button>
        <TxStatus state={tx.state} />
      </form>
    );
  }
  return (
    <div className="access-form">
      <button
        type="button"
        disabled={tx.state.phase === "running"}
        onClick={() =>
          void tx
            .run("Buying access…", (signer) => buyAccess(signer, { datanetId: BigInt(d.datanetId), uses: 1 }))
            .then(refresh)
        }
      >
        Buy access for one job ({formatOpen(d.price)})
      </button>
      <TxStatus state={tx.state} />
    </div>
  );
}
