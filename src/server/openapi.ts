import { z } from "zod";
import { ErrorCodes } from "../core/errors.js";
import { personalizerErrorSchema } from "./api-responses.js";
import { type Operation, operations } from "./openapi-operations.js";
import { requiredScopeOfPath } from "./route-scopes.js";

/**
 * The OpenAPI 3.1 document, generated from the same zod schemas that validate requests and type the
 * responses (server/api-types.ts, server/api-responses.ts), so it cannot drift from what the server accepts
 * and answers. Served at `/v1/openapi.json`. Every operation has an operationId, its real success status,
 * its query parameters, and named request/response schemas under components (so generated clients get
 * good type names). Routes are listed in openapi-operations.ts; a test checks that list against the
 * routes fastify registers.
 */

/**
 * Where API-key security plugs in (src/server/route-scopes.ts): the schemes for `components.securitySchemes`
 * and, per operation, its requirement (e.g. `[{ bearer: [] }, { subscriptionKey: [] }]`), or undefined
 * for an open route.
 */
export interface OpenApiSecurity {
  schemes: Record<string, Record<string, unknown>>;
  requirement(op: Pick<Operation, "method" | "path" | "operationId">): Record<string, string[]>[] | undefined;
}

const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  code: z.enum(Object.keys(ErrorCodes) as [keyof typeof ErrorCodes, ...(keyof typeof ErrorCodes)[]]),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

function jsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<string, unknown>;
  return rest;
}

const capitalize = (s: string) => `${s[0]?.toUpperCase() ?? ""}${s.slice(1)}`;
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** The three ways to send a key (server/auth.ts); any one is enough. */
const SECURITY_SCHEMES = {
  bearer: { type: "http", scheme: "bearer", description: "authorization: Bearer KEY" },
  subscriptionKey: { type: "apiKey", in: "header", name: "Ocp-Apim-Subscription-Key" },
  apiKey: { type: "apiKey", in: "header", name: "x-api-key" },
};

/** The server's own security: each operation's requirement from the one scope table (server/route-scopes.ts). */
export const scopeSecurity: OpenApiSecurity = {
  schemes: SECURITY_SCHEMES,
  requirement: (op) =>
    requiredScopeOfPath(op.method, op.path) === "public"
      ? []
      : Object.keys(SECURITY_SCHEMES).map((name) => ({ [name]: [] })),
};

export function openApiDocument(options: { security?: OpenApiSecurity; extra?: Operation[] } = {}) {
  const security = options.security ?? scopeSecurity;
  const schemas: Record<string, unknown> = {
    Problem: jsonSchema(problemSchema, "output"),
    PersonalizerError: jsonSchema(personalizerErrorSchema, "output"),
  };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of [...operations, ...(options.extra ?? [])]) {
    const entry = operationEntry(op, schemas);
    const requirement = security.requirement(op);
    if (requirement) entry.security = requirement;
    const scope = requiredScopeOfPath(op.method, op.path);
    entry["x-required-scope"] = scope;
    if (scope !== "public") addAuthResponses(entry, scope);
    paths[op.path] = { ...paths[op.path], [op.method]: entry };
  }
  const components: Record<string, unknown> = { schemas };
  components.securitySchemes = security.schemes;
  return { openapi: "3.1.0", info: { title: "Loopwise API", version: "1" }, paths, components };
}

function operationEntry(op: Operation, schemas: Record<string, unknown>): Record<string, unknown> {
  const name = capitalize(op.operationId);
  const entry: Record<string, unknown> = {
    operationId: op.operationId,
    summary: op.summary,
    tags: [op.tag],
    responses: responses(op, name, schemas),
  };
  const parameters = [
    ...[...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
    })),
    ...queryParameters(op.query),
    ...Object.entries(op.headerParams ?? {}).map(([name, description]) => ({
      name,
      in: "header",
      required: false,
      description,
      schema: { type: "string" },
    })),
  ];
  if (parameters.length > 0) entry.parameters = parameters;
  if (op.body) {
    schemas[`${name}Request`] = jsonSchema(op.body, "input");
    entry.requestBody = { required: true, content: { "application/json": { schema: ref(`${name}Request`) } } };
  }
  return entry;
}

function responses(op: Operation, name: string, schemas: Record<string, unknown>): Record<string, unknown> {
  const { success } = op;
  let body: Record<string, unknown>;
  if (success.schema) {
    schemas[`${name}Response`] = jsonSchema(success.schema, "output");
    body = {
      description: success.description ?? "Success",
      content: { "application/json": { schema: ref(`${name}Response`) } },
    };
  } else if (success.contentType) {
    body = {
      description: success.description ?? "Success",
      content: { [success.contentType]: { schema: { type: "string" } } },
    };
  } else {
    body = { description: success.description ?? "Success" };
  }
  if (success.headers) {
    body.headers = Object.fromEntries(
      Object.entries(success.headers).map(([h, description]) => [h, { description, schema: { type: "string" } }]),
    );
  }
  const out: Record<string, unknown> = { [String(success.status)]: body };
  for (const status of op.alsoSucceeds ?? []) out[String(status)] = body;
  const error =
    op.errors === "personalizer"
      ? {
          description: "Error (Personalizer's ErrorResponse)",
          content: { "application/json": { schema: ref("PersonalizerError") } },
        }
      : {
          description: "Error (RFC 9457 problem details with a stable code)",
          content: { "application/problem+json": { schema: ref("Problem") } },
        };
  out["400"] = { ...error, description: "Validation failed: the errors name each bad field" };
  out.default = error;
  return out;
}

function queryParameters(query: z.ZodObject | undefined): Record<string, unknown>[] {
  if (!query) return [];
  const schema = jsonSchema(query, "input") as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(schema.properties ?? {}).map(([name, s]) => ({
    name,
    in: "query",
    required: schema.required?.includes(name) ?? false,
    schema: s,
  }));
}

export type { Operation as OpenApiOperation };

/** 401 (no or bad key) and 403 (a key of too small a scope) of an operation that needs a key. */
function addAuthResponses(entry: Record<string, unknown>, scope: string): void {
  const responses = entry.responses as Record<string, unknown>;
  const error = responses.default;
  responses["401"] = { ...(error as object), description: "No API key, or not a valid one (code UNAUTHORIZED)" };
  if (scope !== "any") {
    responses["403"] = {
      ...(error as object),
      description: `The key's scope is not ${scope} or admin (code FORBIDDEN)`,
    };
  }
}
