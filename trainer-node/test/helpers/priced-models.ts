// The serving tests' chain setup: a deployer, a model owner, the serving node (provider) and a payer on a
// dev chain; a base model registered from a folder; model versions minted from adapter folders, registered
// for rewards and priced, each returned as the ServedModel a node serves.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseEther, zeroHash } from "viem";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { connect, sendTx, setInferencePrice } from "@tributary/sdk/chain";
import type { ChainConnection } from "@tributary/sdk/chain";
import type { ContentStore } from "@tributary/sdk/content";
import { addFileSet } from "@tributary/sdk/files";
import { TEST_KEYS } from "../../../sdk/test/helpers/devchain.ts";
import type { DevChain } from "../../../sdk/test/helpers/devchain.ts";
import type { ServedModel } from "../../src/types.ts";

export interface PricedModels {
  deployer: ChainConnection;
  owner: ChainConnection;
  /** The serving node's account. */
  provider: ChainConnection;
  /** Holds 1 OPEN to open channels with. */
  payer: ChainConnection;
  baseCid: string;
  baseModelId: number;
  /** The base model as served without an adapter. */
  base: ServedModel;
  /** Mints a model version of the base from an adapter folder, registers it and prices it at `price`. */
  mint(adapterDir: string): Promise<ServedModel & { modelId: string; adapterCid: string; adapterHash: Hex }>;
}

/** Registers `baseDir` as base model `baseName` and returns what the serving tests need to mint priced versions. */
export async function pricedModels(chain: DevChain, store: ContentStore, baseDir: string, baseName: string, price: bigint): Promise<PricedModels> {
  const [deployer, owner, provider, payer] = await Promise.all(
    [0, 1, 2, 3].map((i) => connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, deployments: chain.deploymentsFile, account: privateKeyToAccount(TEST_KEYS[i]), pollingInterval: 50 })),
  );
  const d = deployer;
  const baseCid = (await addFileSet(store, baseDir)).cid;
  await sendTx(d, d.contracts.ModelRegistry, "registerBaseModel", [baseName, baseCid]);
  const baseModelId = await d.publicClient.readContract({ address: d.contracts.ModelRegistry.address, abi: d.contracts.ModelRegistry.abi, functionName: "baseModelCount" });
  const role = async (name: "ModelRegistry" | "RewardDistributor", r: string) => d.publicClient.readContract({ address: d.contracts[name].address, abi: d.contracts[name].abi, functionName: r as never }) as Promise<Hex>;
  await sendTx(d, d.contracts.ModelRegistry, "grantRole", [await role("ModelRegistry", "MINTER_ROLE"), d.account!.address]);
  await sendTx(d, d.contracts.RewardDistributor, "grantRole", [await role("RewardDistributor", "REGISTRAR_ROLE"), d.account!.address]);
  await sendTx(d, d.contracts.OpenToken, "mint", [payer.account!.address, parseEther("1")]);
  const base: ServedModel = { id: baseName, baseModelId: Number(baseModelId), baseModelName: baseName, baseModelCid: baseCid, created: 1 };
  return {
    deployer,
    owner,
    provider,
    payer,
    baseCid,
    baseModelId: Number(baseModelId),
    base,
    async mint(adapterDir) {
      const adapterCid = (await addFileSet(store, adapterDir)).cid;
      const adapterHash = `0x${createHash("sha256").update(readFileSync(join(adapterDir, "adapter_model.safetensors"))).digest("hex")}` as Hex;
      await sendTx(d, d.contracts.ModelRegistry, "mintModelVersion", [{ to: owner.account!.address, jobId: 0n, baseModelId, parentId: 0n, trainer: provider.account!.address, adapterCID: adapterCid, adapterHash, attributionRoot: zeroHash, attributionTotalWeight: 0n, reportCID: "", datanetIds: [] }]);
      const modelId = await d.publicClient.readContract({ address: d.contracts.ModelRegistry.address, abi: d.contracts.ModelRegistry.abi, functionName: "modelCount" });
      await sendTx(d, d.contracts.RewardDistributor, "registerModel", [modelId, provider.account!.address, zeroHash, 0n, []]);
      await setInferencePrice(owner, modelId, price);
      return { ...base, id: `model-${modelId}`, adapterCid, adapterHash, modelId: String(modelId) };
    },
  };
}
