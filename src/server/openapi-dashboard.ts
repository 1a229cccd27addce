import { z } from "zod";
import { evaluationJobSchema } from "./api-responses.js";
import type { Operation } from "./openapi-operations.js";
import { auditQuerySchema } from "./routes/audit.js";
import { timeseriesQuerySchema } from "./routes/timeseries.js";

const interval = z.tuple([z.number(), z.number()]).nullable();
const estimate = z.object({
  value: z.number().nullable().describe("null: no data yet"),
  interval: interval.describe("95 %: Wilson for rates (within [0, 1]), normal approximation for revenue per session"),
  count: z.number().int().describe("decisions (ctr) or sessions (conversion, revenuePerSession)"),
  sum: z.number().describe("rewarded decisions, converting sessions, or revenue"),
});
const series = z.object({
  name: z.string().describe("`policy`, or `candidate` / `incumbent`"),
  policy: z.string(),
  points: z.array(estimate.extend({ t: z.string().describe("start of the step (ISO-8601)") })),
  total: estimate,
});
const liftValue = z.object({ value: z.number().nullable(), interval });
const actor = z.object({
  name: z.string().nullable(),
  scope: z.enum(["client", "read", "admin", "controller", "cli"]).nullable(),
});
const marker = z.object({
  at: z.string(),
  seq: z.number().int(),
  kind: z.enum(["stage", "decision", "action"]),
  action: z.string(),
  actor,
  summary: z.string(),
  fromStage: z.number().nullable(),
  toStage: z.number().nullable(),
  reasons: z.array(z.record(z.string(), z.unknown())),
});

export const timeseriesResponseSchema = z.object({
  metric: z.enum(["ctr", "conversion", "revenuePerSession"]),
  step: z.enum(["minute", "hour", "day"]),
  from: z.string(),
  to: z.string(),
  policy: z.string().nullable(),
  rollout: z.object({ id: z.string(), candidate: z.string(), incumbent: z.string(), status: z.string() }).nullable(),
  series: z.array(series),
  lift: z
    .object({ points: z.array(liftValue.extend({ t: z.string() })), total: liftValue })
    .nullable()
    .describe("candidate / incumbent − 1 (rollouts only)"),
  markers: z.array(marker),
});

export const auditEntrySchema = z.object({
  seq: z.number().int(),
  at: z.string(),
  actor,
  action: z.string(),
  target: z.object({ kind: z.enum(["policy", "rollout", "evaluation", "model", "key"]), id: z.string() }),
  summary: z.string(),
  details: z.record(z.string(), z.unknown()).nullable(),
});

export const auditResponseSchema = z.object({
  entries: z.array(auditEntrySchema),
  next: z.number().int().nullable().describe("pass as `before` for the next (older) page; null on the last"),
});

export const evaluationListSchema = z.object({
  evaluations: z.array(evaluationJobSchema.omit({ result: true }).extend({ hasResult: z.boolean() })),
});

export const policyTemplatesSchema = z.object({
  templates: z.array(
    z.object({
      name: z.string().describe("`default` (the product default) or a policy type"),
      description: z.string(),
      explores: z.boolean(),
      spec: z.object({
        type: z.string(),
        params: z.record(z.string(), z.unknown()).optional(),
        features: z.record(z.string(), z.unknown()).optional(),
      }),
      params: z.record(z.string(), z.unknown()).describe("the parameters it runs with, defaults filled in"),
    }),
  ),
});

/** The dashboard's read routes (routes/timeseries.ts, routes/audit.ts) and the lists its controls need. */
export const dashboardOperations: Operation[] = [
  {
    operationId: "listEvaluations",
    method: "get",
    path: "/v1/evaluations",
    tag: "evaluations",
    summary: "Evaluation jobs kept, newest first: status and progress, without results",
    success: { status: 200, schema: evaluationListSchema },
  },
  {
    operationId: "listPolicyTemplates",
    method: "get",
    path: "/v1/policy-templates",
    tag: "policies",
    summary: "Built-in specs to register a policy from: the product default and every policy type",
    success: { status: 200, schema: policyTemplatesSchema },
  },
  {
    operationId: "getTimeseries",
    method: "get",
    path: "/v1/timeseries",
    tag: "dashboard",
    summary:
      "A metric over time for a policy, or both arms of a rollout with the lift, with 95 % intervals and markers",
    query: timeseriesQuerySchema,
    success: { status: 200, schema: timeseriesResponseSchema },
  },
  {
    operationId: "getAudit",
    method: "get",
    path: "/v1/audit",
    tag: "dashboard",
    summary: "The audit timeline: admin actions (with the key's name) and controller decisions, newest first",
    query: auditQuerySchema,
    success: { status: 200, schema: auditResponseSchema },
  },
];
