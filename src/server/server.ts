import Fastify, { type FastifyInstance, type FastifyPluginAsync } from "fastify";
import { type Engine, joinConfigOf } from "../app/engine.js";
import { defaultPolicyResolver, runEvaluation } from "../app/evaluate.js";
import { openApiDocument } from "./openapi.js";
import { errorHandler, problem, sendProblem } from "./problem.js";
import { coreRoutes } from "./routes/core.js";
import { dashboardRoutes } from "./routes/dashboard.js";
import { evaluationsRoutes } from "./routes/evaluations.js";
import { featuresRoutes } from "./routes/features.js";
import { personalizerRoutes, subscriptionKeyAsBearer } from "./routes/personalizer.js";
import { policiesRoutes } from "./routes/policies.js";
import { recommendationsRoutes } from "./routes/recommendations.js";
import { rolloutsRoutes } from "./routes/rollouts.js";

export interface ServerOptions {
  /** Extra route plugins (features, recommendations, policies, evaluations, rollouts, dashboard). */
  plugins?: FastifyPluginAsync[];
}

/** The HTTP face of an engine: v1 routes, problem-details errors, metrics, health and OpenAPI. */
export async function buildServer(engine: Engine, options: ServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    // Request logging is off (it costs more than the rank itself); errors are logged by the handler below.
    logger: false,
    bodyLimit: engine.config.bodyLimitBytes,
    return503OnClosing: true,
  });
  app.setErrorHandler(errorHandler(engine.parts.logger));
  // Before any key check: Personalizer clients send their key as Ocp-Apim-Subscription-Key.
  app.addHook("onRequest", subscriptionKeyAsBearer);
  const routes: string[] = [];
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) if (method !== "HEAD") routes.push(`${method} ${route.url}`);
  });
  app.decorate("loopwiseRoutes", routes);
  app.setNotFoundHandler((req, reply) =>
    sendProblem(reply, problem("NOT_FOUND", `no route ${req.method} ${req.url.split("?")[0]}; see /v1/openapi.json`)),
  );
  const { httpRequests, httpDuration } = engine.metrics;
  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url ?? "unmatched";
    httpRequests.inc({ route, method: req.method, status: String(reply.statusCode) });
    httpDuration.observe({ route, method: req.method }, reply.elapsedTime / 1000);
  });
  app.get("/healthz", async () => ({ status: "ok", uptimeSeconds: Math.round(process.uptime()) }));
  app.get("/metrics", async (_req, reply) => {
    reply.type(engine.metrics.registry.contentType);
    return engine.metrics.registry.metrics();
  });
  const openapi = openApiDocument();
  app.get("/v1/openapi.json", async () => openapi);
  await app.register(coreRoutes(engine));
  await app.register(personalizerRoutes(engine));
  const { features } = engine.parts;
  if (features) await app.register(featuresRoutes({ store: features, clock: engine.clock }));
  const { recommender } = engine;
  if (recommender) {
    await app.register(
      recommendationsRoutes({
        holder: recommender.holder,
        sessionItems: async (userId) =>
          features ? (await features.read(userId, engine.clock.now())).sessionItems : [],
        isAvailable: (id) => engine.parts.catalog.size() === 0 || engine.parts.catalog.isAvailable(id),
        train: async () => ({ version: (await recommender.train()).version }),
        adminKey: engine.adminKey,
      }),
    );
  }
  await app.register(
    evaluationsRoutes({
      clock: engine.clock,
      runEvaluation: (request, onProgress) =>
        runEvaluation(
          request,
          {
            decisions: engine.decisions,
            joinConfig: joinConfigOf(engine.config),
            clock: engine.clock,
            resolvePolicy: defaultPolicyResolver(engine.parts.policies),
          },
          onProgress,
        ),
    }),
  );
  await app.register(
    policiesRoutes({
      registry: engine.parts.policies,
      adminKey: engine.adminKey,
      warmStart: (policy, range) => engine.warmStart(policy, range),
    }),
  );
  await app.register(dashboardRoutes({ parts: engine.parts, model: () => engine.recommender?.holder.current() }));
  const { rollouts } = engine.parts;
  if (rollouts) await app.register(rolloutsRoutes({ controller: rollouts, adminKey: engine.adminKey }));
  for (const plugin of options.plugins ?? []) await app.register(plugin);
  return app;
}
