// Create a Datanet: its description (name, summary, Markdown body, tags, licence), who may train on it
// (open, approval, or paid per job) and who curates it; then its first data: files dropped or chosen here
// are read by the SDK's normaliser in the browser (every bad line listed), previewed, and on "Create"
// contributed and, as the owner curates, approved into version 1. Typed input stays on any failure, and a
// retry continues where it stopped (the Datanet is created once).
import { useQueryClient } from "@tanstack/react-query";
import { contribute, createDatanet, review } from "@tributary/sdk/chain/browser";
import { useState } from "react";
import type { DragEvent } from "react";
import { Field } from "../components/Field.tsx";
import { ConnectFirst } from "../components/Layout.tsx";
import { TxStatus } from "../components/TxStatus.tsx";
import { checkDatanetForm, EMPTY_DATANET_FORM, LICENCES, readUpload } from "../lib/datanet-form.ts";
import type { DatanetFormErrors, DatanetFormInput, UploadedFile } from "../lib/datanet-form.ts";
import { useProtocol, useTx } from "../protocol.tsx";
import { Link } from "../router.tsx";
import { useWallet } from "../wallet.tsx";

const POLICIES = [
  ["open", "Open", "Anyone may train on it; contributions are stored as they are."],
  ["approval", "Approval", "You approve each builder; contributions are encrypted for the custodian."],
  ["paid", "Paid", "Builders buy access per job at your price; contributions are encrypted."],
] as const;

/** Where a publish stopped, so a retry after a failure does not create a second Datanet. */
interface Progress {
  datanetId?: bigint;
  /** Contribution ids per file name, for files already contributed. */
  contributed: Record<string, bigint>;
  approved: boolean;
}

async function custodianKey(url: string): Promise<{ publicKey: string; url?: string }> {
  let res: Response;
  try {
    res = await fetch(`${url}/v1/info`);
  } catch {
    throw new Error(
      "The custodian cannot be reached; an Approval or Paid Datanet needs it. Is the stack running?",
    );
  }
  if (!res.ok) throw new Error(`The custodian answered ${res.status}; an Approval or Paid Datanet needs it.`);
  const info = (await res.json()) as { publicKey?: string };
  if (!info.publicKey) throw new Error("The custodian did not give its public key.");
  return { publicKey: info.publicKey };
}

export function CreateDatanetPage() {
  const { config, store } = useProtocol();
  const { isConnected, address } = useWallet();
  const tx = useTx();
  const qc = useQueryClient();
  const [input, setInput] = useState<DatanetFormInput>(EMPTY_DATANET_FORM);
  const [errors, setErrors] = useState<DatanetFormErrors>({});
  const [files, setFiles] = useState<UploadedFile[]>([]);
  const [reading, setReading] = useState(false);
  const [dragging, setDragging] = useState(false);
  const [progress, setProgress] = useState<Progress>({ contributed: {}, approved: false });
  const [approveOwn, setApproveOwn] = useState(true);

  if (!isConnected) return <ConnectFirst what="create a Datanet" />;

  const set = (k: keyof DatanetFormInput) => (v: string) => {
    setInput((x) => ({ ...x, [k]: v }));
    setErrors((e) => ({ ...e, [k]: undefined }));
  };
  const addFiles = async (list: FileList | File[]) => {
    setReading(true);
    try {
      const read = await Promise.all(
        [...list].map(async (f) => readUpload(f.name, new Uint8Array(await f.arrayBuffer()))),
      );
      setFiles((old) => [...old.filter((o) => !read.some((r) => r.fileName === o.fileName)), ...read]);
    } finally {
      setReading(false);
    }
  };
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    void addFiles(e.dataTransfer.files);
  };
  const good = files.filter((f) => f.records);
  const bad = files.filter((f) => f.problems);
  const created = progress.datanetId !== undefined;

  const publish = async () => {
    const { errors: errs, value } = checkDatanetForm(input, address);
    setErrors(errs);
    if (!value) return;
    if (bad.length) return;
    let p = progress;
    const save = (next: Progress) => {
      p = next;
      setProgress(next);
    };
    const done = await tx.run(
      created
        ? "Continuing where the last attempt stopped…"
        : "Pinning the description and creating the Datanet…",
      async (s) => {
        if (p.datanetId === undefined) {
          const custodian =
            value.policy === "open" ? undefined : await custodianKey(config.proxied.custodian);
          const r = await createDatanet(s, store, {
            name: value.name,
            description: value.description,
            license: value.license,
            tags: value.tags,
            policy: value.policy,
            price: value.price,
            curators: value.curators,
            custodian,
          });
          save({ ...p, datanetId: r.datanetId });
        }
        const id = p.datanetId!;
        for (const f of good) {
          if (p.contributed[f.fileName] !== undefined) continue;
          const r = await contribute(s, store, { datanetId: id, fileName: f.fileName, content: f.content });
          save({ ...p, contributed: { ...p.contributed, [f.fileName]: r.contributionId } });
        }
        const ids = Object.values(p.contributed);
        if (approveOwn && ids.length && !p.approved) {
          await review(s, { datanetId: id, approve: ids });
          save({ ...p, approved: true });
        }
        return id;
      },
      (id) =>
        `Datanet #${id} is created${good.length ? ` with ${good.length} file${good.length === 1 ? "" : "s"}` : ""}${approveOwn && good.length ? ", approved as version 1" : ""}.`,
    );
    await qc.invalidateQueries({ queryKey: ["datanets"] });
    if (done !== undefined) window.location.hash = `/datanets/${done}`;
  };

  return (
    <section className="create-datanet">
      <h1>Create a Datanet</h1>
      <p className="lead">
        A Datanet is a data set people contribute to and builders fine-tune on. Contributors are paid from
        every job and every use of the models trained on their data.
      </p>
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void publish();
        }}
      >
        <fieldset disabled={created}>
          <legend>About it</legend>
          <Field
            name="name"
            label="Name"
            hint="Shown on its card; at most 100 characters."
            error={errors.name}
          >
            <input value={input.name} onChange={(e) => set("name")(e.target.value)} maxLength={120} />
          </Field>
          <Field
            name="summary"
            label="Summary"
            hint="One sentence: what the records are and who they help."
            error={errors.summary}
          >
            <input value={input.summary} onChange={(e) => set("summary")(e.target.value)} />
          </Field>
          <Field
            name="description"
            label="Description (Markdown)"
            hint="Where the data comes from, how it was checked, what to contribute. Markdown is kept as written."
            error={errors.description}
          >
            <textarea
              rows={6}
              value={input.description}
              onChange={(e) => set("description")(e.target.value)}
            />
          </Field>
          <div className="grid2">
            <Field
              name="tags"
              label="Tags"
              hint="Separated by commas, e.g. cooking, recipes."
              error={errors.tags}
            >
              <input value={input.tags} onChange={(e) => set("tags")(e.target.value)} />
            </Field>
            <Field
              name="license"
              label="Licence"
              hint="An SPDX id; contributors agree to it when they add data."
              error={errors.license}
            >
              <input list="licences" value={input.license} onChange={(e) => set("license")(e.target.value)} />
              <datalist id="licences">
                {LICENCES.map((l) => (
                  <option key={l} value={l} />
                ))}
              </datalist>
            </Field>
          </div>
        </fieldset>

        <fieldset disabled={created}>
          <legend>Who may train on it</legend>
          {POLICIES.map(([value, label, text]) => (
            <label key={value} className="choice">
              <input
                type="radio"
                name="policy"
                value={value}
                checked={input.policy === value}
                onChange={() => set("policy")(value)}
              />
              <span>
                <strong>{label}</strong>: {text}
              </span>
            </label>
          ))}
          {input.policy === "paid" && (
            <Field
              name="price"
              label="Price per job (OPEN)"
              hint="What a builder pays to train one job on it; paid into the Datanet's reward pool."
              error={errors.price}
            >
              <input inputMode="decimal" value={input.price} onChange={(e) => set("price")(e.target.value)} />
            </Field>
          )}
          <Field
            name="curators"
            label="Curators (optional)"
            hint="Addresses that may approve contributions besides you, separated by commas or new lines."
            error={errors.curators}
          >
            <textarea rows={2} value={input.curators} onChange={(e) => set("curators")(e.target.value)} />
          </Field>
        </fieldset>

        <fieldset>
          <legend>First data (optional)</legend>
          <div
            className={`dropzone${dragging ? " over" : ""}`}
            data-testid="dropzone"
            onDragOver={(e) => {
              e.preventDefault();
              setDragging(true);
            }}
            onDragLeave={() => setDragging(false)}
            onDrop={onDrop}
          >
            <p>Drop .jsonl, .csv, .txt or .md files here, or</p>
            <label className="button">
              choose files
              <input
                type="file"
                multiple
                accept=".jsonl,.csv,.txt,.md"
                className="visually-hidden"
                onChange={(e) => {
                  if (e.target.files) void addFiles(e.target.files);
                  e.target.value = "";
                }}
              />
            </label>
            {reading && <p role="status">Reading…</p>}
          </div>
          {files.map((f) => (
            <UploadCard
              key={f.fileName}
              file={f}
              sent={progress.contributed[f.fileName] !== undefined}
              onRemove={() => setFiles((all) => all.filter((x) => x.fileName !== f.fileName))}
            />
          ))}
          {good.length > 0 && (
            <label className="choice">
              <input type="checkbox" checked={approveOwn} onChange={(e) => setApproveOwn(e.target.checked)} />
              <span>Approve these files at once, as version 1 (you curate your own Datanet).</span>
            </label>
          )}
        </fieldset>

        {bad.length > 0 && (
          <p className="field-error" role="alert">
            Fix or remove {bad.map((f) => f.fileName).join(", ")} first.
          </p>
        )}
        <div className="actions">
          <button type="submit" disabled={tx.state.phase === "running" || reading || bad.length > 0}>
            {created ? "Retry the remaining steps" : "Create Datanet"}
          </button>
          {created && (
            <Link to={`/datanets/${progress.datanetId}`}>
              Datanet #{String(progress.datanetId)} was created: open it
            </Link>
          )}
        </div>
        <TxStatus state={tx.state} />
      </form>
    </section>
  );
}

function UploadCard({
  file: f,
  sent,
  onRemove,
}: {
  file: UploadedFile;
  sent: boolean;
  onRemove: () => void;
}) {
  return (
    <article className={`upload${f.problems ? " invalid" : ""}`} data-testid={`upload-${f.fileName}`}>
      <header>
        <strong>{f.fileName}</strong>{" "}
        <span className="muted">
          {(f.bytes / 1024).toFixed(1)} KB
          {f.records !== undefined &&
            `, ${f.records} record${f.records === 1 ? "" : "s"} (${f.kinds!.join(", ")})`}
          {sent && ", contributed"}
        </span>
        <button
          type="button"
          className="link"
          onClick={onRemove}
          disabled={sent}
          aria-label={`Remove ${f.fileName}`}
        >
          Remove
        </button>
      </header>
      {f.problems && (
        <div role="alert">
          <p>This file cannot be split into records:</p>
          <ul className="problems" data-testid="problems">
            {f.problems.map((p, i) => (
              <li key={i}>
                {p.line !== undefined && <strong>Line {p.line}: </strong>}
                {p.field && <code>{p.field}</code>} {p.reason}
              </li>
            ))}
          </ul>
        </div>
      )}
      {f.preview && f.preview.length > 0 && (
        <div className="table-wrap">
          <table className="preview">
            <caption>
              First {f.preview.length} of {f.records} records
            </caption>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Kind</th>
                <th scope="col">Content</th>
              </tr>
            </thead>
            <tbody>
              {f.preview.map((r, i) => (
                <tr key={i}>
                  <td>{i + 1}</td>
                  <td>{r.kind}</td>
                  <td>
                    {r.parts.map((p, j) => (
                      <div key={j}>
                        <span className="muted">{p.label}:</span> {p.text}
                      </div>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </article>
  );
}
