import { z } from "zod";
import { rankRequestSchema } from "../app/rank.js";
import { rewardRequestSchema } from "../app/reward.js";
import { eventInputSchema, itemInputSchema } from "../events/event-schema.js";

/**
 * The OpenAPI document, generated from the same zod schemas that validate requests (so it cannot
 * drift from what the server accepts). Served at `/v1/openapi.json`.
 */
const jsonSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });

interface Operation {
  method: "get" | "post";
  path: string;
  summary: string;
  body?: z.ZodType;
}

const operations: Operation[] = [
  {
    method: "post",
    path: "/v1/events",
    summary: "Ingest a batch of 1–1000 user events (idempotent by eventId)",
    body: z.object({ events: z.array(eventInputSchema) }),
  },
  {
    method: "post",
    path: "/v1/items",
    summary: "Upsert catalog items",
    body: z.object({ items: z.array(itemInputSchema) }),
  },
  {
    method: "post",
    path: "/v1/rank",
    summary: "Rank candidates for a user; logs the decision",
    body: rankRequestSchema,
  },
  {
    method: "post",
    path: "/v1/decisions/{decisionId}/reward",
    summary: "Report a reward for a decision",
    body: rewardRequestSchema,
  },
  {
    method: "post",
    path: "/v1/decisions/{decisionId}/activate",
    summary: "Activate a deferred decision (it was shown)",
  },
  { method: "get", path: "/v1/decisions/{decisionId}", summary: "A logged decision with its rewards and join status" },
  { method: "get", path: "/healthz", summary: "Liveness and readiness" },
  { method: "get", path: "/metrics", summary: "Prometheus metrics" },
];

export function openApiDocument(extra: Operation[] = []): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of [...operations, ...extra]) {
    const entry: Record<string, unknown> = {
      summary: op.summary,
      responses: {
        "200": { description: "OK" },
        "400": { description: "Validation failed (application/problem+json with errors[{path,message}])" },
      },
    };
    const params = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    if (params.length > 0) entry.parameters = params;
    if (op.body)
      entry.requestBody = { required: true, content: { "application/json": { schema: jsonSchema(op.body) } } };
    paths[op.path] = { ...paths[op.path], [op.method]: entry };
  }
  return { openapi: "3.1.0", info: { title: "Loopwise API", version: "1" }, paths };
}

export type { Operation as OpenApiOperation };
