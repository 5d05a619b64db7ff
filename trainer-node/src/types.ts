/**
 * The shapes the trainer node's parts share: the job pipeline (src/jobs) writes JobRecords and emits
 * JobEvents; the API (src/serve) reads them through a JobsView and serves models from a ModelCatalog.
 */

/** Where a job is in the pipeline. Terminal: finalized, failed, skipped. */
export type JobStage =
  | "seen" // an open job the node noticed
  | "claimed" // claimJob confirmed; the deadline runs
  | "fetching" // key release from the custodian, download and decryption of the contributions
  | "training" // the engine is training (progress events)
  | "attributing" // influence of each contribution (TracIn on the adapter)
  | "pinning" // adapter, metrics and attribution report to IPFS
  | "submitted" // submitResult confirmed; the challenge window runs
  | "finalized" // finalizeJob (or the poster's acceptance) done: the trainer was paid, the model minted
  | "failed" // stopped with an error the node cannot recover from (error says why; failure: kind and stage)
  | "skipped"; // not a job this node can run (reason says why)

export interface JobProgress {
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  tokensPerSec: number;
  etaSec: number;
  evalLoss?: number;
  /** Peak GPU memory of the training so far (bytes; the torch backend on CUDA only). */
  gpuMemBytes?: number;
}

/** What the node knows and persists about one job (dataDir/jobs/<jobId>.json). */
export interface JobRecord {
  jobId: string;
  stage: JobStage;
  /** ISO time of the last change. */
  updatedAt: string;
  /** failed: what went wrong and what to do; skipped: why the node does not run it. */
  error?: string;
  reason?: string;
  specCid?: string;
  baseModel?: string;
  datanets?: Array<{ datanetId: string; version: number }>;
  /** Number of records and contributions trained on. */
  records?: number;
  contributions?: number;
  progress?: JobProgress;
  lossHistory: Array<{ step: number; loss: number }>;
  evalHistory: Array<{ step: number; loss: number }>;
  result?: {
    adapterCid: string;
    adapterHash: string;
    metricsCid: string;
    reportCid: string;
    attributionRoot: string;
    attributionTotalWeight: string;
  };
  challengeEndsAt?: string;
  modelId?: string;
  /** OPEN paid to the trainer at finalization (wei, decimal string). */
  trainerPayment?: string;
  /** Unix seconds (chain time) by which the result must be submitted; set at the claim. */
  dueAt?: string;
  /** The fit check's estimate of the training time on this node, for the remaining-work estimate. */
  estimate?: { trainSeconds: number; attributeSeconds?: number; device?: string; memoryBytes?: number };
  /** The last failure: transient (being retried) or deterministic, with the stage it happened in. */
  failure?: { kind: "transient" | "deterministic"; source: string; message: string; stage: JobStage; attempts: number; at: string };
  /** The job given back on chain (releaseJob): why, and the fee paid (wei). */
  release?: { kind: string; reason: string; message: string; fee?: string; at?: string };
  /** Transaction hashes by step (claim, submit, finalize, release). */
  txs: Record<string, string>;
}

export type JobEvent =
  | { type: "stage"; job: JobRecord }
  | { type: "progress"; jobId: string; progress: JobProgress };

/** Read access to the node's jobs, for the API. */
export interface JobsView {
  list(): JobRecord[];
  get(jobId: string): JobRecord | undefined;
  /** Every later event of every job; returns the unsubscribe function. */
  subscribe(listener: (e: JobEvent) => void): () => void;
}

/** A model the API can serve: a registered base model, or a model version (base + LoRA adapter). */
export interface ServedModel {
  /** API id: `model-<tokenId>` for a model version, the registered name for a base model. */
  id: string;
  baseModelId: number;
  baseModelName: string;
  /** CID of the base model's Hugging Face directory. */
  baseModelCid: string;
  /** Model versions only: the PEFT adapter directory and the sha256 of adapter_model.safetensors. */
  adapterCid?: string;
  adapterHash?: string;
  modelId?: string;
  owner?: string;
  /** Unix seconds. */
  created: number;
}

/** Where the API learns which models exist (the chain in production; tests may give a fixed list). */
export interface ModelCatalog {
  list(): Promise<ServedModel[]>;
  /** The model with this API id, or undefined. */
  resolve(id: string): Promise<ServedModel | undefined>;
}
