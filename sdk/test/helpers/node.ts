// Test helpers: a fresh embedded IPFS node in a temporary repo, and deterministic bytes.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startIpfsNode } from "../../src/ipfs/index.ts";
import type { IpfsNode, IpfsNodeOptions } from "../../src/ipfs/index.ts";

export function tempRepo(): { repo: string; cleanup(): void } {
  const repo = mkdtempSync(path.join(tmpdir(), "tributary-ipfs-test-"));
  return { repo, cleanup: () => rmSync(repo, { recursive: true, force: true }) };
}

export async function startTestNode(opts: IpfsNodeOptions = {}): Promise<IpfsNode & { cleanup(): Promise<void> }> {
  const { repo, cleanup } = tempRepo();
  const node = await startIpfsNode({ repo, apiPort: 0, gatewayPort: 0, ...opts });
  return Object.assign(node, { cleanup: async () => { await node.stop(); cleanup(); } });
}

/** Pseudo-random but reproducible bytes (xorshift), so a failure can be replayed. */
export function patternBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Every block file under the repo's blockstore. */
export function blockFiles(repo: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith(".data")) out.push(p);
    }
  };
  walk(path.join(repo, "blocks"));
  return out;
}

/** The block file holding exactly `bytes` (a raw leaf). */
export function findBlockFile(repo: string, bytes: Uint8Array): string {
  const found = blockFiles(repo).find((f) => Buffer.compare(readFileSync(f), Buffer.from(bytes)) === 0);
  if (!found) throw new Error("block file not found");
  return found;
}
