import { errorCodes, type FastifyInstance } from "fastify";
import { type FieldError, validationError } from "../core/errors.js";
import { formatPath } from "../core/validate.js";

/**
 * Keys that spell `__proto__` or `constructor` in a JSON text, also with `\u` escapes: the same test as
 * secure-json-parse (fastify's default parser), run only to decide whether the parsed value needs a walk.
 */
const SUSPECT_PROTO =
  /"(?:_|\\u005[Ff])(?:_|\\u005[Ff])(?:p|\\u0070)(?:r|\\u0072)(?:o|\\u006[Ff])(?:t|\\u0074)(?:o|\\u006[Ff])(?:_|\\u005[Ff])(?:_|\\u005[Ff])"\s*:/;
const SUSPECT_CONSTRUCTOR =
  /"(?:c|\\u0063)(?:o|\\u006[Ff])(?:n|\\u006[Ee])(?:s|\\u0073)(?:t|\\u0074)(?:r|\\u0072)(?:u|\\u0075)(?:c|\\u0063)(?:t|\\u0074)(?:o|\\u006[Ff])(?:r|\\u0072)"\s*:/;

declare module "fastify" {
  interface FastifyContextConfig {
    /** The route's body is optional: an empty one is no body (`OPTIONAL_BODY`). */
    optionalBody?: boolean;
  }
}

/**
 * Route options of a POST whose body is optional (activate, a rollout's actions, a retrain):
 * an empty body is no body even when the request says `content-type: application/json`, as many HTTP clients do
 * on every call (a client library's default header, `curl -H` in a script). Routes that need a body still answer
 * an empty one with "the body is empty".
 */
export const OPTIONAL_BODY = { config: { optionalBody: true } };

/**
 * The JSON body parser: `JSON.parse`, and prototype poisoning refused as fastify's default does
 * (`onProtoPoisoning`/`onConstructorPoisoning: "error"`: a `__proto__` key, or `constructor` holding a
 * `prototype`, anywhere in the body), at the same cost (one parse, two regex scans of the text, a walk only
 * when they hit). Ours rather than fastify's because its parser drops the reason: a poisoned body was
 * answered "the body is not valid JSON"; here it is a 400 naming the field. Malformed and empty bodies
 * raise fastify's own errors, so their problem documents (problem.ts) are unchanged.
 */
export function installJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (req, body, done) => {
    const text = body as string;
    if (text.length === 0) {
      if (req.routeOptions.config.optionalBody) return done(null, undefined);
      return done(new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY(), undefined);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return done(new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(), undefined);
    }
    if (value !== null && typeof value === "object" && mayBePoisoned(text)) {
      const errors: FieldError[] = [];
      findPoison(value, [], errors);
      if (errors.length > 0) return done(validationError(errors), undefined);
    }
    done(null, value);
  });
}

/**
 * Whether the text may hold a poisoned key: either key spelled out, or any `\u` escape (which could spell
 * one), is necessary for the regexes to match, and three substring searches cost about half of running the
 * two regexes over a 6 KB rank body (measured 9 vs 19 µs; 1.2 vs 5.7 µs for 100 events), so the regexes only
 * run on bodies that pass this test.
 */
function mayBePoisoned(text: string): boolean {
  const suspect = text.includes("__proto__") || text.includes("constructor") || text.includes("\\u");
  return suspect && (SUSPECT_PROTO.test(text) || SUSPECT_CONSTRUCTOR.test(text));
}

/** Every `__proto__` key, and every `constructor` key holding an object with `prototype`, by path. */
function findPoison(node: unknown, path: (string | number)[], errors: FieldError[]): void {
  if (node === null || typeof node !== "object") return;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) findPoison(node[i], [...path, i], errors);
    return;
  }
  for (const key of Object.keys(node)) {
    const value = (node as Record<string, unknown>)[key];
    const at = [...path, key];
    if (key === "__proto__")
      errors.push({ path: formatPath("", at), message: "is a forbidden key (prototype poisoning)" });
    else if (key === "constructor" && value !== null && typeof value === "object" && Object.hasOwn(value, "prototype"))
      errors.push({ path: formatPath("", at), message: "may not hold a prototype key (prototype poisoning)" });
    else findPoison(value, at, errors);
  }
}
