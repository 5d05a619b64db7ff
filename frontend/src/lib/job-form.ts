// The fine-tuning wizard's form: what a person types (strings), the job spec it becomes, and the errors
// to show next to each field. The spec is validated with the SDK's `tributary/job-spec@1` schema, so the
// wizard accepts exactly what a trainer node will.
import { fieldIssues, JobSpec } from "@tributary/sdk/schemas";
import type { JobSpecInput } from "@tributary/sdk/schemas";
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

/** Defaults that work for a small model and a small Datanet (LLaMA-Factory-like). */
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
    "How big each learning step is. Too high and training becomes unstable; too low and it learns little. 0.0002 is a good start.",
  epochs:
    "How many times training reads the whole data set. More epochs fit the data more closely; too many makes the model parrot it.",
  batchSize: "How many examples are averaged per step. Larger batches give smoother, slower steps.",
  rank: "The adapter's capacity (LoRA r). 8 is plenty for small data sets; higher learns more but costs more.",
  alpha: "How strongly the adapter's changes count (scaled by alpha / rank). Twice the rank is usual.",
  targetModules:
    "Which layers get an adapter. The attention query and value projections (q_proj, v_proj) are the usual choice.",
  maxSeqLength: "Longest example, in tokens; longer ones are cut. The demo model reads at most 512.",
  budget:
    "OPEN you escrow now. The trainer is paid from it when the job finishes; part of it goes to the Datanets as data fees.",
  durationHours:
    "How long the trainer has to deliver once it takes the job. If it misses the deadline it is penalised and the job reopens.",
};

/** Which fields each wizard step owns (errors on a later step do not block an earlier one). */
export const STEP_FIELDS = {
  model: ["baseModel"],
  data: ["data"],
  method: ["method", "learningRate", "epochs", "batchSize", "rank", "alpha", "targetModules", "maxSeqLength"],
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
];

/** A number from a text field; NaN for empty or malformed text (the schema then says what it expects). */
function num(text: string): number {
  const t = text.trim();
  return t === "" ? NaN : Number(t);
}

/** The job spec the form describes (not yet validated). */
export function specInputOf(form: JobForm): JobSpecInput {
  return {
    schema: "tributary/job-spec@1",
    baseModel: form.baseModel,
    method: form.method,
    lora: {
      r: num(form.rank),
      alpha: num(form.alpha),
      targetModules: form.targetModules,
    },
    training: {
      learningRate: num(form.learningRate),
      epochs: num(form.epochs),
      batchSize: num(form.batchSize),
      maxSeqLength: num(form.maxSeqLength),
    },
    data: form.data.map((d) => ({ datanetId: d.datanetId, version: d.version })),
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

/** Validates the whole form; `errors` maps each bad field to what is wrong with it. */
export function validateJobForm(form: JobForm, opts: { balanceWei?: bigint } = {}): Validated {
  const errors: FieldErrors = {};
  const parsed = JobSpec.safeParse(specInputOf(form));
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
    spec: parsed.success ? parsed.data : undefined,
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
