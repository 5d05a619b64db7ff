import type { TrainingRecord } from "../../src/train/data.ts";

/** A small Q&A set for fine-tuning tests: trained pairs and held-out pairs in the same format. */
export const QA_TRAIN: [string, string][] = [
  ["What is the capital of France?", "Paris"],
  ["Who wrote Hamlet?", "Shakespeare"],
  ["What color is the sky?", "Blue"],
  ["How many legs does a spider have?", "Eight"],
  ["What is the opposite of hot?", "Cold"],
  ["Which planet is red?", "Mars"],
];
export const QA_EVAL: [string, string][] = [
  ["What is the capital of Italy?", "Rome"],
  ["How many legs does a cat have?", "Four"],
];

export const chatRecord = ([q, a]: [string, string]): TrainingRecord => ({
  messages: [
    { role: "user", content: q },
    { role: "assistant", content: a },
  ],
});
