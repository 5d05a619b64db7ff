// Loads a built subgraph (`graph build` output): subgraph.yaml, schema, ABIs and one mapping wasm per
// data source.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { keccak256, toEventSelector, toHex, type Abi, type AbiEvent } from "viem";
import { parse as parseYaml } from "yaml";
import { MappingModule } from "./host.ts";
import { parseSchema, type SubgraphSchema } from "./schema.ts";

export type EventHandlerDef = {
  /** As written in the manifest, e.g. `Transfer(indexed address,indexed address,uint256)`. */
  signature: string;
  handler: string;
  topic0: string;
  event: AbiEvent;
};

export type DataSourceDef = {
  name: string;
  network: string;
  address: string;
  startBlock: number;
  abi: Abi;
  handlers: EventHandlerDef[];
  mapping: MappingModule;
};

export type Subgraph = {
  dir: string;
  schema: SubgraphSchema;
  dataSources: DataSourceDef[];
  /** Hash of everything that determines the indexed data; a different build re-indexes from scratch. */
  buildHash: string;
};

export class ManifestError extends Error {
  constructor(message: string, hint: string) {
    super(`${message}; ${hint}`);
    this.name = "ManifestError";
  }
}

type RawManifest = {
  schema: { file: string };
  dataSources: {
    kind: string;
    name: string;
    network: string;
    source: { address?: string; abi: string; startBlock?: number };
    mapping: {
      file: string;
      abis: { name: string; file: string }[];
      eventHandlers?: { event: string; handler: string }[];
      callHandlers?: unknown[];
      blockHandlers?: unknown[];
    };
  }[];
  templates?: unknown[];
};

/** `Name(indexed address,uint256)` -> `Name(address,uint256)`. */
export function canonicalSignature(sig: string): string {
  return sig.replace(/indexed /g, "").replace(/\s+/g, "");
}

export function loadSubgraph(manifestPath: string): Subgraph {
  const path = resolve(manifestPath);
  if (!existsSync(path)) {
    throw new ManifestError(
      `no built subgraph at ${path}`,
      "run `graph codegen && graph build` in the subgraph first",
    );
  }
  const dir = dirname(path);
  const text = readFileSync(path, "utf8");
  const raw = parseYaml(text) as RawManifest;
  const hash = createHash("sha256").update(text);
  const schemaText = readFileSync(resolve(dir, raw.schema.file), "utf8");
  hash.update(schemaText);
  const schema = parseSchema(schemaText);
  if (raw.templates?.length) {
    const names = (raw.templates as { name?: string }[]).map((t) => t.name ?? "?").join(", ");
    throw new ManifestError(
      `the manifest has data source templates (${names}); the local runner indexes fixed-address data sources only and would fail when a mapping calls ${"`"}<Template>.create()${"`"}`,
      "list each contract as a data source with its address, or index this subgraph with graph-node (subgraph/docker-compose.yml)",
    );
  }
  const dataSources: DataSourceDef[] = [];
  for (const ds of raw.dataSources) {
    if (ds.kind !== "ethereum/contract" && ds.kind !== "ethereum") {
      throw new ManifestError(
        `data source ${ds.name} has kind ${ds.kind}`,
        "the runner indexes ethereum/contract only",
      );
    }
    if (!ds.source.address) {
      throw new ManifestError(
        `data source ${ds.name} has no address`,
        "generate subgraph.yaml from deployments/",
      );
    }
    if (ds.mapping.callHandlers?.length || ds.mapping.blockHandlers?.length) {
      throw new ManifestError(
        `data source ${ds.name} has call or block handlers`,
        "the runner runs event handlers only",
      );
    }
    const abiFile = ds.mapping.abis.find((a) => a.name === ds.source.abi);
    if (!abiFile)
      throw new ManifestError(
        `data source ${ds.name} lists no ABI named ${ds.source.abi}`,
        "fix subgraph.yaml",
      );
    const abiJson = JSON.parse(readFileSync(resolve(dir, abiFile.file), "utf8")) as Abi | { abi: Abi };
    const abi: Abi = Array.isArray(abiJson) ? (abiJson as Abi) : (abiJson as { abi: Abi }).abi;
    const wasm = new Uint8Array(readFileSync(resolve(dir, ds.mapping.file)));
    hash.update(wasm);
    const events = abi.filter((x: Abi[number]): x is AbiEvent => x.type === "event");
    const handlers = (ds.mapping.eventHandlers ?? []).map((h) => {
      const topic0 = keccak256(toHex(canonicalSignature(h.event)));
      const event = events.find((e) => toEventSelector(e) === topic0);
      if (!event) {
        throw new ManifestError(
          `event ${h.event} of ${ds.name} is not in ABI ${ds.source.abi}`,
          "rebuild after updating the ABI",
        );
      }
      return { signature: h.event, handler: h.handler, topic0, event };
    });
    dataSources.push({
      name: ds.name,
      network: ds.network,
      address: ds.source.address.toLowerCase(),
      startBlock: ds.source.startBlock ?? 0,
      abi,
      handlers,
      mapping: new MappingModule(ds.name, wasm),
    });
  }
  return { dir, schema, dataSources, buildHash: hash.digest("hex") };
}
