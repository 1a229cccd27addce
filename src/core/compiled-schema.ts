import { Ajv2020 } from "ajv/dist/2020.js";
import { z } from "zod";
import { type FieldError, validationError } from "./errors.js";
import { toFieldErrors } from "./validate.js";

/**
 * Validation at compiled speed with zod's wording. The zod schema stays the one source of truth (it also
 * generates the OpenAPI document): its JSON Schema (`z.toJSONSchema`, as the OpenAPI document uses) is
 * compiled once with ajv, which checks a valid body in a few µs where zod's interpreter takes hundreds for
 * 100 candidates. Only a body ajv rejects goes through zod, so error messages are exactly zod's.
 *
 * What JSON Schema cannot say is the caller's to restate: a refinement is written as its JSON Schema
 * keyword beside it (`.meta({ maxProperties })`, or `.regex` instead of `.refine`), and a transform is
 * applied by `finish` on the already-valid input. compiled-schema.test.ts checks, per hot schema, that both
 * accept and reject the same inputs and produce the same value. Should ajv ever accept less than zod, the
 * zod fallback still accepts (only slower); `finish` answering undefined also falls back to zod.
 */
export interface CompiledSchema<T> {
  /** The value zod would produce, or VALIDATION_FAILED naming every bad field (zod's messages). */
  parse(value: unknown, prefix?: string): T;
  safeParse(value: unknown, prefix?: string): { ok: true; value: T } | { ok: false; errors: FieldError[] };
  /** The compiled path's own verdict, without the zod fallback (for the equivalence test). */
  compiledAccepts(value: unknown): boolean;
}

export interface CompileOptions<In, Out> {
  /**
   * Turns an input ajv accepted into zod's output (transforms, defaults); undefined means "let zod
   * decide" (e.g. a time string that does not parse: zod's transform words that error).
   */
  finish?: (input: In) => Out | undefined;
}

/**
 * One ajv instance for every compiled schema. Like zod: string lengths count code points (ajv's default) and
 * numbers exclude NaN and ±Infinity (`strictNumbers`). Patterns compile with the `u` flag
 * (`unicodeRegExp: true`): JSON Schema drops a RegExp's flags, and the id rule (events/event-schema.ts) needs
 * `\p{Cc}`/`\p{Cs}`, which without `u` would match the letters p, C, c, s and let a lone surrogate through;
 * every other pattern here means the same with or without it. compiled-validation.test.ts checks each.
 */
const ajv = new Ajv2020({ allErrors: false, strict: false, strictNumbers: true, unicodeRegExp: true });

export function compileSchema<S extends z.ZodType>(
  schema: S,
  options: CompileOptions<z.input<S>, z.output<S>> = {},
): CompiledSchema<z.output<S>> {
  type Out = z.output<S>;
  const { $schema: _dialect, ...jsonSchema } = z.toJSONSchema(schema, { io: "input", unrepresentable: "throw" });
  const check = ajv.compile(mergeTypeUnions(jsonSchema) as object);
  const finish = options.finish ?? ((input: z.input<S>) => input as unknown as Out);
  const safeParse = (value: unknown, prefix = ""): { ok: true; value: Out } | { ok: false; errors: FieldError[] } => {
    if (check(value)) {
      const out = finish(value as z.input<S>);
      if (out !== undefined) return { ok: true, value: out };
    }
    const result = schema.safeParse(value);
    return result.success
      ? { ok: true, value: result.data }
      : { ok: false, errors: toFieldErrors(result.error.issues, prefix) };
  };
  return {
    safeParse,
    compiledAccepts: (value) => check(value) && finish(value as z.input<S>) !== undefined,
    parse(value, prefix) {
      const r = safeParse(value, prefix);
      if (!r.ok) throw validationError(r.errors);
      return r.value;
    },
  };
}

/** The JSON types each type-specific keyword constrains (other types ignore it: JSON Schema validation §6). */
const keywordKind: Record<string, "string" | "number"> = {
  minLength: "string",
  maxLength: "string",
  pattern: "string",
  minimum: "number",
  maximum: "number",
  exclusiveMinimum: "number",
  exclusiveMaximum: "number",
  multipleOf: "number",
};
const kindOf = (type: string) => (type === "integer" ? "number" : type);

/**
 * `anyOf: [{type: number}, {type: string, maxLength: 1024}, {type: boolean}]` (zod's union of scalars, as
 * in every feature value) becomes `{type: [number, string, boolean], maxLength: 1024}`: the same set of
 * values, since maxLength only constrains strings, but ajv checks it without building an error object
 * for every branch a value does not take (4× faster on a 100-candidate rank request). Merged only when
 * each branch is a bare type with keywords of its own type, and no two branches are of one kind.
 */
export function mergeTypeUnions(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(mergeTypeUnions);
  if (node === null || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) out[key] = mergeTypeUnions(value);
  const branches = out.anyOf;
  if (!Array.isArray(branches) || branches.length < 2) return out;
  const merged: Record<string, unknown> = {};
  const kinds = new Set<string>();
  const types: string[] = [];
  for (const branch of branches as Record<string, unknown>[]) {
    const type = branch.type;
    if (typeof type !== "string" || kinds.has(kindOf(type))) return out;
    kinds.add(kindOf(type));
    types.push(type);
    for (const [key, value] of Object.entries(branch)) {
      if (key === "type") continue;
      if (keywordKind[key] !== kindOf(type)) return out;
      merged[key] = value;
    }
  }
  const { anyOf: _anyOf, ...rest } = out;
  return { ...rest, ...merged, type: types };
}
