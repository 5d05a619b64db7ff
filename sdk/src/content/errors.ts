// Errors of the content layer.

/** A block did not hash to its CID: the node or gateway served altered bytes. */
export class ContentTamperedError extends Error {
  /** The CID that was asked for. */
  readonly cid: string;
  /** The block inside its DAG that failed verification (equals `cid` for a single-block file). */
  readonly block: string;
  constructor(cid: string, block: string) {
    super(`Content ${cid} failed verification: block ${block} does not hash to its CID. The node served altered data; ` +
      "fetch it from another node or re-add it from a trusted copy.");
    this.name = "ContentTamperedError";
    this.cid = cid;
    this.block = block;
  }
}

/** The content exists but is not something this reader understands (directory, unknown codec, bad UnixFS). */
export class UnsupportedContentError extends Error {
  readonly cid: string;
  constructor(cid: string, reason: string) {
    super(`Cannot read ${cid} as a file: ${reason}. Pass the CID of a UnixFS file (raw or dag-pb).`);
    this.name = "UnsupportedContentError";
    this.cid = cid;
  }
}

/** The store or service answered with an error (or not at all). */
export class ContentStoreError extends Error {
  readonly status?: number;
  constructor(message: string, opts: { status?: number; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = "ContentStoreError";
    this.status = opts.status;
  }
}
