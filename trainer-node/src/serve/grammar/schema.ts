/**
 * The JSON Schema subset that structured outputs and tool arguments support, checked before any grammar
 * is compiled so that an unsupported keyword is a 400 naming it (never silently dropped):
 *
 * - `type`: object, array, string, number, integer, boolean, null (or a list of them)
 * - objects: `properties`, `required`, `additionalProperties` (false, true or absent: the output never
 *   holds properties beyond `properties`)
 * - arrays: `items`, `minItems`, `maxItems`
 * - any node: `enum`, `const`, `anyOf`, and the annotations `title`, `description`, `$comment`,
 *   `examples`, `default` (and `$schema` at the root)
 * - nesting up to MAX_DEPTH objects/arrays deep
 *
 * `strict` (OpenAI's structured-outputs rule): every object must set `additionalProperties: false` and
 * list all its properties in `required`.
 */
import { BadRequestError } from "../errors.ts";

export const MAX_DEPTH = 6;

const TYPES = new Set(["object", "array", "string", "number", "integer", "boolean", "null"]);
const ANNOTATIONS = new Set(["title", "description", "$comment", "examples", "default"]);
const ANY = new Set(["type", "enum", "const", "anyOf"]);
const OBJECT = new Set(["properties", "required", "additionalProperties"]);
const ARRAY = new Set(["items", "minItems", "maxItems"]);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Throws a BadRequestError (param = `param`, message naming the keyword and where it is) unless `schema`
 * is in the supported subset.
 */
export function checkSchema(schema: unknown, param: string, strict: boolean): void {
  const fail = (path: string, what: string) => {
    throw new BadRequestError(param, `'${param}'${path ? ` at ${path}` : ""}: ${what}`, "unsupported_schema");
  };
  const walk = (s: unknown, path: string, depth: number) => {
    if (s === true) return; // any value
    if (!isObject(s)) return fail(path, `a schema must be an object (or true), got ${JSON.stringify(s)}`);
    for (const k of Object.keys(s)) {
      if (ANNOTATIONS.has(k) || ANY.has(k) || OBJECT.has(k) || ARRAY.has(k) || (k === "$schema" && path === "")) continue;
      fail(path, `the JSON Schema keyword '${k}' is not supported (supported: type, properties, required, additionalProperties, items, minItems, maxItems, enum, const, anyOf and annotations)`);
    }
    const types = s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type];
    if (!types.length && s.type !== undefined) fail(path, "'type' must not be an empty list");
    for (const t of types) if (typeof t !== "string" || !TYPES.has(t)) fail(path, `unknown type ${JSON.stringify(t)}`);
    const isObj = types.includes("object") || (!types.length && (s.properties !== undefined || s.required !== undefined || s.additionalProperties !== undefined));
    const isArr = types.includes("array") || (!types.length && (s.items !== undefined || s.minItems !== undefined || s.maxItems !== undefined));
    if ((isObj || isArr) && depth >= MAX_DEPTH) fail(path, `nesting deeper than ${MAX_DEPTH} objects/arrays is not supported`);
    for (const k of OBJECT) if (s[k] !== undefined && !isObj) fail(path, `'${k}' needs type "object"`);
    for (const k of ARRAY) if (s[k] !== undefined && !isArr) fail(path, `'${k}' needs type "array"`);
    if (s.enum !== undefined && (!Array.isArray(s.enum) || !s.enum.length)) fail(path, "'enum' must be a non-empty array");
    if (s.anyOf !== undefined) {
      if (!Array.isArray(s.anyOf) || !s.anyOf.length) fail(path, "'anyOf' must be a non-empty array of schemas");
      (s.anyOf as unknown[]).forEach((sub, i) => walk(sub, `${path}/anyOf/${i}`, depth));
    }
    if (isObj) {
      const props = s.properties ?? {};
      if (!isObject(props)) return fail(path, "'properties' must be an object");
      if (s.required !== undefined && (!Array.isArray(s.required) || s.required.some((r) => typeof r !== "string" || !(r in props)))) {
        fail(path, "'required' must list names defined in 'properties'");
      }
      const ap = s.additionalProperties;
      if (ap !== undefined && typeof ap !== "boolean") fail(path, "'additionalProperties' as a schema is not supported (use false)");
      if (strict) {
        if (ap !== false) fail(path, "strict mode needs 'additionalProperties': false on every object");
        const req = new Set((s.required as string[] | undefined) ?? []);
        const missing = Object.keys(props).filter((k) => !req.has(k));
        if (missing.length) fail(path, `strict mode needs every property in 'required'; missing: ${missing.join(", ")}`);
      }
      for (const [k, sub] of Object.entries(props)) walk(sub, `${path}/properties/${k}`, depth + 1);
    }
    if (isArr) {
      if (s.items !== undefined) walk(s.items, `${path}/items`, depth + 1);
      for (const k of ["minItems", "maxItems"]) {
        const v = s[k];
        if (v !== undefined && (typeof v !== "number" || !Number.isInteger(v) || v < 0)) fail(path, `'${k}' must be a non-negative integer`);
      }
      if (typeof s.minItems === "number" && typeof s.maxItems === "number" && s.minItems > s.maxItems) fail(path, "'minItems' is greater than 'maxItems'");
    }
  };
  walk(schema, "", 0);
}
