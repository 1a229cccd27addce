import type { FastifyPluginAsync } from "fastify";
import type { RolloutController } from "../../app/rollout-controller.js";
import { summarizeRollout } from "../../app/rollout-view.js";

interface IdParams {
  id: string;
}

/**
 * Rollouts under /v1/rollouts (issue 7). Every route needs an admin key (server/route-scopes.ts).
 * Start, list, show live status (stage, shares, per-arm metrics with intervals, guardrails, history), and
 * the manual controls pause, resume, advance, abort. Transitions answer with the rollout's full status.
 */
export function rolloutsRoutes(deps: { controller: RolloutController }): FastifyPluginAsync {
  const { controller } = deps;
  const manual = {
    pause: (id: string) => controller.pause(id),
    resume: (id: string) => controller.resume(id),
    advance: (id: string) => controller.advance(id),
    abort: (id: string) => controller.abort(id),
  } as const;

  return async (app) => {
    app.post("/v1/rollouts", async (req, reply) => {
      const rollout = await controller.start(req.body);
      reply.code(201);
      return controller.view(rollout.id);
    });
    app.get("/v1/rollouts", async () => ({ rollouts: (await controller.list()).map(summarizeRollout) }));
    app.get<{ Params: IdParams }>("/v1/rollouts/:id", async (req) => controller.view(req.params.id));
    for (const [action, run] of Object.entries(manual)) {
      app.post<{ Params: IdParams }>(`/v1/rollouts/:id/${action}`, async (req) => {
        await run(req.params.id);
        return controller.view(req.params.id);
      });
    }
  };
}
