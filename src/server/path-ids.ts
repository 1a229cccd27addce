import type { FastifyReply, FastifyRequest } from "fastify";
import { compileSchema } from "../core/compiled-schema.js";
import { type FieldError, validationError } from "../core/errors.js";
import { idSchema } from "../events/event-schema.js";

/** Compiled (core/compiled-schema.ts): a valid id costs an ajv check, zod words the error of a bad one. */
const compiledId = compileSchema(idSchema);

/**
 * Every path parameter of a /v1 route is an id (a decision, user, policy, rollout or evaluation), checked
 * with the one id rule the bodies use (events/event-schema.ts idSchema): an id that could not have been
 * created is a 400 naming the parameter, never a lookup. Installed (server.ts) on the routes with path
 * parameters only.
 */
export async function validatePathIds(req: FastifyRequest, _reply: FastifyReply): Promise<void> {
  if (!req.routeOptions.url?.startsWith("/v1/")) return;
  const params = req.params as Record<string, unknown> | undefined;
  if (!params) return;
  const errors: FieldError[] = [];
  for (const [name, value] of Object.entries(params)) {
    const parsed = compiledId.safeParse(value, `(path) ${name}`);
    if (!parsed.ok) errors.push(...parsed.errors);
  }
  if (errors.length > 0) throw validationError(errors);
}
