import { randomUUID } from "node:crypto";
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { Engine } from "../../app/engine.js";
import {
  type EventOutcome,
  type PersonalizerPorts,
  personalizerActivate,
  personalizerMultiSlotActivate,
  personalizerMultiSlotRank,
  personalizerMultiSlotReward,
  personalizerRank,
  personalizerReward,
} from "../../app/personalizer.js";
import { personalizerPath, type ServiceSettings, serviceConfiguration } from "../../app/personalizer-mapping.js";
import { rankDecision } from "../../app/rank.js";
import { OPTIONAL_BODY } from "../json-body.js";
import { type Problem, problem, toProblem } from "../problem.js";
import { unservedMessage } from "./personalizer-unserved.js";

/**
 * Azure Personalizer-compatible routes: a Personalizer client moves to Loopwise by changing its endpoint.
 * v1.0 is the stable API; v1.1-preview.3 is the base path the multi-slot SDKs (Azure.AI.Personalizer 2.x)
 * use. Both serve the same routes; only durations in the service configuration are written differently.
 * Successes answer as Personalizer does (201 rank, 204 reward/activate); errors in Personalizer's shape
 * (personalizerError below), because its generated clients parse `error.code`/`error.message`.
 */
export const PERSONALIZER_API_VERSIONS = [
  { prefix: "/personalizer/v1.0", durations: "timespan" },
  { prefix: "/personalizer/v1.1-preview.3", durations: "iso" },
] as const;

/** The routes each version serves (relative to its prefix), for OpenAPI and the route-scope table. */
export const PERSONALIZER_ROUTES = [
  "POST /rank",
  "POST /events/:eventId/reward",
  "POST /events/:eventId/activate",
  "POST /multislot/rank",
  "POST /multislot/events/:eventId/reward",
  "POST /multislot/events/:eventId/activate",
  "GET /configurations/service",
] as const;

interface EventParams {
  eventId: string;
}

export function personalizerRoutes(engine: Engine): FastifyPluginAsync {
  const ports: PersonalizerPorts = {
    rank: (body) => rankDecision(engine.parts, body),
    reward: (id, body) => engine.reward(id, body),
    activate: (id) => engine.activate(id),
    decision: async (id) => (await engine.decisions.get(id))?.decision,
    newEventId: () => randomUUID(),
  };
  const settings = (): ServiceSettings => {
    const policy = engine.parts.policies.find("default");
    const { rewards } = engine.config;
    const base = {
      rewardWindowMs: rewards.window,
      defaultReward: rewards.defaultReward,
      aggregation: rewards.aggregation,
      ...(engine.config.log.retention === undefined ? {} : { logRetentionMs: engine.config.log.retention }),
    };
    return policy ? { ...base, defaultPolicy: { type: policy.spec.type, params: policy.spec.params ?? {} } } : base;
  };
  return async (app) => {
    for (const version of PERSONALIZER_API_VERSIONS) {
      await app.register(
        async (scope) => {
          scope.setErrorHandler(personalizerErrorHandler(engine));
          scope.setNotFoundHandler((req, reply) => sendPersonalizerError(reply, notServed(req, version.prefix)));
          versionRoutes(scope, ports, () => serviceConfiguration(settings(), version.durations));
        },
        { prefix: version.prefix },
      );
    }
  };
}

type Scope = Parameters<FastifyPluginAsync>[0];

function versionRoutes(app: Scope, ports: PersonalizerPorts, configuration: () => object): void {
  const noContent = (reply: FastifyReply, outcome: EventOutcome | EventOutcome[]) =>
    reply.code(204).header("loopwise-status", [outcome].flat().join(",")).send();
  app.post("/rank", async (req, reply) => reply.code(201).send(await personalizerRank(ports, req.body)));
  app.post<{ Params: EventParams }>("/events/:eventId/reward", async (req, reply) =>
    noContent(reply, await personalizerReward(ports, req.params.eventId, req.body, rewardKey(req))),
  );
  app.post<{ Params: EventParams }>("/events/:eventId/activate", OPTIONAL_BODY, async (req, reply) =>
    noContent(reply, await personalizerActivate(ports, req.params.eventId)),
  );
  app.post("/multislot/rank", async (req, reply) =>
    reply.code(201).send(await personalizerMultiSlotRank(ports, req.body)),
  );
  app.post<{ Params: EventParams }>("/multislot/events/:eventId/reward", async (req, reply) =>
    noContent(reply, await personalizerMultiSlotReward(ports, req.params.eventId, req.body, rewardKey(req))),
  );
  app.post<{ Params: EventParams }>("/multislot/events/:eventId/activate", OPTIONAL_BODY, async (req, reply) =>
    noContent(reply, await personalizerMultiSlotActivate(ports, req.params.eventId)),
  );
  app.get("/configurations/service", async () => configuration());
}

/** The reward's id: the client's `Idempotency-Key` (a retry is then counted once), else a fresh one. */
function rewardKey(req: FastifyRequest): string {
  const key = req.headers["idempotency-key"];
  return typeof key === "string" && key !== "" ? key : `pz_${randomUUID()}`;
}

/** Personalizer's ErrorResponse (`{error: {code, message, details?, innerError?}}`) for a Loopwise problem. */
export function personalizerError(p: Problem): { status: number; body: object } {
  // NO_CANDIDATES (every action excluded) is a bad rank request to a Personalizer client.
  const status = p.status === 422 ? 400 : p.status;
  const code =
    {
      400: "BadRequest",
      404: "ResourceNotFound",
      413: "PayloadSizeExceeded",
      401: "Unauthorized",
      403: "Forbidden",
      429: "TooManyRequests",
    }[status] ?? "InternalServerError";
  const details = p.errors?.map((e) => ({ code, message: e.message, target: personalizerPath(e.path) }));
  const error: Record<string, unknown> = { code, message: p.detail, innerError: { code: p.code } };
  if (details && details.length > 0) {
    error.details = details;
    error.target = details[0]?.target;
    error.message = details.map((d) => `${d.target}: ${d.message}`).join("; ");
  }
  return { status, body: { error } };
}

function sendPersonalizerError(reply: FastifyReply, p: Problem): FastifyReply {
  const { status, body } = personalizerError(p);
  return reply.code(status).type("application/json").send(body);
}

function personalizerErrorHandler(engine: Engine) {
  return (error: FastifyError, req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const p = toProblem(error);
    if (p.status >= 500) engine.parts.logger.error({ err: error, method: req.method, url: req.url }, "request failed");
    return sendPersonalizerError(reply, p);
  };
}

/** A 404 in Personalizer's shape: what to use instead of an unserved Personalizer route, or what is served. */
function notServed(req: FastifyRequest, prefix: string): Problem {
  const path = (req.url.split("?")[0] ?? "").slice(prefix.length);
  return problem("NOT_FOUND", unservedMessage(req.method, prefix, path, PERSONALIZER_ROUTES));
}
