import { z } from "zod";
import { operations } from "./openapi-operations.js";

/** What fastify needs to serialize a route's success with a compiled serializer. */
export interface CompiledResponse {
  schema: { response: Record<number, Record<string, unknown>> };
}

/**
 * Route options that make fastify serialize an operation's success with fast-json-stringify (fastify's own
 * serializer compiler, fed the route's `schema.response`) instead of `JSON.stringify`. The schema is the
 * operation's documented response (openapi-operations.ts: the zod schema the OpenAPI document and the
 * response types come from), so the serializer, the document and the types cannot drift.
 *
 * A compiled serializer writes only the properties its schema names: a field the schema does not declare
 * would be dropped silently, so compiled-responses.test.ts serializes real engine responses both ways and
 * requires the same JSON. Errors are not affected (no schema for their status: problem.ts's bodies go
 * through fastify's default serializer).
 */
export function compiledResponse(operationId: string): CompiledResponse {
  const op = operations.find((o) => o.operationId === operationId);
  if (!op?.success.schema) throw new Error(`no documented JSON response for operation ${operationId}`);
  return { schema: { response: { [op.success.status]: responseJsonSchema(op.success.schema) } } };
}

/** As the OpenAPI document writes it (server/openapi.ts), without the dialect (fastify's ajv is draft-07). */
export function responseJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: "output", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return rest;
}
