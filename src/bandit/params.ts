import { z } from "zod";
import { parseOrThrow } from "../core/validate.js";
import { DEFAULT_ENCODER, type EncoderOptions } from "./encoder.js";
import type { PolicySpec } from "./policy.js";

/**
 * Spec validation shared by the policies: each type declares a zod schema for its `params` (with
 * defaults, strict so a typo is an error) and every type shares the `features` schema of the encoder.
 */
const powerOfTwo = z
  .number()
  .int()
  .min(2)
  .max(1 << 26)
  .refine((d) => (d & (d - 1)) === 0, { message: "must be a power of two" });

export const featuresSchema = z
  .strictObject({
    dims: powerOfTwo.optional(),
    interactions: z.boolean().optional(),
    id: z.boolean().optional(),
    score: z.boolean().optional(),
    /** Numeric transform (encoder.ts `numeric`): "raw" (default) or "symlog". */
    numeric: z.enum(["raw", "symlog"]).optional(),
    /** Which feature-store aggregates the policy reads (encoder.ts `profile`): "all" (default), "none" or names/prefixes*. */
    profile: z
      .union([z.enum(["all", "none"]), z.array(z.string().regex(/^[^*]+\*?$/, "a name, or a prefix ending in *"))])
      .optional(),
  })
  .optional();

export function parseParams<T extends z.ZodType>(schema: T, spec: PolicySpec): z.infer<T> {
  return parseOrThrow(schema, spec.params ?? {}, "params");
}

export function parseFeatures(spec: PolicySpec): EncoderOptions {
  const f = parseOrThrow(featuresSchema, spec.features, "features") ?? {};
  return {
    dims: f.dims ?? DEFAULT_ENCODER.dims,
    interactions: f.interactions ?? DEFAULT_ENCODER.interactions,
    id: f.id ?? DEFAULT_ENCODER.id,
    score: f.score ?? DEFAULT_ENCODER.score,
    numeric: f.numeric ?? DEFAULT_ENCODER.numeric,
    profile: f.profile ?? DEFAULT_ENCODER.profile,
  };
}

/** Probability in [0, 1). */
export const probability = z.number().min(0).lt(1);
export const positive = z.number().positive();
