import fc from "fast-check";

/**
 * Random values for the JSON Schemas of the OpenAPI document (the subset z.toJSONSchema emits: objects,
 * arrays, strings with length and pattern, numbers, integers, booleans, enums, consts, anyOf/oneOf).
 * Hand-written because no JSON-Schema-to-arbitrary library is installed, and the point is to generate
 * from the same schemas that validate requests. Sizes are kept small (arrays ≤ 4, strings ≤ 24) so a run
 * explores many requests rather than a few big ones; the hostile mutations (hostile.ts) add the big ones.
 */
export type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  default?: unknown;
};

/** Strings a pattern-constrained field (ids) draws from: known ids first, so writes hit existing things. */
export interface Pools {
  ids: () => string[];
}

const plainId = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,24}$/);
const unicodeId = fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 });

export function arbitraryFor(schema: JsonSchema, pools: Pools, depth = 0): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const options = schema.anyOf ?? schema.oneOf;
  if (options) return fc.oneof(...options.map((s) => arbitraryFor(s, pools, depth + 1)));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "object":
      return objectArbitrary(schema, pools, depth);
    case "array": {
      const min = schema.minItems ?? 0;
      const max = Math.min(schema.maxItems ?? 4, Math.max(min, 4));
      const items = schema.items ? arbitraryFor(schema.items, pools, depth + 1) : fc.jsonValue({ maxDepth: 1 });
      return fc.array(items, { minLength: min, maxLength: max });
    }
    case "string":
      return stringArbitrary(schema, pools);
    case "integer":
      return fc.integer({ min: bound(schema.minimum, -1000), max: bound(schema.maximum, 1000) });
    case "number": {
      const min = bound(schema.minimum ?? schema.exclusiveMinimum, -1e6);
      const max = bound(schema.maximum ?? schema.exclusiveMaximum, 1e6);
      return fc.double({ min, max, noNaN: true, noDefaultInfinity: true }).filter((x) => x !== schema.exclusiveMinimum);
    }
    case "boolean":
      return fc.boolean();
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function bound(value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  return Math.max(-1e9, Math.min(1e9, value));
}

function objectArbitrary(schema: JsonSchema, pools: Pools, depth: number): fc.Arbitrary<unknown> {
  const props = schema.properties ?? {};
  const required = new Set(schema.required ?? []);
  const record = fc.record(
    Object.fromEntries(Object.entries(props).map(([k, s]) => [k, arbitraryFor(s, pools, depth + 1)])),
    { requiredKeys: [...required].filter((k) => k in props) },
  );
  const extra = schema.additionalProperties;
  if (typeof extra !== "object" || depth > 3) return record;
  const key = schema.propertyNames ? stringArbitrary(schema.propertyNames, pools) : plainId;
  const map = fc.dictionary(key as fc.Arbitrary<string>, arbitraryFor(extra, pools, depth + 1), { maxKeys: 4 });
  return fc.tuple(record, map).map(([a, b]) => ({ ...b, ...(a as object) }));
}

function stringArbitrary(schema: JsonSchema, pools: Pools): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = Math.min(schema.maxLength ?? 24, 24);
  if (!schema.pattern) return fc.string({ minLength: min, maxLength: Math.max(min, max) });
  const re = new RegExp(schema.pattern, "u");
  const fresh = fc.oneof({ arbitrary: plainId, weight: 4 }, { arbitrary: unicodeId, weight: 1 });
  const known = fc.constant(null).chain(() => {
    const ids = pools.ids();
    return ids.length > 0 ? fc.constantFrom(...ids) : plainId;
  });
  return fc.oneof(fresh, known).filter((s) => re.test(s));
}
