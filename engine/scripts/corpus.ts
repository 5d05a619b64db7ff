// Builds the pretraining corpus of the demo base model: Jane Austen's six completed novels, taken
// offline from Debian's `r-cran-janeaustenr` package (package MIT; the novels are in the public domain,
// transcribed by Project Gutenberg). See engine/docs/base-model.md.
//
//   node engine/scripts/corpus.ts [--cache DIR]
//
// Writes into <cache>/corpus/austen/ (default cache: <repo>/.tributary/cache):
//   train.txt, eval.txt       paragraphs separated by a blank line, chapters by two
//   train.jsonl, eval.jsonl   one {"text": chapter} record per line (the engine's {"text"} record)
//   manifest.json             source, licence, package version, sha256 of inputs and outputs, counts
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chaptersOf, splitChapters, type Chapter } from "./corpus/clean.ts";
import { readLazyLoadDb } from "./corpus/rdata.ts";

export const CORPUS_SOURCE = JSON.parse(
  readFileSync(new URL("../data/corpus.json", import.meta.url), "utf8"),
) as {
  name: string;
  debianPackage: string;
  rDataPath: string;
  books: string[];
  licence: string;
  evalEvery: number;
  evalOffset: number;
};

export class CorpusError extends Error {
  constructor(message: string, details: string, next: string) {
    super(`${message}: ${details}. ${next}`);
    this.name = "CorpusError";
  }
}

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const defaultCacheDir = join(repoRoot, ".tributary", "cache");

export type CorpusResult = {
  dir: string;
  trainTxt: string;
  evalTxt: string;
  trainJsonl: string;
  evalJsonl: string;
  manifest: CorpusManifest;
};

export type CorpusManifest = {
  name: string;
  source: string;
  licence: string;
  debianPackage: string;
  debianVersion: string;
  debSha256: string;
  books: { name: string; chapters: number; paragraphs: number }[];
  train: { chapters: number; chars: number; sha256: string };
  eval: { chapters: number; chars: number; sha256: string };
};

const sha256 = (data: string | Uint8Array) => createHash("sha256").update(data).digest("hex");

/** Downloads the Debian package with `apt-get download` (no install, no root needed) unless cached. */
function fetchDeb(debDir: string): string {
  mkdirSync(debDir, { recursive: true });
  const find = () => readdirSync(debDir).find((f) => f.startsWith(`${CORPUS_SOURCE.debianPackage}_`) && f.endsWith(".deb"));
  let deb = find();
  if (!deb) {
    try {
      execFileSync("apt-get", ["download", CORPUS_SOURCE.debianPackage], { cwd: debDir, stdio: ["ignore", "pipe", "pipe"] });
    } catch (err) {
      throw new CorpusError(
        "could not download the corpus package",
        `apt-get download ${CORPUS_SOURCE.debianPackage} failed (${(err as Error).message.split("\n")[0]})`,
        `On Debian/Ubuntu run 'apt-get update' first; elsewhere put ${CORPUS_SOURCE.debianPackage}_*.deb into ${debDir} by hand`,
      );
    }
    deb = find();
    if (!deb) throw new CorpusError("apt-get download produced no .deb", debDir, "Check apt's sources");
  }
  return join(debDir, deb);
}

function extractDeb(deb: string, into: string): void {
  mkdirSync(into, { recursive: true });
  try {
    execFileSync("dpkg-deb", ["-x", deb, into], { stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    throw new CorpusError("could not unpack the corpus package", `dpkg-deb -x ${deb} (${(err as Error).message.split("\n")[0]})`, "Install dpkg (it provides dpkg-deb)");
  }
}

const chapterText = (c: Chapter) => c.paragraphs.join("\n\n");

/** Fetches, cleans and splits the corpus. Idempotent: the .deb is cached, the outputs rewritten. */
export function buildCorpus(options: { cacheDir?: string; log?: (line: string) => void } = {}): CorpusResult {
  const log = options.log ?? (() => {});
  const root = join(options.cacheDir ?? defaultCacheDir, "corpus");
  const dir = join(root, CORPUS_SOURCE.name);
  const deb = fetchDeb(join(root, "deb"));
  const debBytes = readFileSync(deb);
  const debianVersion = /_([^_]+)_[^_]+\.deb$/.exec(deb)?.[1] ?? "unknown";
  log(`package: ${deb} (${debBytes.length} bytes)`);
  const unpacked = join(root, "unpacked", debianVersion);
  if (!existsSync(join(unpacked, CORPUS_SOURCE.rDataPath, "Rdata.rdx"))) extractDeb(deb, unpacked);

  const dataDir = join(unpacked, CORPUS_SOURCE.rDataPath);
  const objects = readLazyLoadDb(readFileSync(join(dataDir, "Rdata.rdx")), readFileSync(join(dataDir, "Rdata.rdb")));
  const chapters: Chapter[] = [];
  const books: CorpusManifest["books"] = [];
  for (const name of CORPUS_SOURCE.books) {
    const v = objects.get(name);
    if (!v || v.type !== "character") {
      throw new CorpusError("book missing from the package data", `${name} (found: ${[...objects.keys()].join(", ")})`, "The package layout changed; update engine/data/corpus.json");
    }
    const bookChapters = chaptersOf(name, v.values);
    books.push({ name, chapters: bookChapters.length, paragraphs: bookChapters.reduce((s, c) => s + c.paragraphs.length, 0) });
    chapters.push(...bookChapters);
  }
  const split = splitChapters(chapters, CORPUS_SOURCE.evalEvery, CORPUS_SOURCE.evalOffset);
  mkdirSync(dir, { recursive: true });
  const write = (set: Chapter[], base: string) => {
    const txt = set.map(chapterText).join("\n\n\n") + "\n";
    writeFileSync(join(dir, `${base}.txt`), txt);
    writeFileSync(join(dir, `${base}.jsonl`), set.map((c) => JSON.stringify({ text: chapterText(c) })).join("\n") + "\n");
    return { chapters: set.length, chars: txt.length, sha256: sha256(txt) };
  };
  const manifest: CorpusManifest = {
    name: CORPUS_SOURCE.name,
    source: `Debian package ${CORPUS_SOURCE.debianPackage} (${CORPUS_SOURCE.rDataPath})`,
    licence: CORPUS_SOURCE.licence,
    debianPackage: CORPUS_SOURCE.debianPackage,
    debianVersion,
    debSha256: sha256(debBytes),
    books,
    train: write(split.train, "train"),
    eval: write(split.eval, "eval"),
  };
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  return {
    dir,
    trainTxt: join(dir, "train.txt"),
    evalTxt: join(dir, "eval.txt"),
    trainJsonl: join(dir, "train.jsonl"),
    evalJsonl: join(dir, "eval.jsonl"),
    manifest,
  };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--cache");
  const cacheDir = at >= 0 ? resolve(args[at + 1] ?? "") : undefined;
  const result = buildCorpus({ cacheDir, log: (l) => process.stderr.write(`${l}\n`) });
  const m = result.manifest;
  console.log(`corpus ${m.name}: ${m.books.length} books, train ${m.train.chapters} chapters / ${m.train.chars} chars, eval ${m.eval.chapters} chapters / ${m.eval.chars} chars`);
  console.log(`written to ${result.dir}`);
}
