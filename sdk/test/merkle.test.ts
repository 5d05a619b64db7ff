import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { concat, encodeAbiParameters, keccak256 } from "viem";
import {
  AttributionTree, buildAttributionReport, MerkleInputError, normaliseWeights, verifyAttributionProof, verifyContributionProof,
} from "../src/merkle/index.ts";
import { parseAttributionReport } from "../src/schemas/index.ts";

const addr = (n: number) => `0x${n.toString(16).padStart(40, "0")}` as `0x${string}`;

/** OpenZeppelin MerkleProof.processProof, written out independently with viem: the contract's view. */
function contractVerify(root: string, account: `0x${string}`, weight: bigint, proof: readonly `0x${string}`[]): boolean {
  let hash = keccak256(keccak256(encodeAbiParameters([{ type: "address" }, { type: "uint256" }], [account, weight])));
  for (const sibling of proof) hash = BigInt(hash) < BigInt(sibling) ? keccak256(concat([hash, sibling])) : keccak256(concat([sibling, hash]));
  return hash === root;
}

describe("attribution merkle tree", () => {
  const leaves = [1, 2, 3, 4, 5].map((n) => ({ account: addr(n * 7919), weight: BigInt(n) * 10n ** 17n }));

  it("produces proofs that the contract's MerkleProof algorithm accepts", () => {
    const tree = AttributionTree.build(leaves);
    assert.match(tree.root, /^0x[0-9a-f]{64}$/);
    for (const l of leaves) {
      const p = tree.proof(l.account.toUpperCase().replace("0X", "0x"));
      assert.equal(p.weight, l.weight);
      assert.ok(contractVerify(tree.root, l.account as `0x${string}`, l.weight, p.proof));
      assert.ok(verifyAttributionProof(tree.root, l.account, l.weight, p.proof));
      assert.ok(!contractVerify(tree.root, l.account as `0x${string}`, l.weight + 1n, p.proof));
      assert.ok(!verifyAttributionProof(tree.root, l.account, l.weight + 1n, p.proof));
    }
    assert.ok(!verifyAttributionProof(tree.root, addr(99), leaves[0].weight, tree.proof(leaves[0].account).proof));
  });

  it("survives dump/load and rejects bad input", () => {
    const tree = AttributionTree.build(leaves);
    const loaded = AttributionTree.load(JSON.parse(JSON.stringify(tree.dump(), (_k, v) => (typeof v === "bigint" ? v.toString() : v))));
    assert.equal(loaded.root, tree.root);
    assert.throws(() => AttributionTree.build([...leaves, { account: leaves[0].account, weight: 1n }]), MerkleInputError);
    assert.throws(() => AttributionTree.build([{ account: "0x12", weight: 1n }]), /not an address/);
    assert.throws(() => AttributionTree.build([{ account: addr(1), weight: -1n }]), /not a uint256/);
    assert.throws(() => tree.proof(addr(4242)), /has no leaf/);
  });
});

describe("weight normalisation", () => {
  it("sums exactly to the total and stays proportional", () => {
    const w = normaliseWeights([1, 1, 1], 100n);
    assert.deepEqual(w, [34n, 33n, 33n]);
    const big = normaliseWeights([0.3, 0.2, 0.5], 10n ** 18n);
    assert.equal(big.reduce((a, b) => a + b, 0n), 10n ** 18n);
    assert.ok(big[2] > big[0] && big[0] > big[1]);
    assert.ok(big[2] - 5n * 10n ** 17n < 10n ** 3n && 5n * 10n ** 17n - big[2] < 10n ** 3n);
  });

  it("gives negative and non-finite scores nothing, and splits evenly when nothing is positive", () => {
    assert.deepEqual(normaliseWeights([-2, 3, Number.NaN, 1], 8n), [0n, 6n, 0n, 2n]);
    assert.deepEqual(normaliseWeights([-1, 0], 5n), [3n, 2n]);
    assert.deepEqual(normaliseWeights([], 5n), []);
  });

  it("builds a schema-valid report whose root commits per-contribution weights, naming no payee", () => {
    const a = addr(0xa), b = addr(0xb);
    const { report, tree } = buildAttributionReport([
      { datanetId: 1n, contributionId: 1n, contributor: a, score: 3 },
      { datanetId: 1n, contributionId: 2n, contributor: b, score: 1 },
      { datanetId: 2n, contributionId: 1n, contributor: a, score: -5 },
    ], { totalWeight: 1000n });
    assert.deepEqual(report.contributions.map((c) => c.weight), ["750", "250", "0"]);
    assert.deepEqual(report.contributors, [{ account: a, weight: "750" }, { account: b, weight: "250" }]);
    assert.equal(parseAttributionReport(report).merkleRoot, tree.root);
    assert.deepEqual(report.leafEncoding, ["uint256", "uint256", "uint256"]);
    // one leaf per contribution with a positive weight; the zero-weight one is left out
    assert.deepEqual(tree.leaves.map((l) => [l.datanetId, l.contributionId, l.weight]).sort(), [[1n, 1n, 750n], [1n, 2n, 250n]]);
    assert.ok(verifyContributionProof(report.merkleRoot, { datanetId: 1n, contributionId: 2n, weight: 250n }, tree.proof(1n, 2n).proof));
    assert.ok(!verifyContributionProof(report.merkleRoot, { datanetId: 1n, contributionId: 2n, weight: 251n }, tree.proof(1n, 2n).proof), "another weight");
    assert.throws(() => tree.proof(2n, 1n), /has no leaf/);
    // a report whose contributions do not sum to the total is rejected
    assert.throws(() => parseAttributionReport({ ...report, contributions: report.contributions.map((c, i) => (i === 0 ? { ...c, weight: "749" } : c)) }), /contribution weights sum to 999/);
  });

  it("gives a duplicate no weight, whatever its score, also when every score is zero", () => {
    const a = addr(0xa), b = addr(0xb), c = addr(0xc);
    const duplicateOf = { datanetId: "1", contributionId: "1", kind: "exact" as const, similarity: 1 };
    const { report } = buildAttributionReport([
      { datanetId: 1n, contributionId: 1n, contributor: a, score: 3 },
      { datanetId: 1n, contributionId: 2n, contributor: b, score: 1 },
      { datanetId: 1n, contributionId: 3n, contributor: c, score: 3, duplicateOf },
    ], { totalWeight: 1000n, method: "adam_cos_cp" });
    assert.deepEqual(report.contributions.map((x) => x.weight), ["750", "250", "0"]);
    assert.deepEqual(parseAttributionReport(report).contributions[2].duplicateOf, duplicateOf);
    assert.equal(parseAttributionReport(report).method, "adam_cos_cp");
    const zero = buildAttributionReport([
      { datanetId: 1n, contributionId: 1n, contributor: a, score: 0 },
      { datanetId: 1n, contributionId: 3n, contributor: c, score: 0, duplicateOf },
    ], { totalWeight: 10n }).report;
    assert.deepEqual(zero.contributions.map((x) => x.weight), ["10", "0"]);
    assert.throws(() => buildAttributionReport([{ datanetId: 1n, contributionId: 3n, contributor: c, score: 1, duplicateOf }]), /not a duplicate/);
  });
});
