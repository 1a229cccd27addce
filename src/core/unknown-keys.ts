import type { z } from "zod";
import type { FieldError } from "./errors.js";

/**
 * Keys of an input that its schema does not know, at any depth. For files people write by hand (the config
 * file, simulator scenarios): `{"reward": {"window": "10m"}}` (for `rewards`) would otherwise be dropped by
 * zod's default object parsing, and the server would start on the default window with no word said. Walked here
 * rather than by making every nested `z.object` strict, so the sections keep their own schemas (features, log,
 * memory) and one rule covers them all. `path` prefixes each error's path (`config`, `scenario`).
 */
export function unknownKeys(schema: z.ZodType, input: unknown, path: string): FieldError[] {
  const objects = objectShapes(schema);
  if (objects.length === 0 || !isPlainObject(input)) return arrayElements(schema, input, path);
  const errors: FieldError[] = [];
  for (const [key, value] of Object.entries(input)) {
    const fields = objects.flatMap((shape) => (Object.hasOwn(shape, key) ? [shape[key] as z.ZodType] : []));
    if (fields.length === 0) {
      const known = objects.flatMap((shape) => Object.keys(shape));
      errors.push({ path: `${path}.${key}`, message: unknownKeyMessage(key, known) });
      continue;
    }
    // A key known to any branch of a union is checked against the first branch that has it.
    errors.push(...unknownKeys(fields[0] as z.ZodType, value, `${path}.${key}`));
  }
  return errors;
}

type SchemaDef = Record<string, unknown> & { type: string };

/** Wrappers that change how a value parses, not its shape: their inner schema is what the input must match. */
const WRAPPERS = new Set(["optional", "nullable", "default", "prefault", "readonly", "catch"]);

/** The schema under its wrappers (and a transform's input side), with its definition. */
function unwrap(schema: z.ZodType): { schema: z.ZodType; def: SchemaDef } {
  const def = schema._zod.def as unknown as SchemaDef;
  if (WRAPPERS.has(def.type)) return unwrap(def.innerType as z.ZodType);
  if (def.type === "pipe") return unwrap(def.in as z.ZodType);
  return { schema, def };
}

/** The object shapes a value of `schema` may take (several under a union); none for records and scalars. */
function objectShapes(schema: z.ZodType): Record<string, unknown>[] {
  const inner = unwrap(schema);
  if (inner.def.type === "object") return [(inner.schema as unknown as z.ZodObject).shape];
  if (inner.def.type === "union") return (inner.def.options as z.ZodType[]).flatMap(objectShapes);
  return [];
}

/** Arrays of objects (e.g. `features.custom`): each element is checked against the element's schema. */
function arrayElements(schema: z.ZodType, input: unknown, path: string): FieldError[] {
  const { def } = unwrap(schema);
  if (def.type !== "array" || !Array.isArray(input)) return [];
  return input.flatMap((item, i) => unknownKeys(def.element as z.ZodType, item, `${path}[${i}]`));
}

function unknownKeyMessage(key: string, known: readonly string[]): string {
  const near = known.filter((k) => editDistance(k.toLowerCase(), key.toLowerCase()) <= Math.max(1, k.length / 4));
  const hint =
    near.length > 0 ? `did you mean ${near.map((k) => `"${k}"`).join(" or ")}?` : `known: ${known.join(", ")}`;
  return `unknown setting "${key}" (${hint})`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Levenshtein distance over setting names (a dozen characters): a few lines, not worth a dependency. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
    }
    prev = row;
  }
  return prev[b.length] as number;
}
