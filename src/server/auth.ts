import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from "fastify";
import type { ApiKeys } from "../core/api-key.js";
import { grants, type Scope } from "../core/api-key.js";
import { LoopwiseError } from "../core/errors.js";
import { FIELD_SCOPES, requiredScope } from "./route-scopes.js";

/** The key a request was authenticated with (undefined on public routes and with auth none). */
export interface RequestKey {
  name: string;
  scope: Scope;
}

declare module "fastify" {
  interface FastifyRequest {
    apiKey: RequestKey | undefined;
  }
}

/**
 * The secret a request presents: `authorization: Bearer KEY` (RFC 6750), `Ocp-Apim-Subscription-Key: KEY`
 * (what Azure AI Personalizer's clients send) or `x-api-key: KEY`, in that order.
 */
export function presentedSecret(req: FastifyRequest): string | undefined {
  const bearer = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? "")?.[1];
  if (bearer) return bearer;
  for (const name of ["ocp-apim-subscription-key", "x-api-key"]) {
    const value = req.headers[name];
    const one = (Array.isArray(value) ? value[0] : value)?.trim();
    if (one) return one;
  }
  return undefined;
}

const HOW = "send it as `authorization: Bearer KEY`, `Ocp-Apim-Subscription-Key: KEY` or `x-api-key: KEY`";

/**
 * One onRequest hook for every route, added before any route is registered: it reads the route's
 * requirement from the scope table (server/route-scopes.ts; deny by default) and answers 401 without a
 * valid key, 403 when the key's scope does not cover the route. The error handler turns both into problem
 * documents.
 */
export function installAuth(app: FastifyInstance, keys: ApiKeys | undefined): void {
  app.decorateRequest("apiKey", undefined);
  // After the body is parsed, on the routes that have them only: fields that need a wider scope than their
  // route (route-scopes.ts).
  if (keys) {
    app.addHook("onRoute", (route) => {
      for (const method of [route.method].flat()) {
        const fields = FIELD_SCOPES[`${method} ${route.url}`];
        if (fields) addRouteHook(route, "preHandler", fieldScopeCheck(fields));
      }
    });
  }
  // What the dashboard asks to know which panels to show. Public, so a page without a key learns that it
  // needs one without a refused request; a key that is sent must be valid. With auth none all is open.
  app.get("/v1/auth/whoami", async (req, reply) => {
    if (!keys) return { auth: "none", name: null, scope: "admin" };
    const key = presentedSecret(req) === undefined ? undefined : authenticate(req, reply, keys);
    return { auth: "keys", name: key?.name ?? null, scope: key?.scope ?? null };
  });
  if (!keys) return;
  // Callback-style (no promise per request); a thrown 401/403 goes to done() and on to the error handler.
  app.addHook("onRequest", (req, reply, done) => {
    try {
      authorize(req, reply, keys);
      done();
    } catch (error) {
      done(error as Error);
    }
  });
}

function authorize(req: FastifyRequest, reply: FastifyReply, keys: ApiKeys): void {
  const need = requiredScope(req.method, req.routeOptions.url);
  if (need === "public") return;
  const key = authenticate(req, reply, keys);
  if (!grants(key.scope, need)) {
    const route = `${req.method} ${req.routeOptions.url ?? req.url.split("?")[0]}`;
    throw new LoopwiseError(
      "FORBIDDEN",
      `${route} needs a key of scope ${need === "any" ? "client, read or admin" : `${need} or admin`}; key "${key.name}" has scope ${key.scope}`,
    );
  }
  req.apiKey = key;
}

function fieldScopeCheck(fields: Readonly<Record<string, Scope>>) {
  return async (req: FastifyRequest): Promise<void> => {
    const key = req.apiKey;
    if (!key || typeof req.body !== "object" || req.body === null) return;
    for (const [field, need] of Object.entries(fields)) {
      if (Object.hasOwn(req.body, field) && !grants(key.scope, need)) {
        throw new LoopwiseError(
          "FORBIDDEN",
          `${field} needs a key of scope ${need}; key "${key.name}" has scope ${key.scope}`,
          [{ path: field, message: `needs a key of scope ${need}` }],
        );
      }
    }
  };
}

/** Adds a hook to one route's own hooks (from an onRoute hook), after any the route declares. */
export function addRouteHook<H>(route: RouteOptions, name: "preValidation" | "preHandler", hook: H): void {
  const existing = route[name] as unknown;
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [existing];
  (route as unknown as Record<string, unknown>)[name] = [...list, hook];
}

/** The key of a request, or a 401 (with a WWW-Authenticate challenge, RFC 6750 §3). */
function authenticate(req: FastifyRequest, reply: FastifyReply, keys: ApiKeys): RequestKey {
  const secret = presentedSecret(req);
  const key = secret === undefined ? undefined : keys.lookup(secret);
  if (key) return key;
  reply.header("www-authenticate", 'Bearer realm="loopwise"');
  const route = `${req.method} ${req.routeOptions.url ?? req.url.split("?")[0]}`;
  const why =
    secret === undefined ? "needs an API key" : "was sent an API key that is not valid (revoked, rotated or mistyped)";
  throw new LoopwiseError("UNAUTHORIZED", `${route} ${why}; ${HOW}`);
}
