// Reading file sets (`tributary/file-set@1`): the document and single files from it, each verified
// against its CID (ContentStore.cat) and its listed sha256. Browser-safe (no Node built-ins), so the web
// app reads base model cards with it; writing and materialising folders is in ./index.ts (Node).
import { sha256 } from "viem";
import { z } from "zod";
import type { ContentStore } from "../content/store.ts";

export const FileSetSchema = z.object({
  schema: z.literal("tributary/file-set@1"),
  files: z
    .array(
      z.object({
        path: z.string().min(1).refine((p) => !p.startsWith("/") && !p.includes("\\") && !p.split("/").includes(".."), "must be a relative path inside the folder"),
        cid: z.string().min(1),
        sha256: z.string().regex(/^0x[0-9a-f]{64}$/, "must be 0x + 64 lowercase hex digits"),
        size: z.number().int().nonnegative(),
      }),
    )
    .min(1, "must list at least one file"),
});
export type FileSet = z.infer<typeof FileSetSchema>;

/** The stored files do not match their file set (tampered or corrupted content). */
export class FileSetMismatchError extends Error {
  readonly path: string;
  constructor(path: string, detail: string) {
    super(`File set entry ${path}: ${detail}. The content was altered; do not use it.`);
    this.name = "FileSetMismatchError";
    this.path = path;
  }
}

/** Reads and validates the file set document at `cid`. */
export async function readFileSet(store: ContentStore, cid: string, opts: { signal?: AbortSignal } = {}): Promise<FileSet> {
  const raw = await store.cat(cid, { signal: opts.signal, maxBytes: 4 << 20 });
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(raw));
  } catch {
    throw new FileSetMismatchError(cid, "the file set is not JSON");
  }
  const r = FileSetSchema.safeParse(json);
  if (!r.success) throw new FileSetMismatchError(cid, `not a tributary/file-set@1 document (${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")})`);
  return r.data;
}

/**
 * One file of the file set `cid`, verified against its CID and sha256; null when the set has no such path.
 */
export async function readFileFromSet(store: ContentStore, cid: string, path: string, opts: { signal?: AbortSignal; maxBytes?: number } = {}): Promise<Uint8Array | null> {
  const set = await readFileSet(store, cid, opts);
  const entry = set.files.find((f) => f.path === path);
  if (!entry) return null;
  const bytes = await store.cat(entry.cid, { signal: opts.signal, maxBytes: opts.maxBytes ?? entry.size });
  if (bytes.length !== entry.size || sha256(bytes) !== entry.sha256) throw new FileSetMismatchError(path, "its content does not match the file set's sha256");
  return bytes;
}

