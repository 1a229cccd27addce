import Fastify, { type FastifyInstance } from "fastify";
import type { Engine } from "../app/engine.js";
import type { ApiKeys } from "../core/api-key.js";
import type { DutyRunner } from "../duties/duty-runner.js";
import { installAuth } from "./auth.js";
import { clientErrorHandler, errorHandler, problem, sendProblem } from "./problem.js";

/**
 * The HTTP face of a worker process (role worker): no v1 API, only what an orchestrator and Prometheus ask.
 * `/healthz`: the process and its log store are fine. `/readyz`: 200 once the duty runner is ticking its leases
 * (a standby is ready too: holding a duty is not readiness), with the duties this worker holds. `/metrics`: the
 * engine's registry, duty metrics included, with a read key as on an API node (route-scopes.ts).
 */
export async function buildWorkerServer(
  engine: Engine,
  runner: () => DutyRunner | undefined,
  keys?: ApiKeys,
): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, frameworkErrors: errorHandler(engine.parts.logger), clientErrorHandler });
  app.setErrorHandler(errorHandler(engine.parts.logger));
  app.setNotFoundHandler((req, reply) =>
    sendProblem(
      reply,
      problem("NOT_FOUND", `no route ${req.method} ${req.url.split("?")[0]} on a worker (role worker)`),
    ),
  );
  app.get("/healthz", async (_req, reply) => {
    const health = engine.health();
    const uptimeSeconds = Math.round(process.uptime());
    if (health.ok) return { status: "ok", role: "worker", uptimeSeconds };
    return reply.code(503).send({ status: "unhealthy", reason: health.reason, uptimeSeconds });
  });
  app.get("/readyz", async (_req, reply) => {
    const health = engine.health();
    const duties = runner();
    const holds = duties ? duties.names.filter((name) => duties.holds(name)) : [];
    if (health.ok && duties) return { status: "ready", role: "worker", holds };
    return reply.code(503).send({ status: "unready", reason: health.reason ?? "duties not started", holds });
  });
  // The probes are open (an orchestrator has no key); /metrics needs a read key as on an API node. The auth hook
  // lives in a child context so it covers /metrics only (route-scopes.ts lists the API node's routes).
  await app.register(async (scoped) => {
    installAuth(scoped, keys);
    scoped.get("/metrics", async (_req, reply) => {
      reply.type(engine.metrics.registry.contentType);
      return engine.metrics.registry.metrics();
    });
  });
  return app;
}
