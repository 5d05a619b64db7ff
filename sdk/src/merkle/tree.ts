// Merkle trees compatible with OpenZeppelin's MerkleProof (StandardMerkleTree: leaves are
// keccak256(keccak256(abi.encode(...values))) and pairs are hashed sorted):
// - a model's attribution tree, one leaf per contribution: (uint256 datanetId, uint256 contributionId,
//   uint256 weight). It names no payee: the RewardDistributor pays whoever the DatanetRegistry records as the
//   contribution's contributor (review finding 2: a trainer could name itself);
// - a Datanet pool distribution's tree, one leaf per account: (address account, uint256 weight).
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";

/** Leaf encoding of pool distributions: (address account, uint256 weight). */
export const ATTRIBUTION_LEAF_ENCODING = ["address", "uint256"];
/** Leaf encoding of model attribution: (uint256 datanetId, uint256 contributionId, uint256 weight). */
export const CONTRIBUTION_LEAF_ENCODING = ["uint256", "uint256", "uint256"];

export interface ContributionLeaf {
  datanetId: bigint;
  contributionId: bigint;
  weight: bigint;
}

export interface ContributionProof extends ContributionLeaf {
  /** Sibling hashes, bottom-up, as `bytes32[]` for the contract. */
  proof: `0x${string}`[];
}

export interface AttributionLeaf {
  account: string;
  weight: bigint;
}

export interface AttributionProof {
  account: string;
  weight: bigint;
  /** Sibling hashes, bottom-up, as `bytes32[]` for the contract. */
  proof: `0x${string}`[];
}

/** Raised for leaves the contract could not verify (bad address, duplicate account, bad weight). */
export class MerkleInputError extends Error {
  constructor(reason: string) {
    super(`Cannot build attribution tree: ${reason}. Merge duplicate accounts and use 0x addresses with non-negative integer weights.`);
    this.name = "MerkleInputError";
  }
}

/** A pool distribution's tree: its root and a proof per account. */
export class AttributionTree {
  readonly tree: StandardMerkleTree<[string, bigint]>;
  private readonly index = new Map<string, number>();

  constructor(tree: StandardMerkleTree<[string, bigint]>) {
    this.tree = tree;
    for (const [i, [account]] of tree.entries()) this.index.set(account.toLowerCase(), i);
  }

  /** Builds a tree from (account, weight) leaves; each account may appear once. */
  static build(leaves: readonly AttributionLeaf[]): AttributionTree {
    if (leaves.length === 0) throw new MerkleInputError("no leaves");
    const seen = new Set<string>();
    const values: Array<[string, bigint]> = leaves.map((l, i) => {
      if (!/^0x[0-9a-fA-F]{40}$/.test(l.account)) throw new MerkleInputError(`leaf ${i}: "${l.account}" is not an address`);
      if (typeof l.weight !== "bigint" || l.weight < 0n || l.weight >= 2n ** 256n) throw new MerkleInputError(`leaf ${i}: weight ${l.weight} is not a uint256`);
      const key = l.account.toLowerCase();
      if (seen.has(key)) throw new MerkleInputError(`leaf ${i}: duplicate account ${l.account}`);
      seen.add(key);
      return [l.account, l.weight];
    });
    return new AttributionTree(StandardMerkleTree.of(values, ATTRIBUTION_LEAF_ENCODING));
  }

  /** Loads a tree saved with `dump()` (e.g. from an attribution report's sidecar). */
  static load(data: ReturnType<StandardMerkleTree<[string, bigint]>["dump"]>): AttributionTree {
    return new AttributionTree(StandardMerkleTree.load(data));
  }

  get root(): `0x${string}` {
    return this.tree.root as `0x${string}`;
  }

  get leaves(): AttributionLeaf[] {
    return [...this.tree.entries()].map(([, [account, weight]]) => ({ account, weight: BigInt(weight) }));
  }

  /** The proof for `account`'s leaf; throws if the account has none. */
  proof(account: string): AttributionProof {
    const i = this.index.get(account.toLowerCase());
    if (i === undefined) throw new MerkleInputError(`account ${account} has no leaf in this tree`);
    const [acc, weight] = this.tree.at(i)!;
    return { account: acc, weight: BigInt(weight), proof: this.tree.getProof(i) as `0x${string}`[] };
  }

  dump() {
    return this.tree.dump();
  }
}

const U256 = 2n ** 256n;

/** A model's attribution tree: one `(datanetId, contributionId, weight)` leaf per contribution. */
export class ContributionTree {
  readonly tree: StandardMerkleTree<[bigint, bigint, bigint]>;
  private readonly index = new Map<string, number>();

  constructor(tree: StandardMerkleTree<[bigint, bigint, bigint]>) {
    this.tree = tree;
    for (const [i, [d, c]] of tree.entries()) this.index.set(`${BigInt(d)}:${BigInt(c)}`, i);
  }

  /** Builds a tree; each (datanetId, contributionId) may appear once, with a positive weight. */
  static build(leaves: readonly ContributionLeaf[]): ContributionTree {
    if (leaves.length === 0) throw new MerkleInputError("no leaves");
    const seen = new Set<string>();
    const values: Array<[bigint, bigint, bigint]> = leaves.map((l, i) => {
      for (const [name, v] of [["datanetId", l.datanetId], ["contributionId", l.contributionId], ["weight", l.weight]] as const) {
        if (typeof v !== "bigint" || v < 0n || v >= U256) throw new MerkleInputError(`leaf ${i}: ${name} ${String(v)} is not a uint256`);
      }
      if (l.weight === 0n) throw new MerkleInputError(`leaf ${i}: weight 0 (leave zero-weight contributions out)`);
      const key = `${l.datanetId}:${l.contributionId}`;
      if (seen.has(key)) throw new MerkleInputError(`leaf ${i}: duplicate contribution ${key}`);
      seen.add(key);
      return [l.datanetId, l.contributionId, l.weight];
    });
    return new ContributionTree(StandardMerkleTree.of(values, CONTRIBUTION_LEAF_ENCODING));
  }

  get root(): `0x${string}` {
    return this.tree.root as `0x${string}`;
  }

  get leaves(): ContributionLeaf[] {
    return [...this.tree.entries()].map(([, [d, c, w]]) => ({ datanetId: BigInt(d), contributionId: BigInt(c), weight: BigInt(w) }));
  }

  /** The proof of a contribution's leaf; throws if it has none. */
  proof(datanetId: bigint, contributionId: bigint): ContributionProof {
    const i = this.index.get(`${datanetId}:${contributionId}`);
    if (i === undefined) throw new MerkleInputError(`contribution ${datanetId}:${contributionId} has no leaf in this tree`);
    const [d, c, w] = this.tree.at(i)!;
    return { datanetId: BigInt(d), contributionId: BigInt(c), weight: BigInt(w), proof: this.tree.getProof(i) as `0x${string}`[] };
  }

  dump() {
    return this.tree.dump();
  }
}

/** Checks a contribution leaf's proof against a root as the RewardDistributor does on chain. */
export function verifyContributionProof(root: string, leaf: ContributionLeaf, proof: readonly string[]): boolean {
  try {
    return StandardMerkleTree.verify(root, CONTRIBUTION_LEAF_ENCODING, [leaf.datanetId, leaf.contributionId, leaf.weight], [...proof]);
  } catch {
    return false;
  }
}

/** Checks a proof against a root exactly as OpenZeppelin's MerkleProof.verify does on chain. */
export function verifyAttributionProof(root: string, account: string, weight: bigint, proof: readonly string[]): boolean {
  try {
    return StandardMerkleTree.verify(root, ATTRIBUTION_LEAF_ENCODING, [account, weight], [...proof]);
  } catch {
    return false;
  }
}
