import type { Requirement, Scope } from "../core/api-key.js";

/**
 * The one table of what each route needs (method + fastify route pattern → requirement). The auth hook
 * (server/auth.ts), the rate limiter, the OpenAPI document and the README's Security table all read it.
 * Deny by default: a route that is not here needs an admin key. A pattern ending in `*` covers every
 * route under that prefix (exact entries win). Requests that match no route at all need any valid key,
 * so the 404 of an unknown path says nothing to a caller without one.
 *
 * - `client`: what an application calls while serving users.
 * - `read`: dashboards and analysts; reads, and computing a policy's distribution (changes nothing).
 * - `admin`: anything that changes what is served or costs a lot (catalog, policies, models,
 *   evaluations, rollouts).
 */
export const ROUTE_SCOPES: Readonly<Record<string, Requirement>> = {
  "GET /healthz": "public",
  "GET /v1/openapi.json": "public",
  "GET /": "public",
  "GET /dashboard": "public",
  "GET /dashboard/:file": "public",
  // Answers which key was sent (name, scope) and checks it itself: the dashboard's sign-in.
  "GET /v1/auth/whoami": "public",

  "POST /v1/events": "client",
  "POST /v1/rank": "client",
  "POST /v1/decisions/:decisionId/reward": "client",
  "POST /v1/decisions/:decisionId/activate": "client",
  "GET /v1/users/:userId/recommendations": "client",
  // Personalizer-compatible routes under every served version (routes/personalizer.ts): rank, reward and
  // activate are a client's calls; the service configuration is a read.
  "POST /personalizer/*": "client",
  "GET /personalizer/*": "read",

  "GET /v1/decisions/:decisionId": "read",
  "GET /v1/users/:userId/features": "read",
  "GET /v1/policies": "read",
  "GET /v1/policies/:id": "read",
  "POST /v1/policies/:id/distribution": "read",
  "GET /v1/models/current": "read",
  "GET /v1/evaluations": "read",
  "GET /v1/evaluations/:id": "read",
  "GET /v1/policy-templates": "read",
  "GET /v1/evaluations/:id/report": "read",
  "GET /v1/overview": "read",
  // The dashboard's charts and audit timeline, and rollout status: reads (a read key sees them, no controls).
  "GET /v1/timeseries": "read",
  "GET /v1/audit": "read",
  "GET /v1/rollouts": "read",
  "GET /v1/rollouts/:id": "read",
  "GET /metrics": "read",

  "POST /v1/items": "admin",
  "POST /v1/models/train": "admin",
  "POST /v1/policies": "admin",
  "PUT /v1/policies/default": "admin",
  "POST /v1/evaluations": "admin",
  "POST /v1/rollouts": "admin",
  "POST /v1/rollouts/:id/pause": "admin",
  "POST /v1/rollouts/:id/resume": "admin",
  "POST /v1/rollouts/:id/advance": "admin",
  "POST /v1/rollouts/:id/abort": "admin",
};

/**
 * Body fields that need more than their route: choosing the policy of a rank request (`policyId`) decides
 * what users are shown outside any rollout, so a client key may not (issue 14: "force a policy").
 */
export const FIELD_SCOPES: Readonly<Record<string, Readonly<Record<string, Scope>>>> = {
  "POST /v1/rank": { policyId: "admin" },
};

const prefixes = Object.entries(ROUTE_SCOPES)
  .filter(([route]) => route.endsWith("*"))
  .map(([route, need]) => ({ prefix: route.slice(0, -1), need }))
  .sort((a, b) => b.prefix.length - a.prefix.length);

/** What a request needs, from its method and the pattern of the route it matched (undefined: no route). */
export function requiredScope(method: string, routePattern: string | undefined): Requirement {
  if (routePattern === undefined) return "any";
  const key = `${method === "HEAD" ? "GET" : method} ${routePattern}`;
  const exact = ROUTE_SCOPES[key];
  if (exact !== undefined && Object.hasOwn(ROUTE_SCOPES, key)) return exact;
  return prefixes.find((p) => key.startsWith(p.prefix))?.need ?? "admin";
}

/** The same, for an OpenAPI path (`/v1/decisions/{decisionId}`). */
export function requiredScopeOfPath(method: string, openApiPath: string): Requirement {
  return requiredScope(method.toUpperCase(), openApiPath.replace(/\{(\w+)\}/g, ":$1"));
}
