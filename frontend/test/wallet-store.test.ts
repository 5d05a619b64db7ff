// The on-demand wallet's store (src/lib/wallet-store.ts): loading resolves once the chunk registers, a
// failed chunk rejects the waiters and allows a retry, and reconnect-at-start follows wagmi's storage.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hadConnection, WalletStore } from "../src/lib/wallet-store.ts";
import type { WalletActions } from "../src/lib/wallet-store.ts";

const actions: WalletActions = {
  openConnect: () => undefined,
  openAccount: () => undefined,
  switchChain: () => undefined,
  getWalletClient: () => Promise.reject(new Error("not in this test")),
};

describe("wallet store", () => {
  it("asks for the chunk on first load, resolves every waiter when it registers, then at once", async () => {
    const s = new WalletStore();
    const seen: string[] = [];
    s.subscribe(() => seen.push(s.get().status));
    assert.equal(s.get().status, "off");
    const a = s.load();
    const b = s.load();
    assert.equal(s.get().status, "loading");
    s.register(actions);
    assert.equal(await a, actions);
    assert.equal(await b, actions);
    assert.equal(await s.load(), actions);
    assert.deepEqual(seen, ["loading", "ready"]);
  });

  it("publishes account changes and skips no-op updates", () => {
    const s = new WalletStore();
    let n = 0;
    s.subscribe(() => n++);
    s.set({ address: "0x0000000000000000000000000000000000000001", isConnected: true, chainId: 1 });
    const before = s.get();
    s.set({ isConnected: true, chainId: 1 });
    assert.equal(n, 1);
    assert.equal(s.get(), before, "the same snapshot, so React does not re-render");
  });

  it("rejects waiters with a readable error when the chunk fails, and loads afresh on retry", async () => {
    const s = new WalletStore();
    const p = s.load();
    s.fail("Failed to fetch dynamically imported module");
    await assert.rejects(p, /The wallet code did not load: Failed to fetch/);
    assert.equal(s.get().status, "error");
    assert.equal(s.attempt, 1);
    const retry = s.load();
    assert.equal(s.get().status, "loading");
    s.register(actions);
    assert.equal(await retry, actions);
  });

  it("reconnects at start only when wagmi's stored state has a current connection", () => {
    const storage = (v: string | null) => ({ getItem: (k: string) => (k === "wagmi.store" ? v : null) });
    assert.equal(hadConnection(storage(null)), false);
    assert.equal(hadConnection(storage(JSON.stringify({ state: { current: null, chainId: 1 } }))), false);
    assert.equal(hadConnection(storage(JSON.stringify({ state: { current: "abc", chainId: 1 } }))), true);
    assert.equal(hadConnection(storage("{not json")), false);
  });
});
