import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import type { Clock } from "../../core/clock.js";
import { parseOrThrow } from "../../core/validate.js";
import { idSchema } from "../../events/event-schema.js";
import { type EncoderSpec, encodeFeatures } from "../../features/encode-features.js";
import type { FeatureStore } from "../../features/feature-store.js";

const paramsSchema = z.object({ userId: idSchema });

export interface FeaturesRoutesDeps {
  store: FeatureStore;
  clock: Clock;
  encoder?: EncoderSpec;
}

/**
 * `GET /v1/users/:userId/features`: the user's current aggregates and their encoded vector (no request
 * context: the vector a rank call without context would use), with the time spent reading and encoding.
 */
export function featuresRoutes(deps: FeaturesRoutesDeps): FastifyPluginAsync {
  return async (app) => {
    app.get("/v1/users/:userId/features", async (request) => {
      const { userId } = parseOrThrow(paramsSchema, request.params, "params");
      const t0 = performance.now();
      const f = await deps.store.read(userId, deps.clock.now());
      const t1 = performance.now();
      const vector = encodeFeatures(f.aggregates, {}, deps.encoder);
      const t2 = performance.now();
      return {
        userId: f.userId,
        known: f.known,
        sessionId: f.sessionId ?? null,
        aggregates: f.aggregates,
        sessionItems: f.sessionItems,
        vector: { names: vector.names, values: Array.from(vector.values) },
        timing: { readMicros: round((t1 - t0) * 1000), encodeMicros: round((t2 - t1) * 1000) },
      };
    });
  };
}

const round = (x: number): number => Math.round(x * 10) / 10;
