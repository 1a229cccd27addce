import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import type { DashboardDuties } from "../../app/dashboard-duties.js";
import type { AuditRecord } from "../../app/dashboard-ports.js";
import type { RolloutController } from "../../app/rollout-controller.js";
import type { PolicyRegistry } from "../../bandit/policy-registry.js";
import { type Clock, toIso } from "../../core/clock.js";
import { LoopwiseError, validationError } from "../../core/errors.js";
import { parseOrThrow } from "../../core/validate.js";
import {
  bucketize,
  liftView,
  MAX_POINTS,
  resolveWindow,
  STEPS,
  seriesView,
  TIMESERIES_METRICS,
} from "../../dashboard/timeseries.js";
import { idSchema, timeSchema } from "../../events/event-schema.js";

/** Epoch milliseconds arrive as digits in a query string. */
const queryTime = z.preprocess((v) => (typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v), timeSchema);

export const timeseriesQuerySchema = z.strictObject({
  /** The policy whose decisions to chart (exactly one of policy and rollout). */
  policy: idSchema.optional(),
  /** The rollout whose two arms to chart, with the lift between them. */
  rollout: idSchema.optional(),
  metric: z.enum(TIMESERIES_METRICS).default("ctr"),
  /** ISO-8601 or epoch ms; default: `to` minus one day. */
  from: queryTime.optional(),
  /** ISO-8601 or epoch ms, exclusive; default: now. */
  to: queryTime.optional(),
  /** Default: minute up to a day, hour up to 60 days, else day. */
  step: z.enum(Object.keys(STEPS) as ["minute", "hour", "day"]).optional(),
});

export interface TimeseriesDeps {
  dashboard: DashboardDuties;
  clock: Clock;
  policies: PolicyRegistry;
  rollouts?: RolloutController;
}

/**
 * `GET /v1/timeseries`: a metric over time for one policy, or for both arms of a rollout with the lift
 * between them, from the per-minute aggregates (app/minute-aggregates.ts), with the audit timeline's
 * entries about it as markers (stage changes, controller decisions with reasons, admin actions).
 */
export function timeseriesRoutes(deps: TimeseriesDeps): FastifyPluginAsync {
  return async (app) => {
    app.get("/v1/timeseries", async (req, reply) => {
      const q = parseOrThrow(timeseriesQuerySchema, req.query ?? {}, "query");
      if ((q.policy === undefined) === (q.rollout === undefined)) {
        const message = "give exactly one of policy and rollout";
        throw validationError([
          { path: "query.policy", message },
          { path: "query.rollout", message },
        ]);
      }
      const w = resolveWindow(deps.clock.now(), q);
      if (q.from !== undefined && q.to !== undefined && q.from >= q.to) {
        throw validationError([{ path: "query.from", message: "must be before to" }]);
      }
      if ((w.to - w.from) / w.stepMs > MAX_POINTS) {
        throw validationError([
          {
            path: "query.step",
            message: `${w.step} steps over this window give more than ${MAX_POINTS} points; use a larger step or a shorter window`,
          },
        ]);
      }
      reply.header("cache-control", "no-store");
      const body =
        q.policy !== undefined
          ? await policySeries(deps, q.policy, q.metric, w)
          : await rolloutSeries(deps, q.rollout as string, q.metric, w);
      return {
        metric: q.metric,
        step: w.step,
        from: toIso(w.from),
        to: toIso(w.to),
        ...body,
      };
    });
  };
}

type Window = ReturnType<typeof resolveWindow>;
type Metric = (typeof TIMESERIES_METRICS)[number];

async function policySeries(deps: TimeseriesDeps, policy: string, metric: Metric, w: Window) {
  const series = `policy:${policy}`;
  const rows = deps.dashboard.aggregates.range(series, w.from, w.to);
  if (!deps.policies.find(policy) && !deps.dashboard.aggregates.seriesNames().includes(series)) {
    throw new LoopwiseError("POLICY_NOT_FOUND", `policy "${policy}" is not registered and has no recorded decisions`);
  }
  const steps = bucketize(rows, w.from, w.to, w.stepMs);
  const markers = await markersOf(deps, { targetKind: "policy", targetId: policy }, w);
  return {
    policy,
    rollout: null,
    series: [seriesView("policy", policy, steps, w.from, w.stepMs, metric)],
    lift: null,
    markers,
  };
}

async function rolloutSeries(deps: TimeseriesDeps, id: string, metric: Metric, w: Window) {
  const rollout = await deps.rollouts?.get(id);
  if (!rollout) throw new LoopwiseError("ROLLOUT_NOT_FOUND", `rollout ${id} not found`);
  const arms = (["candidate", "incumbent"] as const).map((arm) =>
    bucketize(deps.dashboard.aggregates.range(`rollout:${id}:${arm}`, w.from, w.to), w.from, w.to, w.stepMs),
  );
  const [candidate, incumbent] = arms as [ReturnType<typeof bucketize>, ReturnType<typeof bucketize>];
  const markers = await markersOf(deps, { targetKind: "rollout", targetId: id }, w);
  return {
    policy: null,
    rollout: { id, candidate: rollout.candidate, incumbent: rollout.incumbent, status: rollout.status },
    series: [
      seriesView("candidate", rollout.candidate, candidate, w.from, w.stepMs, metric),
      seriesView("incumbent", rollout.incumbent, incumbent, w.from, w.stepMs, metric),
    ],
    lift: liftView(candidate, incumbent, w.from, w.stepMs, metric),
    markers,
  };
}

/** At most this many markers per answer (oldest first); the audit route pages through the rest. */
const MAX_MARKERS = 1000;

async function markersOf(
  deps: TimeseriesDeps,
  target: { targetKind: "policy" | "rollout"; targetId: string },
  w: Window,
) {
  const entries = await deps.dashboard.audit.list({
    ...target,
    from: w.from,
    to: w.to,
    ascending: true,
    limit: MAX_MARKERS,
  });
  return entries.map(markerOf);
}

/** A timeline entry as a marker on the time axis: a stage boundary, a controller decision, or an admin action. */
export function markerOf(e: AuditRecord) {
  const d = e.details ?? {};
  const stageChanged = typeof d.toStage === "number" && d.fromStage !== d.toStage;
  return {
    at: toIso(e.at),
    seq: e.seq,
    kind: stageChanged ? "stage" : e.actor.scope === "controller" ? "decision" : "action",
    action: e.action,
    actor: e.actor,
    summary: e.summary,
    fromStage: typeof d.fromStage === "number" ? d.fromStage : null,
    toStage: typeof d.toStage === "number" ? d.toStage : null,
    reasons: Array.isArray(d.reasons) ? d.reasons : [],
  };
}
