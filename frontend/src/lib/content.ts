// The IPFS content store, loaded on first use: kubo-rpc-client and the verifying reader are a separate
// chunk, so the first screen does not wait for them (the Datanet list needs them only for metadata, which
// loads after the list itself).
import type { ContentStore } from "@tributary/sdk/content";

export function lazyContentStore(url: string): ContentStore {
  let store: Promise<ContentStore> | undefined;
  const get = () =>
    (store ??= import("@tributary/sdk/content").then((m) => new m.KuboContentStore({ url }) as ContentStore));
  return {
    add: async (content, opts) => (await get()).add(content, opts),
    cat: async (cid, opts) => (await get()).cat(cid, opts),
    catStream: async function* (cid, opts) {
      yield* (await get()).catStream(cid, opts);
    },
    catUnverified: async (cid, opts) => (await get()).catUnverified(cid, opts),
    pin: async (cid, opts) => (await get()).pin(cid, opts),
    unpin: async (cid, opts) => (await get()).unpin(cid, opts),
    has: async (cid, opts) => (await get()).has(cid, opts),
    listPins: async (opts) => (await get()).listPins(opts),
  };
}
