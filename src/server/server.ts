import Fastify, { type FastifyInstance, type FastifyPluginAsync, type onResponseHookHandler } from "fastify";
import { openConfiguredApiKeys } from "../app/api-keys.js";
import { type Engine, joinConfigOf, publishesToStream } from "../app/engine.js";
import { runEvaluationIsolated } from "../app/evaluate-isolated.js";
import { requestRetrain } from "../app/retrain-request.js";
import type { ApiKeys } from "../core/api-key.js";
import { addRouteHook, installAuth } from "./auth.js";
import { installJsonBodyParser } from "./json-body.js";
import { openApiDocument } from "./openapi.js";
import { validatePathIds } from "./path-ids.js";
import { clientErrorHandler, errorHandler, problem, sendProblem } from "./problem.js";
import { installRateLimit } from "./rate-limit.js";
import { actionRecorder, auditRoutes } from "./routes/audit.js";
import { coreRoutes } from "./routes/core.js";
import { dashboardRoutes } from "./routes/dashboard.js";
import { evaluationsRoutes } from "./routes/evaluations.js";
import { featuresRoutes } from "./routes/features.js";
import { personalizerRoutes } from "./routes/personalizer.js";
import { policiesRoutes } from "./routes/policies.js";
import { recommendationsRoutes } from "./routes/recommendations.js";
import { rolloutsRoutes } from "./routes/rollouts.js";
import { timeseriesRoutes } from "./routes/timeseries.js";
import { trackWriteDemand } from "./write-demand.js";

export interface ServerOptions {
  /** Extra route plugins (features, recommendations, policies, evaluations, rollouts, dashboard). */
  plugins?: FastifyPluginAsync[];
  /** The API keys (default: the config's, `<dataDir>/keys.db` or PostgreSQL, opened here and closed with the server). */
  keys?: ApiKeys;
}

/** The HTTP face of an engine: v1 routes, problem-details errors, metrics, health and OpenAPI. */
export async function buildServer(engine: Engine, options: ServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    // Request logging is off (it costs more than the rank itself); errors are logged by the handler below.
    logger: false,
    bodyLimit: engine.config.bodyLimitBytes,
    // Ids are up to 128 characters of up to 4 UTF-8 bytes, percent-encoded (3 characters a byte): 1,536.
    routerOptions: { maxParamLength: 2048 },
    // Every error is a problem document, also those raised before routing (server/problem.ts).
    frameworkErrors: (error, req, reply) => errorHandler(engine.parts.logger)(error, req, reply),
    clientErrorHandler,
    // The 503 while closing is answered below as a problem document, not by fastify's plain JSON.
    return503OnClosing: false,
  });
  app.setErrorHandler(errorHandler(engine.parts.logger));
  // Only with a group commit delay: counting connections and requests costs a listener per request.
  if (engine.config.storage.groupCommitMs > 0) engine.waitForMoreWrites(trackWriteDemand(app.server));
  installJsonBodyParser(app);
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  // Hooks on the request path are callback-style, not async: an async hook costs a promise and a
  // microtask turn per request, and these do no I/O.
  app.addHook("onRequest", (_req, reply, done) => {
    if (!closing) return done();
    sendProblem(reply.header("connection", "close"), problem("UNAVAILABLE", "the server is shutting down"));
  });
  const routes: string[] = [];
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) if (method !== "HEAD") routes.push(`${method} ${route.url}`);
    // Only routes with path parameters check them (rank and events have none).
    if (route.url.startsWith("/v1/") && route.url.includes(":")) addRouteHook(route, "preValidation", validatePathIds);
    addRouteHook(route, "onResponse", requestMetrics(engine.metrics, route.url));
  });
  // Requests no route matched are counted under "unmatched"; matched ones by their route's own hook.
  const unmatched = requestMetrics(engine.metrics, "unmatched");
  app.addHook("onResponse", (req, reply, done) => (req.is404 ? unmatched.call(app, req, reply, done) : done()));
  app.decorate("loopwiseRoutes", routes);
  // Before any route, so the one auth hook and the rate limiter cover every route registered below.
  installAuth(app, await openKeys(app, engine, options.keys));
  await installRateLimit(app, engine.config.rateLimit);
  app.setNotFoundHandler((req, reply) =>
    sendProblem(reply, problem("NOT_FOUND", `no route ${req.method} ${req.url.split("?")[0]}; see /v1/openapi.json`)),
  );
  app.get("/healthz", async (_req, reply) => {
    const health = engine.health();
    const uptimeSeconds = Math.round(process.uptime());
    if (health.ok) return { status: "ok", uptimeSeconds };
    return reply.code(503).send({ status: "unhealthy", reason: health.reason, uptimeSeconds });
  });
  app.get("/metrics", async (_req, reply) => {
    reply.type(engine.metrics.registry.contentType);
    return engine.metrics.registry.metrics();
  });
  const openapi = openApiDocument();
  app.get("/v1/openapi.json", async () => openapi);
  await app.register(coreRoutes(engine));
  // Admin actions go to the audit timeline with the caller's key name (routes/audit.ts).
  const record = actionRecorder(engine.parts.dashboard?.audit, engine.clock);
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
        // Scale-out: the trainer duty trains and every node follows its models; a node's own model would
        // serve on it alone (app/retrain-request.ts).
        ...(publishesToStream(engine.config)
          ? { requestTraining: () => requestRetrain(engine.parts.stream.snapshots, engine.clock.now()) }
          : {}),
        record,
      }),
    );
  }
  const { evaluations } = engine.config;
  await app.register(
    evaluationsRoutes({
      clock: engine.clock,
      maxQueued: evaluations.maxQueued,
      record,
      // In a worker thread with a time limit (app/evaluate-isolated.ts): rank never waits behind a job.
      runEvaluation: (request, onProgress) =>
        runEvaluationIsolated(
          request,
          {
            ...engine.logLocation,
            decisions: engine.decisions,
            joinConfig: joinConfigOf(engine.config),
            clock: engine.clock,
            policies: engine.parts.policies,
            timeLimitMs: evaluations.timeLimit,
          },
          onProgress,
        ),
    }),
  );
  await app.register(
    policiesRoutes({
      registry: engine.parts.policies,
      // In a worker thread when the log is on disk: rank keeps serving meanwhile (app/warm-start-isolated.ts).
      warmStart: (policy, range) => engine.warmStartIsolated(policy, range),
      record,
    }),
  );
  await app.register(dashboardRoutes({ parts: engine.parts, model: () => engine.recommender?.holder.current() }));
  const { rollouts, dashboard, policies } = engine.parts;
  if (rollouts) await app.register(rolloutsRoutes({ controller: rollouts, record }));
  if (dashboard) {
    await app.register(
      timeseriesRoutes({ dashboard, clock: engine.clock, policies, ...(rollouts ? { rollouts } : {}) }),
    );
    await app.register(auditRoutes({ audit: dashboard.audit }));
  }
  for (const plugin of options.plugins ?? []) await app.register(plugin);
  return app;
}

/**
 * Counts one route's requests and observes their latency. A hook of the route's own (added when the route
 * is), so the route's pattern is known without reading `req.routeOptions` (a getter that builds fastify's
 * whole route-options object per call); the counter's and the histogram's children are bound once per
 * method and status: prom-client's `observe(labels, v)` validates and hashes the labels on every call.
 */
function requestMetrics(metrics: Engine["metrics"], route: string): onResponseHookHandler {
  const { hot, httpDuration } = metrics;
  type Bound = { duration: { observe(v: number): void }; counts: Map<number, { inc(): void }> };
  const byMethod = new Map<string, Bound>();
  return (req, reply, done) => {
    let bound = byMethod.get(req.method);
    if (!bound) {
      bound = { duration: httpDuration.labels(route, req.method), counts: new Map() };
      byMethod.set(req.method, bound);
    }
    let count = bound.counts.get(reply.statusCode);
    if (!count) {
      count = hot.httpRequests.child(route, req.method, String(reply.statusCode));
      bound.counts.set(reply.statusCode, count);
    }
    count.inc();
    bound.duration.observe(reply.elapsedTime / 1000);
    done();
  };
}

/**
 * The key store the auth hook reads (none with `auth: "none"`). A configured admin key (config, env, or
 * `<dataDir>/admin-key` through server/start.ts) is installed as the key named `admin`, so existing
 * installs, the CLI and tests that send `engine.adminKey` keep working; an engine's generated key is
 * accepted for the server's life only and never replaces the stored one.
 */
async function openKeys(
  app: FastifyInstance,
  engine: Engine,
  given: ApiKeys | undefined,
): Promise<ApiKeys | undefined> {
  if (engine.config.auth === "none") return undefined;
  const keys = given ?? (await openConfiguredApiKeys(engine.config));
  if (!given) app.addHook("onClose", async () => keys.close());
  if (engine.config.adminKey) await keys.put("admin", "admin", engine.config.adminKey);
  else keys.addEphemeral("engine", "admin", engine.adminKey);
  return keys;
}
