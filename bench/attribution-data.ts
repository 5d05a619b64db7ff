// The attribution benchmark's data recipe (issue 12): a planted Datanet for the demo base model
// (tributary-austen-4m), built deterministically from a seed so that every method is compared on the
// same data, and committed before any method comparison.
//
// The Datanet is "Austen facts": short chat Q&A about the characters of Jane Austen's six novels (the
// base model has read the novels but has never seen a chat turn). Every fact below is true of the
// novels. The contributions, each from its own address, in five planted categories:
// - on_topic:  true facts, each asked in one of several phrasings (a fact appears in ~2 contributions);
// - exact_dup: a verbatim copy of an on_topic contribution under another address (registered later);
// - near_dup:  a copy with small edits (case, punctuation, a filler word) under another address;
// - off_topic: true but unrelated Q&A (household and general knowledge), same length class;
// - harmful:   wrong answers to the Datanet's real questions (another character's value).
// The queries (what the LDS ground truth measures) are the facts asked in a phrasing no contribution
// uses, with the true answer; f(query) = mean NLL of the answer tokens.
//
// Usage: node bench/attribution-data.ts [--seed N] [--out FILE]   (prints a summary, writes JSON)
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Rng } from "../engine/src/random/prng.ts";
import type { TrainingRecord } from "../engine/src/train/data.ts";

export type Category = "on_topic" | "exact_dup" | "near_dup" | "off_topic" | "harmful";
export const CATEGORIES: Category[] = ["on_topic", "exact_dup", "near_dup", "off_topic", "harmful"];

export interface PlantedContribution {
  id: number;
  /** A stable pseudo-address for the contributor (one per contribution). */
  contributor: string;
  category: Category;
  /** For duplicates: the id of the contribution copied (always an earlier id). */
  copyOf: number | null;
  /** For on_topic and harmful: the fact keys the records state (or contradict). */
  facts: string[];
  records: TrainingRecord[];
}

export interface PlantedDatanet {
  seed: number;
  contributions: PlantedContribution[];
  queries: { fact: string; record: TrainingRecord }[];
  /** sha256 of the JSON of contributions + queries: a changed recipe shows as a changed hash. */
  hash: string;
}

type Attr = "novel" | "home" | "spouse";
// character -> [novel, home, spouse] (null: the attribute is not asked about)
const PEOPLE: [string, string, string | null, string | null][] = [
  ["Elizabeth Bennet", "Pride and Prejudice", "Longbourn", "Mr Darcy"],
  ["Jane Bennet", "Pride and Prejudice", "Longbourn", "Mr Bingley"],
  ["Lydia Bennet", "Pride and Prejudice", "Longbourn", "Mr Wickham"],
  ["Charlotte Lucas", "Pride and Prejudice", "Lucas Lodge", "Mr Collins"],
  ["Mr Darcy", "Pride and Prejudice", "Pemberley", "Elizabeth Bennet"],
  ["Mr Bingley", "Pride and Prejudice", "Netherfield", "Jane Bennet"],
  ["Lady Catherine", "Pride and Prejudice", "Rosings", null],
  ["Emma Woodhouse", "Emma", "Hartfield", "Mr Knightley"],
  ["Mr Knightley", "Emma", "Donwell Abbey", "Emma Woodhouse"],
  ["Harriet Smith", "Emma", null, "Robert Martin"],
  ["Jane Fairfax", "Emma", null, "Frank Churchill"],
  ["Miss Bates", "Emma", "Highbury", null],
  ["Mr Elton", "Emma", "Highbury", "Augusta Hawkins"],
  ["Elinor Dashwood", "Sense and Sensibility", "Barton Cottage", "Edward Ferrars"],
  ["Marianne Dashwood", "Sense and Sensibility", "Barton Cottage", "Colonel Brandon"],
  ["Colonel Brandon", "Sense and Sensibility", "Delaford", "Marianne Dashwood"],
  ["Lucy Steele", "Sense and Sensibility", null, "Robert Ferrars"],
  ["Mr Willoughby", "Sense and Sensibility", "Combe Magna", "Miss Grey"],
  ["Fanny Price", "Mansfield Park", "Mansfield Park", "Edmund Bertram"],
  ["Edmund Bertram", "Mansfield Park", "Mansfield Park", "Fanny Price"],
  ["Maria Bertram", "Mansfield Park", "Mansfield Park", "Mr Rushworth"],
  ["Mr Rushworth", "Mansfield Park", "Sotherton", "Maria Bertram"],
  ["Catherine Morland", "Northanger Abbey", "Fullerton", "Henry Tilney"],
  ["Henry Tilney", "Northanger Abbey", "Woodston", "Catherine Morland"],
  ["General Tilney", "Northanger Abbey", "Northanger Abbey", null],
  ["Anne Elliot", "Persuasion", "Kellynch Hall", "Captain Wentworth"],
  ["Sir Walter Elliot", "Persuasion", "Kellynch Hall", null],
  ["Louisa Musgrove", "Persuasion", "Uppercross", "Captain Benwick"],
  ["Mary Musgrove", "Persuasion", "Uppercross", "Charles Musgrove"],
];

// training phrasings (contributions) and the held-out phrasing (queries) per attribute
const ASK: Record<Attr, { train: ((p: string) => string)[]; query: (p: string) => string }> = {
  novel: {
    train: [(p) => `In which novel does ${p} appear?`, (p) => `Which Austen book is ${p} from?`, (p) => `Name the novel with ${p} in it.`],
    query: (p) => `What novel features ${p}?`,
  },
  home: {
    train: [(p) => `Where does ${p} live?`, (p) => `What is the home of ${p}?`, (p) => `Name the house of ${p}.`],
    query: (p) => `Which place is home to ${p}?`,
  },
  spouse: {
    train: [(p) => `Whom does ${p} marry?`, (p) => `Who becomes the husband or wife of ${p}?`, (p) => `Name the spouse of ${p}.`],
    query: (p) => `Who does ${p} wed?`,
  },
};

const OFF_TOPIC: [string, string][] = [
  ["How long should an egg boil to be soft?", "About six minutes."],
  ["What keeps cut apples from browning?", "A little lemon juice."],
  ["How do I stop pasta sticking?", "Use plenty of water and stir it early."],
  ["What is the boiling point of water?", "One hundred degrees Celsius."],
  ["How many days are in a leap year?", "Three hundred and sixty six."],
  ["What gas do plants take in?", "Carbon dioxide."],
  ["How often should a cactus be watered?", "Every two or three weeks."],
  ["What makes bread rise?", "Yeast releasing gas."],
  ["Which metal is liquid at room temperature?", "Mercury."],
  ["How do I soften hard brown sugar?", "Seal it with a slice of bread."],
  ["What is the largest ocean?", "The Pacific."],
  ["How many minutes are in an hour?", "Sixty."],
  ["Why do onions make eyes water?", "They release a sulphur gas."],
  ["What should a fridge be set to?", "Below five degrees."],
  ["How do I revive limp lettuce?", "Soak it in cold water."],
  ["What colour are ripe tomatoes?", "Red."],
  ["How many sides has a hexagon?", "Six."],
  ["What does a thermometer measure?", "Temperature."],
  ["How do I clean a cast iron pan?", "Rinse, dry and oil it."],
  ["Which bird lays the largest egg?", "The ostrich."],
  ["What is frozen water called?", "Ice."],
  ["How do I keep herbs fresh?", "Stand them in a glass of water."],
  ["What do bees make?", "Honey."],
  ["How long to rest a roast?", "About fifteen minutes."],
  ["What is the chemical symbol for gold?", "Au."],
  ["What fruit is dried to make raisins?", "Grapes."],
  ["How many strings has a violin?", "Four."],
  ["Which planet is nearest the sun?", "Mercury."],
  ["What thickens a gravy?", "Flour or cornflour."],
  ["How do I stop rice burning?", "Cook it gently with the lid on."],
];

const chat = (q: string, a: string): TrainingRecord => ({ messages: [{ role: "user", content: q }, { role: "assistant", content: a }] });

function facts(): { key: string; person: string; attr: Attr; answer: string }[] {
  const out = [];
  for (const [person, novel, home, spouse] of PEOPLE) {
    const vals: [Attr, string | null][] = [["novel", novel], ["home", home], ["spouse", spouse]];
    for (const [attr, answer] of vals) if (answer) out.push({ key: `${person}/${attr}`, person, attr, answer });
  }
  return out;
}

// near-duplicate edits: each keeps the record recognisably the same (character 5-gram Jaccard well
// above 0.7) while changing its bytes
const NEAR_EDITS: ((r: TrainingRecord) => TrainingRecord)[] = [
  (r) => edit(r, (q) => q.toLowerCase(), (a) => a),
  (r) => edit(r, (q) => q.replace(/\?$/, " ?"), (a) => `${a}.`),
  (r) => edit(r, (q) => `Please, ${q[0].toLowerCase()}${q.slice(1)}`, (a) => a),
  (r) => edit(r, (q) => q.replace(/ /g, "  "), (a) => a.toUpperCase()),
];
function edit(r: TrainingRecord, fq: (q: string) => string, fa: (a: string) => string): TrainingRecord {
  if (!("messages" in r)) return r;
  return { messages: r.messages.map((m) => ({ role: m.role, content: m.role === "user" ? fq(m.content) : fa(m.content) })) };
}

export interface RecipeOptions {
  seed?: number;
  onTopic?: number;
  exactDup?: number;
  nearDup?: number;
  offTopic?: number;
  harmful?: number;
  queries?: number;
}

/** The planted Datanet. Defaults: 200 contributions (110 / 20 / 20 / 25 / 25), 48 queries. */
export function plantedDatanet(o: RecipeOptions = {}): PlantedDatanet {
  const seed = o.seed ?? 12;
  const n = { on: o.onTopic ?? 110, exact: o.exactDup ?? 20, near: o.nearDup ?? 20, off: o.offTopic ?? 25, harm: o.harmful ?? 25, q: o.queries ?? 48 };
  const rng = new Rng(seed);
  const all = facts();
  const contributions: PlantedContribution[] = [];
  const add = (category: Category, records: TrainingRecord[], fs: string[], copyOf: number | null = null) => {
    const id = contributions.length;
    const contributor = `0x${createHash("sha256").update(`attribution-bench/${seed}/${id}`).digest("hex").slice(0, 40)}`;
    contributions.push({ id, contributor, category, copyOf, facts: fs, records });
  };
  // on_topic: 1-2 facts each, cycling through a shuffled fact list so every fact is covered ~2-3 times
  const order = rng.shuffle(all.map((_, i) => i));
  let at = 0;
  const nextFact = () => all[order[at++ % order.length]];
  for (let i = 0; i < n.on; i++) {
    const k = rng.next() < 0.5 ? 1 : 2;
    const fs = Array.from({ length: k }, nextFact);
    add("on_topic", fs.map((f) => chat(ASK[f.attr].train[rng.int(3)](f.person), f.answer)), fs.map((f) => f.key));
  }
  const originals = contributions.map((c) => c.id);
  // duplicates copy distinct originals
  const picks = rng.shuffle([...originals]).slice(0, n.exact + n.near);
  for (let i = 0; i < n.exact; i++) {
    const src = contributions[picks[i]];
    add("exact_dup", structuredClone(src.records), src.facts, src.id);
  }
  for (let i = 0; i < n.near; i++) {
    const src = contributions[picks[n.exact + i]];
    const e = NEAR_EDITS[i % NEAR_EDITS.length];
    add("near_dup", src.records.map(e), src.facts, src.id);
  }
  const off = rng.shuffle(OFF_TOPIC.map((_, i) => i));
  for (let i = 0; i < n.off; i++) {
    const [q, a] = OFF_TOPIC[off[i % off.length]];
    add("off_topic", [chat(q, a)], []);
  }
  // harmful: a wrong value of the same attribute (another character's), in a training phrasing
  for (let i = 0; i < n.harm; i++) {
    const f = nextFact();
    const wrong = rng.shuffle(all.filter((g) => g.attr === f.attr && g.answer !== f.answer))[0].answer;
    add("harmful", [chat(ASK[f.attr].train[rng.int(3)](f.person), wrong)], [f.key]);
  }
  // queries: facts stated by some on_topic contribution, in the held-out phrasing
  const stated = new Set(contributions.filter((c) => c.category === "on_topic").flatMap((c) => c.facts));
  const qFacts = rng.shuffle(all.filter((f) => stated.has(f.key))).slice(0, n.q);
  const queries = qFacts.map((f) => ({ fact: f.key, record: chat(ASK[f.attr].query(f.person), f.answer) }));
  const hash = createHash("sha256").update(JSON.stringify({ contributions, queries })).digest("hex");
  return { seed, contributions, queries, hash };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { seed: { type: "string", default: "12" }, out: { type: "string" } } });
  const d = plantedDatanet({ seed: Number(values.seed) });
  const count: Record<string, number> = {};
  for (const c of d.contributions) count[c.category] = (count[c.category] ?? 0) + 1;
  const records = d.contributions.reduce((s, c) => s + c.records.length, 0);
  console.log(`planted datanet seed ${d.seed}: ${d.contributions.length} contributions, ${records} records, ${d.queries.length} queries; ${JSON.stringify(count)}; sha256 ${d.hash}`);
  if (values.out) writeFileSync(values.out, JSON.stringify(d, null, 1));
}
