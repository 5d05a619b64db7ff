// An HTTP JSON-RPC proxy in front of a real node that behaves like a hosted provider: eth_getLogs over
// more than `maxRange` blocks is refused with the error such providers give. It records every eth_getLogs
// range it forwarded, so tests can see how a reader paged.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface CappedRpc {
  url: string;
  /** [fromBlock, toBlock] of every eth_getLogs forwarded (refused ones are not listed). */
  ranges: [bigint, bigint][];
  /** eth_getLogs calls refused for their range. */
  refused: number;
  maxRange: bigint;
  stop(): Promise<void>;
}

type Rpc = { jsonrpc: "2.0"; id: unknown; method: string; params?: unknown[] };

export async function startCappedRpc(upstream: string, maxRange = 10_000n): Promise<CappedRpc> {
  const call = async (body: unknown) => {
    const res = await fetch(upstream, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    return (await res.json()) as { result?: unknown; error?: unknown };
  };
  const head = async () => BigInt((await call({ jsonrpc: "2.0", id: 0, method: "eth_blockNumber", params: [] })).result as string);
  const block = async (tag: unknown, dflt: "latest" | "earliest") => {
    const t = tag ?? dflt;
    if (t === "earliest") return 0n;
    if (t === "latest" || t === "safe" || t === "finalized" || t === "pending") return head();
    return BigInt(t as string);
  };
  const state: CappedRpc = { url: "", ranges: [], refused: 0, maxRange, stop: async () => {} };
  const one = async (req: Rpc) => {
    if (req.method === "eth_getLogs") {
      const filter = (req.params?.[0] ?? {}) as { fromBlock?: string; toBlock?: string; blockHash?: string };
      if (!filter.blockHash) {
        const from = await block(filter.fromBlock, "latest");
        const to = await block(filter.toBlock, "latest");
        if (to - from + 1n > maxRange) {
          state.refused++;
          return {
            jsonrpc: "2.0",
            id: req.id,
            error: { code: -32600, message: `eth_getLogs block range exceeds the provider's limit of ${maxRange} blocks` },
          };
        }
        state.ranges.push([from, to]);
      }
    }
    return { ...(await call(req)), jsonrpc: "2.0", id: req.id };
  };
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      void (async () => {
        const body = JSON.parse(Buffer.concat(parts).toString("utf8")) as Rpc | Rpc[];
        const out = Array.isArray(body) ? await Promise.all(body.map(one)) : await one(body);
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(out));
      })().catch((e: Error) => {
        res.writeHead(500);
        res.end(e.message);
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.stop = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return state;
}
