import { z } from "zod";
import { parseOrThrow } from "../core/validate.js";
import { DEFAULT_ENCODER, type EncoderOptions } from "./encoder.js";
import type { PolicySpec } from "./policy.js";

/**
 * Spec validation shared by the policies: each type declares a zod schema for its `params` (with
 * defaults, strict so a typo is an error) and every type shares the `features` schema of the encoder.
 */
/**
 * Documented maxima of a policy spec (issue 14): a spec is user input (POST /v1/policies, evaluation
 * targets), and its sizes are memory. The shared model holds ~4 doubles per hashed slot (mean, variance and
 * their serving copies): 2^22 slots ≈ 128 MB. A Thompson/Beta pool holds up to cacheSize × poolSize × topK
 * float32 scores: at most POOL_BUDGET (2^26, 256 MB). Per-arm models (disjoint, hybrid) hold armDims² doubles
 * per arm: at most ARM_BUDGET_BYTES over maxArms arms.
 */
export const SPEC_LIMITS = {
  dims: 1 << 22,
  armDims: 256,
  maxArms: 100_000,
  poolSize: 4096,
  cacheSize: 65_536,
  topK: 100,
  refreshEvery: 1_000_000,
  poolBudget: 1 << 26,
  armBudgetBytes: 2 ** 31,
} as const;

const powerOfTwo = z
  .number()
  .int()
  .min(2)
  .max(SPEC_LIMITS.dims)
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

/** The sample-pool parameters shared by Thompson and Beta-Bernoulli, with their maxima. */
export const poolParams = {
  /** Posterior samples per context (M): propensity resolution 1/M. */
  poolSize: z.number().int().min(1).max(SPEC_LIMITS.poolSize).default(64),
  /** Updates between pool refreshes (epochs). */
  refreshEvery: z.number().int().min(1).max(SPEC_LIMITS.refreshEvery).default(10),
  /** Contexts whose pools are cached. */
  cacheSize: z.number().int().min(1).max(SPEC_LIMITS.cacheSize).default(1024),
  /** Top candidates kept per sample (slots usually filled; the config default is 10). Later slots scan. */
  topK: z.number().int().min(1).max(SPEC_LIMITS.topK).default(10),
};

/** cacheSize × poolSize × topK scores at most (SPEC_LIMITS.poolBudget): a refinement for pool schemas. */
export function checkPoolBudget(p: { poolSize: number; cacheSize: number; topK: number }, ctx: z.RefinementCtx): void {
  const scores = p.poolSize * p.cacheSize * p.topK;
  if (scores > SPEC_LIMITS.poolBudget) {
    ctx.addIssue({
      code: "custom",
      path: ["cacheSize"],
      message: `cacheSize × poolSize × topK is ${scores}; at most ${SPEC_LIMITS.poolBudget} pooled scores are allowed`,
    });
  }
}
