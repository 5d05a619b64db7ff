// The engine backend's adapter caches on a real IPFS node: memory bounded by bytes (least recently used
// dropped first), disk bounded by bytes (least recently used directories deleted, fetched again when asked
// for), with counters for what a switch cost; an adapter fetched again answers as before.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { ChatTokenizer, createLoraAdapter, loraConfig, readConfig, saveAdapter, selectKernel } from "@tributary/engine";
import type { Kernel } from "@tributary/engine";
import { addFileSet } from "@tributary/sdk/files";
import { startContentStore } from "../../sdk/test/helpers/devchain.ts";
import { ModelServer } from "../src/serve/index.ts";
import type { ServedModel } from "../src/types.ts";

const BASE_DIR = fileURLToPath(new URL("../models/tributary-austen-4m/", import.meta.resolve("@tributary/engine")));

describe("adapter caches: memory and disk bounded by bytes, LRU", { timeout: 120_000 }, () => {
  let ipfs: Awaited<ReturnType<typeof startContentStore>>;
  let kernel: Kernel;
  const models: ServedModel[] = [];
  const tmp = mkdtempSync(join(tmpdir(), "adapter-cache-"));
  let bytes = 0;

  before(async () => {
    ipfs = await startContentStore();
    kernel = await selectKernel("wasm", 1);
    const config = await readConfig(BASE_DIR);
    const baseCid = (await addFileSet(ipfs.store, BASE_DIR)).cid;
    for (let i = 0; i < 4; i++) {
      const a = createLoraAdapter(config, loraConfig({ r: 4, alpha: 8, targetModules: ["q_proj", "v_proj"] }), 100 + i);
      let s = 31 * (i + 1);
      for (const m of a.modules.values()) for (let j = 0; j < m.B.length; j++) m.B[j] = ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.5;
      if (i === 0) for (const m of a.modules.values()) bytes += m.A.byteLength + m.B.byteLength;
      const dir = join(tmp, `a${i}`);
      await saveAdapter(dir, a);
      models.push({ id: `a${i}`, baseModelId: 1, baseModelName: "austen", baseModelCid: baseCid, adapterCid: (await addFileSet(ipfs.store, dir)).cid, created: 1 });
    }
  });

  after(async () => {
    await kernel?.dispose();
    await ipfs?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("keeps the most recently used adapters within the byte bounds and fetches an evicted one again with the same answer", async () => {
    // the size of one adapter directory on disk, from a first node
    const probe = new ModelServer({ store: ipfs.store, cacheDir: join(tmp, "probe"), kernel });
    await probe.prepare(models[0]);
    const dirBytes = probe.stats().adapterCache!.diskBytes;
    await probe.close();
    assert.ok(dirBytes > bytes, `an adapter directory holds its weights (${dirBytes} > ${bytes})`);

    const cacheDir = join(tmp, "node");
    const node = new ModelServer({ store: ipfs.store, cacheDir, kernel, maxAdapterBytes: 2 * bytes, maxAdapterDiskBytes: Math.floor(2.5 * dirBytes) });
    try {
      const tok = await ChatTokenizer.fromDir(BASE_DIR);
      const prompt = tok.encode("Mr. Darcy", { bos: tok.addBos });
      const first = (await node.complete(models[0], { prompt, maxTokens: 8, temperature: 0 })).choices[0].text;
      for (const m of models.slice(1)) await node.prepare(m);
      const st = node.stats().adapterCache!;
      assert.deepEqual(node.loadedAdapters(), [models[2].adapterCid, models[3].adapterCid], "the two most recently used stay in memory");
      assert.equal(st.bytes, 2 * bytes);
      assert.equal(st.evictions, 2);
      assert.equal(st.fetches, 4);
      assert.equal(st.diskEntries, 2, "the disk holds what fits");
      assert.ok(st.diskBytes <= 2.5 * dirBytes);
      assert.equal(st.diskEvictions, 2);
      assert.equal(existsSync(join(cacheDir, "adapters", models[0].adapterCid!)), false, "the least recently used directory was deleted");
      assert.equal(existsSync(join(cacheDir, "adapters", models[3].adapterCid!)), true);

      const again = (await node.complete(models[0], { prompt, maxTokens: 8, temperature: 0 })).choices[0].text;
      assert.equal(again, first, "fetched and loaded again, the adapter answers as before");
      const st2 = node.stats().adapterCache!;
      assert.equal(st2.fetches, 5, "fetched from IPFS again");
      assert.equal(st2.diskLoads, 5);
      assert.ok(st2.loadMs > 0 && st2.fetchMs > 0);
      assert.deepEqual(node.loadedAdapters(), [models[3].adapterCid, models[0].adapterCid]);

      // a new node over the same directory starts from what is on disk
      const other = new ModelServer({ store: ipfs.store, cacheDir, kernel, maxAdapterDiskBytes: Math.floor(2.5 * dirBytes) });
      await other.prepare(models[3]);
      assert.equal(other.stats().adapterCache!.fetches, 0, "found on disk, not fetched");
      assert.equal(other.stats().adapterCache!.diskEntries, 2);
      await other.close();
    } finally {
      await node.close();
    }
  });
});
