import type { FastifyPluginAsync } from "fastify";
import type { Engine } from "../../app/engine.js";
import { joinConfigOf } from "../../app/engine.js";
import { toIso } from "../../core/clock.js";
import { LoopwiseError } from "../../core/errors.js";
import { joinRewards } from "../../decisions/reward-join.js";
import { compiledResponse } from "../compiled-responses.js";
import { OPTIONAL_BODY } from "../json-body.js";

interface DecisionParams {
  decisionId: string;
}

/** The loop's core routes: events, items, rank, rewards, activation, and reading a decision back. */
export function coreRoutes(engine: Engine): FastifyPluginAsync {
  return async (app) => {
    // The batch answers (a result per item) are written by compiled serializers (compiled-responses.ts):
    // measured ~0.9x the CPU of a request with JSON.stringify. The rank answer is not: for its ten slots'
    // probabilities it measured ~1.1x (V8's JSON.stringify is fast on small objects of numbers).
    app.post("/v1/events", compiledResponse("ingestEvents"), async (req) => engine.ingestEvents(req.body));
    app.post("/v1/items", compiledResponse("upsertItems"), async (req) => engine.upsertItems(req.body));
    app.post("/v1/rank", async (req) => engine.rank(req.body));
    app.post<{ Params: DecisionParams }>("/v1/decisions/:decisionId/reward", async (req) =>
      engine.reward(req.params.decisionId, req.body ?? {}),
    );
    app.post<{ Params: DecisionParams }>("/v1/decisions/:decisionId/activate", OPTIONAL_BODY, async (req) =>
      engine.activate(req.params.decisionId),
    );
    app.get<{ Params: DecisionParams }>("/v1/decisions/:decisionId", async (req) => {
      const found = await engine.decisions.get(req.params.decisionId);
      if (!found) throw new LoopwiseError("DECISION_NOT_FOUND", `decision "${req.params.decisionId}" does not exist`);
      const join = joinRewards(found, joinConfigOf(engine.config), engine.clock.now());
      return {
        ...found.decision,
        timestamp: isoOf(found.decision.timestamp),
        activatedAt: found.decision.activatedAt === undefined ? undefined : isoOf(found.decision.activatedAt),
        rewards: found.rewards.map((r) => ({ ...r, timestamp: isoOf(r.timestamp), receivedAt: isoOf(r.receivedAt) })),
        join: { ...join, windowClosesAt: join.windowClosesAt === undefined ? undefined : isoOf(join.windowClosesAt) },
      };
    });
  };
}

/**
 * ISO-8601, or the raw number for an instant no Date can hold: a log written before times were bounded
 * (issue 14) may hold one, and reading the decision must not fail on it.
 */
function isoOf(ms: number): string | number {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? toIso(ms) : ms;
}
