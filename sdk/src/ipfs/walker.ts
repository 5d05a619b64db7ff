// A graph walker for Helia's pinning that never reads raw leaves: their CIDs say they have no links,
// and pinning only needs each block's CID. Pinning a 100 MiB file then reads ~1 block instead of 101.
import * as dagPb from "@ipld/dag-pb";
import type { GraphNode, GraphWalker, GraphWalkerComponents } from "@helia/interface";
import type { CID } from "multiformats/cid";

export function linkOnlyWalker() {
  return (components: GraphWalkerComponents): GraphWalker => ({
    async *walk<T>(root: CID, options: { depth?: number; signal?: AbortSignal } = {}): AsyncGenerator<GraphNode<T>> {
      const maxDepth = options.depth ?? Infinity;
      const stack: Array<{ cid: CID; depth: number; path: CID[] }> = [{ cid: root, depth: 0, path: [root] }];
      while (stack.length > 0) {
        const { cid, depth, path } = stack.pop()!;
        options.signal?.throwIfAborted();
        if (!(await components.blockstore.has(cid, options))) throw Object.assign(new Error(`block ${cid} is not on this node`), { name: "NotFoundError" });
        let links: CID[] = [];
        if (cid.code === dagPb.code && depth < maxDepth) {
          const parts: Uint8Array[] = [];
          for await (const chunk of components.blockstore.get(cid, options)) parts.push(chunk);
          links = dagPb.decode(parts.length === 1 ? parts[0] : concat(parts)).Links.map((l) => l.Hash);
        }
        yield { block: { cid } as GraphNode<T>["block"], depth, path };
        for (let i = links.length - 1; i >= 0; i--) stack.push({ cid: links[i], depth: depth + 1, path: [...path, links[i]] });
      }
    },
  });
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
