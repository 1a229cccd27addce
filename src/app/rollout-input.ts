import { z } from "zod";
import { parseDuration } from "../core/clock.js";
import { parseOrThrow } from "../core/validate.js";
import { idSchema } from "../events/event-schema.js";
import type { CreateRolloutInput } from "./rollout-controller.js";

/** A create request as sent: the incumbent may be left to the controller (the default policy). */
export type CreateRolloutRequest = Omit<CreateRolloutInput, "incumbent"> & { incumbent?: string };

const policyId = idSchema;
const duration = z.union([
  z.number().nonnegative(),
  z.string().regex(/^\d+(\.\d+)?(ms|s|m|h|d)?$/, "a duration such as 30m, 24h or 2d, or milliseconds"),
]);
const fraction = z.number().gt(0).lt(1);
const guardrail = z.union([
  z.number().min(0).lt(1),
  z.strictObject({ enabled: z.boolean().optional(), maxRelativeDrop: z.number().min(0).lt(1).optional() }),
]);

/** The body of POST /v1/rollouts (also what `loopwise rollout start` sends). */
export const createRolloutBody = z.strictObject({
  candidate: policyId,
  /** The policy serving now; absent: the default policy (GET /v1/policies `default`) when the rollout starts. */
  incumbent: policyId.optional(),
  /** Bucketing salt (default: the rollout's id): the same salt gives the same split of users (rollout-types.ts). */
  salt: idSchema.optional(),
  /** Candidate percentages, increasing, e.g. [1, 10, 50, 100]. */
  stages: z.array(z.number().gt(0).max(100)).min(1).optional(),
  /** Minimum hold per stage: "24h", "30m" or milliseconds. */
  minHold: duration.optional(),
  minSamplePerArm: z.number().int().nonnegative().optional(),
  /** Per metric: a maximum tolerated relative drop (0.02 = 2 %), or { enabled, maxRelativeDrop }. */
  guardrails: z
    .strictObject({
      ctr: guardrail.optional(),
      conversion: guardrail.optional(),
      revenuePerSession: guardrail.optional(),
    })
    .optional(),
  falseAlarmRate: fraction.optional(),
  srmPValue: fraction.optional(),
  srmTest: z.enum(["sequential", "chi-square"]).optional(),
  minSessionsForTest: z.number().int().nonnegative().optional(),
  minExpectedEvents: z.number().nonnegative().optional(),
  csTuningStderr: fraction.optional(),
  opeGate: z
    .union([z.boolean(), z.strictObject({ enabled: z.boolean().optional(), tolerance: z.number().min(0).optional() })])
    .optional(),
});
export type CreateRolloutBody = z.infer<typeof createRolloutBody>;

/** Validates a request body (VALIDATION_FAILED with field errors) and maps it to the controller's input. */
export function parseCreateRollout(body: unknown): CreateRolloutRequest {
  const b = parseOrThrow(createRolloutBody, body);
  const { minHold, guardrails, ...rest } = b;
  const input: CreateRolloutRequest = { ...rest };
  if (minHold !== undefined) input.minHoldMs = parseDuration(minHold);
  if (guardrails) {
    input.guardrails = {};
    for (const [metric, g] of Object.entries(guardrails) as [keyof typeof guardrails, z.infer<typeof guardrail>][]) {
      if (g !== undefined) input.guardrails[metric] = typeof g === "number" ? { maxRelativeDrop: g } : g;
    }
  }
  return input;
}
