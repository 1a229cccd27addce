import type { z } from "zod";
import { type FieldError, validationError } from "./errors.js";

/** Turns zod issues into our field errors: `path` as `a.b[2].c`, message saying what was expected. */
export function toFieldErrors(issues: readonly z.core.$ZodIssue[], prefix = ""): FieldError[] {
  return issues.map((issue) => ({ path: formatPath(prefix, issue.path), message: issue.message }));
}

export function formatPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** Validates at the boundary; throws VALIDATION_FAILED naming every bad field. */
export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, prefix = ""): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(toFieldErrors(result.error.issues, prefix));
  return result.data;
}
