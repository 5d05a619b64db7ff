// The "Create a Datanet" form as pure functions (checked in lib tests): field checks with one sentence
// per problem, the description stored as summary + Markdown body, and uploaded files read through the
// SDK's normaliser with every bad line reported and a preview of the records.
import { normaliseFile, NormaliseError } from "@tributary/sdk/records";
import type { FileProblem } from "@tributary/sdk/records";
import { getAddress, isAddress, parseEther } from "viem";
import type { Address } from "viem";
import { composeDescription } from "./description.ts";

export { composeDescription, summaryOf } from "./description.ts";

export type PolicyChoice = "open" | "approval" | "paid";

export interface DatanetFormInput {
  name: string;
  summary: string;
  description: string;
  tags: string;
  license: string;
  policy: PolicyChoice;
  /** OPEN per job, as typed ("2.5"); paid Datanets only. */
  price: string;
  /** Curator addresses, separated by commas, spaces or new lines. */
  curators: string;
}

export interface DatanetFormValue {
  name: string;
  description: string;
  tags: string[];
  license: string;
  policy: PolicyChoice;
  price: bigint;
  curators: Address[];
}

export type DatanetFormErrors = Partial<Record<keyof DatanetFormInput, string>>;

export const EMPTY_DATANET_FORM: DatanetFormInput = {
  name: "",
  summary: "",
  description: "",
  tags: "",
  license: "CC-BY-4.0",
  policy: "open",
  price: "",
  curators: "",
};

/** Common licences offered in the form (any SPDX id or short name may be typed instead). */
export const LICENCES = ["CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0", "MIT", "Apache-2.0", "ODC-By-1.0"];

const MAX_DESCRIPTION = 10_000; // the metadata schema's limit (summary + body)

/** Checks the form; `value` is set only when there is no error. `owner` may not be listed as a curator. */
export function checkDatanetForm(
  input: DatanetFormInput,
  owner?: string,
): { errors: DatanetFormErrors; value?: DatanetFormValue } {
  const errors: DatanetFormErrors = {};
  const name = input.name.trim();
  if (!name) errors.name = "Give the Datanet a name.";
  else if (name.length > 100) errors.name = `Keep the name within 100 characters (it has ${name.length}).`;
  if (input.summary.trim().length > 280)
    errors.summary = `Keep the summary within 280 characters (it has ${input.summary.trim().length}).`;
  const description = composeDescription(input.summary, input.description);
  if (description.length > MAX_DESCRIPTION)
    errors.description = `Summary and description together may have ${MAX_DESCRIPTION} characters (they have ${description.length}).`;

  const tags = [
    ...new Set(
      input.tags
        .split(",")
        .map((t) => t.trim().toLowerCase())
        .filter(Boolean),
    ),
  ];
  const longTag = tags.find((t) => t.length > 40);
  if (longTag) errors.tags = `The tag "${longTag.slice(0, 20)}…" is longer than 40 characters.`;
  else if (tags.length > 20) errors.tags = `Use at most 20 tags (there are ${tags.length}).`;

  const license = input.license.trim();
  if (!license) errors.license = "Name a licence (an SPDX id such as CC-BY-4.0).";

  let price = 0n;
  if (input.policy === "paid") {
    const typed = input.price.trim();
    if (!typed) errors.price = "A paid Datanet needs a price per job, in OPEN.";
    else if (!/^\d+(\.\d{1,18})?$/.test(typed))
      errors.price = `"${typed}" is not an amount of OPEN: use digits and at most 18 decimals, e.g. 2.5.`;
    else {
      price = parseEther(typed);
      if (price === 0n) errors.price = "The price must be above 0 (choose Open for free access).";
      else if (price >= 2n ** 128n) errors.price = "That price is too large.";
    }
  }

  const curators: Address[] = [];
  for (const raw of input.curators.split(/[\s,]+/).filter(Boolean)) {
    if (!isAddress(raw, { strict: false })) {
      errors.curators = `"${raw}" is not an address (0x followed by 40 hex digits).`;
      break;
    }
    const a = getAddress(raw);
    if (owner && a.toLowerCase() === owner.toLowerCase()) {
      errors.curators = "You own the Datanet and curate it already; list other people only.";
      break;
    }
    if (!curators.includes(a)) curators.push(a);
  }

  if (Object.keys(errors).length) return { errors };
  return {
    errors,
    value: { name, description, tags, license, policy: input.policy, price, curators },
  };
}

/** One uploaded file, read into records (or its problems). */
export interface UploadedFile {
  fileName: string;
  bytes: number;
  content: Uint8Array;
  /** Set when the file was read: records count, kinds and the first rows as text. */
  records?: number;
  kinds?: string[];
  preview?: PreviewRow[];
  /** Set when it could not be: every bad line (capped by the normaliser) or one general reason. */
  problems?: FileProblem[];
}

export interface PreviewRow {
  kind: string;
  /** "role: text" parts, prompt/completion or the text chunk, shortened. */
  parts: Array<{ label: string; text: string }>;
}

const ACCEPTED = /\.(jsonl|csv|txt|md)$/i;
const clip = (s: string, n = 160) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** Reads a dropped or chosen file with the SDK's normaliser (the same code the CLI and the upload use). */
export function readUpload(fileName: string, content: Uint8Array, previewRows = 5): UploadedFile {
  const base = { fileName, bytes: content.length, content };
  if (!ACCEPTED.test(fileName)) {
    return {
      ...base,
      problems: [
        { reason: "Use a .jsonl, .csv, .txt or .md file (other formats cannot be split into records)." },
      ],
    };
  }
  try {
    const n = normaliseFile(fileName, content);
    return {
      ...base,
      records: n.records.length,
      kinds: n.kinds,
      preview: n.records.slice(0, previewRows).map((r) => previewOf(r as unknown as Record<string, unknown>)),
    };
  } catch (e) {
    if (e instanceof NormaliseError) return { ...base, problems: e.problems };
    return { ...base, problems: [{ reason: e instanceof Error ? e.message : String(e) }] };
  }
}

function previewOf(r: Record<string, unknown>): PreviewRow {
  if (Array.isArray(r.messages)) {
    const messages = r.messages as Array<{ role: string; content: string }>;
    return { kind: "chat", parts: messages.map((m) => ({ label: m.role, text: clip(m.content) })) };
  }
  if (typeof r.prompt === "string") {
    return {
      kind: "prompt-completion",
      parts: [
        { label: "prompt", text: clip(r.prompt) },
        { label: "completion", text: clip(String(r.completion ?? "")) },
      ],
    };
  }
  return { kind: "text", parts: [{ label: "text", text: clip(String(r.text ?? "")) }] };
}
