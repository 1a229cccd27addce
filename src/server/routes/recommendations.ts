import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import type { RetrainRequest } from "../../app/retrain-request.js";
import { toIso } from "../../core/clock.js";
import { LoopwiseError } from "../../core/errors.js";
import { parseOrThrow } from "../../core/validate.js";
import type { ModelHolder } from "../../recommend/model-holder.js";
import { OPTIONAL_BODY } from "../json-body.js";
import type { RecordAction } from "./audit.js";

export interface RecommendationsDeps {
  /** A ModelHolder (of any model type): routes only read `current()`. */
  holder: Pick<ModelHolder, "current">;
  /** The user's current session items, oldest first (the feature store). */
  sessionItems: (userId: string) => Promise<string[]>;
  isAvailable: (id: string) => boolean;
  /** Trains a model now and swaps it in (the retrainer's trigger). */
  train: () => Promise<{ version: string }>;
  /**
   * Scale-out: asks the trainer duty instead of training here (app/retrain-request.ts); the route then answers
   * 202 with how to follow the request.
   */
  requestTraining?: () => Promise<RetrainRequest>;
  /** Writes admin actions to the audit timeline (routes/audit.ts). */
  record?: RecordAction;
}

export const recommendationsQuerySchema = z.object({
  k: z.coerce.number().int().min(1).max(1000).default(10),
  /** Comma-separated item ids never to return (e.g. already in the cart). */
  exclude: z.string().max(10_000).optional(),
});

/** What a 202 tells the caller to watch (every node swaps the trainer's model in as it is published). */
const FOLLOW_RETRAIN = "GET /v1/models/current until trainedAt is at or after requestedAt";

/**
 * `GET /v1/users/:userId/recommendations?k=10[&exclude=a,b]`: the next items for the user's session, with the
 * model that decided (name, version) and any fallback. `POST /v1/models/train` retrains and swaps (in
 * scale-out: asks the trainer duty and answers 202);
 * `GET /v1/models/current` describes the serving model. One request reads the holder once.
 */
export function recommendationsRoutes(deps: RecommendationsDeps): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: { userId: string } }>("/v1/users/:userId/recommendations", async (req) => {
      const query = parseOrThrow(recommendationsQuerySchema, req.query, "query");
      const model = deps.holder.current();
      // Not a 5xx: nothing is wrong with the server, there is no model yet (as GET /v1/models/current says).
      if (!model) throw new LoopwiseError("NOT_FOUND", "no recommender model yet: train one (POST /v1/models/train)");
      const userId = req.params.userId;
      const session = await deps.sessionItems(userId);
      const exclude = new Set((query.exclude ?? "").split(",").filter((s) => s !== ""));
      const rec = model.recommend(session, query.k, { exclude, isAvailable: deps.isAvailable });
      return {
        userId,
        items: rec.items,
        model: { name: model.name, version: model.version },
        ...(rec.fallback ? { fallback: rec.fallback } : {}),
        ...(rec.popularFill ? { popularFill: rec.popularFill } : {}),
      };
    });

    app.post("/v1/models/train", OPTIONAL_BODY, async (req, reply) => {
      if (deps.requestTraining) {
        const { request, requestedAt } = await deps.requestTraining();
        await deps.record?.(req, {
          action: "model.retrain",
          target: { kind: "model", id: `request-${request}` },
          summary: `asked the trainer duty to retrain the recommender (request ${request})`,
        });
        reply.code(202).header("location", "/v1/models/current");
        return { status: "requested" as const, request, requestedAt, follow: FOLLOW_RETRAIN };
      }
      const { version } = await deps.train();
      await deps.record?.(req, {
        action: "model.retrain",
        target: { kind: "model", id: version },
        summary: `retrained the recommender: model ${version}`,
      });
      return { version };
    });

    app.get("/v1/models/current", async () => {
      const model = deps.holder.current();
      if (!model) throw new LoopwiseError("NOT_FOUND", "no recommender model has been trained yet");
      return { name: model.name, version: model.version, trainedAt: toIso(model.trainedAt) };
    });
  };
}
