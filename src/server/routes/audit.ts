import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { z } from "zod";
import { actorOf } from "../../app/audit-log.js";
import type { AuditInput, AuditLog, AuditRecord } from "../../app/dashboard-ports.js";
import { type Clock, toIso } from "../../core/clock.js";
import { parseOrThrow } from "../../core/validate.js";
import { timeSchema } from "../../events/event-schema.js";

const queryTime = z.preprocess((v) => (typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v), timeSchema);
const cursor = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const auditQuerySchema = z.strictObject({
  /** ISO-8601 or epoch ms, inclusive. */
  from: queryTime.optional(),
  /** ISO-8601 or epoch ms, exclusive. */
  to: queryTime.optional(),
  /** An action (`rollout.advance`) or a family (`rollout`). */
  action: z
    .string()
    .regex(/^[a-z_]+(\.[a-z_]+)?$/, "an action such as rollout or rollout.advance")
    .optional(),
  targetKind: z.enum(["policy", "rollout", "evaluation", "model", "key"]).optional(),
  targetId: z.string().min(1).max(128).optional(),
  /** The key name that acted, or `controller`. */
  actor: z.string().min(1).max(64).optional(),
  /** The previous page's `next`: entries older than it. */
  before: cursor.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** An audit record as the API answers it (ISO time). */
export function auditView(e: AuditRecord) {
  return {
    seq: e.seq,
    at: toIso(e.at),
    actor: e.actor,
    action: e.action,
    target: e.target,
    summary: e.summary,
    details: e.details ?? null,
  };
}

/** `GET /v1/audit`: the timeline of admin actions and controller decisions, newest first, paged by `before`. */
export function auditRoutes(deps: { audit: AuditLog }): FastifyPluginAsync {
  return async (app) => {
    app.get("/v1/audit", async (req, reply) => {
      const q = parseOrThrow(auditQuerySchema, req.query ?? {}, "query");
      // One more than asked: whether there is a next page, without a count query.
      const rows = await deps.audit.list({ ...q, limit: q.limit + 1 });
      const page = rows.slice(0, q.limit);
      reply.header("cache-control", "no-store");
      return {
        entries: page.map(auditView),
        next: rows.length > q.limit ? (page.at(-1)?.seq ?? null) : null,
      };
    });
  };
}

/** Records an admin action of a request: who (the key's name), when, what. */
export type RecordAction = (req: FastifyRequest, entry: Omit<AuditInput, "at" | "actor">) => Promise<void>;

export function actionRecorder(audit: AuditLog | undefined, clock: Clock): RecordAction {
  return async (req, entry) => {
    if (!audit) return;
    await audit.append({ ...entry, at: clock.now(), actor: actorOf(req.apiKey) });
  };
}
