// The fine-tuning wizard: base model -> data -> method and settings -> budget -> review, approve and post.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { catJson, postJob } from "@tributary/sdk/chain/browser";
import type { BaseModelCard } from "@tributary/sdk/schemas";
import { useEffect, useMemo, useState } from "react";
import { formatEther } from "viem";
import { useWallet } from "../wallet.tsx";
import { Field } from "../components/Field.tsx";
import { ConnectFirst } from "../components/Layout.tsx";
import { TxStatus } from "../components/TxStatus.tsx";
import { Empty, ErrorBox, Loading } from "../components/states.tsx";
import {
  useBaseModelCard,
  useBaseModels,
  useDatanetMeta,
  useDatanets,
  useMyAccess,
  useOpenBalance,
} from "../hooks.ts";
import { formatParameters } from "../lib/base-model-card.ts";
import { DEADLINE_SHARE, estimateJob, formatEstimate, formatTokens, throughputOf } from "../lib/estimate.ts";
import type { TrainerSpeed } from "../lib/estimate.ts";
import { formatDuration, formatOpen } from "../lib/format.ts";
import {
  applyCard,
  CARD_FIELDS,
  cardNote,
  DEFAULT_FORM,
  HINTS,
  stepErrors,
  TARGET_MODULES,
  validateJobForm,
} from "../lib/job-form.ts";
import type { FieldErrors, FormField, JobForm } from "../lib/job-form.ts";
import { gql, TrainersQuery } from "../lib/subgraph.ts";
import type { DatanetRow } from "../lib/subgraph.ts";
import { useProtocol, useTx } from "../protocol.tsx";
import { Link, navigate } from "../router.tsx";

const STEPS = [
  ["model", "Base model"],
  ["data", "Data"],
  ["method", "Method & settings"],
  ["budget", "Budget"],
  ["review", "Review & post"],
] as const;
type StepKey = (typeof STEPS)[number][0];

export function NewJobPage() {
  const { isConnected } = useWallet();
  const [form, setForm] = useState<JobForm>(DEFAULT_FORM);
  const [step, setStep] = useState(0);
  const [shown, setShown] = useState<Set<StepKey>>(new Set());
  // settings the person typed or ticked: a base model's recommendations never overwrite them
  const [edited, setEdited] = useState<ReadonlySet<FormField>>(new Set());
  const balance = useOpenBalance();
  const models = useBaseModels();
  const base = models.data?.find((m) => m.name === form.baseModel);
  const card = useBaseModelCard(base);
  // the chosen model's card fills every setting not edited (again on each switch of base model)
  useEffect(() => {
    // a model without a readable card: the generic defaults, not the previous model's recommendations
    if (card.data || card.isError) setForm((f) => applyCard(f, card.data, edited));
    // `edited` is read, not watched: editing a field must not re-apply the card to the others
  }, [card.data, card.isError]);
  const validated = useMemo(
    () => validateJobForm(form, { balanceWei: balance.data, card: card.data }),
    [form, balance.data, card.data],
  );
  const set = <K extends keyof JobForm>(k: K, v: JobForm[K]) => {
    if (k in CARD_FIELDS) setEdited((e) => new Set(e).add(k));
    setForm((f) => ({ ...f, [k]: v }));
  };

  if (!isConnected) return <ConnectFirst what="fine-tune a model" />;
  const key = STEPS[step][0];
  const errors: FieldErrors =
    key === "review" ? validated.errors : shown.has(key) ? stepErrors(validated.errors, key) : {};

  const next = () => {
    if (key !== "review" && Object.keys(stepErrors(validated.errors, key)).length > 0) {
      setShown((s) => new Set(s).add(key));
      return;
    }
    setStep((s) => Math.min(s + 1, STEPS.length - 1));
  };

  return (
    <section className="wizard">
      <h1>Fine-tune a model</h1>
      <ol className="steps">
        {STEPS.map(([k, label], i) => (
          <li key={k} className={i === step ? "current" : i < step ? "done" : undefined}>
            <button type="button" disabled={i > step} onClick={() => setStep(i)}>
              {i + 1}. {label}
            </button>
          </li>
        ))}
      </ol>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          next();
        }}
      >
        {key === "model" && <ModelStep form={form} set={set} errors={errors} card={card} />}
        {key === "data" && <DataStep form={form} set={set} errors={errors} />}
        {key === "method" && <MethodStep form={form} set={set} errors={errors} card={card} />}
        {key === "budget" && <BudgetStep form={form} set={set} errors={errors} balance={balance.data} />}
        {key === "review" && (
          <ReviewStep form={form} validated={validated} onEdit={setStep} card={card.data} />
        )}
        {key !== "review" && (
          <div className="actions">
            {step > 0 && (
              <button type="button" className="secondary" onClick={() => setStep(step - 1)}>
                Back
              </button>
            )}
            <button type="submit">Next</button>
          </div>
        )}
      </form>
    </section>
  );
}

type StepProps = {
  form: JobForm;
  set: <K extends keyof JobForm>(k: K, v: JobForm[K]) => void;
  errors: FieldErrors;
};
type CardQuery = ReturnType<typeof useBaseModelCard>;

/** What the chosen base model is (size, context, architecture), from its card. */
function ModelFacts({ card }: { card: CardQuery }) {
  if (card.isPending && card.fetchStatus === "idle") return null;
  if (card.isPending) return <Loading what="the model's card" />;
  if (card.isError)
    return (
      <div className="state error" role="alert" data-testid="model-card-error">
        <p>
          No recommended settings for this model: {card.error.message} The generic defaults apply; check each
          setting.
        </p>
      </div>
    );
  const c = card.data;
  return (
    <div className="model-card" data-testid="model-card">
      <p>
        <strong>{c.name}</strong>: {formatParameters(c.parameters)}, context{" "}
        <span data-testid="model-context">{c.contextLength}</span> tokens, {c.architecture}
        {c.license ? `, ${c.license}` : ""}.
      </p>
      {c.description && <p className="muted">{c.description}</p>}
      <p className="muted">
        The next steps start from the settings recommended for this model, each with the reason next to it.
      </p>
    </div>
  );
}

function ModelStep({ form, set, errors, card }: StepProps & { card: CardQuery }) {
  const models = useBaseModels();
  if (models.isPending) return <Loading what="base models" />;
  if (models.isError) return <ErrorBox error={models.error} retry={() => void models.refetch()} />;
  if (models.data.length === 0) return <Empty>No base models are registered yet.</Empty>;
  return (
    <Field name="baseModel" label="Base model" hint={HINTS.baseModel} error={errors.baseModel}>
      <div className="choices">
        {models.data.map((m) => (
          <label key={m.baseModelId} className="choice">
            <input
              type="radio"
              name="baseModel"
              value={m.name}
              checked={form.baseModel === m.name}
              onChange={() => set("baseModel", m.name)}
            />
            <span>
              <strong>{m.name}</strong> <span className="muted">#{m.baseModelId}</span>
            </span>
          </label>
        ))}
      </div>
      {form.baseModel && <ModelFacts card={card} />}
    </Field>
  );
}

function DataStep({ form, set, errors }: StepProps) {
  const datanets = useDatanets();
  const access = useMyAccess(datanets.data);
  if (datanets.isPending || access.isPending) return <Loading what="Datanets you may use" />;
  if (datanets.isError) return <ErrorBox error={datanets.error} retry={() => void datanets.refetch()} />;
  if (access.isError) return <ErrorBox error={access.error} retry={() => void access.refetch()} />;
  const usable = datanets.data.filter((d) => access.data[d.id]?.hasAccess && d.version > 0);
  const others = datanets.data.filter((d) => !usable.includes(d));
  const toggle = (d: DatanetRow, on: boolean) =>
    set(
      "data",
      on
        ? [...form.data, { datanetId: d.datanetId, version: d.version }]
        : form.data.filter((x) => x.datanetId !== d.datanetId),
    );
  return (
    <Field name="data" label="Training data" hint={HINTS.data} error={errors.data}>
      {usable.length === 0 ? (
        <Empty>
          <p>
            You may not use any Datanet yet. <Link to="/datanets">Request access</Link> first.
          </p>
        </Empty>
      ) : (
        <div className="choices">
          {usable.map((d) => {
            const chosen = form.data.find((x) => x.datanetId === d.datanetId);
            return (
              <div key={d.id} className="choice">
                <label>
                  <input
                    type="checkbox"
                    data-testid={`use-datanet-${d.datanetId}`}
                    checked={Boolean(chosen)}
                    onChange={(e) => toggle(d, e.target.checked)}
                  />
                  <DatanetName datanet={d} />
                </label>
                {chosen && (
                  <label className="inline">
                    version{" "}
                    <select
                      value={chosen.version}
                      onChange={(e) =>
                        set(
                          "data",
                          form.data.map((x) =>
                            x.datanetId === d.datanetId ? { ...x, version: Number(e.target.value) } : x,
                          ),
                        )
                      }
                    >
                      {Array.from({ length: d.version }, (_, i) => d.version - i).map((v) => (
                        <option key={v} value={v}>
                          {v}
                          {v === d.version ? " (latest)" : ""}
                        </option>
                      ))}
                    </select>
                  </label>
                )}
              </div>
            );
          })}
        </div>
      )}
      {others.length > 0 && (
        <p className="muted">
          Not available to you: {others.map((d) => `#${d.datanetId}`).join(", ")} (
          <Link to="/datanets">see Datanets</Link>).
        </p>
      )}
    </Field>
  );
}

function DatanetName({ datanet: d }: { datanet: DatanetRow }) {
  const meta = useDatanetMeta(d.metadataCID);
  return (
    <span>
      <strong>{meta.data?.name ?? `Datanet #${d.datanetId}`}</strong>{" "}
      <span className="muted">
        #{d.datanetId}, {d.totalRecords} records, {d.policy.toLowerCase()}
      </span>
    </span>
  );
}

function NumberField({
  form,
  set,
  errors,
  name,
  label,
  step,
  card,
  max,
}: StepProps & { name: keyof JobForm; label: string; step?: string; card?: BaseModelCard; max?: number }) {
  return (
    <Field name={name} label={label} hint={HINTS[name]} note={cardNote(card, name)} error={errors[name]}>
      <input
        name={name}
        inputMode="decimal"
        step={step}
        max={max}
        value={form[name] as string}
        onChange={(e) => set(name, e.target.value as never)}
        aria-invalid={Boolean(errors[name])}
      />
    </Field>
  );
}

function MethodStep({ card: cardQuery, ...props }: StepProps & { card: CardQuery }) {
  const { form, set, errors } = props;
  const card = cardQuery.data;
  const field = { ...props, card };
  return (
    <>
      {card ? (
        <p className="muted" data-testid="recommended-for">
          Prefilled with the settings recommended for <strong>{card.name}</strong> (
          {formatParameters(card.parameters)}, context {card.contextLength} tokens). A setting you change
          stays as you set it.
        </p>
      ) : (
        cardQuery.isError && (
          <p className="muted">No recommended settings for this model: the generic defaults apply.</p>
        )
      )}
      <Field
        name="method"
        label="Method"
        hint={HINTS.method}
        note={cardNote(card, "method")}
        error={errors.method}
      >
        <div className="choices row">
          {(["lora", "qlora"] as const).map((m) => (
            <label key={m} className="choice">
              <input
                type="radio"
                name="method"
                checked={form.method === m}
                onChange={() => set("method", m)}
              />
              <strong>{m === "lora" ? "LoRA" : "QLoRA (4-bit)"}</strong>
            </label>
          ))}
        </div>
      </Field>
      <div className="grid2">
        <NumberField {...field} name="learningRate" label="Learning rate" />
        <NumberField {...field} name="epochs" label="Epochs" />
        <NumberField {...field} name="batchSize" label="Batch size" />
        <NumberField
          {...field}
          name="maxSeqLength"
          label={card ? `Max length (tokens, at most ${card.contextLength})` : "Max length (tokens)"}
          max={card?.contextLength}
        />
        <NumberField {...field} name="rank" label="LoRA rank (r)" />
        <NumberField {...field} name="alpha" label="LoRA alpha" />
      </div>
      <Field
        name="targetModules"
        label="Layers to adapt"
        hint={HINTS.targetModules}
        note={cardNote(card, "targetModules")}
        error={errors.targetModules}
      >
        <div className="choices row">
          {TARGET_MODULES.map((m) => (
            <label key={m} className="choice small">
              <input
                type="checkbox"
                checked={form.targetModules.includes(m)}
                onChange={(e) =>
                  set(
                    "targetModules",
                    e.target.checked ? [...form.targetModules, m] : form.targetModules.filter((x) => x !== m),
                  )
                }
              />
              <code>{m}</code>
            </label>
          ))}
        </div>
      </Field>
      <details className="advanced" open={ADVANCED.some((f) => errors[f])} data-testid="advanced-settings">
        <summary>More settings: schedule, warm-up, gradient accumulation, dropout, eval split, seed…</summary>
        <div className="grid2">
          <Field
            name="scheduler"
            label="Learning-rate schedule"
            hint={HINTS.scheduler}
            note={cardNote(card, "scheduler")}
            error={errors.scheduler}
          >
            <select
              name="scheduler"
              value={form.scheduler}
              onChange={(e) => set("scheduler", e.target.value as JobForm["scheduler"])}
            >
              <option value="cosine">cosine</option>
              <option value="linear">linear</option>
              <option value="constant">constant</option>
            </select>
          </Field>
          <NumberField {...field} name="warmupRatio" label="Warm-up (share of steps)" />
          <NumberField {...field} name="gradientAccumulation" label="Gradient accumulation (steps)" />
          <NumberField {...field} name="dropout" label="LoRA dropout" />
          <NumberField {...field} name="weightDecay" label="Weight decay" />
          <NumberField {...field} name="maxGradNorm" label="Gradient clipping (max norm)" />
          <NumberField {...field} name="evalSplit" label="Eval split (share held out)" />
          <NumberField {...field} name="seed" label="Seed" />
        </div>
      </details>
    </>
  );
}

const ADVANCED = [
  "scheduler",
  "warmupRatio",
  "gradientAccumulation",
  "dropout",
  "weightDecay",
  "maxGradNorm",
  "evalSplit",
  "seed",
] as const;

/** The share of a job's budget (basis points) the JobMarket pays the Datanets as data fees. */
function useDataFeeBps() {
  const { conn } = useProtocol();
  return useQuery({
    queryKey: ["data-fee-bps"],
    queryFn: () =>
      conn.publicClient.readContract({
        address: conn.contracts.JobMarket.address,
        abi: conn.contracts.JobMarket.abi,
        functionName: "dataFeeBps",
      }),
  });
}

/** Active trainers (staked) and the training throughput each published in its profile (null: none). */
function useTrainerSpeeds() {
  const { config, store } = useProtocol();
  return useQuery({
    queryKey: ["trainer-speeds"],
    staleTime: 60_000,
    queryFn: async (): Promise<TrainerSpeed[]> => {
      const { trainers } = await gql(config.proxied.subgraph, TrainersQuery, { first: 100 });
      return Promise.all(
        trainers.map(async (t) => ({
          trainer: t.id,
          // an unreadable profile counts as one without a throughput
          flops: t.profileCID
            ? throughputOf(await catJson(store, t.profileCID, "trainer profile").catch(() => null))
            : null,
        })),
      );
    },
  });
}

/** Tokens, time across the active trainers and cost of the job as set, before it is posted. */
function Estimate({
  form,
  validated,
  card,
}: {
  form: JobForm;
  validated: ReturnType<typeof validateJobForm>;
  card?: BaseModelCard;
}) {
  const datanets = useDatanets();
  const trainers = useTrainerSpeeds();
  const feeBps = useDataFeeBps();
  const t = validated.spec?.training;
  if (!t || !card || !datanets.data) return null;
  const chosen = datanets.data.filter((d) => form.data.some((x) => x.datanetId === d.datanetId));
  const data = {
    bytes: chosen.reduce((n, d) => n + Number(d.totalBytes), 0),
    records: chosen.reduce((n, d) => n + Number(d.totalRecords), 0),
  };
  let est: ReturnType<typeof estimateJob>;
  try {
    est = estimateJob(
      data,
      {
        epochs: t.epochs,
        maxSeqLength: t.maxSeqLength,
        parameters: card.parameters,
        budgetWei: validated.budgetWei,
        dataFeeBps: feeBps.data === undefined ? undefined : Number(feeBps.data),
        durationSeconds: validated.durationSeconds,
      },
      trainers.data ?? [],
    );
  } catch (e) {
    return <p className="muted">{(e as Error).message}</p>;
  }
  return (
    <section className="estimate" data-testid="estimate" aria-label="Estimate">
      <h2>Estimate</h2>
      <dl className="facts">
        <dt>Tokens</dt>
        <dd data-testid="estimate-tokens">
          {formatTokens(est.trainTokens)} of training ({formatTokens(est.dataTokens)} of data × {t.epochs}{" "}
          epoch
          {t.epochs === 1 ? "" : "s"}, plus evaluation)
        </dd>
        <dt>Time</dt>
        <dd
          data-testid="estimate-time"
          data-seconds={est.seconds ? Math.round(est.seconds.fastest) : undefined}
        >
          {trainers.isPending ? (
            "reading the trainers' profiles…"
          ) : trainers.isError ? (
            "the trainers' profiles could not be read"
          ) : est.seconds ? (
            <>
              {est.trainersMeasured === 1 || est.seconds.fastest === est.seconds.slowest
                ? formatEstimate(est.seconds.fastest)
                : `${formatEstimate(est.seconds.fastest)} to ${formatEstimate(est.seconds.slowest).replace(/^about /, "")}`}{" "}
              of training and attribution, across {est.trainersMeasured} of {est.trainersTotal} active trainer
              {est.trainersTotal === 1 ? "" : "s"}
              {est.trainersMeasured < est.trainersTotal && " (the others published no throughput)"}
              {est.trainersInTime !== null && est.trainersInTime < est.trainersMeasured && (
                <span className="field-error" role="note">
                  {" "}
                  · only {est.trainersInTime} of them can finish within {DEADLINE_SHARE * 100}% of the
                  deadline, which trainers require: give it more time
                </span>
              )}
            </>
          ) : (
            `no active trainer has published its throughput yet (${est.trainersTotal} active)`
          )}
        </dd>
        <dt>Cost</dt>
        <dd data-testid="estimate-cost">
          {est.cost
            ? `${formatOpen(est.cost.total)} escrowed: ${formatOpen(est.cost.trainer)} to the trainer, ${formatOpen(est.cost.dataFees)} to the Datanets' contributors`
            : "—"}
        </dd>
      </dl>
      <p className="muted">
        From the Datanets' approved data ({(data.bytes / 1024).toFixed(1)} KB, {data.records} records; their
        newest version), the settings, and the throughput trainers publish in their profiles, counted as the
        trainer nodes count before they claim a job.
      </p>
    </section>
  );
}

function BudgetStep(props: StepProps & { balance?: bigint }) {
  const feeBps = useDataFeeBps();
  return (
    <>
      <NumberField {...props} name="budget" label="Budget (OPEN)" />
      <p className="muted" data-testid="balance">
        Your balance: {props.balance === undefined ? "…" : formatOpen(props.balance)}
        {feeBps.data !== undefined &&
          ` · ${Number(feeBps.data) / 100}% of the budget goes to the Datanets' contributors as data fees`}
      </p>
      <NumberField {...props} name="durationHours" label="Deadline after a trainer takes the job (hours)" />
    </>
  );
}

function ReviewStep({
  form,
  validated,
  onEdit,
  card,
}: {
  form: JobForm;
  validated: ReturnType<typeof validateJobForm>;
  onEdit: (i: number) => void;
  card?: BaseModelCard;
}) {
  const { store } = useProtocol();
  const tx = useTx();
  const qc = useQueryClient();
  const models = useBaseModels();
  const errorList = Object.entries(validated.errors);
  const { spec, budgetWei, durationSeconds } = validated;
  const baseModelId = models.data?.find((m) => m.name === form.baseModel)?.baseModelId;
  const post = async () => {
    if (!spec || budgetWei === undefined || durationSeconds === undefined) return;
    const r = await tx.run(
      "Posting your job: pinning the spec to IPFS, then two wallet confirmations (allow OPEN, post).",
      // the card read (and verified) here, or none: the SDK's own card reader is Node-only
      (signer) =>
        postJob(signer, store, {
          spec,
          budget: budgetWei,
          duration: durationSeconds,
          baseModelId,
          recommended: card ?? false,
        }),
      (r) => `Job #${r.jobId} posted.${r.adjusted.length ? ` Adjusted: ${r.adjusted.join("; ")}.` : ""}`,
    );
    if (r) {
      void qc.invalidateQueries();
      navigate(`/jobs/${r.jobId}`);
    }
  };
  return (
    <div className="review">
      {errorList.length > 0 && (
        <div className="state error" role="alert">
          <p>Fix these first:</p>
          <ul>
            {errorList.map(([f, msg]) => (
              <li key={f}>
                {f}: {msg}
              </li>
            ))}
          </ul>
        </div>
      )}
      <dl className="facts">
        <dt>Base model</dt>
        <dd>
          {form.baseModel || "—"} <EditLink to={0} onEdit={onEdit} />
        </dd>
        <dt>Data</dt>
        <dd>
          {form.data.map((d) => `Datanet #${d.datanetId} v${d.version}`).join(", ") || "—"}{" "}
          <EditLink to={1} onEdit={onEdit} />
        </dd>
        <dt>Method</dt>
        <dd>
          {form.method === "lora" ? "LoRA" : "QLoRA"}, rank {form.rank}, alpha {form.alpha} on{" "}
          {form.targetModules.join(", ")}
          <EditLink to={2} onEdit={onEdit} />
        </dd>
        <dt>Training</dt>
        <dd>
          learning rate {form.learningRate}, {form.epochs} epoch{form.epochs.trim() === "1" ? "" : "s"}, batch{" "}
          {form.batchSize}, up to {form.maxSeqLength} tokens
        </dd>
        <dt>Budget</dt>
        <dd>
          {budgetWei !== undefined ? `${formatEther(budgetWei)} OPEN` : "—"}, deadline{" "}
          {durationSeconds ? formatDuration(durationSeconds) : "—"} after claiming{" "}
          <EditLink to={3} onEdit={onEdit} />
        </dd>
      </dl>
      <Estimate form={form} validated={validated} card={card} />
      {spec && (
        <details>
          <summary>The job spec (tributary/job-spec@1) that will be pinned</summary>
          <pre>{JSON.stringify(spec, null, 2)}</pre>
        </details>
      )}
      <div className="actions">
        <button
          type="button"
          className="primary"
          disabled={!spec || errorList.length > 0 || tx.state.phase === "running"}
          onClick={() => void post()}
        >
          Approve & post job
        </button>
      </div>
      <TxStatus state={tx.state} />
    </div>
  );
}

function EditLink({ to, onEdit }: { to: number; onEdit: (i: number) => void }) {
  return (
    <button type="button" className="link" onClick={() => onEdit(to)}>
      edit
    </button>
  );
}
