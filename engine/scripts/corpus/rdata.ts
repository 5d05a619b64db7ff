// A minimal reader for R's lazy-load data databases (`data/Rdata.rdx` + `data/Rdata.rdb`), enough to
// pull character vectors out of a CRAN data package without installing R.
//
// Format facts (R's serialize.c / lazyload): the .rdx index is a gzip'd XDR serialization (format 2 or 3)
// of a list whose `variables` element maps each object name to an integer pair (offset, length) into
// the .rdb file. Each .rdb record is a 4-byte big-endian uncompressed length followed by a zlib stream
// holding the XDR serialization of the object.
import { gunzipSync, inflateSync } from "node:zlib";

export class RDataError extends Error {
  constructor(message: string, details: string, next: string) {
    super(`${message}: ${details}. ${next}`);
    this.name = "RDataError";
  }
}

/** The R values this reader returns: strings (NA as null), numbers, lists, and named lists. */
export type RVector = (
  | { type: "character"; values: (string | null)[] }
  | { type: "integer" | "double" | "logical"; values: number[] }
  | { type: "list"; values: RValue[] }
) & { attributes?: Map<string, RValue> };
export type RValue =
  | null
  | RVector
  | { type: "pairlist"; entries: { tag: string | null; value: RValue }[] }
  | { type: "symbol"; name: string };

// SEXP type codes (R internals, Rinternals.h) and the serialization pseudo-types.
const NILSXP = 0, SYMSXP = 1, LISTSXP = 2, LGLSXP = 10, INTSXP = 13, REALSXP = 14, CHARSXP = 9;
const STRSXP = 16, VECSXP = 19, REFSXP = 255, NILVALUE_SXP = 254, NA_INT = -2147483648;

class XdrReader {
  readonly #view: DataView;
  readonly #bytes: Uint8Array;
  #pos = 0;
  readonly refs: RValue[] = [];
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  int(): number {
    if (this.#pos + 4 > this.#bytes.length) throw new RDataError("truncated R serialization", `at byte ${this.#pos}`, "The package file may be corrupt; delete the cache and fetch it again");
    const v = this.#view.getInt32(this.#pos);
    this.#pos += 4;
    return v;
  }
  double(): number {
    const v = this.#view.getFloat64(this.#pos);
    this.#pos += 8;
    return v;
  }
  utf8(n: number): string {
    const s = new TextDecoder("utf-8", { fatal: false }).decode(this.#bytes.subarray(this.#pos, this.#pos + n));
    this.#pos += n;
    return s;
  }
}

/** Unserializes one XDR ("X\n") R object, format version 2 or 3. */
export function unserialize(bytes: Uint8Array): RValue {
  if (bytes[0] !== 0x58 || bytes[1] !== 0x0a) {
    throw new RDataError("not an XDR R serialization", `first bytes ${bytes[0]}, ${bytes[1]}`, "Only R's default binary XDR format is supported");
  }
  const r = new XdrReader(bytes.subarray(2));
  const version = r.int();
  r.int(); // writer R version
  r.int(); // minimal reader R version
  if (version === 3) r.utf8(r.int()); // native encoding name
  else if (version !== 2) throw new RDataError("unsupported R serialization version", String(version), "Only versions 2 and 3 are supported");
  return readItem(r);
}

function readItem(r: XdrReader): RValue {
  const flags = r.int();
  const type = flags & 0xff;
  const hasAttr = (flags & (1 << 9)) !== 0;
  const hasTag = (flags & (1 << 10)) !== 0;
  switch (type) {
    case NILVALUE_SXP:
    case NILSXP:
      return null;
    case REFSXP: {
      const index = flags >> 8;
      return r.refs[(index === 0 ? r.int() : index) - 1] ?? null;
    }
    case SYMSXP: {
      r.int(); // the symbol's name is a CHARSXP: flags, then length and bytes
      const name = readChars(r, r.int());
      const sym: RValue = { type: "symbol", name: name ?? "" };
      r.refs.push(sym);
      return sym;
    }
    case LISTSXP: {
      const entries: { tag: string | null; value: RValue }[] = [];
      let f = flags;
      for (;;) {
        if ((f & (1 << 9)) !== 0) readItem(r); // attributes of a pairlist cell: not needed
        let tag: string | null = null;
        if ((f & (1 << 10)) !== 0) {
          const t = readItem(r);
          tag = t !== null && t.type === "symbol" ? t.name : null;
        }
        entries.push({ tag, value: readItem(r) });
        f = r.int();
        if ((f & 0xff) !== LISTSXP) {
          if ((f & 0xff) !== NILVALUE_SXP) throw new RDataError("unsupported pairlist tail", `type ${f & 0xff}`, "This reader handles plain pairlists only");
          break;
        }
      }
      return { type: "pairlist", entries };
    }
    case CHARSXP:
      return { type: "character", values: [readChars(r, r.int())] };
    case STRSXP: {
      const n = r.int();
      const values: (string | null)[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const f = r.int();
        if ((f & 0xff) !== CHARSXP) throw new RDataError("malformed character vector", `element ${i} has type ${f & 0xff}`, "The data file may be corrupt");
        values[i] = readChars(r, r.int());
      }
      return withAttributes(r, { type: "character", values }, hasAttr);
    }
    case LGLSXP:
    case INTSXP: {
      const n = r.int();
      const values = new Array<number>(n);
      for (let i = 0; i < n; i++) {
        const v = r.int();
        values[i] = v === NA_INT ? Number.NaN : v;
      }
      return withAttributes(r, { type: type === INTSXP ? "integer" : "logical", values }, hasAttr);
    }
    case REALSXP: {
      const n = r.int();
      const values = new Array<number>(n);
      for (let i = 0; i < n; i++) values[i] = r.double();
      return withAttributes(r, { type: "double", values }, hasAttr);
    }
    case VECSXP: {
      const n = r.int();
      const values: RValue[] = new Array(n);
      for (let i = 0; i < n; i++) values[i] = readItem(r);
      return withAttributes(r, { type: "list", values }, hasAttr);
    }
    default:
      void hasTag;
      throw new RDataError("unsupported R object type", `SEXP type ${type}`, "This reader handles vectors, lists and pairlists only");
  }
}

function readChars(r: XdrReader, n: number): string | null {
  return n === -1 ? null : r.utf8(n);
}

function withAttributes(r: XdrReader, value: RVector, hasAttr: boolean): RVector {
  if (!hasAttr) return value;
  const attrs = readItem(r);
  if (attrs !== null && attrs.type === "pairlist") {
    value.attributes = new Map(attrs.entries.map((e) => [e.tag ?? "", e.value]));
  }
  return value;
}

/** Names of a named R vector or list (its `names` attribute). */
export function namesOf(value: RValue): string[] {
  if (value === null || !("attributes" in value) || !value.attributes) return [];
  const names = value.attributes.get("names");
  return names && names.type === "character" ? names.values.map((s) => s ?? "") : [];
}

/**
 * Reads every object of an R lazy-load database. Returns name -> value.
 * `rdx` is the index file's bytes, `rdb` the database file's bytes.
 */
export function readLazyLoadDb(rdx: Uint8Array, rdb: Uint8Array): Map<string, RValue> {
  const index = unserialize(gunzipSync(rdx));
  if (index === null || index.type !== "list") {
    throw new RDataError("unexpected lazy-load index", "not a list", "Expected an R package's data/Rdata.rdx");
  }
  const fields = namesOf(index);
  const variables = index.values[fields.indexOf("variables")];
  if (!variables || variables.type !== "list") {
    throw new RDataError("lazy-load index has no variables", fields.join(", "), "Expected an R package's data/Rdata.rdx");
  }
  const out = new Map<string, RValue>();
  namesOf(variables).forEach((name, i) => {
    const pos = variables.values[i];
    if (!pos || pos.type !== "integer" || pos.values.length !== 2) throw new RDataError("malformed index entry", name, "Expected (offset, length)");
    const [offset, length] = pos.values as [number, number];
    const record = rdb.subarray(offset, offset + length);
    const expected = new DataView(record.buffer, record.byteOffset, 4).getUint32(0);
    const body = inflateSync(record.subarray(4));
    if (body.length !== expected) {
      throw new RDataError("lazy-load record has the wrong size", `${name}: ${body.length} bytes, header says ${expected}`, "The record may use bzip2/xz compression, which this reader does not support");
    }
    out.set(name, unserialize(body));
  });
  return out;
}
