// Exact and near-duplicate detection of contributions (issue 12): normalisation, MinHash/LSH candidates
// verified by Jaccard, earlier registration keeps the credit, curator review band, bad input.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { contributionText, duplicateGroups, jaccard, minhash, normalizeText } from "../src/dedup/index.ts";

const chat = (q: string, a: string) => ({ messages: [{ role: "user", content: q }, { role: "assistant", content: a }] });
const para =
  "Gluey risotto usually means it was stirred too hard or cooked past al dente. Add hot stock a ladle at a time, stir gently, and stop when the grains still have a slight bite in the centre.";

describe("dedup", () => {
  it("normalises case, punctuation, width and whitespace", () => {
    assert.equal(normalizeText("  Hello,   WORLD!\tIt’s ＡＢＣ. "), "hello world it s abc");
    assert.equal(contributionText([chat("Hi?", "Yes.")]), contributionText([chat("hi", "YES")]));
    assert.notEqual(contributionText([chat("Hi?", "Yes.")]), contributionText([chat("Hi?", "No.")]));
  });

  it("flags an exact copy (after normalisation) and a near copy of the earlier contribution only", () => {
    const items = [
      { id: "a", records: [chat("Why is my risotto gluey?", para)] },
      { id: "b", records: [chat("How long should an egg boil?", "About six minutes for a soft yolk, ten for a hard one.")] },
      { id: "c", records: [chat("WHY is my risotto gluey", para.toUpperCase())] },
      { id: "d", records: [chat("Why is my risotto gluey?", para.replace("gently", "softly").replace("slight", "small"))] },
      { id: "e", records: [chat("What makes bread rise?", "Yeast eats the sugars and releases carbon dioxide, which the gluten traps.")] },
    ];
    const r = duplicateGroups(items);
    assert.deepEqual(
      r.duplicates.map((d) => [d.id, d.of, d.kind]),
      [
        ["c", "a", "exact"],
        ["d", "a", "near"],
      ],
    );
    assert.ok(r.duplicates[1].similarity >= 0.8 && r.duplicates[1].similarity < 1);
    assert.deepEqual(r.review, []);
    // order is registration order: whoever registered first keeps the credit
    const swapped = duplicateGroups([items[3], items[0]]);
    assert.deepEqual(swapped.duplicates.map((d) => [d.id, d.of]), [["a", "d"]]);
  });

  it("a copy of a copy points at the original; in-between similarity goes to review", () => {
    const base = "the quick brown fox jumps over the lazy dog near the old mill by the river bank every morning";
    const r = duplicateGroups([
      { id: "1", records: [base] },
      { id: "2", records: [base] },
      { id: "3", records: [base] },
    ]);
    assert.deepEqual(r.duplicates.map((d) => d.of), ["1", "1"]);
    const loose = duplicateGroups([{ id: "x", records: [base] }, { id: "y", records: [base.replace("quick brown", "slow grey").replace("every morning", "at dawn")] }], { threshold: 0.95, reviewThreshold: 0.5 });
    assert.equal(loose.duplicates.length, 0);
    assert.equal(loose.review.length, 1);
    assert.equal(loose.review[0].of, "x");
  });

  it("MinHash agrees with the exact Jaccard it estimates", () => {
    const s = (t: string) => new Set(Array.from({ length: t.length - 4 }, (_, i) => t.slice(i, i + 5)));
    const a = s(para);
    const b = s(para.replace("stock", "broth").replace("bite", "firmness"));
    const j = jaccard(a, b);
    const ma = minhash(a, 256);
    const mb = minhash(b, 256);
    const est = ma.reduce((n, x, i) => n + (x === mb[i] ? 1 : 0), 0) / 256;
    assert.ok(Math.abs(est - j) < 0.1, `estimate ${est} vs exact ${j}`);
    assert.equal(jaccard(a, a), 1);
  });

  it("refuses bad options and repeated ids", () => {
    assert.throws(() => duplicateGroups([], { threshold: 0.5, reviewThreshold: 0.7 }), /reviewThreshold/);
    assert.throws(() => duplicateGroups([{ id: "a", records: [] }, { id: "a", records: [] }]), /appears twice/);
  });
});
