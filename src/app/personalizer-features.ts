import type { FieldError } from "../core/errors.js";
import type { FeatureMap } from "../core/types.js";
import { formatPath, toFieldErrors } from "../core/validate.js";
import { featureMapSchema } from "../events/event-schema.js";

/**
 * Personalizer's features are arrays of JSON objects whose values may nest (namespaces):
 * `[{"user": {"profileType": "AnonymousUser"}}, {"device": {"mobile": true}}, {"timeOfDay": "Morning"}]`.
 * Loopwise's policies read one flat FeatureMap. The rule (docs/migrating-from-personalizer.md):
 *
 * - nested objects are dotted: `{"user": {"profileType": "X"}}` → `user.profileType = "X"`;
 * - strings stay strings (categorical, as Personalizer/VW hash `name=value`), numbers stay numbers,
 *   booleans stay booleans; `null` is dropped (VW ignores it too);
 * - array elements are indexed: `{"embedding": [0.1, 0.2]}` → `embedding[0] = 0.1`, `embedding[1] = 0.2`;
 * - keys starting with `_` are metadata, not features (VW's JSON convention);
 * - the objects of the outer array are merged; when two set the same flat name, the later one wins.
 *
 * These are the names Loopwise's DSJSON reader (ope/sources/dsjson-source.ts) gives the same features in
 * Personalizer's exported logs, so a policy warm-started or evaluated on an export reads live traffic alike.
 *
 * The result is validated with the same schema as a native request's context (key length, value
 * length, key count), and errors name the field where the client sent it (`contextFeatures[1].user.x`).
 */
export interface FlattenResult {
  features: FeatureMap;
  errors: FieldError[];
}

const MAX_DEPTH = 8;

export function flattenFeatures(input: unknown, path: string): FlattenResult {
  const features: FeatureMap = {};
  const sources = new Map<string, string>();
  const errors: FieldError[] = [];
  if (input === undefined || input === null) return { features, errors };
  if (!Array.isArray(input)) {
    return { features, errors: [{ path, message: "must be an array of feature objects" }] };
  }
  input.forEach((entry, i) => {
    const at = `${path}[${i}]`;
    if (!isPlainObject(entry)) {
      errors.push({ path: at, message: "must be an object of features" });
      return;
    }
    walk(entry, "", at, 0, { features, sources, errors });
  });
  if (errors.length > 0) return { features, errors };
  const parsed = featureMapSchema.safeParse(features);
  if (!parsed.success) {
    // Map a flat key back to where the client wrote it.
    for (const e of toFieldErrors(parsed.error.issues)) {
      const source = sources.get(e.path);
      errors.push(source ? { path: source, message: e.message } : { path, message: e.message });
    }
  }
  return { features, errors };
}

interface Sink {
  features: FeatureMap;
  sources: Map<string, string>;
  errors: FieldError[];
}

function walk(node: Record<string, unknown>, prefix: string, at: string, depth: number, sink: Sink): void {
  if (depth > MAX_DEPTH) {
    sink.errors.push({ path: at, message: `nests deeper than ${MAX_DEPTH} levels` });
    return;
  }
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith("_")) continue;
    const name = prefix === "" ? key : `${prefix}.${key}`;
    const source = formatPath(at, [key]);
    if (value === null || value === undefined) continue;
    if (isPlainObject(value)) walk(value, name, source, depth + 1, sink);
    else if (Array.isArray(value)) walkArray(value, name, source, depth, sink);
    else put(name, value, source, sink);
  }
}

function walkArray(values: unknown[], name: string, at: string, depth: number, sink: Sink): void {
  values.forEach((value, i) => {
    const source = `${at}[${i}]`;
    if (value === null || value === undefined) return;
    if (isPlainObject(value)) walk(value, `${name}[${i}]`, source, depth + 1, sink);
    else if (Array.isArray(value)) walkArray(value, `${name}[${i}]`, source, depth + 1, sink);
    else put(`${name}[${i}]`, value, source, sink);
  });
}

function put(name: string, value: unknown, source: string, sink: Sink): void {
  if (typeof value === "number" && !Number.isFinite(value)) {
    sink.errors.push({ path: source, message: "must be a finite number" });
    return;
  }
  if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
    sink.errors.push({ path: source, message: "must be a string, number, boolean, object or array" });
    return;
  }
  sink.features[name] = value;
  sink.sources.set(name, source);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
