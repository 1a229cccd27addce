import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { rolloutDetails } from "../../app/audit-log.js";
import type { RolloutController } from "../../app/rollout-controller.js";
import { OPTIONAL_BODY } from "../json-body.js";
import { describeRollout, summarizeRollout } from "../rollout-view.js";
import type { RecordAction } from "./audit.js";

interface IdParams {
  id: string;
}

/**
 * Rollouts under /v1/rollouts (issue 7). Every route needs an admin key (server/route-scopes.ts).
 * Start, list, show live status (stage, shares, per-arm metrics with intervals, guardrails, history), and
 * the manual controls pause, resume, advance, abort. Transitions answer with the rollout's full status.
 */
export function rolloutsRoutes(deps: { controller: RolloutController; record?: RecordAction }): FastifyPluginAsync {
  const { controller } = deps;
  /** The admin transition just made, with the controller's own audit facts (stages, reasons, statistics). */
  const audit = async (req: FastifyRequest, id: string, action: string, summary: string) => {
    const last = (await controller.history(id)).at(-1);
    await deps.record?.(req, {
      action: `rollout.${action}`,
      target: { kind: "rollout", id },
      summary,
      ...(last ? { details: rolloutDetails(last) } : {}),
    });
  };
  const manual = {
    pause: (id: string) => controller.pause(id),
    resume: (id: string) => controller.resume(id),
    advance: (id: string) => controller.advance(id),
    abort: (id: string) => controller.abort(id),
  } as const;

  return async (app) => {
    app.post("/v1/rollouts", async (req, reply) => {
      const rollout = await controller.start(req.body);
      await audit(
        req,
        rollout.id,
        "create",
        `created rollout of "${rollout.candidate}" against "${rollout.incumbent}" (stages ${rollout.config.stages.join(" → ")} %)`,
      );
      reply.code(201);
      return describeRollout(await controller.status(rollout.id));
    });
    app.get("/v1/rollouts", async () => ({ rollouts: (await controller.list()).map(summarizeRollout) }));
    app.get<{ Params: IdParams }>("/v1/rollouts/:id", async (req) =>
      describeRollout(await controller.status(req.params.id)),
    );
    for (const [action, run] of Object.entries(manual)) {
      app.post<{ Params: IdParams }>(`/v1/rollouts/:id/${action}`, OPTIONAL_BODY, async (req) => {
        const r = await run(req.params.id);
        await audit(
          req,
          r.id,
          action,
          `${action}: rollout of "${r.candidate}" is ${r.status} at ${Math.round(r.candidateShare * 100)} %`,
        );
        return describeRollout(await controller.status(req.params.id));
      });
    }
  };
}
