import type { FastifyPluginAsync } from "fastify";
import type { RolloutController } from "../../app/rollout-controller.js";
import { summarizeRollout } from "../../app/rollout-view.js";
import { adminGuard } from "../admin-guard.js";

interface IdParams {
  id: string;
}

/**
 * Rollouts under /v1/rollouts (issue 7). Every route is an admin route: `authorization: Bearer <adminKey>`.
 * Start, list, show live status (stage, shares, per-arm metrics with intervals, guardrails, history), and
 * the manual controls pause, resume, advance, abort. Transitions answer with the rollout's full status.
 */
export function rolloutsRoutes(deps: { controller: RolloutController; adminKey: string }): FastifyPluginAsync {
  const { controller } = deps;
  const { onRequest: requireAdmin } = adminGuard(deps.adminKey);
  const manual = {
    pause: (id: string) => controller.pause(id),
    resume: (id: string) => controller.resume(id),
    advance: (id: string) => controller.advance(id),
    abort: (id: string) => controller.abort(id),
  } as const;

  return async (app) => {
    // Per route, not addHook: the guard must hold even if the plugin is registered unencapsulated.
    const admin = { onRequest: requireAdmin };
    app.post("/v1/rollouts", admin, async (req, reply) => {
      const rollout = await controller.start(req.body);
      reply.code(201);
      return controller.view(rollout.id);
    });
    app.get("/v1/rollouts", admin, async () => ({ rollouts: (await controller.list()).map(summarizeRollout) }));
    app.get<{ Params: IdParams }>("/v1/rollouts/:id", admin, async (req) => controller.view(req.params.id));
    for (const [action, run] of Object.entries(manual)) {
      app.post<{ Params: IdParams }>(`/v1/rollouts/:id/${action}`, admin, async (req) => {
        await run(req.params.id);
        return controller.view(req.params.id);
      });
    }
  };
}
