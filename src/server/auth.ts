import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from "fastify";
import type { ApiKeys } from "../core/api-key.js";
import { grants, type Requirement, type Scope } from "../core/api-key.js";
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
 * An onRequest hook on every route (given to each route as it is added, so install this before any route is
 * registered) and one for requests no route matched: the route's requirement comes from the scope table
 * (server/route-scopes.ts; deny by default); the hook answers 401 without a valid key, 403 when the key's
 * scope does not cover the route. The error handler turns both into problem documents.
 */
export function installAuth(app: FastifyInstance, keys: ApiKeys | undefined): void {
  app.decorateRequest("apiKey", undefined);
  // What the dashboard asks to know which panels to show. Public, so a page without a key learns that it
  // needs one without a refused request; a key that is sent must be valid. With auth none all is open.
  app.get("/v1/auth/whoami", async (req, reply) => {
    if (!keys) return { auth: "none", name: null, scope: "admin" };
    const key = presentedSecret(req) === undefined ? undefined : authenticate(req, reply, keys);
    return { auth: "keys", name: key?.name ?? null, scope: key?.scope ?? null };
  });
  if (!keys) return;
  // Each route's requirement is read from the table once, when the route is added, into a hook of its own:
  // per request, reading it back through `req.routeOptions` would build fastify's whole route-options
  // object (a getter) and the table's key string every time. Fields that need a wider scope than their
  // route are checked after the body is parsed, on the routes that have them only.
  app.addHook("onRoute", (route) => {
    const methods = [route.method].flat();
    // A route of several methods gets one hook that looks its method up.
    addRouteHook(
      route,
      "onRequest",
      authHook(keys, route.url, new Map(methods.map((m) => [m, requiredScope(m, route.url)]))),
    );
    for (const method of methods) {
      const fields = FIELD_SCOPES[`${method} ${route.url}`];
      if (fields) addRouteHook(route, "preHandler", fieldScopeCheck(fields));
    }
  });
  // Requests no route matched (the 404 handler's): any valid key, so an unknown path tells nothing to a
  // caller without one. Callback-style (no promise per request); matched routes return at once.
  app.addHook("onRequest", (req, reply, done) => {
    if (!req.is404) return done();
    runHook(() => authorize(req, reply, keys, requiredScope(req.method, undefined), undefined), done);
  });
}

type HookDone = (error?: Error) => void;

/** The route-level onRequest hook: a thrown 401/403 goes to done() and on to the error handler. */
function authHook(keys: ApiKeys, url: string, needs: ReadonlyMap<string, Requirement>) {
  const only = needs.size === 1 ? [...needs.values()][0] : undefined;
  return (req: FastifyRequest, reply: FastifyReply, done: HookDone): void => {
    const need = only ?? needs.get(req.method) ?? requiredScope(req.method, url);
    if (need === "public") done();
    else runHook(() => authorize(req, reply, keys, need, url), done);
  };
}

function runHook(step: () => void, done: HookDone): void {
  try {
    step();
  } catch (error) {
    done(error as Error);
    return;
  }
  done();
}

function authorize(
  req: FastifyRequest,
  reply: FastifyReply,
  keys: ApiKeys,
  need: Requirement,
  url: string | undefined,
): void {
  if (need === "public") return;
  const key = authenticate(req, reply, keys, url);
  if (!grants(key.scope, need)) {
    const route = `${req.method} ${url ?? req.url.split("?")[0]}`;
    throw new LoopwiseError(
      "FORBIDDEN",
      `${route} needs a key of scope ${need === "any" ? "client, read or admin" : `${need} or admin`}; key "${key.name}" has scope ${key.scope}`,
    );
  }
  req.apiKey = key;
}

/** A preHandler, callback-style: a promise and a microtask turn per rank request cost more than the check. */
function fieldScopeCheck(fields: Readonly<Record<string, Scope>>) {
  const checks = Object.entries(fields);
  return (req: FastifyRequest, _reply: FastifyReply, done: HookDone): void => {
    const key = req.apiKey;
    const body = req.body;
    if (key && typeof body === "object" && body !== null) {
      for (const [field, need] of checks) {
        if (Object.hasOwn(body, field) && !grants(key.scope, need)) {
          done(
            new LoopwiseError(
              "FORBIDDEN",
              `${field} needs a key of scope ${need}; key "${key.name}" has scope ${key.scope}`,
              [{ path: field, message: `needs a key of scope ${need}` }],
            ),
          );
          return;
        }
      }
    }
    done();
  };
}

/** Adds a hook to one route's own hooks (from an onRoute hook), after any the route declares. */
export function addRouteHook<H>(
  route: RouteOptions,
  name: "onRequest" | "preValidation" | "preHandler" | "onResponse",
  hook: H,
): void {
  const existing = route[name] as unknown;
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [existing];
  (route as unknown as Record<string, unknown>)[name] = [...list, hook];
}

/** The key of a request, or a 401 (with a WWW-Authenticate challenge, RFC 6750 §3). */
function authenticate(req: FastifyRequest, reply: FastifyReply, keys: ApiKeys, url?: string): RequestKey {
  const secret = presentedSecret(req);
  const key = secret === undefined ? undefined : keys.lookup(secret);
  if (key) return key;
  reply.header("www-authenticate", 'Bearer realm="loopwise"');
  const route = `${req.method} ${url ?? req.url.split("?")[0]}`;
  const why =
    secret === undefined ? "needs an API key" : "was sent an API key that is not valid (revoked, rotated or mistyped)";
  throw new LoopwiseError("UNAUTHORIZED", `${route} ${why}; ${HOW}`);
}
