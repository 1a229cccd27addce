import { z } from "zod";
import { parseDuration } from "../../core/clock.js";

/**
 * A scenario: every parameter of the simulated shop. Validated with zod; every field has a default, so `{}`
 * is the `default` shop, in which a personalized policy clearly beats popularity (users' category tastes
 * differ by segment by much more than items' popularity differs).
 */
const catalogSchema = z.object({
  items: z.number().int().min(4).max(100_000).default(200),
  categories: z.number().int().min(2).max(64).default(8),
  /** Median price; prices are log-normal around a per-category level. */
  priceMedian: z.number().positive().default(40),
  /** Standard deviation of log price within a category. */
  priceSpread: z.number().min(0).max(3).default(0.5),
  /** Zipf exponent of item popularity (0 = all equally popular). */
  popularityExponent: z.number().min(0).max(3).default(0.8),
});

const usersSchema = z.object({
  count: z.number().int().min(1).max(1_000_000).default(2000),
  /** Observable customer segments (sent as context.segment); each has its own category tastes. */
  segments: z.number().int().min(1).max(64).default(4),
  /** Spread of segment-level category affinities (logit scale). */
  segmentAffinitySd: z.number().min(0).max(5).default(1.5),
  /** Spread of each user's own deviation from the segment (logit scale). */
  individualAffinitySd: z.number().min(0).max(5).default(0.5),
  /** Mean and spread of price sensitivity (logit drop per unit of log(price / median)). */
  priceSensitivityMean: z.number().default(0.6),
  priceSensitivitySd: z.number().min(0).default(0.3),
  /** Share of users who browse mostly on mobile; mobile visits are more price-sensitive. */
  mobileShare: z.number().min(0).max(1).default(0.6),
  /** How strongly a user's visits concentrate around their peak hour (von Mises concentration). */
  hourConcentration: z.number().min(0).max(10).default(1.5),
});

const clicksSchema = z.object({
  /** Logit of the attractiveness of an average item for an average user. */
  baseLogit: z.number().default(-2.2),
  /** Weight of standardized log popularity on attractiveness. */
  popularityWeight: z.number().default(0.4),
  /** Standard deviation of the fixed user×item idiosyncratic term. */
  noiseSd: z.number().min(0).default(0.3),
  /** Position-based model: examination probability of position k is 1 / (k + 1)^positionDecay. */
  positionDecay: z.number().min(0).max(5).default(1),
  /** Amplitude of the categories' time-of-day pattern (logit). */
  hourAmplitude: z.number().min(0).default(0.3),
  /** Amplitude of slow weekly drift of segment tastes (logit); 0 = stationary. */
  drift: z.number().min(0).default(0),
});

const purchaseSchema = z.object({
  /** Logit of P(add to cart | click) for an average item. */
  cartBaseLogit: z.number().default(-1),
  cartAffinityWeight: z.number().default(0.5),
  /** P(purchase | add to cart). */
  purchaseGivenCart: z.number().min(0).max(1).default(0.5),
});

const sessionsSchema = z.object({
  /**
   * Session arrivals per simulated day (Poisson process, modulated by hour of day). 200 a day (~600 rank
   * requests) keeps 14 simulated days against the in-process engine under a minute on a shared 2-core box.
   */
  perDay: z.number().positive().max(10_000_000).default(200),
  /** Mean number of pages (each one a rank request) per session (geometric). */
  meanPages: z.number().min(1).max(100).default(3),
  slots: z.number().int().min(1).max(50).default(4),
  /** Candidates sent with each rank request; 0 lets the engine generate them. */
  candidates: z.number().int().min(0).max(1000).default(20),
  /** `random`: candidates drawn at random; `paired`: [incumbent pick, a pick with a set true CTR ratio]. */
  candidateMode: z.enum(["random", "paired"]).default("random"),
  thinkTimeSeconds: z.number().positive().default(20),
  clickDelaySeconds: z.number().positive().default(4),
  cartDelaySeconds: z.number().positive().default(30),
  purchaseDelaySeconds: z.number().positive().default(120),
  /**
   * 0 (default): each event is posted when it happens (a page's view before its rank request). > 0: the shop's
   * tracker holds events and posts them together at most this long after the first one waiting (one request
   * for many events), for shops whose policies read no fresh features (driver/event-outbox.ts).
   */
  eventBatchSeconds: z.number().min(0).max(600).default(0),
});

const policySpecSchema = z.object({
  id: z.string().min(1),
  type: z.string().min(1),
  params: z.record(z.string(), z.unknown()).optional(),
  features: z.record(z.string(), z.unknown()).optional(),
});

const rolloutSchema = z.object({
  incumbent: policySpecSchema,
  candidate: policySpecSchema,
  /** True CTR of the candidate relative to the incumbent that `paired` candidates are built to produce. */
  ctrRatio: z.number().positive().default(1),
  /** Extra fields passed to POST /v1/rollouts (stages, minHold, guardrails...); empty = the default plan. */
  plan: z.record(z.string(), z.unknown()).default({}),
  /**
   * Start the rollout after this much traffic ("2d", or ms): until then the incumbent serves everyone, as the
   * default policy would in production, so the rollout's OPE gate has a log to read. Default: at once.
   */
  startAfter: z
    .union([z.string(), z.number().nonnegative()])
    .optional()
    .refine((v) => v === undefined || isDuration(v), 'must be a duration such as "2d", "36h" or milliseconds'),
});

export const scenarioSchema = z.object({
  name: z.string().default("custom"),
  description: z.string().default(""),
  seed: z.number().int().default(42),
  /** Simulated days for in-process runs when the command line does not say. */
  days: z.number().positive().max(365).default(14),
  catalog: catalogSchema.prefault({}),
  users: usersSchema.prefault({}),
  clicks: clicksSchema.prefault({}),
  purchase: purchaseSchema.prefault({}),
  sessions: sessionsSchema.prefault({}),
  /** Policies registered before traffic starts. */
  policies: z.array(policySpecSchema).default([]),
  /** Policy ids forced per user (sticky hash split); empty = the engine's default policy serves. */
  split: z.array(z.string()).default([]),
  rollout: rolloutSchema.optional(),
  /**
   * Engine configuration (the config file's keys, e.g. `{ "recommend": { "retrainEvery": "30d" } }`) for the
   * engine an in-process run creates; checked by the engine's own config schema when it starts. A run against a
   * server (`--target`) ignores it: that server has its own configuration.
   */
  engine: z.record(z.string(), z.unknown()).default({}),
});

export type Scenario = z.infer<typeof scenarioSchema>;
export type ScenarioInput = z.input<typeof scenarioSchema>;
export type SimPolicySpec = z.infer<typeof policySpecSchema>;

function isDuration(v: string | number): boolean {
  try {
    return parseDuration(v) >= 0;
  } catch {
    return false;
  }
}
