// Trains the base-model tokenizer on the corpus's training split.
//
//   node engine/scripts/train-tokenizer.ts [--vocab 4096] [--max-length 512] [--out DIR] [--cache DIR]
//
// Builds the corpus first if needed (engine/scripts/corpus.ts). Default output:
// <cache>/tokenizer/austen-bpe-<vocab>/ with tokenizer.json, tokenizer_config.json, special_tokens_map.json.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { buildCorpus, CORPUS_SOURCE, defaultCacheDir } from "./corpus.ts";
import { trainBaseTokenizer, writeTokenizerFiles, type TrainedTokenizer } from "./tokenizer/base-tokenizer.ts";

export function trainCorpusTokenizer(options: { vocabSize: number; modelMaxLength: number; cacheDir?: string; outDir?: string }): { dir: string; tokenizer: TrainedTokenizer; seconds: number } {
  const cacheDir = options.cacheDir ?? defaultCacheDir;
  const trainTxt = join(cacheDir, "corpus", CORPUS_SOURCE.name, "train.txt");
  const corpusFile = existsSync(trainTxt) ? trainTxt : buildCorpus({ cacheDir }).trainTxt;
  // Train on paragraphs: the pre-tokenizer never crosses whitespace runs, so this loses nothing.
  const paragraphs = readFileSync(corpusFile, "utf8").split(/\n\n+/);
  const started = performance.now();
  const tokenizer = trainBaseTokenizer(paragraphs, { vocabSize: options.vocabSize, modelMaxLength: options.modelMaxLength });
  const seconds = (performance.now() - started) / 1000;
  const dir = options.outDir ?? join(cacheDir, "tokenizer", `${CORPUS_SOURCE.name}-bpe-${options.vocabSize}`);
  writeTokenizerFiles(dir, tokenizer);
  return { dir, tokenizer, seconds };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const opt = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const out = opt("--out");
  const cache = opt("--cache");
  const { dir, tokenizer, seconds } = trainCorpusTokenizer({
    vocabSize: Number(opt("--vocab") ?? 4096),
    modelMaxLength: Number(opt("--max-length") ?? 512),
    cacheDir: cache ? resolve(cache) : undefined,
    outDir: out ? resolve(out) : undefined,
  });
  console.log(`tokenizer: ${tokenizer.model.vocab.size} tokens, ${tokenizer.model.merges.length} merges, trained in ${seconds.toFixed(1)} s`);
  console.log(`written to ${dir}`);
}
