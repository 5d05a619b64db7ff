// Generates subgraph.yaml and abis/ from subgraph.template.yaml, the contract interfaces (compiled with the
// npm solc package: the interfaces declare every event) and, when present, deployments/<chainId>.json.
//   node scripts/prepare.ts [--deployments ../deployments/31337.json] [--network hardhat]
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Abi, AbiEvent, AbiParameter } from "viem";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { buildSubgraph } from "../runner/build.ts";
import type { Deployments } from "../runner/indexer.ts";

const require = createRequire(import.meta.url);
export const subgraphDir = resolve(import.meta.dirname, "..");
export const repoRoot = resolve(subgraphDir, "..");

type TemplateSource = {
  name: string;
  interface: string;
  file: string;
  entities: string[];
  /** Events the contract inherits without declaring them in its interface (e.g. ERC-721 Transfer). */
  alsoEvents?: (ContractRef & { events: string[] })[];
};
type Template = {
  specVersion: string;
  description: string;
  schema: { file: string };
  dataSources: TemplateSource[];
};

export class PrepareError extends Error {
  constructor(message: string, hint: string) {
    super(`${message}; ${hint}`);
    this.name = "PrepareError";
  }
}

/** A Solidity source (repository-relative or a package import path) and the contract in it. */
export type ContractRef = { source: string; contract: string };

/** Compiles the given interfaces with solc and returns each one's ABI, keyed `source:contract`. */
export function interfaceAbis(refs: ContractRef[]): Map<string, Abi> {
  const solc = require("solc") as {
    compile(input: string, opts: { import: (p: string) => unknown }): string;
  };
  const read = (p: string): string | null => {
    for (const base of [repoRoot, join(repoRoot, "node_modules")]) {
      const full = join(base, p);
      if (existsSync(full)) return readFileSync(full, "utf8");
    }
    return null;
  };
  const sources: Record<string, { content: string }> = {};
  for (const r of refs) {
    const content = read(r.source);
    if (content === null)
      throw new PrepareError(`${r.source} does not exist`, "merge the contracts' interfaces first");
    sources[r.source] = { content };
  }
  const findImport = (p: string) => {
    const contents = read(p);
    return contents === null ? { error: `import ${p} not found` } : { contents };
  };
  const out = JSON.parse(
    solc.compile(
      JSON.stringify({
        language: "Solidity",
        sources,
        settings: { outputSelection: { "*": { "*": ["abi"] } } },
      }),
      { import: findImport },
    ),
  ) as {
    errors?: { severity: string; formattedMessage: string }[];
    contracts: Record<string, Record<string, { abi: Abi }>>;
  };
  const errors = (out.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length)
    throw new PrepareError(errors.map((e) => e.formattedMessage).join("\n"), "fix the interfaces");
  const abis = new Map<string, Abi>();
  for (const r of refs) abis.set(`${r.source}:${r.contract}`, out.contracts[r.source][r.contract].abi);
  return abis;
}

/** The manifest's spelling of an event parameter type: tuples as `(t1,t2)`. */
function manifestType(p: AbiParameter): string {
  const m = /^tuple(.*)$/.exec(p.type);
  if (m) {
    const comps = (p as { components: readonly AbiParameter[] }).components;
    return `(${comps.map(manifestType).join(",")})${m[1]}`;
  }
  return p.type;
}

export function eventSignature(e: AbiEvent): string {
  return `${e.name}(${e.inputs.map((i) => (i.indexed ? "indexed " : "") + manifestType(i)).join(",")})`;
}

export type PrepareOptions = {
  /** deployments/<chainId>.json (object or path); without it addresses are zero and start blocks 0. */
  deployments?: Deployments | string;
  network?: string;
};

/** Writes subgraph.yaml + abis/; returns the manifest path. */
export function prepareSubgraph(opts: PrepareOptions = {}): string {
  const outDir = subgraphDir;
  const template = parseYaml(readFileSync(join(subgraphDir, "subgraph.template.yaml"), "utf8")) as Template;
  let deployments: Deployments | null = null;
  if (typeof opts.deployments === "string") {
    deployments = JSON.parse(readFileSync(opts.deployments, "utf8")) as Deployments;
  } else if (opts.deployments) {
    deployments = opts.deployments;
  }
  const own = (ds: TemplateSource): ContractRef => ({
    source: `contracts/interfaces/${ds.interface}.sol`,
    contract: ds.interface,
  });
  const refs = template.dataSources.flatMap((ds) => [own(ds), ...(ds.alsoEvents ?? [])]);
  const compiled = interfaceAbis(refs);
  const abiOf = (ds: TemplateSource): Abi => {
    const abi = [...compiled.get(`${own(ds).source}:${own(ds).contract}`)!];
    for (const extra of ds.alsoEvents ?? []) {
      const from = compiled.get(`${extra.source}:${extra.contract}`)!;
      for (const name of extra.events) {
        const ev = from.find((x) => x.type === "event" && x.name === name);
        if (!ev)
          throw new PrepareError(`${extra.contract} has no event ${name}`, "fix subgraph.template.yaml");
        abi.push(ev);
      }
    }
    return abi;
  };
  mkdirSync(join(outDir, "abis"), { recursive: true });
  const network =
    opts.network ??
    (deployments && deployments.chainId !== 31337 ? `chain-${deployments.chainId}` : "hardhat");
  const dataSources = template.dataSources.map((ds) => {
    const abi = abiOf(ds);
    writeFileSync(join(outDir, "abis", `${ds.name}.json`), JSON.stringify(abi, null, 2));
    const dep = deployments?.contracts[ds.name];
    const events = abi.filter((x): x is AbiEvent => x.type === "event");
    return {
      kind: "ethereum/contract",
      name: ds.name,
      network,
      source: {
        address: dep?.address ?? "0x0000000000000000000000000000000000000000",
        abi: ds.name,
        startBlock: dep?.deployBlock ?? deployments?.deployBlock ?? 0,
      },
      mapping: {
        kind: "ethereum/events",
        apiVersion: "0.0.9",
        language: "wasm/assemblyscript",
        entities: ds.entities,
        abis: [{ name: ds.name, file: `./abis/${ds.name}.json` }],
        eventHandlers: events.map((e) => ({ event: eventSignature(e), handler: `handle${e.name}` })),
        file: ds.file,
      },
    };
  });
  const manifest = {
    specVersion: template.specVersion,
    description: template.description,
    schema: { file: template.schema.file },
    dataSources,
  };
  const path = join(outDir, "subgraph.yaml");
  writeFileSync(
    path,
    `# Generated by scripts/prepare.ts from subgraph.template.yaml; do not edit.\n${stringifyYaml(manifest, { lineWidth: 0 })}`,
  );
  return path;
}

/** Newest modification time of the files a build depends on. */
function sourcesMtime(): number {
  const files = [join(subgraphDir, "schema.graphql"), join(subgraphDir, "subgraph.template.yaml")];
  for (const f of readdirSync(join(subgraphDir, "src"))) files.push(join(subgraphDir, "src", f));
  for (const f of readdirSync(join(repoRoot, "contracts/interfaces")))
    files.push(join(repoRoot, "contracts/interfaces", f));
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

/** Builds the subgraph (prepare, codegen, build) unless build/ is newer than every source; returns the manifest. */
export async function ensureBuilt(): Promise<string> {
  const manifest = join(subgraphDir, "build", "subgraph.yaml");
  if (existsSync(manifest) && statSync(manifest).mtimeMs >= sourcesMtime()) return manifest;
  prepareSubgraph();
  return buildSubgraph(subgraphDir);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { deployments: { type: "string" }, network: { type: "string" } } });
  const fallback = join(repoRoot, "deployments", "31337.json");
  const deployments = values.deployments ?? (existsSync(fallback) ? fallback : undefined);
  const path = prepareSubgraph({ deployments, network: values.network });
  console.log(
    `wrote ${path}${deployments ? ` (addresses from ${deployments})` : " (placeholder addresses)"}`,
  );
}
