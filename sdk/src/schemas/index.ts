// Versioned Tributary document schemas (zod), their types, parsers and JSON Schema export.
import { z } from "zod";
import { AdapterManifest, Metrics } from "./adapter.ts";
import { AttributionReport } from "./attribution.ts";
import { BaseModelCard } from "./base-model.ts";
import { CheckpointManifest } from "./checkpoints.ts";
import { ContributionManifest } from "./contribution.ts";
import { DatanetMetadata } from "./datanet.ts";
import { parseWith, SchemaValidationError } from "./errors.ts";
import { JobSpec } from "./job-spec.ts";
import type { JobSpecInput } from "./job-spec.ts";
import { TrainingRecord } from "./records.ts";

export * from "./common.ts";
export * from "./errors.ts";
export * from "./records.ts";
export * from "./datanet.ts";
export * from "./contribution.ts";
export * from "./job-spec.ts";
export * from "./adapter.ts";
export * from "./attribution.ts";
export * from "./base-model.ts";
export * from "./checkpoints.ts";

/** Every document schema by its `schema` id; records have no `schema` field (one per JSONL line). */
export const documentSchemas = {
  "tributary/datanet@1": DatanetMetadata,
  "tributary/contribution@1": ContributionManifest,
  "tributary/job-spec@1": JobSpec,
  "tributary/adapter-manifest@1": AdapterManifest,
  "tributary/metrics@1": Metrics,
  "tributary/attribution@1": AttributionReport,
  "tributary/base-model@1": BaseModelCard,
  "tributary/checkpoint-manifest@1": CheckpointManifest,
} as const;

export type DocumentSchemaId = keyof typeof documentSchemas;

export const parseDatanetMetadata = (v: unknown): DatanetMetadata => parseWith(DatanetMetadata, "tributary/datanet@1", v);
export const parseContributionManifest = (v: unknown): ContributionManifest =>
  parseWith(ContributionManifest, "tributary/contribution@1", v);
/** Validates a job spec and fills in every default (LoRA r 8, alpha 16, lr 2e-4, 3 epochs, ...). */
export const parseJobSpec = (v: JobSpecInput | unknown): JobSpec => parseWith(JobSpec, "tributary/job-spec@1", v);
export const parseAdapterManifest = (v: unknown): AdapterManifest =>
  parseWith(AdapterManifest, "tributary/adapter-manifest@1", v);
export const parseMetrics = (v: unknown): Metrics => parseWith(Metrics, "tributary/metrics@1", v);
export const parseAttributionReport = (v: unknown): AttributionReport =>
  parseWith(AttributionReport, "tributary/attribution@1", v);
/** Validates a checkpoint manifest (leaves in order, one per checkpoint, each with its folder's CID). */
export const parseCheckpointManifest = (v: unknown): CheckpointManifest =>
  parseWith(CheckpointManifest, "tributary/checkpoint-manifest@1", v);
export const parseBaseModelCard = (v: unknown): BaseModelCard => parseWith(BaseModelCard, "tributary/base-model@1", v);

/**
 * Validates any Tributary document by its `schema` field.
 * Throws SchemaValidationError naming the field when the id is missing or unknown.
 */
export function parseDocument(value: unknown): { schema: DocumentSchemaId; document: unknown } {
  const id = typeof value === "object" && value !== null ? (value as { schema?: unknown }).schema : undefined;
  if (typeof id !== "string" || !(id in documentSchemas)) {
    throw new SchemaValidationError("document", [{
      path: "schema",
      message: `expected one of ${Object.keys(documentSchemas).join(", ")}, got ${JSON.stringify(id)}`,
    }]);
  }
  const schemaId = id as DocumentSchemaId;
  return { schema: schemaId, document: parseWith(documentSchemas[schemaId], schemaId, value) };
}

/**
 * JSON Schema (draft 2020-12) of every document and of a training record, keyed by file name. Shapes
 * are the input side: fields with defaults are optional, as a writer in another language sees them.
 */
export function jsonSchemas(): Record<string, object> {
  const out: Record<string, object> = {};
  const all: Array<[string, z.ZodType]> = [
    ...Object.entries(documentSchemas),
    ["tributary/record@1", TrainingRecord],
  ];
  for (const [id, schema] of all) {
    const name = id.replace(/^tributary\//, "").replace("@", ".v");
    const json = z.toJSONSchema(schema, { io: "input", target: "draft-2020-12" }) as Record<string, unknown>;
    out[`${name}.json`] = { $id: `${name}.json`, title: id, ...json };
  }
  return out;
}
