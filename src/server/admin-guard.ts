import { timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { LoopwiseError } from "../core/errors.js";

/**
 * An onRequest hook for admin routes (anything that changes what is served: policies, the default,
 * retraining, rollouts): `authorization: Bearer <admin key>`, compared in constant time so the key
 * cannot be guessed byte by byte from response times. Undefined key: the routes stay open (embedded
 * use in tests and the simulator's in-process mode, where there is no network).
 */
export function adminGuard(adminKey: string | undefined): { onRequest: (req: FastifyRequest) => Promise<void> } {
  const expected = adminKey === undefined ? undefined : Buffer.from(`Bearer ${adminKey}`);
  return {
    onRequest: async (req) => {
      if (!expected) return;
      const given = Buffer.from(req.headers.authorization ?? "");
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new LoopwiseError(
          "UNAUTHORIZED",
          `${req.method} ${req.routeOptions.url} needs \`authorization: Bearer <admin key>\``,
        );
      }
    },
  };
}
