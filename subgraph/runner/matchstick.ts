// Runs matchstick-as unit tests (`tests/*.test.ts`, AssemblyScript) without the matchstick binary: compiles
// a test file with AssemblyScript 0.19 the way graph-cli compiles mappings (plus an exported function
// table), and provides matchstick's host functions (test/describe/hook registration, assert.*, clearStore,
// countEntities, dataSourceMock, ...) next to graph-ts's, over an in-memory entity store.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { promisify } from "node:util";
import type { AscMemory } from "./asc.ts";
import { HostFunctionUnavailableError, MappingModule, type HostContext, type HostFn } from "./host.ts";
import { mergeEntity, relatedEntities } from "./processor.ts";
import type { SubgraphSchema } from "./schema.ts";
import { readStoreValue, toHex, type EntityData, type StoreValue } from "./values.ts";

const run = promisify(execFile);
const require = createRequire(import.meta.url);

export class MatchstickCompileError extends Error {
  constructor(file: string, output: string) {
    super(
      `cannot compile ${file}:\n${output.trim().split("\n").slice(-30).join("\n")}\nrun graph codegen first, then fix the test`,
    );
    this.name = "MatchstickCompileError";
  }
}

/** Compiles one matchstick test file (relative to `subgraphDir`) to `outFile`. */
export async function compileMatchstickTest(
  subgraphDir: string,
  testFile: string,
  outFile: string,
): Promise<void> {
  const asc = join(dirname(dirname(require.resolve("assemblyscript/cli/asc"))), "bin", "asc");
  const graphTs = dirname(require.resolve("@graphprotocol/graph-ts/package.json"));
  const libs = dirname(dirname(graphTs)); // the node_modules holding graph-ts and matchstick-as
  const args = [
    asc,
    testFile,
    relative(subgraphDir, join(graphTs, "global", "global.ts")),
    "--baseDir",
    subgraphDir,
    "--lib",
    libs,
    "--outFile",
    outFile,
    "--explicitStart",
    "--exportRuntime",
    "--runtime",
    "stub",
    "--exportTable",
    "--debug",
  ];
  try {
    await run(process.execPath, args, { cwd: subgraphDir, maxBuffer: 16 << 20 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new MatchstickCompileError(testFile, `${err.stdout ?? ""}${err.stderr ?? ""}` || err.message);
  }
}

export type MatchstickTestResult = {
  name: string;
  /** Registered with `shouldFail = true`. */
  shouldFail: boolean;
  passed: boolean;
  error: string | null;
};

type TestNode = { kind: "test"; name: string; shouldFail: boolean; fn: number };
type Hooks = { beforeAll: number[]; afterAll: number[]; beforeEach: number[]; afterEach: number[] };
type Frame = { kind: "describe"; name: string; hooks: Hooks; children: (TestNode | Frame)[] };

const newFrame = (name: string): Frame => ({
  kind: "describe",
  name,
  hooks: { beforeAll: [], afterAll: [], beforeEach: [], afterEach: [] },
  children: [],
});

/** graph-ts `ethereum.ValueKind` values that carry a pointer to bytes, a BigInt, a string or an array. */
function readEthValue(mem: AscMemory, ptr: number): unknown {
  const { kind, payload } = mem.readEnum(ptr);
  const p = Number(payload & 0xffffffffn);
  switch (kind) {
    case 0: // ADDRESS
    case 1: // FIXED_BYTES
    case 2: // BYTES
      return [kind === 2 ? "bytes" : "fixed", toHex(mem.readBytes(p))];
    case 3: // INT
    case 4: // UINT
      return ["int", mem.readBigInt(p).toString()];
    case 5:
      return ["bool", payload !== 0n];
    case 6:
      return ["string", mem.readString(p)];
    default: // FIXED_ARRAY, ARRAY, TUPLE
      return [kind, mem.readPtrArray(p).map((e) => readEthValue(mem, e))];
  }
}

/** How matchstick prints a stored value for `assert.fieldEquals`. */
export function formatValue(v: StoreValue | undefined): string {
  if (!v || v[0] === "Null") return "null";
  if (v[0] === "Array") return `[${v[1].map(formatValue).join(", ")}]`;
  return String(v[1]);
}

/** Runs every test of a compiled matchstick test module; never throws for a failing test. */
export function runMatchstickTests(
  wasm: Uint8Array<ArrayBuffer>,
  schema: SubgraphSchema,
  log: (message: string) => void = () => {},
): MatchstickTestResult[] {
  const store = new Map<string, Map<string, EntityData>>();
  const table = (t: string) => {
    let m = store.get(t);
    if (!m) store.set(t, (m = new Map()));
    return m;
  };
  let inBlock = new Map<string, EntityData>();
  const root = newFrame("");
  const stack: Frame[] = [root];
  const failures: string[] = [];

  const ctx: HostContext = {
    get: (type, id) => store.get(type)?.get(id) ?? null,
    getInBlock: (type, id) => inBlock.get(`${type}:${id}`) ?? null,
    set: (type, id, data) => {
      const merged = mergeEntity(schema, type, id, store.get(type)?.get(id) ?? null, data);
      table(type).set(id, merged);
      inBlock.set(`${type}:${id}`, merged);
    },
    remove: (type, id) => {
      store.get(type)?.delete(id);
      inBlock.delete(`${type}:${id}`);
    },
    loadRelated: (type, id, field) =>
      relatedEntities(schema, type, id, field, (t) => store.get(t)?.values() ?? []),
    log: (level, message) =>
      log(`[${["critical", "error", "warning", "info", "debug", "success"][level] ?? level}] ${message}`),
    dataSource: { address: "0x0000000000000000000000000000000000000000", network: "mainnet", context: {} },
  };

  let callFn: (idx: number) => void = () => {};
  const fail = (message: string) => {
    failures.push(message);
    return 0;
  };
  const extra: Record<string, HostFn> = {
    _registerTest: (mem, _c, name, shouldFail, fn) => {
      stack[stack.length - 1].children.push({
        kind: "test",
        name: mem.readString(name),
        shouldFail: shouldFail !== 0,
        fn,
      });
    },
    _registerDescribe: (mem, _c, name, fn) => {
      const frame = newFrame(mem.readString(name));
      stack[stack.length - 1].children.push(frame);
      stack.push(frame);
      try {
        // The describe body registers its tests and hooks; this runs inside _start, before instantiate returns.
        ((mem.exports.table as WebAssembly.Table).get(fn) as () => void)();
      } finally {
        stack.pop();
      }
    },
    _registerHook: (mem, _c, fn, type) => {
      const hooks = stack[stack.length - 1].hooks;
      const kind = mem.readString(type) as keyof Hooks;
      if (!(kind in hooks)) throw new Error(`unknown matchstick hook ${kind}`);
      hooks[kind].push(fn);
    },
    clearStore: () => {
      store.clear();
      inBlock = new Map();
    },
    clearInBlockStore: () => {
      inBlock = new Map();
    },
    mockInBlockStore: (mem, _c, type, id, data) => {
      const t = mem.readString(type);
      const i = mem.readString(id);
      const e: EntityData = {};
      for (const entry of mem.readPtrArray(mem.u32(data)))
        e[mem.readString(mem.u32(entry))] = readStoreValue(mem, mem.u32(entry + 4));
      inBlock.set(`${t}:${i}`, mergeEntity(schema, t, i, null, e));
    },
    countEntities: (mem, _c, type) => store.get(mem.readString(type))?.size ?? 0,
    logStore: () => {
      for (const [t, m] of store) for (const [id, e] of m) log(`${t}[${id}] ${JSON.stringify(e)}`);
    },
    logEntity: (mem, _c, type, id) => {
      log(JSON.stringify(store.get(mem.readString(type))?.get(mem.readString(id)) ?? null));
    },
    logDataSources: () => {},
    "dataSourceMock.setReturnValues": (mem, _c, address, network, context) => {
      ctx.dataSource.address = mem.readString(address).toLowerCase();
      ctx.dataSource.network = mem.readString(network);
      const e: EntityData = {};
      for (const entry of mem.readPtrArray(mem.u32(context)))
        e[mem.readString(mem.u32(entry))] = readStoreValue(mem, mem.u32(entry + 4));
      ctx.dataSource.context = e;
    },
    "_assert.fieldEquals": (mem, _c, type, id, field, expected) =>
      fieldEquals(
        mem.readString(type),
        mem.readString(id),
        mem.readString(field),
        mem.readString(expected),
        null,
      ),
    "_assert.fieldEqualsWithMessage": (mem, _c, type, id, field, expected, message) =>
      fieldEquals(
        mem.readString(type),
        mem.readString(id),
        mem.readString(field),
        mem.readString(expected),
        mem.readString(message),
      ),
    "_assert.equals": (mem, _c, a, b) => valuesEqual(mem, a, b, null),
    "_assert.equalsWithMessage": (mem, _c, a, b, message) => valuesEqual(mem, a, b, mem.readString(message)),
    "_assert.notInStore": (mem, _c, type, id) => notInStore(mem.readString(type), mem.readString(id), null),
    "_assert.notInStoreWithMessage": (mem, _c, type, id, message) =>
      notInStore(mem.readString(type), mem.readString(id), mem.readString(message)),
  };
  for (const name of [
    "mockFunction",
    "mockIpfsFile",
    "readFile",
    "_assert.dataSourceCount",
    "_assert.dataSourceExists",
  ]) {
    extra[name] = () => {
      throw new HostFunctionUnavailableError(name);
    };
  }

  function fieldEquals(
    type: string,
    id: string,
    field: string,
    expected: string,
    message: string | null,
  ): number {
    const e = store.get(type)?.get(id);
    if (!e) return fail(message ?? `${type}[${id}] is not in the store`);
    const actual = formatValue(e[field]);
    if (actual !== expected)
      return fail(message ?? `${type}[${id}].${field}: expected ${expected}, got ${actual}`);
    return 1;
  }
  function notInStore(type: string, id: string, message: string | null): number {
    return store.get(type)?.has(id) ? fail(message ?? `${type}[${id}] is in the store`) : 1;
  }
  function valuesEqual(mem: AscMemory, a: number, b: number, message: string | null): number {
    const x = JSON.stringify(readEthValue(mem, a));
    const y = JSON.stringify(readEthValue(mem, b));
    return x === y ? 1 : fail(message ?? `expected ${x}, got ${y}`);
  }

  const module = new MappingModule("matchstick", wasm);
  const { exports } = module.instantiate(ctx, extra); // _start registers the tests
  const fnTable = exports.table as WebAssembly.Table | undefined;
  if (!fnTable) throw new Error("the test module exports no function table; compile it with --exportTable");
  callFn = (idx) => (fnTable.get(idx) as () => void)();

  const results: MatchstickTestResult[] = [];
  const runFrame = (frame: Frame, path: string[], before: number[], after: number[]) => {
    const beforeEach = [...before, ...frame.hooks.beforeEach];
    const afterEach = [...frame.hooks.afterEach, ...after];
    frame.hooks.beforeAll.forEach(callFn);
    for (const child of frame.children) {
      if (child.kind === "describe") {
        runFrame(child, [...path, child.name], beforeEach, afterEach);
        continue;
      }
      failures.length = 0;
      let error: string | null = null;
      try {
        beforeEach.forEach(callFn);
        callFn(child.fn);
        afterEach.forEach(callFn);
      } catch (e) {
        error = [...failures, (e as Error).message].join("; ");
      }
      const failed = error !== null;
      results.push({
        name: [...path, child.name].join(" > "),
        shouldFail: child.shouldFail,
        passed: failed === child.shouldFail,
        error,
      });
    }
    frame.hooks.afterAll.forEach(callFn);
  };
  runFrame(root, [], [], []);
  return results;
}

/** Compiles and runs one test file. */
export async function runMatchstickFile(
  subgraphDir: string,
  testFile: string,
  schema: SubgraphSchema,
  outDir: string,
): Promise<MatchstickTestResult[]> {
  const out = join(outDir, testFile.replace(/[\\/]/g, "_").replace(/\.ts$/, ".wasm"));
  await compileMatchstickTest(subgraphDir, testFile, out);
  return runMatchstickTests(new Uint8Array(readFileSync(out)), schema);
}
