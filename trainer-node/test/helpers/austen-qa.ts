// The Q&A records the pipeline tests contribute to a Datanet (two per contributor) and train the demo base on.
import { fileURLToPath } from "node:url";

/** The committed demo base model's folder. */
export const BASE_DIR = fileURLToPath(new URL("../../../engine/models/tributary-austen-4m", import.meta.url));

export const qa: Array<[string, string]> = [
  ["Who wrote Pride and Prejudice?", "Jane Austen wrote it in 1813."],
  ["Where does Mr. Darcy live?", "At Pemberley, in Derbyshire."],
  ["Who is Elizabeth's elder sister?", "Jane Bennet, the eldest."],
  ["What is the name of the Bennet estate?", "Longbourn, in Hertfordshire."],
];

/** Chat records, one JSON line each, as a contribution's file holds them. */
export const jsonl = (pairs: Array<[string, string]>) => pairs.map(([q, a]) => JSON.stringify({ messages: [{ role: "user", content: q }, { role: "assistant", content: a }] })).join("\n") + "\n";
