// A base model's card (`tributary/base-model@1`: size, context, recommended fine-tuning settings and why),
// read in the browser from the model's IPFS file set through the app's IPFS API proxy, as the SDK's
// `baseModelCard` does in Node: `tributary-model.json` when the set has one, else derived from
// `config.json`. Every read is verified twice: the IPFS client checks each block against its CID, and the
// file's bytes are checked against the file set's size and sha256 (WebCrypto). The SDK's own reader uses
// node:crypto and node:fs, so the web app has this one.
import { BASE_MODEL_CARD_FILE, cardFromConfig, CidString, parseBaseModelCard } from "@tributary/sdk/schemas";
import type { BaseModelCard, HfModelConfig } from "@tributary/sdk/schemas";
import type { ContentStore } from "@tributary/sdk/content";

export interface FileSetEntry {
  path: string;
  cid: string;
  sha256: string;
  size: number;
}

/** The card or model folder does not match what was registered, or is no model folder at all. */
export class BaseModelCardError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BaseModelCardError";
  }
}

/** The entries of a `tributary/file-set@1` document (checked field by field). */
export function fileSetEntries(doc: unknown, cid: string): FileSetEntry[] {
  const d = doc as { schema?: unknown; files?: unknown };
  if (d?.schema !== "tributary/file-set@1" || !Array.isArray(d.files)) {
    throw new BaseModelCardError(`${cid} is not a model folder (a tributary/file-set@1 document).`);
  }
  return d.files.map((f: Partial<FileSetEntry>, i) => {
    if (
      typeof f?.path !== "string" ||
      typeof f.cid !== "string" ||
      typeof f.sha256 !== "string" ||
      !/^0x[0-9a-f]{64}$/.test(f.sha256) ||
      typeof f.size !== "number" ||
      !Number.isInteger(f.size) ||
      f.size < 0
    ) {
      throw new BaseModelCardError(`The model folder ${cid} lists a malformed file (entry ${i}).`);
    }
    return { path: f.path, cid: f.cid, sha256: f.sha256, size: f.size };
  });
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return `0x${Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** One file of the set, its bytes checked against the entry's size and sha256. */
export async function readVerified(
  store: Pick<ContentStore, "cat">,
  entry: FileSetEntry,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const bytes = await store.cat(entry.cid, { signal, maxBytes: entry.size });
  if (bytes.length !== entry.size || (await sha256Hex(bytes)) !== entry.sha256) {
    throw new BaseModelCardError(
      `${entry.path} does not match the model folder's sha256: the content was altered; do not use it.`,
    );
  }
  return bytes;
}

const MAX_JSON = 1 << 20;

/** The base model's card (or one derived from its config.json), verified against its file set. */
export async function readBaseModelCard(
  store: Pick<ContentStore, "cat">,
  base: { name: string; cid: string },
  signal?: AbortSignal,
): Promise<BaseModelCard> {
  if (!CidString.safeParse(base.cid).success) {
    throw new BaseModelCardError(
      `Base model ${base.name} is registered with "${base.cid}", not an IPFS CID of a model folder, so it has no recommended settings.`,
    );
  }
  const raw = await store.cat(base.cid, { signal, maxBytes: 4 << 20 });
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(raw));
  } catch {
    throw new BaseModelCardError(`${base.cid} is not a model folder (not JSON).`);
  }
  const files = fileSetEntries(doc, base.cid);
  const json = async (path: string) => {
    const entry = files.find((f) => f.path === path);
    if (!entry) return undefined;
    if (entry.size > MAX_JSON) throw new BaseModelCardError(`${path} is larger than 1 MiB.`);
    return JSON.parse(new TextDecoder().decode(await readVerified(store, entry, signal))) as unknown;
  };
  const card = await json(BASE_MODEL_CARD_FILE);
  if (card !== undefined) return parseBaseModelCard(card);
  const config = await json("config.json");
  if (config === undefined) {
    throw new BaseModelCardError(
      `Base model ${base.name}'s folder has neither ${BASE_MODEL_CARD_FILE} nor config.json.`,
    );
  }
  return cardFromConfig(base.name, config as HfModelConfig);
}

/** "3.8M parameters", "1.2B parameters". */
export function formatParameters(n: number): string {
  const [div, unit] = n >= 1e9 ? [1e9, "B"] : n >= 1e6 ? [1e6, "M"] : n >= 1e3 ? [1e3, "K"] : [1, ""];
  return `${Number((n / div).toPrecision(n / div >= 100 ? 3 : 2))}${unit} parameters`;
}
