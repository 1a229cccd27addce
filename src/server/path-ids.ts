import type { FastifyReply, FastifyRequest } from "fastify";
import { type FieldError, validationError } from "../core/errors.js";
import { toFieldErrors } from "../core/validate.js";
import { idSchema } from "../events/event-schema.js";

/**
 * Every path parameter of a /v1 route is an id (a decision, user, policy, rollout or evaluation), checked
 * with the one id rule the bodies use (events/event-schema.ts idSchema): an id that could not have been
 * created is a 400 naming the parameter, never a lookup.
 */
export async function validatePathIds(req: FastifyRequest, _reply: FastifyReply): Promise<void> {
  if (!req.routeOptions.url?.startsWith("/v1/")) return;
  const params = req.params as Record<string, unknown> | undefined;
  if (!params) return;
  const errors: FieldError[] = [];
  for (const [name, value] of Object.entries(params)) {
    const parsed = idSchema.safeParse(value);
    if (!parsed.success) errors.push(...toFieldErrors(parsed.error.issues, `(path) ${name}`));
  }
  if (errors.length > 0) throw validationError(errors);
}
