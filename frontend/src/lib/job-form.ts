// The fine-tuning wizard's form: what a person types (strings), the job spec it becomes, and the errors
// to show next to each field. The spec is validated with the SDK's `tributary/job-spec@1` schema, so the
// wizard accepts exactly what a trainer node will.
import { fieldIssues, JobSpec } from "@tributary/sdk/schemas";
import type { BaseModelCard, JobSpecInput, RecommendedSettings } from "@tributary/sdk/schemas";
import { parseEther } from "viem";

export interface DataChoice {
  datanetId: string;
  version: number;
}

export interface JobForm {
  baseModel: string;
  data: DataChoice[];
  method: "lora" | "qlora";
  learningRate: string;
  epochs: string;
  batchSize: string;
  rank: string;
  alpha: string;
  targetModules: string[];
  maxSeqLength: string;
  scheduler: "cosine" | "linear" | "constant";
  warmupRatio: string;
  gradientAccumulation: string;
  dropout: string;
  weightDecay: string;
  maxGradNorm: string;
  evalSplit: string;
  seed: string;
  /** OPEN, decimal. */
  budget: string;
  /** Hours the trainer has after claiming. */
  durationHours: string;
}

/** The Llama projection layers LoRA can adapt. */
export const TARGET_MODULES = [
  "q_proj",
  "k_proj",
  "v_proj",
  "o_proj",
  "gate_proj",
  "up_proj",
  "down_proj",
] as const;

/** Generic defaults until the chosen base model's card is read (its recommended settings then replace them). */
export const DEFAULT_FORM: JobForm = {
  baseModel: "",
  data: [],
  method: "lora",
  learningRate: "0.0002",
  epochs: "3",
  batchSize: "4",
  rank: "8",
  alpha: "16",
  targetModules: ["q_proj", "v_proj"],
  maxSeqLength: "512",
  // the job spec schema's own defaults
  scheduler: "cosine",
  warmupRatio: "0.1",
  gradientAccumulation: "1",
  dropout: "0.05",
  weightDecay: "0",
  maxGradNorm: "1",
  evalSplit: "0.1",
  seed: "42",
  budget: "50",
  durationHours: "24",
};

export type FormField = keyof JobForm;

/** Plain-language help for each setting. */
export const HINTS: Record<FormField, string> = {
  baseModel:
    "The pretrained model you start from. Your fine-tune learns a small add-on (an adapter) on top of it.",
  data: "The Datanets to learn from. A version is the number of approved contributions; newer versions have more data.",
  method:
    "LoRA trains a small adapter next to the frozen model. QLoRA does the same on a compressed (4-bit) copy of the model: less memory, slightly less precise.",
  learningRate:
    "How big each learning step is. Too high and training becomes unstable; too low and it learns little. Small models need larger steps than big ones.",
  epochs:
    "How many times training reads the whole data set. More epochs fit the data more closely; too many makes the model parrot it.",
  batchSize: "How many examples are averaged per step. Larger batches give smoother, slower steps.",
  rank: "The adapter's capacity (LoRA r). 8 is plenty for small data sets; higher learns more but costs more.",
  alpha: "How strongly the adapter's changes count (scaled by alpha / rank). Twice the rank is usual.",
  targetModules:
    "Which layers get an adapter. The attention query and value projections (q_proj, v_proj) are the usual choice.",
  maxSeqLength: "Longest example, in tokens; longer ones are cut. At most the base model's context.",
  scheduler:
    "How the learning rate changes over training: cosine and linear lower it towards the end, constant keeps it.",
  warmupRatio:
    "Share of the steps at the start during which the learning rate climbs from 0 (0.1 = the first 10%); steadies early training.",
  gradientAccumulation:
    "Steps whose gradients are added up before one update: a larger effective batch (batch size × this) without more memory.",
  dropout:
    "Share of the adapter's inputs dropped at random while training (0 to 1); guards against memorising small data.",
  weightDecay:
    "Pulls the adapter's weights towards zero each step (0 = off); a mild guard against overfitting.",
  maxGradNorm: "Clips each update's size to this; protects against a sudden huge step on an odd batch.",
  evalSplit:
    "Share of the records held out to measure the model (its eval loss) and for attribution, not trained on (at most 0.5).",
  seed: "Fixes the random choices (shuffling, eval split, initial adapter): the same seed and data give the same run.",
  budget:
    "OPEN you escrow now. The trainer is paid from it when the job finishes; part of it goes to the Datanets as data fees.",
  durationHours:
    "How long the trainer has to deliver once it takes the job. If it misses the deadline it is penalised and the job reopens.",
};

/** The fine-tuning settings a base model's card recommends, by form field, with the card's `notes` key. */
export const CARD_FIELDS = {
  method: "method",
  learningRate: "training.learningRate",
  epochs: "training.epochs",
  batchSize: "training.batchSize",
  maxSeqLength: "training.maxSeqLength",
  rank: "lora.r",
  alpha: "lora.alpha",
  targetModules: "lora.targetModules",
  scheduler: "training.scheduler",
  warmupRatio: "training.warmupRatio",
  gradientAccumulation: "training.gradientAccumulation",
  dropout: "lora.dropout",
  weightDecay: "training.weightDecay",
  maxGradNorm: "training.maxGradNorm",
  evalSplit: "evalSplit",
  seed: "training.seed",
} as const satisfies Partial<Record<FormField, string>>;
export type CardField = keyof typeof CARD_FIELDS;

type Card = Pick<BaseModelCard, "recommended" | "contextLength">;

/** The form values a card recommends (max length within the context); undefined where it says nothing. */
export function cardValues(card: Card): Partial<Pick<JobForm, CardField>> {
  const r = card.recommended;
  const str = (v: number | undefined) => (v === undefined ? undefined : String(v));
  const maxLen = r.training.maxSeqLength ?? card.contextLength;
  return {
    method: r.method,
    learningRate: str(r.training.learningRate),
    epochs: str(r.training.epochs),
    batchSize: str(r.training.batchSize),
    maxSeqLength: String(Math.min(maxLen, card.contextLength)),
    rank: str(r.lora.r),
    alpha: str(r.lora.alpha),
    targetModules: r.lora.targetModules ? [...r.lora.targetModules] : undefined,
    scheduler: r.training.scheduler,
    warmupRatio: str(r.training.warmupRatio),
    gradientAccumulation: str(r.training.gradientAccumulation),
    dropout: str(r.lora.dropout),
    weightDecay: str(r.training.weightDecay),
    maxGradNorm: str(r.training.maxGradNorm),
    evalSplit: str(r.evalSplit),
    seed: str(r.training.seed),
  };
}

/**
 * The form with the card's recommendations in every setting the person has not edited (a setting the
 * card leaves out, or every setting when the model has no card, goes back to the generic default);
 * edited settings are kept as typed.
 */
export function applyCard(form: JobForm, card: Card | undefined, edited: ReadonlySet<FormField>): JobForm {
  const values = card ? cardValues(card) : {};
  const out: JobForm = { ...form };
  for (const f of Object.keys(CARD_FIELDS) as CardField[]) {
    if (edited.has(f)) continue;
    (out as Record<CardField, unknown>)[f] = values[f] ?? DEFAULT_FORM[f];
  }
  return out;
}

/** The card's one-line reason for a setting, if it gives one. */
export function cardNote(
  card: Pick<BaseModelCard, "notes"> | undefined,
  field: FormField,
): string | undefined {
  const key = (CARD_FIELDS as Partial<Record<FormField, string>>)[field];
  return key ? card?.notes[key] : undefined;
}

/** Which fields each wizard step owns (errors on a later step do not block an earlier one). */
export const STEP_FIELDS = {
  model: ["baseModel"],
  data: ["data"],
  method: [
    "method",
    "learningRate",
    "epochs",
    "batchSize",
    "rank",
    "alpha",
    "targetModules",
    "maxSeqLength",
    "scheduler",
    "warmupRatio",
    "gradientAccumulation",
    "dropout",
    "weightDecay",
    "maxGradNorm",
    "evalSplit",
    "seed",
  ],
  budget: ["budget", "durationHours"],
} as const satisfies Record<string, readonly FormField[]>;

/** Spec paths (as the schema names them) -> the form field that edits them. */
const PATH_TO_FIELD: Array<[RegExp, FormField]> = [
  [/^baseModel/, "baseModel"],
  [/^data/, "data"],
  [/^method/, "method"],
  [/^training\.learningRate/, "learningRate"],
  [/^training\.epochs/, "epochs"],
  [/^training\.batchSize/, "batchSize"],
  [/^training\.maxSeqLength/, "maxSeqLength"],
  [/^lora\.r$/, "rank"],
  [/^lora\.alpha/, "alpha"],
  [/^lora\.targetModules/, "targetModules"],
  [/^lora\.dropout/, "dropout"],
  [/^training\.scheduler/, "scheduler"],
  [/^training\.warmupRatio/, "warmupRatio"],
  [/^training\.gradientAccumulation/, "gradientAccumulation"],
  [/^training\.weightDecay/, "weightDecay"],
  [/^training\.maxGradNorm/, "maxGradNorm"],
  [/^training\.seed/, "seed"],
  [/^evalSplit/, "evalSplit"],
];

/** A number from a text field; NaN for empty or malformed text (the schema then says what it expects). */
function num(text: string): number {
  const t = text.trim();
  return t === "" ? NaN : Number(t);
}

/**
 * The job spec the form describes (not yet validated). Every training setting comes from the form; the
 * few the form does not show (quantization, rsLoRA, chat template) from the base model's recommendations.
 */
export function specInputOf(form: JobForm, recommended?: RecommendedSettings): JobSpecInput {
  return {
    schema: "tributary/job-spec@1",
    baseModel: form.baseModel,
    method: form.method,
    lora: {
      ...recommended?.lora,
      r: num(form.rank),
      alpha: num(form.alpha),
      targetModules: form.targetModules,
      dropout: num(form.dropout),
    },
    training: {
      ...recommended?.training,
      learningRate: num(form.learningRate),
      epochs: num(form.epochs),
      batchSize: num(form.batchSize),
      maxSeqLength: num(form.maxSeqLength),
      scheduler: form.scheduler,
      warmupRatio: num(form.warmupRatio),
      gradientAccumulation: num(form.gradientAccumulation),
      weightDecay: num(form.weightDecay),
      maxGradNorm: num(form.maxGradNorm),
      seed: num(form.seed),
    },
    data: form.data.map((d) => ({ datanetId: d.datanetId, version: d.version })),
    evalSplit: num(form.evalSplit),
  };
}

export type FieldErrors = Partial<Record<FormField, string>>;

export interface Validated {
  spec?: JobSpec;
  budgetWei?: bigint;
  durationSeconds?: number;
  errors: FieldErrors;
}

function plain(message: string): string {
  // zod says "Invalid input: expected number, received NaN" for an empty or non-numeric field.
  if (/expected number, received NaN/.test(message)) return "enter a number";
  return message.replace(/^Invalid input: /, "");
}

/**
 * Validates the whole form; `errors` maps each bad field to what is wrong with it. With the base model's
 * card, the max length must fit its context and the hidden settings come from its recommendations.
 */
export function validateJobForm(
  form: JobForm,
  opts: { balanceWei?: bigint; card?: Pick<BaseModelCard, "name" | "contextLength" | "recommended"> } = {},
): Validated {
  const errors: FieldErrors = {};
  const parsed = JobSpec.safeParse(specInputOf(form, opts.card?.recommended));
  if (!parsed.success) {
    for (const issue of fieldIssues(parsed.error.issues)) {
      const field = PATH_TO_FIELD.find(([re]) => re.test(issue.path))?.[1];
      if (field && !errors[field]) errors[field] = plain(issue.message);
      else if (!field) errors.baseModel ??= `${issue.path || "spec"}: ${plain(issue.message)}`;
    }
  }
  // Trainer nodes train whole epochs only.
  if (!errors.epochs && !Number.isInteger(num(form.epochs))) errors.epochs = "use a whole number of epochs";
  if (!errors.baseModel && form.baseModel === "") errors.baseModel = "choose a base model";
  const context = opts.card?.contextLength;
  if (!errors.maxSeqLength && context !== undefined && num(form.maxSeqLength) > context) {
    errors.maxSeqLength = `at most ${context} tokens: ${opts.card!.name}'s context is ${context} tokens`;
  }

  let budgetWei: bigint | undefined;
  try {
    if (!/^\d+(\.\d{1,18})?$/.test(form.budget.trim())) throw new Error();
    budgetWei = parseEther(form.budget.trim());
  } catch {
    errors.budget = "enter an amount of OPEN, e.g. 50 or 12.5";
  }
  if (budgetWei !== undefined && budgetWei === 0n) errors.budget = "the budget must be more than 0";
  else if (budgetWei !== undefined && opts.balanceWei !== undefined && budgetWei > opts.balanceWei) {
    errors.budget = "more than your OPEN balance";
  }
  const hours = num(form.durationHours);
  let durationSeconds: number | undefined;
  // the JobMarket's bounds: 1 minute to 90 days
  if (!Number.isFinite(hours) || hours * 3600 < 60)
    errors.durationHours = "enter at least 1 minute (0.017 hours)";
  else if (hours > 24 * 90) errors.durationHours = "at most 90 days (2160 hours), the job market's limit";
  else durationSeconds = Math.round(hours * 3600);

  return {
    spec: parsed.success && !errors.maxSeqLength ? parsed.data : undefined,
    budgetWei,
    durationSeconds,
    errors,
  };
}

/** The errors of one wizard step. */
export function stepErrors(errors: FieldErrors, step: keyof typeof STEP_FIELDS): FieldErrors {
  const out: FieldErrors = {};
  for (const f of STEP_FIELDS[step]) if (errors[f]) out[f] = errors[f];
  return out;
}
